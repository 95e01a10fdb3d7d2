"""Emotion names across corpora, so that clips of another corpus can join a training set.

Corpora spell the same emotion differently (EmoDB's ``anger`` is RAVDESS's ``angry``, ShEMO's ``surprise``
is TESS's ``surprised``). :func:`canonical` gives one spelling per emotion; :func:`map_labels` maps an extra
corpus' emotions onto a model's label set and returns ``None`` for emotions the model has no class for
(EmoDB's ``boredom`` against RAVDESS' eight), which are then left out rather than forced into a class.
A user may still map such an emotion explicitly (``boredom=calm``), and the mapping is recorded.

>>> canonical("Happiness"), canonical("fearful"), canonical("boredom")
('happy', 'fearful', 'boredom')
>>> map_labels(["anger", "boredom", "sadness"], ["angry", "calm", "sad"])
['angry', None, 'sad']
>>> map_labels(["anger", "boredom"], ["angry", "calm"], {"boredom": "calm"})
['angry', 'calm']
>>> parse_label_map("boredom=calm, surprise=surprised")
{'boredom': 'calm', 'surprise': 'surprised'}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .errors import InputError

__all__ = ["canonical", "map_labels", "parse_label_map", "SYNONYMS"]

# Spellings met in the corpora explain_ser reads (explain_ser.corpora) and in common SER label sets.
SYNONYMS = {
    "anger": "angry", "angry": "angry", "ang": "angry",
    "fear": "fearful", "fearful": "fearful", "afraid": "fearful", "fea": "fearful",
    "happiness": "happy", "happy": "happy", "joy": "happy", "hap": "happy",
    "sadness": "sad", "sad": "sad",
    "surprise": "surprised", "surprised": "surprised", "ps": "surprised",
    "disgust": "disgust", "disgusted": "disgust", "dis": "disgust",
    "neutral": "neutral", "neu": "neutral",
    "calm": "calm",
    "boredom": "boredom", "bored": "boredom",
}


def canonical(name) -> str:
    """One spelling per emotion (case and whitespace ignored); unknown names pass through lower-cased."""
    key = str(name).strip().lower()
    return SYNONYMS.get(key, key)


def map_labels(names: Iterable, labels: Iterable[str], overrides: Mapping[str, str] | None = None) -> list:
    """Each of ``names`` as one of ``labels`` (same emotion, whatever the spelling), or None.

    ``overrides`` maps an emotion (any spelling) to a label explicitly; a target that is not one of
    ``labels`` is an :class:`InputError`.
    """
    labels = list(labels)
    by_canon = {canonical(lab): lab for lab in labels}
    forced = {}
    for src, dst in (overrides or {}).items():
        if dst not in labels:
            raise InputError(f"{src}={dst}", f"'{dst}' is not one of the model's labels {labels}")
        forced[canonical(src)] = dst
    return [forced.get(canonical(n), by_canon.get(canonical(n))) for n in names]


def parse_label_map(spec: str | None) -> dict[str, str]:
    """``"a=b,c=d"`` -> ``{"a": "b", "c": "d"}``; empty or None -> ``{}``."""
    out: dict[str, str] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        src, sep, dst = part.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise InputError(spec, "an emotion map must look like boredom=calm,surprise=surprised")
        out[src.strip()] = dst.strip()
    return out
