"""Phone classes (manner of articulation), stress, and a hyperarticulation measure.

Two phone sets are understood:

* **ARPAbet** as in CMUdict / MFA ``english_us_arpa`` / PocketSphinx: upper case, vowels
  with an optional stress digit (0 unstressed, 1 primary, 2 secondary).
* **IPA** as in MFA's ``*_mfa`` dictionaries (``english_us_mfa``, ``german_mfa`` ...) and
  espeak-ng: classified compositionally, by stripping diacritics (ʰ ʲ ʷ ː ̩ ̪ ̃ ...) and
  looking at the base symbol, so every MFA language works, not just a listed few.

Classes: vowel, stop, fricative, affricate, nasal, liquid, glide, silence, spoken-noise.
Decisions worth knowing: diphthongs are vowels; syllabic consonants keep their
manner (m̩ nasal, ɫ̩ liquid); rhotics are liquids (ɹ, r, ʁ — German's /r/ is
phonologically a rhotic even when realised as a uvular fricative); the English flap
(ARPAbet DX, IPA ɾ) and the glottal stop are stops; h is a fricative; ``spn``/``+SPN+``
(unknown word) and ``+NSN+`` (noise) are spoken-noise; silence labels are silence.
Unknown symbols give ``"other"``.

>>> phone_class("AH0"), phone_class("tʃ"), phone_class("ɫ̩"), phone_class("spn"), phone_class("")
('vowel', 'affricate', 'liquid', 'spoken-noise', 'silence')
>>> stress_of("EY1"), stress_of("T"), stress_of("ˈaɪ")
(1, None, 1)
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

CLASSES = ("vowel", "stop", "fricative", "affricate", "nasal", "liquid", "glide",
           "silence", "spoken-noise")

ARPABET = {
    **{p: "vowel" for p in "AA AE AH AO AW AX AXR AY EH ER EY IH IX IY OW OY UH UW UX".split()},
    **{p: "stop" for p in "B D G K P T DX Q".split()},
    **{p: "affricate" for p in "CH JH".split()},
    **{p: "fricative" for p in "DH F HH S SH TH V Z ZH".split()},
    **{p: "nasal" for p in "M N NG EM EN ENG NX".split()},
    **{p: "liquid" for p in "L R EL".split()},
    **{p: "glide" for p in "W Y WH".split()},
}
# the 39 phones of CMUdict (what MFA english_us_arpa and PocketSphinx use)
CMUDICT_PHONES = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY "
                  "P R S SH T TH UH UW V W Y Z ZH").split()

SILENCE = frozenset({"", "sil", "SIL", "sp", "<eps>", "<sil>", "<s>", "</s>", "silence", "pau", "h#"})
SPOKEN_NOISE = frozenset({"spn", "SPN", "+SPN+", "+NSN+", "NSN", "[NOISE]", "[SPEECH]", "<unk>"})

_IPA_VOWELS = set("aeiouyæɑɒɐəɚɛɜɝɞɘɵɤɯɪɨʉʊʏøœɶɔʌɪ")
_IPA_CLASS = {
    **{c: "stop" for c in "pbtdʈɖcɟkɡgqɢʔɾ"},
    **{c: "nasal" for c in "mɱnɳɲŋɴ"},
    **{c: "fricative" for c in "ɸβfvθðszʃʒʂʐçʝxɣχħʕhɦɕʑʍ"},
    **{c: "liquid" for c in "lɫɭʎʟrɹɻɽʀʁɺ"},
    **{c: "glide" for c in "jwɥɰʋ"},
}
_AFFRICATES = {"tʃ", "dʒ", "ts", "dz", "pf", "tɕ", "dʑ", "ʈʂ", "ɖʐ", "tθ", "dð", "kx", "tɬ"}
_STRESS_MARKS = {"ˈ": 1, "ˌ": 2}
# modifier letters that only colour the base phone
_MODIFIERS = set("ʰʲʷˠˤːˑ˞ʼ͜͡")


def strip_ipa(phone: str) -> str:
    """The base symbols of an IPA phone: combining marks, modifiers and stress removed.

    >>> strip_ipa("tʰ"), strip_ipa("ɫ̩"), strip_ipa("ˈaː"), strip_ipa("t͡ʃ")
    ('t', 'ɫ', 'a', 'tʃ')
    """
    out = []
    for ch in unicodedata.normalize("NFC", phone):
        if unicodedata.combining(ch) or ch in _MODIFIERS or ch in _STRESS_MARKS:
            continue
        out.append(ch)
    return "".join(out)


_ARPA_RE = re.compile(r"^([A-Z]{1,3})([012])?$")


def phone_class(phone: str) -> str:
    """Manner class of one phone label (ARPAbet or IPA); ``"other"`` if unknown."""
    p = phone.strip()
    if p in SILENCE:
        return "silence"
    if p in SPOKEN_NOISE or p.lower() == "spn":
        return "spoken-noise"
    m = _ARPA_RE.match(p)
    if m and m.group(1) in ARPABET:
        return ARPABET[m.group(1)]
    base = strip_ipa(p).replace("ɡ", "g")
    if not base:
        return "other"
    if base in _AFFRICATES or base.replace("g", "ɡ") in _AFFRICATES:
        return "affricate"
    if base[0] in _IPA_VOWELS:
        return "vowel"
    return _IPA_CLASS.get(base[0], "other")


def stress_of(phone: str) -> int | None:
    """Lexical stress of a vowel: ARPAbet digit or IPA ˈ/ˌ (0 if an IPA vowel has no mark
    but others may; None for consonants and for phone sets without stress (MFA IPA))."""
    p = phone.strip()
    m = _ARPA_RE.match(p)
    if m and m.group(1) in ARPABET:
        return int(m.group(2)) if m.group(2) is not None and ARPABET[m.group(1)] == "vowel" else None
    for mark, level in _STRESS_MARKS.items():
        if mark in p:
            return level
    return None


def strip_stress(phone: str) -> str:
    """ARPAbet phone without its stress digit, IPA phone without stress marks."""
    m = _ARPA_RE.match(phone)
    if m and m.group(1) in ARPABET:
        return m.group(1)
    return "".join(ch for ch in phone if ch not in _STRESS_MARKS)


def guess_phone_set(labels) -> str:
    """``"arpabet"`` if most non-silence labels are ARPAbet, else ``"ipa"``.

    >>> guess_phone_set(["HH", "AH0", "sil"]), guess_phone_set(["h", "ə", "l"])
    ('arpabet', 'ipa')
    """
    labs = [lab for lab in labels if lab not in SILENCE and lab not in SPOKEN_NOISE and lab != "spn"]
    if not labs:
        return "arpabet"
    arpa = sum(bool(_ARPA_RE.match(lab)) and _ARPA_RE.match(lab).group(1) in ARPABET for lab in labs)
    return "arpabet" if arpa >= len(labs) / 2 else "ipa"


# -------------------------------------------------------------- hyperarticulation

def hyperarticulation(phones, min_count: int = 5):
    """Duration and intensity z-scores of each phone against the same phone of the same speaker.

    ``phones`` is a DataFrame with one row per phone token and columns ``speaker``,
    ``phone``, ``duration`` (s) and optionally ``intensity`` (dB, e.g. the mean of
    :func:`explain_ser.prosody.extract_prosody` over the phone). Stress digits are
    removed before grouping (AH0 and AH1 are the same phone; stress is its own column).
    Duration is z-scored in log space (phone durations are log-normal). Groups with fewer than
    ``min_count`` tokens get NaN: a z-score against three tokens means nothing.
    Returns a copy with ``dur_z``, ``int_z`` and ``hyper`` (their mean, or ``dur_z`` alone).

    >>> import pandas as pd
    >>> df = pd.DataFrame({"speaker": ["a"] * 6, "phone": ["AA1"] * 5 + ["T"],
    ...                    "duration": [0.1, 0.1, 0.1, 0.1, 0.3, 0.05]})
    >>> out = hyperarticulation(df)
    >>> bool(out.dur_z.iloc[4] > 1.5), bool(np.isnan(out.dur_z.iloc[5]))
    (True, True)
    """
    df = phones.copy()
    key = df["phone"].map(strip_stress)
    groups = [df["speaker"], key]

    def z(values):
        g = values.groupby(groups)
        n = g.transform("count")
        mu, sd = g.transform("mean"), g.transform("std")
        out = (values - mu) / sd.where(sd > 0)
        return out.where(n >= min_count)

    df["dur_z"] = z(np.log(df["duration"].clip(lower=1e-3)))
    if "intensity" in df:
        df["int_z"] = z(df["intensity"].astype(float))
        df["hyper"] = df[["dur_z", "int_z"]].mean(axis=1, skipna=False)
    else:
        df["hyper"] = df["dur_z"]
    return df
