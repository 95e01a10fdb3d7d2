"""Phone classes, stress and hyperarticulation (explain_ser.align.phones)."""

import numpy as np
import pandas as pd
import pytest

from explain_ser.align.phones import (CLASSES, CMUDICT_PHONES, guess_phone_set, hyperarticulation,
                                      phone_class, stress_of, strip_ipa)

# MFA 3.0 phone sets (mfa-models dictionary meta.json: english_us_mfa v3.0.0, german_mfa v3.0.0)
ENGLISH_US_MFA = ("aj aw aː b bʲ c cʰ cʷ d dʒ dʲ d̪ ej f fʲ h i iː j k kʰ kʷ l m mʲ m̩ n n̩ ow p pʰ pʲ pʷ s t "
                  "tʃ tʰ tʲ tʷ t̪ v vʲ w z æ ç ð ŋ ɐ ɑ ɑː ɒ ɒː ɔj ə ɚ ɛ ɝ ɟ ɟʷ ɡ ɡʷ ɪ ɫ ɫ̩ ɱ ɲ ɹ ɾ ɾʲ ɾ̃ ʃ "
                  "ʉ ʉː ʊ ʎ ʒ ʔ θ").split()
GERMAN_MFA = ("a aj aw aː b c cʰ d eː f h iː j k kʰ l l̩ m m̩ n n̩ oː p pf pʰ s t ts tʃ tʰ uː v x yː z ç "
              "øː ŋ œ ɐ ɔ ɔʏ ə ɛ ɟ ɡ ɪ ɲ ʁ ʃ ʊ ʏ").split()


@pytest.mark.parametrize("phones", [CMUDICT_PHONES, ENGLISH_US_MFA, GERMAN_MFA], ids=["arpabet", "english_mfa", "german_mfa"])
def test_tables_complete(phones):
    for p in phones:
        assert phone_class(p) in CLASSES[:7], p


def test_arpabet_examples_with_stress():
    expect = {"AA1": "vowel", "ER0": "vowel", "P": "stop", "CH": "affricate", "JH": "affricate", "ZH": "fricative",
              "HH": "fricative", "NG": "nasal", "L": "liquid", "R": "liquid", "W": "glide", "Y": "glide",
              "sil": "silence", "": "silence", "sp": "silence", "spn": "spoken-noise", "+NSN+": "spoken-noise"}
    assert {p: phone_class(p) for p in expect} == expect
    assert [stress_of(p) for p in ["AA0", "AA1", "AA2", "AA", "T", "ˈa", "ˌe", "a"]] == [0, 1, 2, None, None, 1, 2, None]


def test_ipa_examples():
    expect = {"tʰ": "stop", "ɾ": "stop", "ʔ": "stop", "dʒ": "affricate", "pf": "affricate", "ts": "affricate",
              "ɫ̩": "liquid", "ʁ": "liquid", "ɹ": "liquid", "m̩": "nasal", "ɱ": "nasal", "ç": "fricative",
              "x": "fricative", "j": "glide", "w": "glide", "ɔʏ": "vowel", "aj": "vowel", "ɚ": "vowel", "øː": "vowel"}
    assert {p: phone_class(p) for p in expect} == expect
    assert strip_ipa("t͡ʃʰ") == "tʃ"
    assert phone_class("Ж") == "other"


def test_guess_phone_set():
    assert guess_phone_set(["K", "IH1", "D", "Z", "sil"]) == "arpabet"
    assert guess_phone_set(["kʰ", "ɪ", "d", "z"]) == "ipa"


def test_hyperarticulation_zscores():
    rng = np.random.default_rng(0)
    dur = np.exp(rng.normal(np.log(0.08), 0.2, 40))
    dur[5] = 0.3  # one very long token
    df = pd.DataFrame({"speaker": ["s1"] * 40, "phone": ["AA1", "AA0"] * 20, "duration": dur,
                       "intensity": rng.normal(65, 3, 40)})
    out = hyperarticulation(df)
    assert out.dur_z.idxmax() == 5 and out.dur_z[5] > 3
    assert abs(out.dur_z.mean()) < 1e-9  # one group: AA0 and AA1 pooled
    assert np.allclose(out.hyper, (out.dur_z + out.int_z) / 2)
    # another speaker's tokens are compared only with that speaker
    df2 = pd.concat([df, df.assign(speaker="s2", duration=df.duration * 2)])
    out2 = hyperarticulation(df2)
    assert np.allclose(out2.dur_z.values[:40], out2.dur_z.values[40:])
