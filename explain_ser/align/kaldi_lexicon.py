"""Pronunciations for the Kaldi trainer: espeak-ng's letter-to-sound rules in MFA-style IPA, or a dictionary.

Part of the train-and-align backend (:mod:`explain_ser.align.kaldi_train`). espeak-ng's symbols are
rewritten to MFA's IPA conventions where they differ (:data:`MFA_STYLE`; per language
:data:`MFA_STYLE_LANG`) and stress marks are dropped (MFA's IPA sets have none), so
:func:`explain_ser.align.phones.phone_class` classes every label.

>>> mfa_style(["ˈaʊ", "f"], "de")
['aw', 'f']
"""

from __future__ import annotations

from pathlib import Path

from explain_ser.align.base import AlignerUnavailable

MFA_STYLE = {"aɪ": "aj", "aʊ": "aw", "ɔɪ": "ɔj", "eɪ": "ej", "oʊ": "ow", "əʊ": "əw", "g": "ɡ"}
MFA_STYLE_LANG = {
    "de": {"ɾ": "ʁ", "r": "ʁ", "ɜ": "ɐ", "ɑː": "aː", "ɑ": "a", "y": "ʏ", "ɔø": "ɔʏ", "ɔy": "ɔʏ"},
}
# espeak-ng voices for language codes that differ from the voice name
ESPEAK_VOICE = {"en": "en-us", "eng": "en-us", "english": "en-us", "german": "de", "deu": "de", "ger": "de",
                "fa": "fa", "persian": "fa", "fas": "fa"}


def _lang(language: str | None) -> str:
    return (language or "en").lower().split("-")[0].split("_")[0]



def mfa_style(phones: list[str], language: str) -> list[str]:
    """espeak-ng phones without stress, renamed to MFA's IPA conventions.

    >>> mfa_style(["ˈaɪ", "s", "ʃ", "ɾ", "a", "ŋ", "k"], "de")
    ['aj', 's', 'ʃ', 'ʁ', 'a', 'ŋ', 'k']
    """
    table = {**MFA_STYLE, **MFA_STYLE_LANG.get(_lang(language), {})}
    out = []
    for p in phones:
        p = p.replace("ˈ", "").replace("ˌ", "").strip()
        if p:
            out.append(table.get(p, p))
    return out


def phonemize(words: list[str], language: str) -> dict[str, list[str]]:
    """Pronunciations of words from espeak-ng's letter-to-sound rules, in MFA-style IPA."""
    from explain_ser.align.lexicon import espeak_available, espeak_ipa

    words = list(dict.fromkeys(words))
    if not words:
        return {}
    if not espeak_available():
        raise AlignerUnavailable("kaldi", "needs espeak-ng for pronunciations (apt-get install espeak-ng) "
                                          "or a dictionary (lexicon=...)")
    voice = ESPEAK_VOICE.get(_lang(language), _lang(language))
    ipa = espeak_ipa(words, voice)
    return {w: mfa_style(s.replace(" ", "_").split("_"), language) for w, s in zip(words, ipa)}


def read_dictionary(path) -> dict[str, list[str]]:
    """A pronunciation dictionary file, one ``word phone phone ...`` per line (first one wins).

    MFA dictionaries with probability columns (``word 0.99 0.1 1.0 1.0 p h o n e s``) are
    accepted: leading numeric fields after the word are skipped.
    """
    out: dict[str, list[str]] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        phones = parts[1:]
        while phones and _is_number(phones[0]):
            phones = phones[1:]
        if phones:
            out.setdefault(parts[0].lower(), phones)
    return out


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False
