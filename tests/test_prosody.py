"""Praat prosody on the encoder-frame grid (explain_ser.prosody)."""

import numpy as np
import pandas as pd
import pytest

from _speech import espeak, tone
from explain_ser.prosody import extract_prosody, pitch_range, speaker_zscores
from explain_ser.timegrid import n_frames


def test_tone_gives_its_f0_and_is_voiced():
    x = tone(200, 1.5)
    p = extract_prosody(x)
    assert p.n_frames == n_frames(len(x)) == 75
    assert np.nanmedian(p.f0) == pytest.approx(200, abs=1)
    assert (p.voiced[3:-3] == 1).all()
    assert np.nanmedian(p.hnr) > 20
    assert np.nanmedian(p.jitter) < 0.005


def test_silence_is_unvoiced():
    x = np.zeros(16000, np.float32)
    p = extract_prosody(x)
    assert np.isnan(p.f0).all() and (p.voiced == 0).all() and np.isnan(p.jitter).all()
    assert (p.intensity == 0).all()


def test_tone_then_silence_on_the_grid():
    x = np.concatenate([tone(150, 0.5), np.zeros(8000, np.float32)])
    p = extract_prosody(x)
    assert np.nanmedian(p.f0[5:20]) == pytest.approx(150, abs=1)
    assert (p.voiced[30:] == 0).all() and np.isnan(p.f0[30:]).all()
    assert p.intensity[10] > p.intensity[40] + 30


def test_speaker_adaptive_range_follows_the_voice():
    lo_m, hi_m = pitch_range(espeak("kids are talking by the door", voice="en-us"))
    assert 50 <= lo_m < hi_m <= 800
    lo_t, hi_t = pitch_range(tone(300, 1.0))
    assert lo_t == pytest.approx(225, rel=0.02) and hi_t == pytest.approx(450, rel=0.02)


def test_very_short_clips():
    assert extract_prosody(np.zeros(100, np.float32)).n_frames == 0
    p = extract_prosody(tone(200, 0.06))
    assert p.n_frames == 3


def test_speaker_zscores():
    t = pd.DataFrame({"speaker": list("aaabbb"), "f0": [100, 200, np.nan, 300, 300, 300.0],
                      "intensity": [50, 60, 70, 40, 50, 60.0], "hnr": [1, 2, 3, 4, 5, 6.0]})
    z = speaker_zscores(t)
    assert z.f0_z.iloc[:2].tolist() == pytest.approx([-0.7071, 0.7071], abs=1e-3)
    assert np.isnan(z.f0_z.iloc[2]) and z.f0_z.iloc[3:].isna().all()  # no spread: undefined
    assert z.intensity_z.tolist() == pytest.approx([-1, 0, 1, -1, 0, 1])
