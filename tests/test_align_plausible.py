"""The transcript gate (explain_ser.align.plausible): Whisper's own signals and its known hallucinations decide."""

import pytest

from explain_ser.align.plausible import NoWords, Thresholds, is_hallucination, judge, signals_of


def _result(text, logprob=-0.3, no_speech=0.1, compression=1.0, word_p=0.9, n=4, seconds=(0.0, 2.0)):
    return {"text": text, "segments": [{"start": seconds[0], "end": seconds[1], "avg_logprob": logprob,
                                        "no_speech_prob": no_speech, "compression_ratio": compression,
                                        "words": [{"probability": word_p}] * n}]}


def test_a_confident_transcript_is_kept():
    v = judge(_result(" Dogs are sitting by the door."), "tiny.en", "en", multilingual=False)
    assert v.ok and v.reason == "" and v.signals == {"avg_logprob": -0.3, "no_speech_prob": 0.1,
                                                     "compression_ratio": 1.0, "word_p": 0.9, "n_words": 4}


@pytest.mark.parametrize("changes,named", [
    ({"logprob": -1.1}, "avg log-prob -1.10 < -0.8"),
    ({"word_p": 0.3}, "word probability 0.30 < 0.65"),
    ({"no_speech": 0.8}, "no-speech probability 0.80 > 0.6"),
    ({"compression": 5.7}, "compression ratio 5.70 > 2.4"),
])
def test_each_signal_refuses_on_its_own_and_is_named(changes, named):
    english_only = judge(_result(" More but, ok the Q will be.", **changes), "tiny.en", "en", multilingual=False)
    assert not english_only.ok
    assert english_only.reason.startswith("no words: the speech does not look like English to tiny.en (")
    assert named in english_only.reason and "install explain_ser[base]" in english_only.reason
    multi = judge(_result(" der Lappen liegt", **changes), "base", "de", multilingual=True)
    assert not multi.ok and multi.reason.startswith("no words: Whisper base's de transcript 'der Lappen liegt'")
    assert named in multi.reason


def test_segments_are_weighted_by_duration():
    res = {"text": "a b", "segments": [
        {"start": 0, "end": 3, "avg_logprob": -0.4, "no_speech_prob": 0.1, "compression_ratio": 1.0,
         "words": [{"probability": 0.9}]},
        {"start": 3, "end": 4, "avg_logprob": -1.6, "no_speech_prob": 0.3, "compression_ratio": 2.0,
         "words": [{"probability": 0.5}]}]}
    s = signals_of(res)
    assert s["avg_logprob"] == pytest.approx(-0.7) and s["compression_ratio"] == 2.0 and s["word_p"] == 0.7
    assert judge(res, "tiny.en", "en", False).ok
    assert not judge(res, "tiny.en", "en", False, Thresholds(min_avg_logprob=-0.6)).ok


@pytest.mark.parametrize("text", ["Thank you for watching, and I will see you in the next video.",
                                  "Thanks for watching!", "Subtitles by the Amara.org community", "you",
                                  " Thank you.", "Untertitel im Auftrag des ZDF, 2021"])
def test_known_hallucinations_are_refused_even_when_confident(text):
    assert is_hallucination(text)
    v = judge(_result(text), "tiny.en", "en", multilingual=False)
    assert not v.ok and "is a known Whisper hallucination" in v.reason


@pytest.mark.parametrize("text", ["Thank you very much for the coffee.", "Dogs are sitting by the door.",
                                  "You know what I mean."])
def test_ordinary_speech_is_no_hallucination(text):
    assert not is_hallucination(text)


def test_nothing_heard():
    v = judge({"text": "", "segments": []}, "base", "de", multilingual=True)
    assert not v.ok and v.reason == "no words: Whisper base heard no speech"
    assert str(NoWords("no words: x")) == "no words: x"
