"""explain_ser.inputs: the input rule (silence trim on the 20 ms grid, loudness) is exact and harmless."""

from __future__ import annotations

import numpy as np
import pytest

from explain_ser.audio import Clip
from explain_ser.inputs import AS_RECORDED, RECOMMENDED, InputRule, frame_levels_db, prepare
from explain_ser.timegrid import SAMPLES_PER_FRAME

RATE = 16000


def _speech_like(seconds=1.0, seed=0, level=0.1):
    rng = np.random.default_rng(seed)
    room = lambda n: (0.001 * rng.standard_normal(n)).astype(np.float32)  # noqa: E731  -60 dBFS room tone
    body = (level * rng.standard_normal(int(seconds * RATE))).astype(np.float32)
    return np.concatenate([room(8000), body, room(8000)])


def _clip(x):
    return Clip(samples=np.asarray(x, np.float32), rate=RATE, clip_id="t")


def test_identity_rule_returns_the_clip_itself():
    c = _clip(_speech_like())
    p = prepare(c, AS_RECORDED)
    assert p.clip is c and p.first_frame == 0 and p.gain_db == 0.0


@pytest.mark.parametrize("pad_s", [0.5, 2.0, 3.14])
@pytest.mark.parametrize("kind", ["silence", "noise-55"])
def test_padding_is_trimmed_to_the_same_model_input(pad_s, kind):
    x = _speech_like()
    n = int(round(pad_s * RATE))
    pad = np.zeros(n, np.float32) if kind == "silence" else \
        (10 ** (-55 / 20) * np.random.default_rng(1).standard_normal(n)).astype(np.float32)
    # padding by whole frames keeps the original frames on the same grid: the model input is identical
    n_frames_pad = n // SAMPLES_PER_FRAME * SAMPLES_PER_FRAME
    padded = np.concatenate([pad[:n_frames_pad], x, pad[:n_frames_pad]])
    a, b = prepare(_clip(x), RECOMMENDED), prepare(_clip(padded), RECOMMENDED)
    assert b.first_frame - a.first_frame == n_frames_pad // SAMPLES_PER_FRAME
    assert b.clip.n_frames == a.clip.n_frames
    np.testing.assert_allclose(a.clip.samples, b.clip.samples, atol=1e-6)


@pytest.mark.parametrize("gain_db", [-30.0, -20.0, -6.0, 6.0])
def test_loudness_normalisation_undoes_a_gain(gain_db):
    x = _speech_like(level=0.05)
    a = prepare(_clip(x), RECOMMENDED)
    b = prepare(_clip(x * np.float32(10 ** (gain_db / 20))), RECOMMENDED)
    assert abs((b.gain_db - a.gain_db) + gain_db) < 0.1  # the applied gains differ by exactly -gain
    np.testing.assert_allclose(a.clip.samples, b.clip.samples, atol=1e-4)


def test_loudness_never_clips():
    x = np.zeros(RATE, np.float32)
    x[100] = 0.9  # one loud click in near silence: the loudness gain alone would push it past full scale
    x[200:16000] = 0.001 * np.random.default_rng(0).standard_normal(15800)
    p = prepare(_clip(x), InputRule(loudness=-14.0))
    assert np.max(np.abs(p.clip.samples)) < 1.0


def test_trim_keeps_a_quiet_vocalization_and_digital_silence_stays():
    x = _speech_like()
    breath = (0.006 * np.random.default_rng(3).standard_normal(4800)).astype(np.float32)  # 24 dB below
    y = np.concatenate([breath, np.zeros(3200, np.float32), x])
    p = prepare(_clip(y), InputRule(trim="energy"))
    assert p.first_frame == 0  # the breath is within 30 dB of the loudest stretch: kept
    silent = prepare(_clip(np.zeros(RATE, np.float32)), RECOMMENDED)
    assert silent.clip.n_frames == 50 and silent.gain_db == 0.0


def test_rule_round_trips_through_a_config():
    assert InputRule.from_config(RECOMMENDED.to_config()) == RECOMMENDED
    assert InputRule.from_config(None) == AS_RECORDED
    with pytest.raises(ValueError):
        InputRule(trim="vad-of-my-own")


def test_frame_levels():
    x = np.concatenate([np.zeros(320, np.float32), np.full(320, 0.1, np.float32)])
    lv = frame_levels_db(x)
    assert lv[0] == -np.inf and abs(lv[1] + 20.0) < 1e-6
