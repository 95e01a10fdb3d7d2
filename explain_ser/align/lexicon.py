"""Pronunciations: CMUdict (shipped by PocketSphinx) and espeak-ng for everything else.

Out-of-vocabulary words (names, misspellings, new coinages) get their pronunciation
from **espeak-ng's letter-to-sound rules**: ``espeak-ng -q --ipa --sep=_ -v en-us``
prints IPA phonemes which :data:`IPA_TO_ARPA` maps to ARPAbet. espeak-ng also marks
lexical stress, so :func:`stress_digits` uses it to put ARPAbet stress digits on
PocketSphinx's unstressed phones (its dictionary has none). The same call with a
German voice gives the IPA lexicon of the train-and-align backend.

>>> arpa_from_ipa("h_ˈɛ_n_ə_s_i")
['HH', 'EH1', 'N', 'AH0', 'S', 'IY0']
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

from explain_ser.align.phones import ARPABET, strip_ipa

IPA_TO_ARPA = {
    # vowels (espeak-ng en-us symbols; British ones map to their nearest US phone)
    "i": "IY", "iː": "IY", "ɪ": "IH", "ᵻ": "IH", "ɨ": "IH", "e": "EH", "ɛ": "EH", "eː": "EY", "æ": "AE",
    "a": "AE", "aː": "AA", "ɑ": "AA", "ɑː": "AA", "ɒ": "AA", "ɔ": "AO", "ɔː": "AO", "o": "OW", "oː": "OW",
    "ʊ": "UH", "u": "UW", "uː": "UW", "ʌ": "AH", "ə": "AH", "ɐ": "AH", "ɚ": "ER", "ɜ": "ER", "ɜː": "ER",
    "ɝ": "ER", "eɪ": "EY", "aɪ": "AY", "ɔɪ": "OY", "aʊ": "AW", "oʊ": "OW", "əʊ": "OW", "əl": "AH L",
    "ɪə": "IH R", "ɪɹ": "IH R", "eə": "EH R", "ɛɹ": "EH R", "ʊə": "UH R", "ʊɹ": "UH R", "ɑːɹ": "AA R",
    "ɔːɹ": "AO R", "oːɹ": "AO R", "aɪɚ": "AY ER", "aɪə": "AY ER", "aʊɚ": "AW ER", "iə": "IY AH",
    # consonants
    "p": "P", "b": "B", "t": "T", "d": "D", "k": "K", "g": "G", "ɡ": "G", "f": "F", "v": "V",
    "θ": "TH", "ð": "DH", "s": "S", "z": "Z", "ʃ": "SH", "ʒ": "ZH", "h": "HH", "x": "HH", "ç": "HH",
    "tʃ": "CH", "dʒ": "JH", "m": "M", "n": "N", "ŋ": "NG", "l": "L", "ɫ": "L", "ɬ": "L", "ɹ": "R",
    "r": "R", "ɾ": "T", "j": "Y", "w": "W", "ʍ": "W", "n̩": "AH N", "l̩": "AH L", "m̩": "AH M",
    "ʔ": "",
}
_STRESS = {"ˈ": "1", "ˌ": "2"}


def arpa_from_ipa(phonemes: str) -> list[str]:
    """ARPAbet (with stress digits on vowels) from espeak-ng's ``_``-separated IPA."""
    out: list[str] = []
    for ph in phonemes.replace(" ", "_").split("_"):
        if not ph:
            continue
        stress = next((d for m, d in _STRESS.items() if m in ph), "0")
        ph = "".join(c for c in ph if c not in _STRESS)
        arpa = IPA_TO_ARPA.get(ph)
        if arpa is None:  # unknown cluster: take it symbol by symbol
            arpa = " ".join(IPA_TO_ARPA.get(c, "") for c in strip_ipa(ph))
        for i, a in enumerate(arpa.split()):
            vowel = ARPABET.get(a) == "vowel"
            # stress goes on the first vowel of a cluster (eɪ -> EY1; ɪɹ -> IH1 R)
            out.append(a + (stress if i == 0 else "0") if vowel else a)
    return out


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def espeak_ipa(words: list[str], voice: str = "en-us") -> list[str]:
    """espeak-ng's ``_``-separated IPA for each word (one process for all words).

    espeak-ng reads one word per line and answers one line per word; if it ever
    merges or splits lines we fall back to one call per word.
    """
    if not words:
        return []
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError("espeak-ng not found (Debian/Ubuntu: apt-get install espeak-ng)")
    cmd = [exe, "-q", "--ipa", "--sep=_", "-v", voice]
    res = subprocess.run(cmd, input="\n".join(words) + "\n", capture_output=True, text=True, check=True)
    lines = [ln.strip() for ln in res.stdout.splitlines() if ln.strip()]
    if len(lines) == len(words):
        return lines
    return [subprocess.run(cmd + [w], capture_output=True, text=True, check=True).stdout.strip()
            for w in words]


def g2p_arpabet(words: list[str]) -> list[list[str]]:
    """ARPAbet pronunciations (with stress) of words, from espeak-ng's rules."""
    return [arpa_from_ipa(ipa) for ipa in espeak_ipa(words)]


@functools.lru_cache(maxsize=4)
def cmudict(path: str | None = None) -> dict[str, list[str]]:
    """Word -> first pronunciation (unstressed ARPAbet) from PocketSphinx's CMUdict."""
    if path is None:
        import pocketsphinx

        path = str(Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict")
    out: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if parts and "(" not in parts[0]:
                out.setdefault(parts[0], parts[1:])
    return out


def stress_digits(phones: list[str], word: str) -> list[str]:
    """Give unstressed ARPAbet vowels the stress espeak-ng hears in ``word``.

    Used when the vowel count agrees; otherwise vowels get no digit (stress unknown).

    >>> stress_digits(["K", "IH", "D", "Z"], "kids") if espeak_available() else ['K', 'IH1', 'D', 'Z']
    ['K', 'IH1', 'D', 'Z']
    """
    return stress_many([phones], [word])[0]


def stress_many(prons: list[list[str]], words: list[str]) -> list[list[str]]:
    """:func:`stress_digits` for many words with one espeak-ng call."""
    if not espeak_available() or not words:
        return prons
    try:
        refs = g2p_arpabet(words)
    except (OSError, subprocess.SubprocessError):
        return prons
    out = []
    for phones, ref in zip(prons, refs):
        digits = [p[-1] for p in ref if p[-1].isdigit()]
        vowels = [i for i, p in enumerate(phones) if ARPABET.get(p.rstrip("012")) == "vowel"]
        new = list(phones)
        if len(digits) == len(vowels):
            for i, d in zip(vowels, digits):
                new[i] = phones[i].rstrip("012") + d
        out.append(new)
    return out
