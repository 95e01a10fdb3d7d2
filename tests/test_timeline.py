"""Emotion timelines of long recordings (explain_ser.timeline, ``explain-ser timeline``).

Fast tests run the timeline around a stand-in for the per-clip path (no Whisper): outputs, recording-time
frames, atomicity, speaker turns. The slow ones run the real model on project-made speech.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from _env import needs_espeak, needs_tiny
from explain_ser.errors import InputError
from explain_ser.timeline import (TimelineOptions, Turn, explain_recording, read_rttm, read_turn_textgrid, read_turns,
                                  split_at_turns)
from explain_ser.vad import Span, segment_recording

RATE = 16_000
LABELS = ["angry", "calm", "sad"]


# ---- speaker turns ---------------------------------------------------------------------------------------

def test_rttm_turns_are_read_sorted_and_per_file(tmp_path):
    p = tmp_path / "t.rttm"
    p.write_text("SPEAKER callB 1 1.00 2.00 <NA> <NA> spk2 <NA> <NA>\n"
                 "# a comment\n\n"
                 "SPKR-INFO callA 1 <NA> <NA> <NA> unknown spk1 <NA> <NA>\n"
                 "SPEAKER callA 1 3.50 1.25 <NA> <NA> spk1 <NA> <NA>\n"
                 "SPEAKER callA 1 0.00 3.50 <NA> <NA> spk2 <NA> <NA>\n")
    assert read_rttm(p, "callA") == [Turn(0.0, 3.5, "spk2"), Turn(3.5, 4.75, "spk1")]
    assert read_turns(p, "callB") == [Turn(1.0, 3.0, "spk2")]
    with pytest.raises(InputError, match="none named 'callC'"):
        read_rttm(p, "callC")


@pytest.mark.parametrize("text, problem", [
    ("SPEAKER call 1 0.0 1.0 <NA>\n", "line 1: an RTTM SPEAKER line has 10 fields"),
    ("SPEAKER call 1 zero 1.0 <NA> <NA> A <NA> <NA>\n", "line 1: start 'zero'"),
    ("SPEAKER call 1 0.0 -1 <NA> <NA> A <NA> <NA>\n", "not negative"),
    ("SPEAKER call 1 nan 1 <NA> <NA> A <NA> <NA>\n", "finite"),
    ("hello world\n", "no SPEAKER lines"),
    (b"\xff\xfe\x00bad", "unreadable turns file"),
])
def test_bad_rttm_fails_in_one_line_naming_the_file(tmp_path, text, problem):
    p = tmp_path / "bad.rttm"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(InputError) as e:
        read_turns(p, "call")
    assert str(e.value).startswith(str(p)) and problem in str(e.value) and "\n" not in str(e.value)


def _textgrid(path, tiers: dict, xmax=6.0):
    from praatio import textgrid as ptg

    tg = ptg.Textgrid()
    for name, entries in tiers.items():
        tg.addTier(ptg.IntervalTier(name, entries, 0.0, xmax))
    tg.save(str(path), format="long_textgrid", includeBlankSpaces=True)


def test_textgrid_turns_from_a_speaker_tier_or_one_tier_per_speaker(tmp_path):
    a = tmp_path / "a.TextGrid"
    _textgrid(a, {"words": [(0.1, 0.4, "hello")], "Speaker": [(0.0, 2.0, "Ann"), (2.5, 5.0, "Bob")]})
    assert read_turns(a, "a") == [Turn(0.0, 2.0, "Ann"), Turn(2.5, 5.0, "Bob")]
    b = tmp_path / "b.TextGrid"
    _textgrid(b, {"Ann": [(0.0, 2.0, "x"), (4.0, 5.0, "yes")], "Bob": [(1.5, 3.0, "talk")]})
    assert read_turn_textgrid(b) == [Turn(0.0, 2.0, "Ann"), Turn(1.5, 3.0, "Bob"), Turn(4.0, 5.0, "Ann")]


def test_bad_turn_files_fail_in_one_line_naming_the_file(tmp_path):
    empty = tmp_path / "empty.TextGrid"
    _textgrid(empty, {"speaker": []})
    bad = tmp_path / "bad.TextGrid"
    bad.write_text("File type = \"ooTextFile\"\nthis is not a textgrid\n")
    other = tmp_path / "turns.json"
    other.write_text("{}")
    for p, problem in [(empty, "no speaker turns"), (bad, "not a readable TextGrid"),
                       (other, "RTTM (.rttm) or a TextGrid"), (tmp_path / "missing.rttm", "not found")]:
        with pytest.raises(InputError) as e:
            read_turns(p, "rec")
        assert str(e.value).startswith(str(p)) and problem in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(InputError, match="no rec.rttm or rec.TextGrid"):
        read_turns(tmp_path, "rec")


def test_spans_are_cut_at_turns_and_named():
    turns = [Turn(0.0, 2.0, "A"), Turn(2.0, 4.0, "B"), Turn(3.0, 4.0, "C"), Turn(6.0, 6.1, "A")]
    spans = [Span(25, 250), Span(290, 310)]  # 0.5-5.0 s, 5.8-6.2 s
    out = [(s.start, s.end, s.speaker) for s in split_at_turns(spans, turns, min_speech=0.25)]
    # 3-4 s: B and C overlap over all of it; 4-5 s: nobody's turn; the 0.1 s turn of A at 6 s is too
    # short to classify, but the rest of that span is nobody's: it is one piece of 0.4 s? no: split in 3
    assert out[:4] == [(0.5, 2.0, "A"), (2.0, 3.0, "B"), (3.0, 4.0, "B+C"), (4.0, 5.0, "")]
    assert all(e - s >= 0.25 for s, e, _ in out)
    assert sum(1 for *_, k in out if k == "A") == 1  # the short piece of A at 6.0-6.1 s is dropped


# ---- the timeline around a stand-in per-clip path ----------------------------------------------------------

class _FakeCheckpoint:
    name = "fake"
    labels = LABELS

    @property
    def input_rule(self):
        from explain_ser.inputs import AS_RECORDED

        return AS_RECORDED


def _fake_explain_clip(calls, fail_at=None):
    """Stands in for explain_clip: the class and the language follow the loudness of the utterance (so two
    utterances get different emotions and languages), attention peaks at its last frame."""
    from explain_ser.attribution import Attribution, summarize
    from explain_ser.frames import build_frame_table

    def run(clip, checkpoint, encoder, options, store=None, **kw):
        calls.append(clip)
        if fail_at is not None and len(calls) == fail_at:
            raise RuntimeError("boom")
        n = clip.n_frames
        w = np.ones(n)
        w[-1] = n
        w /= w.sum()
        loud = float(np.sqrt(np.mean(clip.samples ** 2)))
        probs = np.array([0.7, 0.2, 0.1]) if loud > 0.05 else np.array([0.1, 0.2, 0.7])
        att = {"h0": w, "h1": 0.5 * w + 0.5 / n}
        att["mean"] = (att["h0"] + att["h1"]) / 2
        lang = ({"language": "en", "source": "identified", "probability": 0.9} if loud > 0.05 else
                {"language": "de", "source": "identified", "probability": 0.8})
        table = build_frame_table(clip.clip_id, n, attention={"h0": att["h0"], "h1": att["h1"]},
                                  attributions={"ig": np.arange(n, dtype=float)}, language=lang)
        res = Attribution(clip=clip, labels=LABELS, probabilities=probs, attention=att, attributions={}, frames=table,
                          summary={}, span=(0, n), info={"language": lang})
        res.summary = summarize(res)
        return res

    return run


@pytest.fixture()
def two_bursts(tmp_path):
    """Noise bursts of two loudness levels at known times: 1.0-2.5 s (loud), 4.0-6.0 s (soft)."""
    rng = np.random.default_rng(0)
    x = np.zeros(7 * RATE, np.float32)
    x[1 * RATE : int(2.5 * RATE)] = 0.2 * rng.standard_normal(int(1.5 * RATE))
    x[4 * RATE : 6 * RATE] = 0.03 * rng.standard_normal(2 * RATE)
    p = tmp_path / "rec.wav"
    sf.write(p, x, RATE)
    return p


def _run_fake(monkeypatch, rec, out, fail_at=None, **kw):
    import explain_ser.pipeline as pipeline

    calls = []
    monkeypatch.setattr(pipeline, "explain_clip", _fake_explain_clip(calls, fail_at))
    opts = TimelineOptions(vad="energy", methods=(), plot=kw.pop("plot", True), fmt=kw.pop("fmt", "parquet"))
    return explain_recording(rec, _FakeCheckpoint(), None, out, opts, **kw), calls


def test_outputs_are_complete_and_in_recording_time(tmp_path, monkeypatch, two_bursts):
    import pyarrow.parquet as pq

    out = tmp_path / "out"
    res, calls = _run_fake(monkeypatch, two_bursts, out)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["rec.TextGrid", "rec.frames.parquet", "rec.segments.csv", "rec.summary.json",
                     "rec.timeline.html", "rec.timeline.png"]  # and no temporary file left
    seg = pd.read_csv(out / "rec.segments.csv")
    assert list(seg.columns) == ["start", "end", "emotion", "confidence", "prob_angry", "prob_calm", "prob_sad",
                                 "att_k80", "top_start", "top_end", "heard_start", "heard_end", "language",
                                 "language_source", "language_p"]
    assert np.allclose(seg[["start", "end"]], [[0.96, 2.54], [3.96, 6.04]])  # 30 ms padding -> 2 frames
    # 1 s of context, at most half the 1.42 s pause between them, within the recording
    assert np.allclose(seg[["heard_start", "heard_end"]], [[0.0, 3.24], [3.24, 7.0]])
    assert seg["emotion"].tolist() == ["angry", "sad"] and seg["confidence"].tolist() == [0.7, 0.7]
    # each utterance's language as the per-clip path decided it, in its row and on its frames
    assert seg["language"].tolist() == ["en", "de"] and seg["language_p"].tolist() == [0.9, 0.8]
    assert seg["language_source"].eq("identified").all()
    # each utterance went through the per-clip path as its own clip, exactly the recording's samples
    x, _ = sf.read(two_bursts, dtype="float32")
    for c, (s, e) in zip(calls, seg[["heard_start", "heard_end"]].to_numpy()):
        assert np.array_equal(c.samples, x[round(s * RATE) : round(e * RATE)]) and c.path is None
    f = pq.ParquetFile(out / "rec.frames.parquet")
    assert f.metadata.num_row_groups == 2  # one per utterance
    t = pd.read_parquet(out / "rec.frames.parquet")
    assert len(t) == sum(c.n_frames for c in calls) == 350  # the frames heard; none twice
    assert t["clip_id"].eq("rec").all() and t["segment"].tolist() == [0] * calls[0].n_frames + [1] * calls[1].n_frames
    assert t.groupby("segment")["language"].agg(set).tolist() == [{"en"}, {"de"}]
    assert np.allclose(t["start"], t["frame"] * 0.02) and np.allclose(t["end"], (t["frame"] + 1) * 0.02)
    for k, (s, e, hs, he) in enumerate(seg[["start", "end", "heard_start", "heard_end"]].to_numpy()):
        rows = t[t["segment"] == k]
        speech = rows[rows["speech"]]
        assert speech["start"].iloc[0] == pytest.approx(s) and speech["end"].iloc[-1] == pytest.approx(e)
        assert rows["start"].iloc[0] == pytest.approx(hs) and rows["end"].iloc[-1] == pytest.approx(he)
        # the attention peak of the stand-in (its last frame) lands at the end of what it heard, in recording time
        assert rows.loc[rows["att_h0"].idxmax(), "end"] == pytest.approx(he)
        assert seg["top_end"].iloc[k] == pytest.approx(he, abs=0.011)
    summary = json.loads((out / "rec.summary.json").read_text())
    assert summary["n_segments"] == 2 and summary["duration_s"] == 7.0
    assert summary["emotion_share_of_speech"]["sad"] == pytest.approx(2.08 / 3.66, abs=1e-3)
    assert list(summary["language_share_of_speech"]) == ["de", "en"]  # most speech first
    assert summary["language_share_of_speech"]["de"] == pytest.approx(2.08 / 3.66, abs=1e-3)
    from explain_ser.align.textgrid import read_tiers

    tiers, xmax = read_tiers(out / "rec.TextGrid")
    assert xmax == 7.0 and [(round(i.start, 2), round(i.end, 2), i.label) for i in tiers["utterances"]] == [
        (0.96, 2.54, "angry"), (3.96, 6.04, "sad")]
    page = (out / "rec.timeline.html").read_text()
    import re

    tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", page)
    assert tags and not [t for t in tags if "src=" in t or "href=" in t]  # plotly.js inline, nothing fetched
    assert "Plotly.newPlot" in page and "3.96" in page
    assert "per language (identified from each utterance&#x27;s audio by Whisper): de 57%, en 43%" in page


def test_every_utterance_is_cut_from_the_right_place_whatever_the_blocks(tmp_path):
    """The second pass hands each utterance exactly the recording's samples, also when blocks end inside
    pauses, inside utterances, or hold several utterances."""
    from explain_ser.timeline import _utterances, with_context
    from explain_ser.vad import Segmentation

    x = np.random.default_rng(2).uniform(-0.5, 0.5, 40 * RATE).astype(np.float32)
    p = tmp_path / "r.wav"
    sf.write(p, x, RATE, subtype="FLOAT")
    spans = [Span(a, a + n) for a, n in [(10, 40), (70, 300), (400, 20), (1200, 5), (1206, 90), (1900, 100)]]
    heard = with_context(spans, 2000, 0.5)
    seg = Segmentation(str(p), spans, len(x), "energy", RATE, 1)
    for block in (0.13, 0.5, 1.0, 7.0, 100.0):
        got = list(_utterances(seg, spans, heard, block_seconds=block))
        assert [g[0] for g in got] == spans
        for sp, h, samples in got:
            assert np.array_equal(samples, x[h.first_sample : h.end_sample]), (block, h)


def test_csv_frame_table_and_no_speech(tmp_path, monkeypatch):
    rec = tmp_path / "quiet.wav"
    sf.write(rec, np.zeros(2 * RATE, np.float32), RATE)
    res, calls = _run_fake(monkeypatch, rec, tmp_path / "out", fmt="csv", plot=False)
    assert calls == [] and res["summary"]["n_segments"] == 0
    assert pd.read_csv(tmp_path / "out" / "quiet.frames.csv").empty
    assert pd.read_csv(tmp_path / "out" / "quiet.segments.csv").empty


def test_a_failure_midway_leaves_no_file(tmp_path, monkeypatch, two_bursts):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="boom"):
        _run_fake(monkeypatch, two_bursts, out, fail_at=2)
    assert list(out.iterdir()) == []


def test_a_rerun_that_fails_keeps_the_previous_outputs(tmp_path, monkeypatch, two_bursts):
    out = tmp_path / "out"
    _run_fake(monkeypatch, two_bursts, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(RuntimeError):
        _run_fake(monkeypatch, two_bursts, out, fail_at=2)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_turns_split_segments_and_summarise_speakers(tmp_path, monkeypatch, two_bursts):
    turns = [Turn(0.0, 1.8, "ann"), Turn(1.8, 3.0, "bob"), Turn(3.0, 7.0, "ann")]
    out = tmp_path / "out"
    res, _ = _run_fake(monkeypatch, two_bursts, out, turns=turns)
    seg = pd.read_csv(out / "rec.segments.csv", keep_default_na=False)
    assert list(seg.columns[:3]) == ["start", "end", "speaker"]
    assert seg[["start", "end", "speaker"]].values.tolist() == [[0.96, 1.8, "ann"], [1.8, 2.54, "bob"],
                                                                 [3.96, 6.04, "ann"]]
    spk = pd.read_csv(out / "rec.speakers.csv")
    assert spk["speaker"].tolist() == ["ann", "bob"] and spk["segments"].tolist() == [2, 1]
    assert spk["speech_s"].tolist() == [pytest.approx(0.84 + 2.08), pytest.approx(0.74)]
    frames = pd.read_parquet(out / "rec.frames.parquet")
    assert frames.groupby("segment")["speaker"].first().tolist() == ["ann", "bob", "ann"]
    assert set(res["summary"]["speakers"]) == {"ann", "bob"}


def test_cli_refuses_bad_turns_before_loading_anything(tmp_path, two_bursts, capsys):
    from explain_ser.cli import main

    bad = tmp_path / "t.rttm"
    bad.write_text("SPEAKER rec 1 x 1 <NA> <NA> A <NA> <NA>\n")
    out = tmp_path / "out"
    assert main(["timeline", str(two_bursts), "--turns", str(bad), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"explain-ser: error: {bad}: line 1") and "\n" not in err
    assert not out.exists()


def test_cli_refuses_a_bad_recording_before_writing(tmp_path, two_bursts, capsys):
    from explain_ser.cli import main

    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEnot really")
    out = tmp_path / "out"
    assert main(["timeline", str(two_bursts), str(bad), "--vad", "energy", "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err.startswith(f"explain-ser: error: {bad}: ")
    assert not out.exists()


# ---- the real per-clip path (Whisper tiny.en) ----------------------------------------------------------

@pytest.fixture(scope="module")
def two_sentences(tmp_path_factory):
    """Two espeak-ng utterances joined with 1.5 s of silence, stored at 22.05 kHz (resampled on reading)."""
    from _speech import words_with_gaps

    x, times = words_with_gaps(["Kids are talking by the door", "I never said that before"], gaps=[1.5],
                               lead=1.0, tail=1.0)
    d = tmp_path_factory.mktemp("tl")
    p = d / "joined.wav"
    from explain_ser.audio import resample

    sf.write(p, resample(x, RATE, 22050), 22050)
    return p, times


@pytest.mark.slow
@needs_tiny
@needs_espeak
def test_two_utterances_two_segments_through_the_real_path(tmp_path, two_sentences, tiny_encoder):
    """The CLI end to end: two segments at the utterances' times, each explained exactly as
    ``explain_clip`` explains that stretch of the recording on its own."""
    from explain_ser.checkpoint import Checkpoint
    from explain_ser.cli import main
    from explain_ser.pipeline import ClipOptions, explain_clip
    from explain_ser.vad import stream_blocks

    rec, times = two_sentences
    out = tmp_path / "out"
    assert main(["timeline", str(rec), "--out", str(out), "--methods", "saliency", "--no-prosody", "--quiet"]) == 0
    seg = pd.read_csv(out / "joined.segments.csv")
    assert len(seg) == 2
    for (s, e), (a, b, _) in zip(seg[["start", "end"]].to_numpy(), times):
        assert abs(s - a) <= 0.15 and abs(e - b) <= 0.15
    assert np.allclose(seg.filter(like="prob_").sum(axis=1), 1.0, atol=1e-5)
    frames = pd.read_parquet(out / "joined.frames.parquet")
    assert {"att_mean", "attr_saliency", "model_input"} <= set(frames.columns)
    assert np.allclose(frames.groupby("segment")["att_mean"].sum(), 1.0)  # each utterance's attention sums to 1
    speech = frames[frames["speech"]]
    assert speech["start"].min() == pytest.approx(seg["start"].iloc[0]) and speech["end"].max() == pytest.approx(
        seg["end"].iloc[1])
    # the second utterance, cut from the recording by hand, through the per-clip path alone
    ck = Checkpoint.load("ravdess-tiny.en")
    x = np.concatenate(list(stream_blocks(rec)))
    s, e = seg[["heard_start", "heard_end"]].iloc[1]  # the utterance with the context the model heard
    from explain_ser.audio import Clip

    alone = explain_clip(Clip(samples=x[round(s * RATE) : round(e * RATE)], rate=RATE, clip_id="u1"), ck,
                         tiny_encoder, ClipOptions(methods=("saliency",), align=False, prosody=False))
    probs = seg.filter(like="prob_").iloc[1].to_numpy()
    assert np.allclose(probs, alone.probabilities, atol=1e-5)
    rows = frames[frames["segment"] == 1]
    assert np.allclose(rows["att_mean"].to_numpy(), alone.attention["mean"], atol=1e-6)


@pytest.mark.slow
@needs_tiny
@needs_espeak
def test_align_adds_word_tiers_in_recording_time(tmp_path, two_sentences, tiny_encoder):
    from explain_ser.align.textgrid import read_tiers
    from explain_ser.checkpoint import Checkpoint

    rec, times = two_sentences
    out = tmp_path / "out"
    opts = TimelineOptions(methods=(), align=True, prosody=False, html=False)
    res = explain_recording(rec, Checkpoint.load("ravdess-tiny.en"), tiny_encoder, out, opts)
    tiers, _ = read_tiers(out / "joined.TextGrid")
    assert {"utterances", "words", "phones"} <= set(tiers)
    words = [w.label.lower().strip(".,") for w in tiers["words"]]
    assert "talking" in words and "never" in words
    never = next(w for w in tiers["words"] if w.label.lower().startswith("never"))
    assert times[1][0] - 0.2 <= never.start <= times[1][1]  # in the second utterance, in recording time
    assert res["segments"]["text"].str.len().gt(0).all()
    frames = pd.read_parquet(out / "joined.frames.parquet")
    assert frames.loc[frames["word"].str.lower().str.startswith("never"), "start"].min() >= times[1][0] - 0.2


@pytest.mark.slow
@needs_tiny
@needs_espeak
def test_a_recording_that_switches_language_shows_both(tmp_path, capsys):
    """espeak-ng English, a pause, then espeak-ng German (project-made): with ``--identify-language`` each
    utterance's language is decided by the per-clip path (identified from its own audio by Whisper base, nobody
    said it), in the segments table, on its frames, in the summary and on the page; without it the checkpoint's
    is assumed (and says so); ``--language`` given is every utterance's."""
    from _speech import spoken
    from explain_ser.cli import main
    from explain_ser.weights import available_sources

    if not available_sources().get("base"):
        pytest.skip("Whisper base not installed: the checkpoint's language is assumed for every utterance")
    pause = np.zeros(2 * RATE, np.float32)
    rec = tmp_path / "switch.wav"
    sf.write(rec, np.concatenate([pause[:RATE], spoken("en"), pause, spoken("de"), pause[:RATE]]), RATE)
    # --min-pause 1.0: each language's two sentences stay one utterance (one sentence of German alone is
    # short enough for base to hear English in it)
    common = ["timeline", str(rec), "--vad", "energy", "--min-pause", "1.0", "--methods", "none", "--no-prosody",
              "--tagger", "rules"]  # no tags needed here
    assert main(common + ["--identify-language", "--out", str(tmp_path / "a")]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"speech time per language: (en \d+%  de|de \d+%  en) \d+%  \(identified\)", printed), printed
    assert re.search(r"s  \w+ [01]\.\d\d  de\n", printed), printed  # each utterance's line names its language
    seg = pd.read_csv(tmp_path / "a" / "switch.segments.csv")
    assert seg["language"].tolist() == ["en", "de"], seg[["start", "end", "language", "language_p"]]
    # Whisper's probability is recorded as it is (espeak German: about 0.4-0.6, under MIN_LANGUAGE_P, so with
    # --align that utterance would get no words, with the reason)
    assert seg["language_source"].eq("identified").all() and seg["language_p"].between(0.2, 1.0).all()
    frames = pd.read_parquet(tmp_path / "a" / "switch.frames.parquet")
    assert frames.groupby("segment")["language"].agg(set).tolist() == [{"en"}, {"de"}]
    summary = json.loads((tmp_path / "a" / "switch.summary.json").read_text())
    assert set(summary["language_share_of_speech"]) == {"en", "de"}
    page = (tmp_path / "a" / "switch.timeline.html").read_text()
    assert "Share of the speech time per language" in page and "<th>language</th>" in page
    common.append("--quiet")
    assert main(common + ["--language", "German", "--out", str(tmp_path / "b")]) == 0
    given = pd.read_csv(tmp_path / "b" / "switch.segments.csv")
    assert given["language"].tolist() == ["de", "de"] and given["language_source"].eq("option").all()
    assert given["language_p"].isna().all()
    assert main(common + ["--out", str(tmp_path / "c")]) == 0
    assumed = pd.read_csv(tmp_path / "c" / "switch.segments.csv")
    assert assumed["language"].tolist() == ["en", "en"] and assumed["language_source"].eq("checkpoint").all()
    assert "assumed: the checkpoint" in (tmp_path / "c" / "switch.timeline.html").read_text()
