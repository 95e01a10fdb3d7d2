"""explain_ser.language and the checkpoint's training language: decided once, never English phones on German."""

from __future__ import annotations

import json

import pytest

from _env import SHARED, needs_espeak, needs_shared, needs_tiny
from explain_ser.checkpoint import Checkpoint, read_config
from explain_ser.errors import InputError
from explain_ser.language import (LanguageDecision, check_request, decide_language, is_english, normalise_language,
                                  plan_alignment, settle_language)


def test_decision_order():
    assert decide_language("fr", "de", "en").source == "option"
    assert decide_language(None, "de", "en").language == "de"
    assert decide_language(None, float("nan"), "de").source == "checkpoint"
    assert decide_language(None, "", None).language == "en"
    assert decide_language(None, "", None).source == "default"
    assert is_english("en-US") and not is_english("de")


@pytest.mark.parametrize("aligner", ["auto", "whisper", "mfa", "kaldi"])
def test_no_english_model_for_german(aligner):
    plan = plan_alignment("de", "tiny.en", None, aligner, installed={"tiny.en": True, "base": False})
    assert plan.aligner is None and plan.whisper_source is None
    assert plan.reason.startswith("no aligner for de")


def test_pocketsphinx_on_another_language_is_refused():
    with pytest.raises(InputError, match="pocketsphinx has an English model only; ur needs"):
        plan_alignment("ur", "tiny.en", "kuch bhi", "pocketsphinx", installed={"base": True})
    check_request("en", "pocketsphinx")
    check_request(None, "pocketsphinx")  # not said: decided per clip


def test_language_codes_and_names_are_normalised_or_refused():
    assert [normalise_language(x) for x in ("de-DE", "German", "deu", "EN_us", "fa", "Persian", "urd")] == \
        ["de", "de", "de", "en", "fa", "fa", "ur"]
    with pytest.raises(InputError, match="--language: unknown language 'klingon'"):
        decide_language("klingon", "de", "en")
    with pytest.raises(InputError, match="manifest language: unknown language 'xx'"):
        decide_language(None, "xx", "en")


def test_identified_language_whisper_is_unsure_of_gives_no_words():
    unsure = LanguageDecision("cs", "identified", 0.25, "base", (("cs", 0.25), ("hu", 0.15), ("hi", 0.08)))
    plan = plan_alignment("cs", "tiny.en", None, "auto", installed={"base": True}, decision=unsure)
    assert plan.aligner is None
    assert plan.reason == ("no words: Whisper base is unsure which language this is (cs 0.25, hu 0.15, hi 0.08); "
                           "pass --language or --transcript")
    sure = LanguageDecision("de", "identified", 0.9, "base", (("de", 0.9),))
    assert plan_alignment("de", "tiny.en", None, "auto", installed={"base": True}, decision=sure).aligner == "whisper"
    # a transcript given: the words are the user's, Whisper's doubt about the language does not remove them
    assert plan_alignment("cs", "tiny.en", "ahoj", "auto", installed={"base": True}, decision=unsure).aligner


def test_given_language_is_not_identified_again():
    given = decide_language("ur", None, "en")
    assert settle_language(given, clip=None, encoder_source="tiny.en") is given
    assumed = decide_language(None, None, "en")
    assert assumed.assumed and settle_language(assumed, None, "tiny.en", installed={"base": False}) is assumed


def test_multilingual_whisper_when_installed_or_the_encoders_own():
    assert plan_alignment("de", "tiny.en", None, "auto", installed={"base": True}).whisper_source == "base"
    assert plan_alignment("de", "base", None, "auto", installed={}).whisper_source == "base"
    with_text = plan_alignment("de", "tiny.en", "Der Lappen", "kaldi", installed={"base": False})
    assert with_text.aligner == "kaldi"
    assert plan_alignment("en", "tiny.en", None, "auto").aligner == "auto"


def test_shipped_checkpoints_record_their_language():
    for name, lang in [("ravdess-tiny.en", "en"), ("emodb-tiny.en", "de"), ("emodb-tiny.en-mqmha", "de")]:
        cfg = read_config(name)
        assert cfg["training"]["language"] == lang
    assert Checkpoint.load("emodb-tiny.en").language == "de"
    assert Checkpoint.load("ravdess-tiny.en").languages == ["en", "de"]  # EmoDB on the training side


@pytest.fixture
def no_base(monkeypatch):
    """As installed without explain_ser[base]: no multilingual Whisper to identify or transcribe a language."""
    import explain_ser.weights

    monkeypatch.setattr(explain_ser.weights, "available_sources", lambda: {"tiny.en": True, "base": False})


def _check_german_summary(summary: dict):
    assert summary["language"] == {"language": "de", "source": "checkpoint"}
    assert summary["alignment"]["backend"] == "none"
    assert summary["alignment"]["notes"][0].startswith("no aligner for de")
    for seg in summary["top_segments"]:  # no English words or phones, and no 'laugh' over speech
        assert not seg.get("words") and not seg.get("phones") and not seg.get("vocalizations")


@needs_tiny
@needs_espeak
@pytest.mark.slow
def test_german_clip_is_not_explained_in_english(tmp_path, capsys, no_base):
    import soundfile as sf

    from _speech import espeak
    from explain_ser.cli import main

    wav = tmp_path / "lappen.wav"
    sf.write(wav, espeak("Der Lappen liegt auf dem Eisschrank.", voice="de"), 16000)
    assert main(["attribute", str(wav), "--checkpoint", "emodb-tiny.en", "--out", str(tmp_path / "o"),
                 "--methods", "none"]) == 0
    out = capsys.readouterr().out
    assert "no words or phones: no aligner for de" in out
    _check_german_summary(json.loads((tmp_path / "o" / "lappen.summary.json").read_text()))
    frames = (tmp_path / "o" / "lappen.frames.csv").read_text()
    assert "AY1" not in frames and "skunk" not in frames


@needs_tiny
@needs_shared
@pytest.mark.slow
def test_the_reported_emodb_clip(tmp_path, capsys, no_base):
    """The issue's case: EmoDB 03a01Fa ("Der Lappen liegt auf dem Eisschrank.") through emodb-tiny.en."""
    from explain_ser.cli import main

    clip = SHARED / "corpora" / "emodb" / "03a01Fa.flac"
    assert main(["attribute", str(clip), "--checkpoint", "emodb-tiny.en", "--out", str(tmp_path),
                 "--methods", "none"]) == 0
    out = capsys.readouterr().out
    assert "ice" not in out and "skunk" not in out
    _check_german_summary(json.loads((tmp_path / "03a01Fa.summary.json").read_text()))
