"""The vocalization tagger: events reader, DCASE-style event metrics, decoding, the planted-corpus builder,
an end-to-end train-tagger run on project-made clips, and --tagger through attribute."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from _env import needs_espeak, needs_tiny
from explain_ser.align.base import Interval
from explain_ser.cli import main
from explain_ser.errors import InputError
from explain_ser.tagger import (choose_thresholds, decode, decode_spans, decode_with, event_metrics, frame_labels,
                                frame_metrics, read_events)

# ---- events reader -------------------------------------------------------------------------------------------


def _table(tmp_path, text, files=("a.wav", "b.wav")):
    for f in files:
        (tmp_path / f).write_bytes(b"RIFF")
    p = tmp_path / "events.csv"
    p.write_text(text)
    return p


def test_read_events_good(tmp_path):
    p = _table(tmp_path, "path,start,end,tag,speaker\n"
                         "a.wav,1.5,2.0,laugh,s1\n"
                         "a.wav,0.2,0.6,breath,s1\n"
                         "b.wav,,,,s2\n")
    ev = read_events(p)
    assert ev.tags == ["breath", "laugh"]
    assert ev.group_by == "speaker"
    assert list(ev.clips["group"]) == ["s1", "s2"]
    assert ev.clips["path"].tolist() == [str(tmp_path / "a.wav"), str(tmp_path / "b.wav")]
    # sorted by onset within the clip; the empty-tag row is a clip without events, not an event
    assert [(e.label, e.start, e.end) for e in ev.events_of(str(tmp_path / "a.wav"))] == \
        [("breath", 0.2, 0.6), ("laugh", 1.5, 2.0)]
    assert ev.events_of(str(tmp_path / "b.wav")) == []


def test_read_events_groups_by_source_then_clip(tmp_path):
    p = _table(tmp_path, "path,start,end,tag,source\na.wav,0,1,x,rec1\nb.wav,0,1,x,rec1\n")
    assert read_events(p).group_by == "source" and read_events(p).clips["group"].nunique() == 1
    p = _table(tmp_path, "path,start,end,tag\na.wav,0,1,x\nb.wav,0,1,x\n")
    assert read_events(p).group_by == "clip"


@pytest.mark.parametrize("text, problem", [
    ("path,start,tag\na.wav,1,x\n", "no 'end' column"),
    ("file,begin,end,tag\na.wav,1,2,x\n", "no 'path', 'start' columns"),
    ("path,start,end,tag\na.wav,2.0,1.5,laugh\n", "line 2: end 1.5 is not after start 2.0"),
    ("path,start,end,tag\na.wav,1.0,1.0,laugh\n", "line 2: end 1.0 is not after start 1.0"),
    ("path,start,end,tag\na.wav,0,1,x\nmissing.wav,0.1,0.2,laugh\n", "line 3: unknown path 'missing.wav'"),
    ("path,start,end,tag\na.wav,soon,1,laugh\n", "line 2: start 'soon' is not a number"),
    ("path,start,end,tag\na.wav,,1,laugh\n", "line 2: an event needs start"),
    ("path,start,end,tag\na.wav,0.1,0.2,\n", "line 2: times without a tag"),
    ("path,start,end,tag\na.wav,-1,0.2,x\n", "line 2: start is negative"),
    ("path,start,end,tag\na.wav,,,\n", "no events"),
    ("path,start,end,tag\n", "no rows"),
    ("", "not a readable CSV"),
    ("path,start,end,tag\na.wav,0,1,none\n", "'none' is reserved"),
    ("path,start,end,tag,speaker\na.wav,0,1,x,s1\na.wav,2,3,x,s2\n", "has more than one speaker"),
])
def test_read_events_bad_tables_one_line(tmp_path, text, problem):
    p = _table(tmp_path, text)
    with pytest.raises(InputError) as err:
        read_events(p)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(str(p)), msg
    assert problem in msg, msg


def test_read_events_missing_file(tmp_path):
    with pytest.raises(InputError, match="events table not found"):
        read_events(tmp_path / "nope.csv")


def test_cli_bad_events_exit_2(tmp_path, capsys):
    p = _table(tmp_path, "path,start,end,tag\na.wav,2.0,1.5,laugh\n")
    assert main(["train-tagger", str(p), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("explain-ser: error: ") and "end 1.5 is not after start 2.0" in err and "\n" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("option", [["--layers", "-1"], ["--copies", "0", "--plant"]])
def test_cli_bad_numbers_exit_2(tmp_path, capsys, option):
    p = _table(tmp_path, "path,start,end,tag\na.wav,1.0,1.5,laugh\n")
    assert main(["train-tagger", str(p), *option, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"explain-ser: error: {option[0]} {option[1]}") and "\n" not in err
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


# ---- event metrics (hand-computed) ---------------------------------------------------------------------------


def ev(clip, start, end, tag="x"):
    return {"clip": clip, "start": start, "end": end, "tag": tag}


def counts(m, tag="x"):
    c = m["per_class"][tag]
    return c["tp"], c["fp"], c["fn"]


def test_onset_collar_is_200ms_inclusive():
    truth = [ev("a", 1.0, 2.0)]
    assert counts(event_metrics(truth, [ev("a", 1.2, 2.0)], ["x"])) == (1, 0, 0)      # exactly 200 ms late
    assert counts(event_metrics(truth, [ev("a", 0.8, 3.5)], ["x"])) == (1, 0, 0)      # 200 ms early, offset ignored
    assert counts(event_metrics(truth, [ev("a", 1.21, 2.0)], ["x"])) == (0, 1, 1)     # 210 ms: a miss and a false alarm
    assert counts(event_metrics(truth, [ev("b", 1.0, 2.0)], ["x"])) == (0, 1, 1)      # right time, other clip


def test_offset_collar_when_asked():
    truth = [ev("a", 1.0, 2.0)]
    # offsets within max(200 ms, 50 % of 1 s) = 500 ms
    assert counts(event_metrics(truth, [ev("a", 1.1, 2.5)], ["x"], offset_ratio=0.5)) == (1, 0, 0)
    assert counts(event_metrics(truth, [ev("a", 1.1, 2.6)], ["x"], offset_ratio=0.5)) == (0, 1, 1)
    short = [ev("a", 1.0, 1.1)]  # 100 ms event: the offset collar is the 200 ms floor
    assert counts(event_metrics(short, [ev("a", 1.0, 1.3)], ["x"], offset_ratio=0.5)) == (1, 0, 0)
    assert counts(event_metrics(short, [ev("a", 1.0, 1.31)], ["x"], offset_ratio=0.5)) == (0, 1, 1)


def test_wrong_tag_is_a_miss_and_a_false_alarm_and_other_is_ignored():
    truth = [ev("a", 1.0, 2.0, "laugh"), ev("a", 3.0, 3.5, "breath")]
    found = [ev("a", 1.0, 2.0, "sigh"), ev("a", 3.0, 3.5, "breath"), ev("a", 5.0, 6.0, "other")]
    m = event_metrics(truth, found, ["laugh", "breath", "sigh"])
    assert counts(m, "laugh") == (0, 0, 1) and counts(m, "sigh") == (0, 1, 0) and counts(m, "breath") == (1, 0, 0)
    assert (m["micro"]["tp"], m["micro"]["fp"], m["micro"]["fn"]) == (1, 1, 1)
    assert m["per_class"]["breath"]["f1"] == 1.0 and m["per_class"]["laugh"]["f1"] == 0.0
    assert np.isnan(m["per_class"]["sigh"]["recall"])  # no true sighs: recall undefined
    assert m["macro_f1"] == pytest.approx(0.5)           # over the tags with true events: laugh 0, breath 1


def test_one_to_one_maximum_matching():
    # two detections near one event: one hit, one false alarm
    m = event_metrics([ev("a", 1.0, 2.0)], [ev("a", 1.05, 2.0), ev("a", 0.95, 2.0)], ["x"])
    assert counts(m) == (1, 1, 0)
    # greedy by onset would pair 0.15 with 0.3 and strand 0.45; the maximum matching pairs both
    truth = [ev("a", 0.0, 1.0), ev("a", 0.3, 1.0)]
    found = [ev("a", 0.15, 1.0), ev("a", 0.45, 1.0)]
    m = event_metrics(truth, list(reversed(found)), ["x"])
    assert counts(m) == (2, 0, 0) and m["per_class"]["x"]["f1"] == 1.0


def test_frame_labels_and_metrics():
    lab = frame_labels([Interval(0.02, 0.08, "b"), Interval(0.1, 0.12, "a")], 7, ["a", "b"])
    assert lab.tolist() == [0, 2, 2, 2, 0, 1, 0]
    m = frame_metrics(lab, np.array([0, 2, 2, 0, 0, 1, 1]), ["a", "b"])
    assert (m["b"]["tp"], m["b"]["fp"], m["b"]["fn"]) == (2, 0, 1)
    assert (m["a"]["tp"], m["a"]["fp"], m["a"]["fn"]) == (1, 1, 0)


# ---- decoding and thresholds ---------------------------------------------------------------------------------


def probs_with(runs, n=60, tags=("laugh", "cough")):
    p = np.zeros((n, len(tags) + 1))
    p[:, 0] = 1.0
    for a, b, c, v in runs:
        p[a:b] = (1 - v) / len(tags)
        p[a:b, c] = v
    return p


def test_decode_thresholds_gaps_and_min_duration():
    tags = ["laugh", "cough"]
    p = probs_with([(5, 10, 1, 0.7), (12, 16, 1, 0.7), (30, 32, 2, 0.9), (40, 50, 2, 0.45)])
    found = decode(p, tags, {"laugh": 0.5, "cough": 0.5}, min_dur=0.06, merge_gap=0.1, smooth=1)
    # the two laugh runs 40 ms apart join; the 40 ms cough is too short; 0.45 is under the cough threshold
    assert [(e.label, e.start, e.end) for e in found] == [("laugh", 0.1, 0.32)]
    assert found[0].confidence == pytest.approx((9 * 0.7 + 2 * 0.0) / 11, abs=1e-3)
    found = decode(p, tags, {"laugh": 0.5, "cough": 0.4}, min_dur=0.02, merge_gap=0.0, smooth=1)
    assert [(e.label, round(e.start, 2), round(e.end, 2)) for e in found] == [
        ("laugh", 0.1, 0.2), ("laugh", 0.24, 0.32), ("cough", 0.6, 0.64), ("cough", 0.8, 1.0)]


def test_decode_spans_gives_one_category_per_event():
    tags = ["laugh", "cough"]
    # one sound whose frames lean laugh, cough, laugh: the frame-wise decoder splits it into three fragments
    p = probs_with([(10, 14, 1, 0.8), (14, 17, 2, 0.7), (17, 25, 1, 0.8)])
    frag = decode(p, tags, {"laugh": 0.5, "cough": 0.5}, min_dur=0.02, merge_gap=0.0, smooth=1)
    assert [e.label for e in frag] == ["laugh", "cough", "laugh"]
    found = decode_spans(p, tags, detect=0.5, hold=1.0, min_dur=0.02, merge_gap=0.0, smooth=1)
    assert [(e.label, e.start, e.end) for e in found] == [("laugh", 0.2, 0.5)]  # summed: laugh 9.6, cough 2.1
    assert found[0].confidence == pytest.approx((12 * 0.8 + 3 * 0.15) / 15, abs=1e-3)
    # per-tag gates drop events whose category is not sure enough
    assert decode_spans(p, tags, 0.5, 1.0, 0.02, 0.0, 1, gates={"laugh": 0.7}) == []


def test_decode_spans_hysteresis_merge_and_min_duration():
    tags = ["cough"]
    p = probs_with([(10, 13, 1, 0.3), (13, 20, 1, 0.9), (22, 24, 1, 0.9), (40, 42, 1, 0.9), (50, 53, 1, 0.3)],
                   tags=tags)
    # without hysteresis: the sure part only; the 40 ms runs are too short
    assert [(e.start, e.end) for e in decode_spans(p, tags, 0.8, 1.0, 0.06, 0.0, 1)] == [(0.26, 0.4)]
    found = decode_spans(p, tags, 0.8, 0.375, 0.06, 0.1, 1)
    # hold 0.375 x 0.8 = 0.3: the faint lead-in joins and the onset moves back to 0.2 s; the 40 ms gap is
    # joined; the 40 ms blip at 0.8 s is too short alone; the faint run at 1.0 s never reaches 0.8
    assert [(e.start, e.end) for e in found] == [(0.2, 0.48)]
    d = {"mode": "spans", "detect": 0.8, "hold": 0.375, "min_dur": 0.06, "merge_gap": 0.1, "smooth": 1}
    assert decode_with(p, tags, d) == found
    old = {"thresholds": {"cough": 0.5}, "min_dur": 0.06, "merge_gap": 0.1, "smooth": 1}  # a tagger before spans
    assert decode_with(p, tags, old) == decode(p, tags, {"cough": 0.5}, 0.06, 0.1, 1)


def test_choose_spans_separates_sounds_from_bumps():
    from explain_ser.tagger_metrics import choose_spans

    tags = ["laugh"]
    probs, truth = [], []
    for k in range(6):
        probs.append(probs_with([(10, 20, 1, 0.6), (35, 45, 1, 0.35)], tags=tags))
        truth.append([Interval(0.2, 0.4, "laugh")])
    d = choose_spans(probs, truth, tags, min_dur=0.06, merge_gap=0.1, smooth=1)
    assert 0.35 < d["detect"] <= 0.6


def test_segment_head_names_events_by_their_pooled_taps():
    from explain_ser.tagger_segments import category_probs, fit_category, name_events, pool_span

    rng = np.random.default_rng(1)
    feats, truth = [], []
    for k in range(12):  # a cough lifts dimension 0 over its event, a breath dimension 1
        f = 0.1 * rng.standard_normal((2, 50, 4)).astype(np.float32)
        f[:, 10:30, k % 2] += 2.0
        feats.append(f)
        truth.append([Interval(0.2, 0.6, ["cough", "breath"][k % 2])])
    head = fit_category(feats, truth, range(10), ["breath", "cough", "laugh"], C=1.0)
    assert head["coef"].shape == (3, 16)
    p = category_probs(head, pool_span(feats[10], 10, 30))[0]
    assert p.argmax() == 1 and p[2] < 1e-3  # laugh had no training events: never named
    probs = np.full((50, 4), 0.0); probs[:, 0] = 0.2; probs[:, 1] = 0.8  # frames all say breath
    (e,) = name_events(head, feats[10], [Interval(0.2, 0.6, "breath", 0.8)], ["breath", "cough", "laugh"], probs)
    assert e.label == "cough" and e.confidence == pytest.approx(0.8 * p[1], abs=2e-3)
    assert name_events(None, feats[10], [Interval(0.2, 0.6, "breath", 0.8)], ["breath"]) == [Interval(0.2, 0.6, "breath", 0.8)]


def test_choose_thresholds_finds_the_separating_value():
    # true laughs have probability 0.6, spurious bumps 0.35: only thresholds in (0.35, 0.6] score F1 = 1
    tags = ["laugh"]
    probs, truth = [], []
    for k in range(6):
        p = probs_with([(10, 20, 1, 0.6), (35, 45, 1, 0.35)], tags=tags)
        probs.append(p)
        truth.append([Interval(0.2, 0.4, "laugh")])
    thr = choose_thresholds(probs, truth, tags, min_dur=0.06, merge_gap=0.1)
    assert 0.35 < thr["laugh"] <= 0.6


# ---- planted corpus (project-made speech) --------------------------------------------------------------------

VOICES = ["en-us", "en+m3", "en+f3", "en+m7", "en+f2", "en-gb+m1", "en-us+f4", "en+m5"]
SENTENCES = ["Kids are talking by the door", "Dogs are sitting by the door", "The weather is nice today",
             "Please bring me the red book", "We will meet again tomorrow", "I never said that to anyone"]


def speech_corpus(root, voices, n_per=6):
    """espeak-ng sentences, one speaker per voice, with a manifest (path, speaker, transcript)."""
    import soundfile as sf

    from _speech import espeak

    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for v in voices:
        for k in range(n_per):
            text = SENTENCES[k % len(SENTENCES)]
            x = espeak(text, voice=v, speed=140 + 10 * k)
            x = np.concatenate([np.zeros(4000, np.float32), x, np.zeros(4000, np.float32)])
            name = f"{v.replace('+', '_')}_{k}.wav"
            sf.write(str(root / name), x, 16000, subtype="PCM_16")
            rows.append({"path": name, "speaker": v, "transcript": text})
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root / "manifest.csv"


@needs_espeak
def test_build_planted_is_deterministic_and_exact(tmp_path):
    from explain_ser.audio import load_audio
    from explain_ser.vocal_corpus import build_planted

    m = speech_corpus(tmp_path / "speech", VOICES[:2], n_per=3)
    a = build_planted(m, tmp_path / "a", n_clips=6, seed=3, empty=0.0, progress=False)
    b = build_planted(m, tmp_path / "b", n_clips=6, seed=3, empty=0.0, progress=False)
    assert a.equals(b)
    assert (tmp_path / "a" / "events.csv").read_bytes() == (tmp_path / "b" / "events.csv").read_bytes()
    ev = read_events(tmp_path / "a" / "events.csv")
    assert ev.clips["clip"].nunique() == 6 and len(ev.events) >= 6 and ev.group_by == "speaker"
    for cid in ev.clips["clip"]:
        x = load_audio(cid).samples
        for e in ev.events_of(cid):
            s, t = int(round(e.start * 16000)), int(round(e.end * 16000))
            assert 0 <= s < t <= len(x)
            # the span is audible at both ends (1 % of the sound's peak, scaled): not padding
            assert np.abs(x[s : s + 40]).max() > 0 and np.abs(x[t - 40 : t]).max() > 0
    # another seed: other sounds
    c = build_planted(m, tmp_path / "c", n_clips=6, seed=4, empty=0.0, progress=False)
    assert not c[["start", "end", "tag"]].equals(a[["start", "end", "tag"]])
    with pytest.raises(InputError, match="not an empty directory"):
        build_planted(m, tmp_path / "a", n_clips=2, progress=False)
    # copies: copy 0 is the table above, byte for byte; copy 1 plants the same clips again with other draws
    d = build_planted(m, tmp_path / "d", n_clips=6, seed=3, empty=0.0, progress=False, copies=2)
    first = d[d["path"].isin(set(a["path"]))].reset_index(drop=True)
    assert first.equals(a) and d["source"].nunique() == a["source"].nunique() and d["path"].nunique() == 12
    for p in a["path"].unique():
        assert (tmp_path / "d" / p).read_bytes() == (tmp_path / "a" / p).read_bytes()
    again = d[~d["path"].isin(set(a["path"]))].sort_values(["source", "start"]).reset_index(drop=True)
    assert not again[["start", "end", "tag"]].equals(a.sort_values(["source", "start"])[["start", "end", "tag"]]
                                                     .reset_index(drop=True))
    with pytest.raises(InputError, match="must be 1 or more"):
        build_planted(m, tmp_path / "e", n_clips=2, progress=False, copies=0)
    assert not (tmp_path / "e").exists() and not list(tmp_path.glob(".e.*"))


@needs_espeak
def test_build_planted_keeps_two_sounds_of_a_clip_apart(tmp_path):
    """Two sounds of one clip never overlap nor touch (SPACING between them): before the rule a later insert
    could land inside an earlier sound, whose label then covered the later one."""
    from explain_ser.vocal_corpus import SPACING, build_planted

    m = speech_corpus(tmp_path / "speech", VOICES[:2], n_per=12)
    df = build_planted(m, tmp_path / "p", n_clips=24, seed=0, empty=0.0, progress=False)
    df = df[df["tag"] != ""].astype({"start": float, "end": float})
    pairs = 0
    for _, g in df.groupby("path"):
        g = g.sort_values("start")
        for (_, a), (_, b) in zip(g.iterrows(), g.iloc[1:].iterrows()):
            pairs += 1
            assert b["start"] - a["end"] >= SPACING / 16000 - 1e-9, (a.to_dict(), b.to_dict())
    assert pairs >= 3


# ---- end to end (Whisper) ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_encoder):
    """A tagger trained on planted sounds in 6 espeak-ng voices; a held-out set of 2 other voices and seeds."""
    from explain_ser.vocal_corpus import build_planted

    root = tmp_path_factory.mktemp("tagger")
    m_train = speech_corpus(root / "speech_train", VOICES[:6], n_per=6)
    m_test = speech_corpus(root / "speech_test", VOICES[6:], n_per=6)
    build_planted(m_train, root / "train", n_clips=36, seed=0, empty=0.2, progress=False)
    build_planted(m_test, root / "test", n_clips=12, seed=99, empty=0.2, progress=False)
    rc = main(["train-tagger", str(root / "train" / "events.csv"), "--out", str(root / "tagger"), "--folds", "3",
               "--epochs", "15", "--quiet", "--note", "test tagger: espeak-ng speech, synthetic sounds"])
    assert rc == 0
    return root


def _chance_f1(found, truth, tags, seed=0):
    """F1 of the same detections moved to random times in random clips (same durations): what guessing scores."""
    rng = np.random.default_rng(seed)
    clips = sorted({r["clip"] for r in truth} | {r["clip"] for r in found})
    shuffled = []
    for r in found:
        d = r["end"] - r["start"]
        s = float(rng.uniform(0, 3.0))
        shuffled.append({**r, "clip": clips[int(rng.integers(len(clips)))], "start": s, "end": s + d})
    return event_metrics(truth, shuffled, tags)["micro"]["f1"]


@pytest.mark.slow
@needs_tiny
@needs_espeak
def test_train_tagger_recovers_planted_events_on_held_out_speakers(trained):
    from explain_ser.tagger import Tagger, evaluate_tagger

    d = trained / "tagger"
    cfg = json.loads((d / "config.json").read_text())
    card = (d / "MODEL_CARD.md").read_text()
    assert cfg["format"] == "explain_ser.tagger/1" and cfg["training"]["group_by"] == "speaker"
    assert "test tagger: espeak-ng speech" in card and "onset collar 200 ms" in card
    assert "explain-ser train-tagger" in card  # the command that reproduces it
    # which categories are real (none here), the confusion on held-out voices and the reliability table
    assert set(cfg["sounds"]["kinds"].values()) == {"synthetic"} and "from **synthetic** sounds only" in card
    assert "### Which category, on held-out groups" in card and "### Reliability of the confidence" in card
    cm = cfg["cv"]["confusion"]
    assert sum(cm[t][c] for t in cfg["tags"] for c in cm[t]) == int(sum(cfg["cv"]["event"]["n_true"].values()))
    # recall and naming by the true event's duration: every true event in one bin, found/named never above n
    bd = cfg["cv"]["by_duration"]
    assert "### By the event's duration" in card and all(0 <= r["named"] <= r["n"] and r["found"] <= r["n"] for r in bd)
    assert {t: sum(r["n"] for r in bd if r["tag"] == t) for t in cfg["tags"]} == cfg["cv"]["event"]["n_true"]
    rel = cfg["cv"]["reliability"]
    assert sum(r["n"] for r in rel["calibrated"]) == rel["detections"] == len(pd.read_csv(d / "cv_events.csv"))
    cal = cfg["decode"]["calibration"]  # one monotone map for short detections, one for longer ones
    assert cal["split"] == 0.6 and "under 0.6 s" in card
    for side in ("short", "long"):
        y = cal[side]["y"]
        assert np.all(np.diff(y) >= 0) and 0 <= min(y) <= max(y) <= 1
    assert cfg["decode"]["mode"] == "spans" and 0 < cfg["decode"]["detect"] < 1 and 0 < cfg["decode"]["hold"] <= 1
    # the segment head names events; without its arrays the tagger refuses to load
    assert cfg["model"]["category"] == "segments" and Tagger.load(d).category["coef"].shape[0] == len(cfg["tags"])
    # the frame head reads the taps side by side (the default mix), and loads so
    enc = cfg["encoder"]
    assert cfg["model"]["mix"] == "concat" and "tap_weights" not in cfg["model"] and "taps side by side" in card
    assert Tagger.load(d).net.proj.in_features == enc["n_taps"] * enc["dim"]
    # cross-validated: every fold's test voices unseen, its thresholds from other voices
    for f in cfg["cv"]["folds"]:
        assert not set(f["test_groups"]) & set(f["val_groups"])
    # cross-validated detections (cv_events.csv) against the same detections moved at random
    train_ev = read_events(trained / "train" / "events.csv")
    train_truth = [{"clip": c, "start": s, "end": e, "tag": t}
                   for c, s, e, t in train_ev.events[["clip", "start", "end", "tag"]].values]
    # cv_events.csv names clips as the events table does (relative to its folder)
    cv_found = [{**r, "clip": str(trained / "train" / r["clip"])}
                for r in pd.read_csv(d / "cv_events.csv").to_dict("records")]
    cv = event_metrics(train_truth, cv_found, cfg["tags"])["micro"]
    assert cv["f1"] == pytest.approx(cfg["cv"]["event"]["micro"]["f1"])
    cv_chance = max(_chance_f1(cv_found, train_truth, cfg["tags"], seed=s) for s in range(5))
    assert cv["f1"] > 0.3 and cv["f1"] > cv_chance + 0.2, (cv, cv_chance)
    # held-out voices and sound seeds, with the final model's own thresholds
    res = evaluate_tagger(Tagger.load(d), trained / "test" / "events.csv", progress=False)
    m = res["metrics"]
    ev = read_events(trained / "test" / "events.csv")
    truth = [{"clip": c, "start": s, "end": e, "tag": t} for c, s, e, t in ev.events[["clip", "start", "end", "tag"]].values]
    chance = max(_chance_f1(res["found"], truth, cfg["tags"], seed=s) for s in range(5))
    assert m["micro"]["f1"] > 0.3 and m["micro"]["f1"] > chance + 0.2, (m["micro"], chance)
    # deterministic: the same tagger on the same clip gives the same events
    tg = Tagger.load(d)
    clip = ev.clips["clip"].iloc[0]
    assert tg.tag(clip) == tg.tag(clip)


@pytest.mark.slow
@needs_tiny
@needs_espeak
def test_attribute_with_tagger(trained, tmp_path):
    from explain_ser.frames import load_frame_table
    from explain_ser.tagger import Tagger

    ev = read_events(trained / "test" / "events.csv")
    tg = Tagger.load(trained / "tagger")
    # a held-out clip where the tagger finds an event
    clip = next(c for c in ev.clips["clip"] if ev.events_of(c) and tg.tag(c))
    found = tg.tag(clip)
    out = tmp_path / "out"
    rc = main(["attribute", clip, "--tagger", str(trained / "tagger"), "--methods", "none", "--no-prosody",
               "--aligner", "none", "--out", str(out), "--quiet"])
    assert rc == 0
    (frames_path,) = out.glob("*.frames.csv")
    t = load_frame_table(frames_path)
    tagged = t[t["vocalization"] != ""]
    assert set(tagged["vocalization"]) == {e.label for e in found}
    assert ((tagged["vocalization_conf"] > 0) & (tagged["vocalization_conf"] <= 1)).all()
    first = found[0]
    inside = t[(t["start"] >= first.start - 1e-9) & (t["end"] <= first.end + 1e-9)]
    assert (inside["vocalization"] == first.label).all()
    (summary,) = out.glob("*.summary.json")
    assert tg.identity in summary.read_text()
    # a tagger directory that is not one: one line, exit 2, nothing written
    assert main(["attribute", clip, "--tagger", str(tmp_path), "--out", str(tmp_path / "o2"), "--quiet"]) == 2
    assert not (tmp_path / "o2").exists()


def test_attribute_uses_the_default_tagger_unless_told_rules(trained, tmp_path):
    """Without --tagger, attribute tags with DEFAULT_TAGGER (its identity is in the summary); --tagger rules
    gives the rule-based tags (no tagger in the summary)."""
    from explain_ser.tagger import DEFAULT_TAGGER, load_tagger

    clip = str(read_events(trained / "test" / "events.csv").clips["clip"].iloc[0])
    for extra, expect in (([], True), (["--tagger", "rules"], False)):
        out = tmp_path / f"out{len(extra)}"
        assert main(["attribute", clip, "--methods", "none", "--no-prosody", "--aligner", "none", "--out", str(out),
                     "--quiet", *extra]) == 0
        (summary,) = out.glob("*.summary.json")
        assert (load_tagger(DEFAULT_TAGGER).identity in summary.read_text()) is expect


def test_shipped_default_tagger_card_says_which_categories_are_real():
    from explain_ser.pipeline import trained_tagger, vocalization_tagger
    from explain_ser.tagger import DEFAULT_TAGGER, RULES, available_taggers, resolve_tagger

    assert DEFAULT_TAGGER in available_taggers() and vocalization_tagger(None) == DEFAULT_TAGGER
    assert trained_tagger(RULES) is None and trained_tagger("x") == "x"
    d = resolve_tagger(DEFAULT_TAGGER)
    cfg = json.loads((d / "config.json").read_text())
    card = (d / "MODEL_CARD.md").read_text()
    kinds = cfg["sounds"]["kinds"]
    assert kinds["breath"] == kinds["cough"] == "real" and kinds["laugh"] == kinds["sigh"] == "synthetic"
    assert "learned from **real** recordings: breath, cough" in card and "Coswara" in card and "CC BY 4.0" in card
    assert "### Reliability of the confidence" in card and cfg["decode"]["calibration"]["short"]["y"]
    # the maps per duration: short detections are stated less sure than long ones at the same raw confidence
    from explain_ser.tagger_metrics import calibrate

    short, long_ = calibrate(cfg["decode"]["calibration"], [0.85, 0.85], durations=[0.3, 2.0])
    assert short < long_
    assert sum(p.stat().st_size for p in d.iterdir()) < 2_000_000  # no audio shipped
    # vocalization-first decoding and the segment head (issue 27), and the card says how events are read
    assert cfg["decode"]["mode"] == "spans" and cfg["model"]["category"] == "segments"
    assert "vocalization or none first" in card and "segment head" in card


def test_tagger_identity_is_what_decides_its_output():
    """Re-writing a tagger's card (its cross-validated scores, note, provenance) keeps its identity, so the
    annotations cached under it stay valid; a decoding setting or a weight changes it."""
    import copy

    import torch

    from explain_ser.tagger import Tagger, TaggerNet

    torch.manual_seed(0)
    net = TaggerNet(n_taps=2, dim=4, n_tags=2, hidden=3)
    cfg = {"format": "explain_ser.tagger/1", "tags": ["breath", "cough"], "encoder": {"n_taps": 2, "dim": 4},
           "model": {"hidden": 3}, "decode": {"mode": "spans", "detect": 0.9}, "cv": {"event": {"micro": 0.8}},
           "note": "first", "command": "x"}
    ident = Tagger(cfg, net).identity
    card = {**copy.deepcopy(cfg), "cv": {"event": {"micro": 0.8}, "by_duration": []}, "note": "second", "command": "y"}
    assert Tagger(card, net).identity == ident
    assert Tagger({**cfg, "decode": {"mode": "spans", "detect": 0.8}}, net).identity != ident
    other = TaggerNet(n_taps=2, dim=4, n_tags=2, hidden=3)
    with torch.no_grad():
        other.load_state_dict(net.state_dict())
        other.out.bias += 1.0
    assert Tagger(cfg, other).identity != ident


def test_annotation_key_includes_the_tagger():
    from explain_ser.pipeline import AnnotationStore

    st = AnnotationStore("/nonexistent")
    base = st.key("a" * 64, None, "pocketsphinx|tiny.en", "en", True)
    assert base == st.key("a" * 64, None, "pocketsphinx|tiny.en", "en", True, tagger="")  # old keys stay valid
    k1 = st.key("a" * 64, None, "pocketsphinx|tiny.en", "en", True, tagger="0123abcd")
    k2 = st.key("a" * 64, None, "pocketsphinx|tiny.en", "en", True, tagger="ffff0000")
    assert len({base, k1, k2}) == 3


def _recordings(root, people=3):
    """Isolated 'recordings' in category folders (each clip its own person), gated to digital silence inside."""
    import soundfile as sf

    rng = np.random.default_rng(5)
    for p in range(people):
        for cat in ("breath", "cough"):
            x = (0.3 * rng.standard_normal(int(0.25 * 16000))).astype(np.float32)
            x[800:1600] = 0.0
            (root / cat).mkdir(parents=True, exist_ok=True)
            sf.write(root / cat / f"p{p}.wav", x, 16000, subtype="FLOAT")
    return root


@needs_espeak
def test_plant_real_recordings_beside_synthetic_sounds(tmp_path):
    from explain_ser.vocal_corpus import build_planted

    m = speech_corpus(tmp_path / "speech", VOICES[:3], n_per=3)
    snd = _recordings(tmp_path / "sounds", people=6)
    df = build_planted(m, tmp_path / "p", n_clips=9, seed=0, empty=0.0, tags=("other",), sounds=snd, progress=False)
    ev = df[df["tag"] != ""]
    assert set(ev["tag"]) <= {"breath", "cough", "other"} and {"real", "synthetic"} == set(ev["kind"])
    assert (ev.loc[ev["kind"] == "real", "tag"].isin(["breath", "cough"])).all()
    assert (ev.loc[ev["kind"] == "synthetic", "tag"] == "other").all()
    real = ev[ev["kind"] == "real"]
    assert (real.groupby("sound_person")["speaker"].nunique() == 1).all()  # each person in one speaker's clips
    assert read_events(tmp_path / "p" / "events.csv").group_by == "speaker"


@pytest.mark.parametrize("case", ["no-audio", "no-category", "too-long"])
def test_train_tagger_sounds_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, case):
    import soundfile as sf

    (tmp_path / "speech").mkdir()
    sf.write(tmp_path / "speech" / "a.wav", np.full(8000, 0.1, np.float32), 16000)
    (tmp_path / "speech" / "m.csv").write_text("path,speaker\na.wav,s1\na.wav,s2\n")
    if case == "no-audio":
        (tmp_path / "sounds" / "laugh").mkdir(parents=True)
        (tmp_path / "sounds" / "laugh" / "readme.txt").write_text("nothing")
        sounds, problem = tmp_path / "sounds", "has no audio files"
    elif case == "no-category":
        sounds, problem = tmp_path / "sounds.csv", "no 'category' column"
        sounds.write_text("path,speaker_id\nspeech/a.wav,p1\n")
    else:
        (tmp_path / "sounds" / "sigh").mkdir(parents=True)
        sf.write(tmp_path / "sounds" / "sigh" / "s.wav", np.full(16000, 0.1, np.float32), 16000)
        sounds, problem = tmp_path / "sounds", "longer than every speech clip"
    for extra in ([], ["--plant"]):
        out = tmp_path / "out"
        assert main(["train-tagger", str(tmp_path / "speech" / "m.csv"), "--sounds", str(sounds), "--out", str(out),
                     "--quiet", *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("explain-ser: error:") and problem in err and "\n" not in err, err
        assert not out.exists() and not (tmp_path / "out-planted").exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


@needs_espeak
def test_plant_cli_reports_counts(tmp_path, capsys):
    m = speech_corpus(tmp_path / "speech", VOICES[:1], n_per=2)
    assert main(["train-tagger", str(m), "--plant", "--out", str(tmp_path / "p"), "--n-clips", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "planted" in out and (tmp_path / "p" / "events.csv").is_file()


def test_bundled_demo_tagger_card_says_what_it_is():
    from explain_ser.tagger import available_taggers, load_tagger, resolve_tagger

    assert "demo-synthetic-tiny.en" in available_taggers()
    d = resolve_tagger("demo-synthetic-tiny.en")
    card = (d / "MODEL_CARD.md").read_text()
    assert "A demo, not a tagger for real vocalizations" in card and "synthetic" in card
    assert sum(p.stat().st_size for p in d.iterdir()) < 1_000_000
    # a tagger from before the mix option (no "mix" in its config) loads as the softmax mix it was trained with
    cfg = json.loads((d / "config.json").read_text())
    assert "mix" not in cfg["model"] and load_tagger("demo-synthetic-tiny.en").net.mix == "softmax"
    with pytest.raises(InputError, match="no such tagger"):
        resolve_tagger("no-such-tagger")


@pytest.mark.slow
@needs_tiny
def test_bundled_demo_tagger_finds_the_example_laugh_and_breath():
    from _env import EXAMPLES
    from explain_ser.tagger import tag_clip

    truth = pd.read_csv(EXAMPLES / "laugh_breath.events.csv")
    found = tag_clip(EXAMPLES / "laugh_breath.wav", "demo-synthetic-tiny.en")
    rows = [{"clip": "c", "start": e.start, "end": e.end, "tag": e.label} for e in found]
    m = event_metrics([{"clip": "c", **r} for r in truth.to_dict("records")], rows, ["laugh", "breath"])
    assert m["per_class"]["laugh"]["tp"] == 1 and m["per_class"]["breath"]["tp"] == 1, found


@pytest.mark.slow
@needs_tiny
def test_align_with_the_tagger_writes_its_tags(tmp_path):
    """align --tagger: the vocalization tier holds the tagger's events (here the example's planted laugh)."""
    from _env import EXAMPLES
    from explain_ser.align.textgrid import read_tiers

    # the words without the .txt's [laughter] [breath] tokens (align reads CLIP.txt like attribute): the laugh
    # on the tier is then the tagger's own event, not a transcript token it sharpened
    assert main(["align", str(EXAMPLES / "laugh_breath.wav"), "--aligner", "pocketsphinx",
                 "--transcript", "Oh no, not again. I cannot believe it.",
                 "--tagger", "demo-synthetic-tiny.en", "--out", str(tmp_path)]) == 0
    tiers, _ = read_tiers(tmp_path / "laugh_breath.TextGrid")
    truth = pd.read_csv(EXAMPLES / "laugh_breath.events.csv")
    laugh = truth[truth["tag"] == "laugh"].iloc[0]
    # the transcript beside the clip writes [laughter]: the token keeps its label and takes the tagger's bounds
    found = [iv for iv in tiers.get("vocalizations", []) if iv.label.lstrip("[").startswith("laugh")]
    assert any(abs(iv.start - laugh["start"]) < 0.2 for iv in found), tiers.get("vocalizations")
