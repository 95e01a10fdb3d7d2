"""Praat TextGrid reading and writing (through praatio).

We write three interval tiers, ``words``, ``phones`` and ``vocalizations``, in
Praat's long text format with the gaps filled by empty intervals — the layout
the Montreal Forced Aligner writes, so MFA, Praat and this toolkit read each
other's files. Reading accepts MFA's names too: ``words``/``phones`` or, for
multi-speaker MFA output, ``<speaker> - words``/``<speaker> - phones``.

Silence markers (empty, ``sil``, ``sp``, ``<eps>``, ``SIL``) are dropped when read:
a gap is silence. ``spn`` (MFA's spoken noise for unknown words) is kept.

>>> import tempfile, os
>>> from explain_ser.align.base import Alignment, Interval
>>> a = Alignment([Interval(0.1, 0.5, "hi")], [Interval(0.1, 0.3, "HH"), Interval(0.3, 0.5, "AY1")],
...               duration=1.0, backend="test")
>>> p = os.path.join(tempfile.mkdtemp(), "x.TextGrid")
>>> write_alignment(a, p)
>>> b = read_alignment(p)
>>> b.word_labels(), [q.label for q in b.phones], b.duration
(['hi'], ['HH', 'AY1'], 1.0)
"""

from __future__ import annotations

import math
from pathlib import Path

from explain_ser.align.base import Alignment, Interval
from explain_ser.align.phones import SILENCE
from explain_ser.errors import InputError

SILENCE_LABELS = SILENCE  # one set of silence labels (explain_ser.align.phones)
TIERS = ("words", "phones", "vocalizations")


def read_tiers(path) -> tuple[dict[str, list[Interval]], float]:
    """All interval tiers of a TextGrid as ``{name: [Interval, ...]}`` plus its end time.

    Intervals with silence labels are dropped; labels are stripped of whitespace.
    """
    from praatio import textgrid as ptg

    path = Path(path)
    if not path.exists():
        raise InputError(path, "TextGrid not found")
    try:
        # "error": a tier reaching past the grid's own bounds is refused, where praatio's default
        # would print a note to stdout and stretch the grid
        tg = ptg.openTextgrid(str(path), includeEmptyIntervals=False, reportingMode="error", duplicateNamesMode="rename")
    except Exception as exc:  # praatio raises several types for malformed files
        detail = (str(exc).strip().splitlines() or [""])[0]  # some praatio messages span lines
        raise InputError(path, f"not a readable TextGrid ({exc.__class__.__name__}: {detail})") from None
    # praatio parses 'nan' and 'inf' as times; an alignment with them would poison every frame lookup
    xmax = float(tg.maxTimestamp)
    if not (math.isfinite(xmax) and math.isfinite(float(tg.minTimestamp))):
        raise InputError(path, f"TextGrid times are not finite numbers (xmin {tg.minTimestamp}, xmax {tg.maxTimestamp})")
    tiers = {}
    for name in tg.tierNames:
        tier = tg.getTier(name)
        if tier.tierType != "IntervalTier":
            continue
        for e in tier.entries:
            if not (math.isfinite(float(e.start)) and math.isfinite(float(e.end))):
                raise InputError(path, f"tier {name!r}: interval times are not finite numbers ({e.start}, {e.end})")
        tiers[name] = [Interval(float(e.start), float(e.end), e.label.strip())
                       for e in tier.entries if e.label.strip() not in SILENCE_LABELS]
    return tiers, xmax


def _find(tiers: dict, kind: str) -> list[Interval]:
    """The tier called ``kind``, or MFA's ``<speaker> - kind``; empty if absent."""
    for name, ivs in tiers.items():
        if name.lower() == kind or name.lower().endswith(f" - {kind}"):
            return ivs
    return []


def read_alignment(path, backend: str = "textgrid") -> Alignment:
    """An :class:`Alignment` from a TextGrid (ours or MFA's). Phone set guessed from labels."""
    from explain_ser.align.phones import guess_phone_set

    tiers, xmax = read_tiers(path)
    words, phones = _find(tiers, "words"), _find(tiers, "phones")
    if not words and not phones:
        raise InputError(path, f"no 'words' or 'phones' tier (tiers: {', '.join(tiers) or 'none'})")
    return Alignment(
        words=words, phones=phones, vocalizations=_find(tiers, "vocalizations"),
        backend=backend, duration=xmax, clip_id=Path(path).stem,
        transcript=" ".join(w.label for w in words),
        phone_set=guess_phone_set([p.label for p in phones]),
    )


def write_alignment(alignment: Alignment, path) -> None:
    """Write words/phones/vocalizations tiers (atomically: temp file then rename)."""
    from praatio import textgrid as ptg

    tiers = {name: [(round(iv.start, 6), round(iv.end, 6), iv.label)
                    for iv in getattr(alignment, name) if iv.end > iv.start] for name in TIERS}
    # the grid's end from the same rounded times as its entries: an entry rounded past an unrounded end made
    # praatio print "Textgrid has a max timestamp of ..." to the terminal
    duration = max([round(alignment.duration, 6)] + [e for entries in tiers.values() for _, e, _ in entries])
    tg = ptg.Textgrid()
    for name, entries in tiers.items():
        tg.addTier(ptg.IntervalTier(name, entries, 0.0, duration))
    from explain_ser.atomic import write_path

    write_path(path, lambda tmp: tg.save(tmp, format="long_textgrid", includeBlankSpaces=True))
