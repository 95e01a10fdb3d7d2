"""The issue 27/28 studies in analyses/ (not part of the package): their docstring examples, and the properties
their numbers rest on."""

import doctest
import importlib.util
from pathlib import Path

import numpy as np


def _load(name):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "analyses" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


dev_prosody = _load("dev_prosody")
tagger_naming = _load("tagger_naming")
speaker_norm_dev = _load("speaker_norm_dev")


def test_docstring_examples():
    for mod in (dev_prosody, tagger_naming, speaker_norm_dev):
        assert doctest.testmod(mod).failed == 0, mod.__name__


def test_prosody_functionals_ignore_the_level_and_follow_the_pitch():
    t = np.arange(32000) / 16000
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)  # a loudness contour, so the intensity spread is not zero
    glide = (0.3 * env * np.sin(2 * np.pi * (150 * t + 25 * t ** 2))).astype(np.float32)  # 150 -> 250 Hz
    a = dev_prosody.functionals(glide)
    quiet = dev_prosody.functionals((0.1 * glide).astype(np.float32))  # 20 dB down: the shipped rule's gain
    assert np.allclose(a, quiet, atol=0.05)  # level-free, as the input rule makes the model's input
    up = dev_prosody.functionals((0.3 * env * np.sin(2 * np.pi * (300 * t + 50 * t ** 2))).astype(np.float32))
    assert abs((up[0] - a[0]) - 12.0) < 0.5 and a[5] > 0  # an octave up is 12 semitones; a rising glide's slope


def test_naming_variants_pool_the_span_they_say():
    f = np.random.default_rng(0).standard_normal((5, 40, 3)).astype(np.float32)
    base = tagger_naming.pooled(f, 5, 30, "base")
    assert base.shape == (5 * 2 * 3,) and np.allclose(base[:3], f[0, 5:30].mean(0), atol=1e-6)
    onset = tagger_naming.pooled(f, 5, 30, "onset")
    assert np.allclose(onset[30:33], f[0, 5:5 + tagger_naming.ONSET_FRAMES].mean(0), atol=1e-6)
    assert np.allclose(tagger_naming.pooled(f, 5, 30, "taps234")[:3], f[2, 5:30].mean(0), atol=1e-6)
    assert np.allclose(tagger_naming.pooled(f, 5, 30, "max")[30:33], f[0, 5:30].max(0))
