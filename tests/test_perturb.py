"""Perturbations (explain_ser.perturb) and the random training copies built on them (explain_ser.augment)."""

import shutil

import numpy as np
import pytest

from explain_ser.augment import augment_clip, draw_condition, parse_augment
from explain_ser.audio import Clip
from explain_ser.errors import InputError
from explain_ser.perturb import Condition, apply, clip_rng, level_db, perturb, snr_db

SR = 16000
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


def _speechlike(seconds=2.0, seed=0):
    """A gliding harmonic tone with a syllable-rate envelope and a pause: broadband, non-stationary."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 12))
    env = np.clip(np.sin(2 * np.pi * 3 * t), 0, None) ** 0.5
    env[int(0.6 * len(t)) : int(0.75 * len(t))] = 0  # a real pause
    x = 0.2 * x * env + 1e-3 * np.random.default_rng(seed).standard_normal(len(t))
    return x.astype(np.float32)


def _rng(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("db", [-30, -20, -6.5, 3])
def test_gain_is_exact(db):
    x = _speechlike()
    y = apply(x, SR, f"gain:{db}", _rng())
    assert len(y) == len(x) and y.dtype == np.float32
    assert abs(level_db(y) - level_db(x) - db) < 0.01


def test_gain_clips_at_full_scale_and_counts_it():
    x = _speechlike() * 4  # peak about 0.8
    p = perturb(x, SR, "gain:10", _rng())
    assert np.abs(p.samples).max() == 1.0 and p.clipped > 0
    assert perturb(x, SR, "gain:-10", _rng()).clipped == 0


@pytest.mark.parametrize("kind", ["white", "ssn", "babble"])
@pytest.mark.parametrize("snr", [30, 20, 10, 0])
def test_snr_is_exact_over_the_whole_clip(kind, snr):
    x = _speechlike()
    sources = [_speechlike(1.3, seed=s) * (s + 1) for s in range(1, 6)]  # other "talkers", other levels
    y = apply(x, SR, f"noise:{kind}:{snr}", _rng(), sources=sources)
    noise = y.astype(np.float64) - x
    assert abs(snr_db(x, noise) - snr) < 0.01
    # whole-clip power, pause included: over the voiced part alone the ratio is higher
    voiced = np.abs(x) > 0.01
    assert snr_db(x[voiced], noise[voiced]) > snr + 0.5


def test_speech_shaped_noise_follows_the_sources_spectrum():
    from scipy.signal import lfilter

    low = [lfilter([1.0], [1.0, -0.95], np.random.default_rng(s).standard_normal(SR)) for s in range(3)]
    n = apply(_speechlike(), SR, "noise:ssn:0", _rng(), sources=low) - _speechlike()
    spec = np.abs(np.fft.rfft(n)) ** 2
    f = np.fft.rfftfreq(len(n), 1 / SR)
    assert spec[f < 500].mean() > 30 * spec[f > 4000].mean()  # a one-pole low-pass, not white


def test_babble_needs_enough_other_clips():
    with pytest.raises(InputError, match="babble of 4 talkers needs 4"):
        apply(_speechlike(), SR, "noise:babble:20", _rng(), sources=[_speechlike(seed=1)], name="x.wav")
    with pytest.raises(InputError, match="needs other clips"):
        apply(_speechlike(), SR, "noise:ssn:20", _rng())
    with pytest.raises(InputError, match="silent"):
        apply(np.zeros(SR, np.float32), SR, "noise:white:20", _rng())


def test_silence_padding_is_exact_to_the_sample():
    x = _speechlike(1.234)
    p = perturb(x, SR, "pad:silence:2", _rng())
    assert len(p.samples) == len(x) + 2 * 32000 and p.offset == 32000
    assert not p.samples[:32000].any() and not p.samples[-32000:].any()
    assert np.array_equal(p.samples[32000:-32000], x)
    q = perturb(x, SR, "pad:silence:0.5:0", _rng())
    assert len(q.samples) == len(x) + 8000 and np.array_equal(q.samples[8000:], x)
    odd = perturb(x, SR, "pad:silence:0.00003", _rng())  # 0.48 samples rounds to 0; 0.00004 s to 1
    assert len(odd.samples) == len(x) and len(perturb(x, SR, "pad:silence:0.00004", _rng()).samples) == len(x) + 2


def test_noise_padding_level_and_lengths():
    x = _speechlike(1.0)
    p = perturb(x, SR, "pad:noise:-55:1.5:0.25", _rng())
    head, tail = p.samples[:24000], p.samples[-4000:]
    assert len(p.samples) == len(x) + 24000 + 4000 and p.offset == 24000
    assert abs(level_db(head) + 55) < 0.01 and abs(level_db(tail) + 55) < 0.01
    assert np.array_equal(p.samples[24000:-4000], x)


@pytest.mark.parametrize("spec", ["noise:white:10", "noise:babble:5", "pad:noise:-40:0.3", "reverb:0.4", "crop:0.7"])
def test_seeded_and_deterministic(spec):
    x = _speechlike()
    sources = [_speechlike(0.7, seed=s) for s in range(1, 6)]
    a = apply(x, SR, spec, _rng(1), sources=sources)
    b = apply(x, SR, spec, _rng(1), sources=sources)
    c = apply(x, SR, spec, _rng(2), sources=sources)
    assert np.array_equal(a, b)
    assert len(a) != len(c) or not np.array_equal(a, c)
    assert np.array_equal(apply(x, SR, spec, clip_rng(0, spec, "clip7"), sources=sources),
                          apply(x, SR, spec, clip_rng(0, spec, "clip7"), sources=sources))


def test_speed_matches_the_augment_resampling():
    from explain_ser.augment import speed_perturb

    x = _speechlike()
    p = perturb(x, SR, "speed:1.1", _rng())
    assert np.array_equal(p.samples, speed_perturb(Clip.from_array(x, SR), 1.1).samples)
    assert abs(len(p.samples) - len(x) / 1.1) <= 2 and p.tempo == 17600 / 16000


def test_reverb_decays_60_db_in_rt60_and_keeps_length_and_level():
    rt60 = 0.5
    x = np.zeros(2 * SR, np.float32)
    x[0] = 1.0  # the impulse response itself comes out
    y = apply(x, SR, f"reverb:{rt60}", _rng()).astype(np.float64)
    assert len(y) == len(x) and abs(level_db(y) - level_db(x)) < 0.01
    edc = np.cumsum((y**2)[::-1])[::-1]  # Schroeder backward integration
    edc_db = 10 * np.log10(edc / edc[0] + 1e-30)
    t5, t35 = np.argmax(edc_db < -5), np.argmax(edc_db < -35)
    t60 = 2 * (t35 - t5) / SR  # T30-style extrapolation of the -5..-35 dB slope to 60 dB
    assert abs(t60 - rt60) < 0.1 * rt60


def test_crop_keeps_a_contiguous_fraction():
    x = _speechlike()
    p = perturb(x, SR, "crop:0.6", _rng(3))
    assert len(p.samples) == round(0.6 * len(x)) and p.offset <= 0
    assert np.array_equal(p.samples, x[-p.offset : -p.offset + len(p.samples)])


@needs_ffmpeg
@pytest.mark.parametrize("spec", ["mp3:32", "opus:16", "mp3:16", "opus:8"])
def test_codec_round_trip_keeps_length_and_alignment(spec):
    x = _speechlike(2.5)
    y = apply(x, SR, spec, _rng())
    assert len(y) == len(x)
    # the encoder delay is removed: the best-matching lag is within 1 ms
    n = len(x)
    lags = np.arange(-800, 801)
    corr = [np.dot(x[max(0, -k) : n - max(0, k)], y[max(0, k) : n - max(0, -k)]) for k in lags]
    assert abs(lags[int(np.argmax(corr))]) <= 16
    assert np.corrcoef(x, y)[0, 1] > 0.8


@pytest.mark.parametrize("bad, msg", [("gain", "takes 1 fields"), ("gain:x", "numbers"), ("noise:pink:10", "type"),
                                      ("mp3:4", "8..320"), ("speed:1", "differ from 1"), ("pad:noise:3:2", "<= 0"),
                                      ("fizz:1", "unknown condition"), ("noise:white:20:3", "only babble"),
                                      ("reverb:9", "0.05..5"), ("pad:noise:2", "DBFS:SECONDS"), ("gain:nan", "finite")])
def test_bad_specs_are_one_line_input_errors(bad, msg):
    with pytest.raises(InputError, match=msg) as e:
        Condition.parse(bad)
    assert str(e.value).startswith(bad) and "\n" not in str(e.value)


def test_bad_signals_name_the_file():
    with pytest.raises(InputError, match="a.wav: audio contains NaN"):
        apply(np.array([0.1, np.nan] * 400, np.float32), SR, "gain:-3", _rng(), name="a.wav")


# ---- training copies (explain_ser.augment) ----

def test_parse_augment():
    assert parse_augment("gain,noise,pad,crop") == ("gain", "noise", "pad", "crop")
    assert parse_augment("") == () and parse_augment(None) == ()
    with pytest.raises(InputError, match="unknown augmentation"):
        parse_augment("gain,echo")


def test_codec_copies_without_ffmpeg_fail_when_parsed(monkeypatch):
    import explain_ser.augment as augment

    monkeypatch.setattr(augment.shutil, "which", lambda name: None)
    with pytest.raises(InputError, match="needs ffmpeg on PATH"):
        parse_augment("noise,codec")
    assert parse_augment("noise,pad") == ("noise", "pad")  # the other kinds need no ffmpeg


def test_random_conditions_stay_in_their_ranges():
    rng, kinds = _rng(5), set()
    for _ in range(200):
        g = draw_condition("gain", rng).args[0]
        s = draw_condition("noise", rng).args[1]
        pad = draw_condition("pad", rng)
        crop = draw_condition("crop", rng).args[0]
        assert -30 <= g <= 10 and 5 <= s <= 30 and 0.6 <= crop <= 0.95
        secs = pad.args[1:] if pad.args[0] == "silence" else pad.args[2:]
        assert len(secs) == 2 and all(0 <= v <= 2 for v in secs)
        if pad.args[0] == "noise":
            assert -70 <= pad.args[1] <= -45
        codec = draw_condition("codec", rng)
        kinds.add(codec.kind)
        assert (codec.kind, codec.args[0]) in {("mp3", b) for b in (16, 24, 32, 48, 64)} | {("opus", b) for b in (8, 12, 16, 24, 32)}
    assert kinds == {"mp3", "opus"}  # both codecs are drawn


def test_augmented_copies_are_seeded_by_run_seed_and_audio():
    clip = Clip.from_array(_speechlike(), SR, name="c1")
    a, b = augment_clip(clip, "noise", seed=0), augment_clip(clip, "noise", seed=0)
    assert np.array_equal(a.samples, b.samples) and a.sha256 == b.sha256  # same copy -> feature cache hit
    assert a.sha256 != augment_clip(clip, "noise", seed=1).sha256
    assert a.sha256 != augment_clip(clip, "noise", seed=0, copy=1).sha256
    assert a.clip_id.startswith("c1@noise:white:")


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_codec_copy_keeps_the_clip_length_and_changes_the_audio():
    clip = Clip.from_array(_speechlike(), SR, name="c1")
    c = augment_clip(clip, "codec", seed=0)
    assert len(c.samples) == len(clip.samples) and not np.array_equal(c.samples, clip.samples)
    assert np.array_equal(c.samples, augment_clip(clip, "codec", seed=0).samples)  # same copy -> cache hit
    assert c.clip_id.split("@")[1].split(":")[0] in ("mp3", "opus")
