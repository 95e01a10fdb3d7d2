"""Transcript handling shared by the aligners (explain_ser.align.base)."""

import numpy as np
import pytest

from explain_ser.align.base import Interval, place_vocal_tokens, require_words, tokenize_transcript, words_of
from explain_ser.audio import Clip
from explain_ser.errors import InputError


def _clip(seconds=2.0):
    return Clip(samples=np.zeros(int(16000 * seconds), np.float32), rate=16000, clip_id="c")


def test_tokenize_keeps_order_and_vocal_tokens():
    toks = tokenize_transcript("Oh [laughter] that's <breath> GREAT, {LG} really (coughs).")
    assert [(t.text, t.is_vocal) for t in toks] == [
        ("oh", False), ("[laughter]", True), ("that's", False), ("<breath>", True), ("great", False),
        ("{LG}", True), ("really", False), ("(coughs)", True)]
    assert words_of("Der Lappen liegt auf dem Eisschrank.") == ["der", "lappen", "liegt", "auf", "dem", "eisschrank"]


def test_empty_and_impossible_transcripts_are_input_errors():
    with pytest.raises(InputError, match="empty transcript"):
        require_words(_clip(), "  [laughter] ")
    with pytest.raises(InputError, match="does not belong"):
        require_words(_clip(0.5), " ".join(["word"] * 40))


def test_vocal_tokens_take_the_pause_where_written():
    toks = tokenize_transcript("hello [laughter] world (sigh)")
    words = [Interval(0.2, 0.6, "hello"), Interval(1.4, 1.8, "world")]
    v = place_vocal_tokens(toks, words, duration=2.5)
    assert [(x.start, x.end, x.label) for x in v] == [(0.6, 1.4, "[laughter]"), (1.8, 2.5, "(sigh)")]
    # no room between touching words: no interval
    assert place_vocal_tokens(tokenize_transcript("a [cough] b"),
                              [Interval(0, 1, "a"), Interval(1, 2, "b")], 2.0) == []


def test_textgrid_end_rounded_with_its_entries_prints_nothing(tmp_path, capfd):
    """An end like 1.3695625 s (EmoDB clips) once made praatio print a 'max timestamp' warning per clip."""
    from explain_ser.align.base import Alignment, Interval
    from explain_ser.align.textgrid import read_alignment, write_alignment

    a = Alignment(words=[Interval(0.1, 1.3695625, "x")], phones=[Interval(0.1, 1.3695625, "a")], duration=1.3695625,
                  backend="test")
    write_alignment(a, tmp_path / "x.TextGrid")
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""
    b = read_alignment(tmp_path / "x.TextGrid")
    assert b.word_labels() == ["x"] and abs(b.duration - 1.3695625) < 1e-6
