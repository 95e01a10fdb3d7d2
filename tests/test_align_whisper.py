"""Whisper word timestamps (forced and transcribed) and their agreement with PocketSphinx."""

import numpy as np
import pytest

from _env import needs_tiny
from _speech import clip, words_with_gaps
from explain_ser.align.pocketsphinx_backend import PocketSphinxAligner
from explain_ser.align.whisper_words import WhisperWordAligner

pytestmark = [pytest.mark.slow, needs_tiny]
WORDS = "kids are talking by the door".split()


@pytest.fixture(scope="module")
def known():
    x, truth = words_with_gaps(WORDS, gaps=[0.1, 0.05, 0.2, 0.1, 0.05])
    return clip(x, "kids"), truth


def test_forced_words_agree_with_pocketsphinx(tiny_model, known):
    c, truth = known
    wa = WhisperWordAligner(model=tiny_model).align(c, "Kids are talking by the door.")
    assert wa.word_labels() == WORDS
    wa.check()
    ps = PocketSphinxAligner().align(c, "Kids are talking by the door.")
    mid_w = np.array([(w.start + w.end) / 2 for w in wa.words])
    mid_p = np.array([(w.start + w.end) / 2 for w in ps.words])
    # Whisper's cross-attention times are coarse: measured median |diff| ~0.1 s (benchmarks/notes/alignment.md)
    assert np.median(np.abs(mid_w - mid_p)) < 0.2
    assert np.max(np.abs(mid_w - mid_p)) < 0.4


def test_transcribes_when_no_transcript(tiny_model, known):
    c, _ = known
    a = WhisperWordAligner(model=tiny_model).align(c, None)
    assert a.transcript and a.backend == "whisper"
    assert [w.label for w in a.words][-2:] == ["the", "door"]
    a.check()
