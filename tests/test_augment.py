"""Speed perturbation: what the waveform becomes, the option's validation, and the feature cache."""

import numpy as np
import pytest

from _env import needs_tiny
from explain_ser.audio import Clip
from explain_ser.augment import parse_speeds, perturbed_features, speed_perturb
from explain_ser.errors import InputError


def _tone(freq=440.0, seconds=1.0):
    t = np.arange(int(16000 * seconds)) / 16000
    return Clip.from_array((0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 16000, name="tone")


def _peak_hz(samples):
    spec = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return np.fft.rfftfreq(len(samples), 1 / 16000)[spec.argmax()]


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_perturbation_scales_duration_and_pitch(factor):
    clip = _tone()
    out = speed_perturb(clip, factor)
    assert out.rate == 16000
    assert abs(len(out.samples) - len(clip.samples) / factor) <= 2
    assert abs(_peak_hz(out.samples) - 440 * factor) < 3  # FFT bin is ~1 Hz
    assert out.sha256 != clip.sha256 and out.clip_id.endswith(f"@speed{factor:g}")
    assert np.array_equal(speed_perturb(clip, factor).samples, out.samples)  # deterministic


def test_parse_speeds():
    assert parse_speeds("0.9,1.1") == (0.9, 1.1) and parse_speeds("") == () and parse_speeds(None) == ()
    for bad in ("1.0", "0.3", "fast", "0.9,3"):
        with pytest.raises(InputError):
            parse_speeds(bad)


@needs_tiny
def test_perturbed_features_are_cached(tmp_path, tiny_encoder):
    import soundfile as sf

    from explain_ser.features import FeatureStore

    path = tmp_path / "tone.wav"
    sf.write(path, _tone(seconds=0.6).samples, 16000)
    store = FeatureStore(tmp_path / "cache")
    first = perturbed_features([path], tiny_encoder, store, (0.9, 1.1), progress=False)
    assert store.misses == 2 and store.hits == 0
    assert [a.shape[1] for a in (first[0.9][0], first[1.1][0])] == [33, 27]  # 0.667 s and 0.545 s of 20 ms frames
    again = perturbed_features([path], tiny_encoder, store, (0.9, 1.1), progress=False)
    assert store.hits == 2 and np.array_equal(again[1.1][0], first[1.1][0])


def test_join_copy_is_the_clip_and_its_partner_whole_label_kept_either_order():
    from explain_ser.augment import augment_clip, join_partners

    clip, mate = _tone(440, 0.5), _tone(220, 0.3)
    firsts = set()
    for seed in range(8):
        j = augment_clip(clip, "join", seed=seed, partner=mate).samples
        assert len(j) == len(clip.samples) + len(mate.samples)
        first = np.array_equal(j[: len(clip.samples)], clip.samples)
        assert first or np.array_equal(j[len(mate.samples):], clip.samples)
        firsts.add(first)
        assert np.array_equal(j, augment_clip(clip, "join", seed=seed, partner=mate).samples)  # repeatable
    assert firsts == {True, False}  # both orders occur
    with pytest.raises(ValueError, match="partner"):
        augment_clip(clip, "join")


def test_join_partners_same_speaker_neutral_never_itself():
    from explain_ser.augment import join_partners

    spk = ["a"] * 4 + ["b"] * 2 + ["c"]
    emo = ["angry", "neutral", "neutral", "sad", "neutral", "happy", "sad"]
    got = join_partners(spk, emo, seed=0)
    assert got[0] in (1, 2) and got[3] in (1, 2)  # a's neutral clips
    assert got[1] == 2 and got[2] == 1  # a neutral clip is joined with ANOTHER neutral clip
    assert got[4] == 4 and got[5] == 4  # b has one neutral clip: it joins with itself, happy with it
    assert got[6] == 6  # c has none: the clip is repeated
    assert got == join_partners(spk, emo, seed=0)
    with pytest.raises(InputError, match="--augment join"):
        join_partners(["a"], ["angry"])
