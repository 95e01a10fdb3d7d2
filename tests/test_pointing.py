"""The pointing game (explain_ser/pointing.py): metrics, cue manifests, corpus builders, an end-to-end game."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from _env import needs_espeak, needs_tiny
from explain_ser.errors import InputError
from explain_ser.pointing import cue_mass, frames_in_cue, pointing_hit, read_cue_manifest, score_map, summarize
from explain_ser.pointing_build import build_join, build_splice, build_vocalization

RATE = 16_000


# ---- metrics, by hand --------------------------------------------------------------------------------------

def test_frames_in_cue_uses_the_20ms_grid():
    # [0.02 i, 0.02 (i+1)): a cue ending exactly on a boundary does not touch the next frame
    assert np.flatnonzero(frames_in_cue(0.02, 0.06, 10)).tolist() == [1, 2]
    # one sample into frame 3 already touches it
    assert np.flatnonzero(frames_in_cue(0.02, 0.06 + 1 / RATE, 10)).tolist() == [1, 2, 3]
    # a cue running past the clip is clipped to its frames
    assert np.flatnonzero(frames_in_cue(0.15, 9.0, 10)).tolist() == [7, 8, 9]


def test_cue_mass_and_hit_hand_computed():
    inside = np.array([False, True, True, False])
    assert cue_mass(np.array([0.1, 0.2, 0.3, 0.4]), inside) == pytest.approx(0.5)
    # signed map: negative evidence is not mass; positive part 1 + 3 + 0 + 4 -> inside 3 / 8
    assert cue_mass(np.array([1.0, -5.0, 3.0, 4.0]), inside, signed=True) == pytest.approx(3 / 8)
    assert np.isnan(cue_mass(np.array([-1.0, -2.0, 0.0, 0.0]), inside, signed=True))
    with pytest.raises(ValueError):
        cue_mass(np.array([0.5, -0.1, 0.3, 0.3]), inside)
    assert pointing_hit(np.array([0.1, 0.2, 0.9, 0.4]), inside) == 1.0
    assert pointing_hit(np.array([0.9, 0.2, 0.3, 0.4]), inside) == 0.0
    s = score_map(np.full(50, 0.02), 0.1, 0.3)  # a uniform map scores exactly the chance level
    assert s["mass"] == pytest.approx(s["chance"]) == pytest.approx(10 / 50) and s["cue_frames"] == 10


def test_summarize_bootstraps_over_speakers():
    rows = pd.DataFrame({"method": ["a"] * 4 + ["b"] * 4, "speaker": ["s1", "s1", "s2", "s2"] * 2,
                         "mass": [1.0, 1.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5], "hit": [1, 1, 0, 0, 1, 1, 1, 1.0],
                         "chance": [0.1] * 8})
    t = summarize(rows, n_boot=500).set_index("method")
    assert t.loc["a", "mass"] == pytest.approx(0.5) and t.loc["b", "mass"] == pytest.approx(0.5)
    assert t.loc["a", "mass_lo"] == 0.0 and t.loc["a", "mass_hi"] == 1.0  # two speakers that disagree
    assert t.loc["b", "mass_lo"] == t.loc["b", "mass_hi"] == 0.5


# ---- cue manifests -------------------------------------------------------------------------------------------

def _manifest(tmp_path, rows, header="path,speaker,emotion,cue_start,cue_end"):
    p = tmp_path / "m.csv"
    p.write_text(header + "\n" + "\n".join(rows) + "\n")
    return p


def test_read_cue_manifest_blank_means_no_cue(tmp_path):
    df = read_cue_manifest(_manifest(tmp_path, ["a.wav,s1,voc,0.5,0.75", "b.wav,s1,none,,"]))
    assert df["cue_start"].iloc[0] == 0.5 and np.isnan(df["cue_start"].iloc[1])


def test_read_cue_manifest_other_label_column(tmp_path):
    p = _manifest(tmp_path, ["a.wav,s1,voc,0.5,0.75"], header="path,speaker,kind,cue_start,cue_end")
    assert read_cue_manifest(p, "kind")["emotion"].tolist() == ["voc"]


@pytest.mark.parametrize("rows,header,problem", [
    (["a.wav,s1,voc,0.5,0.75"], "path,speaker,emotion,cue_start", "no 'cue_end' column"),
    (["a.wav,s1,voc,half,0.75"], None, "not a number"),
    (["a.wav,s1,voc,0.5,"], None, "needs both"),
    (["a.wav,s1,voc,0.8,0.5"], None, "cue_start < cue_end"),
    (["a.wav,s1,voc,,"], None, "nothing to point at"),
    (["a.wav,s1,,0.1,0.2"], None, "label"),
])
def test_read_cue_manifest_refuses_bad_input_in_one_line(tmp_path, rows, header, problem):
    p = _manifest(tmp_path, rows, header or "path,speaker,emotion,cue_start,cue_end")
    with pytest.raises(InputError, match=problem) as err:
        read_cue_manifest(p)
    assert "\n" not in str(err.value)


# ---- builders ------------------------------------------------------------------------------------------------

def _speech_corpus(tmp_path, speakers=("en-us+m3", "en-us+f3"), emotions=("neutral",), per=2, floor=0.0):
    """Project-made speech: espeak-ng voices as speakers; 'angry' is faster and higher; ``floor``: RMS of a
    seeded white-noise background (a room's; espeak's own pauses are digital silence)."""
    from _speech import espeak

    texts = ["Kids are talking by the door.", "Dogs are sitting by the door.", "The bus leaves at nine.",
             "Bring the blue cup."]
    rows = []
    for s, voice in enumerate(speakers):
        for emo in emotions:
            for k in range(per):
                speed, pitch = (200, 80) if emo == "angry" else (140, 40)
                x = espeak(texts[k % len(texts)], voice, speed)
                x = np.concatenate([np.full(4000, 1e-3, np.float32), x, np.full(4000, 1e-3, np.float32)])
                if floor:
                    x = x + floor * np.random.default_rng(len(rows)).standard_normal(len(x)).astype(np.float32)
                p = tmp_path / "src" / f"s{s}_{emo}_{k}.wav"
                p.parent.mkdir(exist_ok=True)
                sf.write(p, x * 0.5, RATE, subtype="FLOAT")
                rows.append({"path": str(p), "speaker": f"spk{s}", "emotion": emo})
    m = tmp_path / "src" / "manifest.csv"
    pd.DataFrame(rows).to_csv(m, index=False)
    return m


def _check_insertions(out, df):
    """Every output clip = its source with exactly [start_sample, end_sample) inserted (up to 16-bit rounding),
    or (mode overlay) its source with a sound added on exactly the cue's samples."""
    for r in df.itertuples():
        y, sr = sf.read(out / r.path, dtype="float32")
        x, _ = sf.read(r.source, dtype="float32")
        has_cue = isinstance(r.cue_start, float) and not np.isnan(r.cue_start)
        if getattr(r, "mode", "insert") == "overlay":
            assert sr == RATE and len(y) == len(x)
            changed = np.flatnonzero(np.abs(y - x) > 2e-4)
            if has_cue:
                a, b = int(r.cue_start_sample), int(r.cue_end_sample)
                assert changed.min() >= a and changed.max() < b and (a, b) == (r.cue_start * RATE, r.cue_end * RATE)
            else:
                assert len(changed) == 0  # a none clip of an overlay draw is its source
            continue
        a, b = int(r.insert_start_sample), int(r.insert_end_sample)
        assert sr == RATE and len(y) == len(x) + (b - a)
        assert np.abs(y[:a] - x[:a]).max(initial=0) < 2e-4 and np.abs(y[b:] - x[a:]).max(initial=0) < 2e-4
        if has_cue:
            assert (r.cue_start, r.cue_end) == (a / RATE, b / RATE)  # exact to the sample
            assert int(r.cue_start_sample) == a and int(r.cue_end_sample) == b


@needs_espeak
def test_build_vocalization_cues_exact_to_the_sample(tmp_path):
    src = _speech_corpus(tmp_path)
    out = tmp_path / "voc"
    df = build_vocalization(src, out, n_clips=4, seed=3, overlay=0.5, progress=False)
    again = pd.read_csv(out / "manifest.csv")
    assert set(again["mode"]) == {"insert", "overlay"} and set(again["cues"]) == {"synthetic"}
    assert sorted(again["emotion"]) == ["none", "none", "vocalization", "vocalization"]
    assert (again.groupby("speaker")["emotion"].nunique() == 2).all()  # both classes from every speaker
    _check_insertions(out, again)
    pos = again[again["emotion"] == "vocalization"]
    assert pos["cue_start"].notna().all() and again.loc[again["emotion"] == "none", "cue_start"].isna().all()
    assert ((pos["cue_end"] - pos["cue_start"]) <= 2.5).all()
    assert len(df) == 4 and sorted(p.name for p in out.iterdir()) == ["audio", "build.json", "manifest.csv"]
    # deterministic: the same seed writes the same audio
    build_vocalization(src, tmp_path / "voc2", n_clips=4, seed=3, overlay=0.5, progress=False)
    a = sf.read(out / again["path"][0])[0]
    b = sf.read(tmp_path / "voc2" / again["path"][0])[0]
    assert np.array_equal(a, b)
    with pytest.raises(InputError, match="not an empty directory"):
        build_vocalization(src, out, n_clips=4, progress=False)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".voc")]  # nothing half-written left


def _sounds(tmp_path, people=4, per=2):
    """Isolated 'recordings' gated to digital silence, as Coswara's are: noise bursts of two categories, each
    person recording both, with a manifest naming who made each."""
    rng = np.random.default_rng(1)
    rows = []
    for p in range(people):
        for cat in ("breath", "cough"):
            for k in range(per):
                x = (0.3 * rng.standard_normal(int(0.3 * RATE))).astype(np.float32)
                x[1000:2000] = 0.0  # gated: digital silence inside the sound
                f = tmp_path / "sounds" / cat / f"p{p}_{k}.wav"
                f.parent.mkdir(parents=True, exist_ok=True)
                sf.write(f, x, RATE, subtype="FLOAT")
                rows.append({"path": f"{cat}/p{p}_{k}.wav", "category": cat, "speaker_id": f"person{p}",
                             "attribution": "made by the test, CC0"})
    pd.DataFrame(rows).to_csv(tmp_path / "sounds" / "manifest.csv", index=False)
    return tmp_path / "sounds"


@needs_espeak
def test_build_vocalization_with_real_sounds_floor_levels_and_held_out_people(tmp_path):
    src = _speech_corpus(tmp_path, per=4, floor=2e-3)
    snd = _sounds(tmp_path)
    out = tmp_path / "real"
    build_vocalization(src, out, n_clips=8, seed=0, sounds=snd, overlay=0.0, progress=False)
    m = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    assert set(m["cues"]) == {"real"} and set(m.loc[m["emotion"] == "vocalization", "planted"]) <= {"breath", "cough"}
    pos = m[m["emotion"] == "vocalization"]
    # every vocalizing person goes into one host speaker's clips: held-out speakers hold out their people too
    assert (pos.groupby("sound_person")["speaker"].nunique() == 1).all()
    assert (pos["attribution"] == "made by the test, CC0").all()
    assert "made by the test, CC0" in (out / "build.json").read_text()
    _check_insertions(out, m.assign(cue_start=pd.to_numeric(m["cue_start"]), cue_end=pd.to_numeric(m["cue_end"])))
    for r in pos.itertuples():
        y = sf.read(out / r.path, dtype="float32")[0]
        piece = y[int(r.cue_start_sample) : int(r.cue_end_sample)]
        gated = piece[1100:1900]  # the recording's digital silence, now with the host's noise floor under it
        assert 7e-4 < float(np.sqrt(np.mean(gated ** 2))) < 6e-3  # the host floor: 2e-3 RMS (plus its 1e-3 pad)
        x = sf.read(r.source, dtype="float32")[0]
        speech = float(np.sqrt(np.mean(np.sort(x[: len(x) // 320 * 320].reshape(-1, 320) ** 2, axis=None)[-len(x) // 3:])))
        assert 0.1 < float(np.sqrt(np.mean(piece ** 2))) / speech < 1.5  # level-matched to the speech


def test_sounds_bad_input_is_one_line(tmp_path, capsys):
    from explain_ser.cli import main
    from explain_ser.vocal_sounds import read_sounds

    (tmp_path / "empty" / "laugh").mkdir(parents=True)
    (tmp_path / "empty" / "laugh" / "notes.txt").write_text("no audio here")
    with pytest.raises(InputError, match="has no audio files"):
        read_sounds(tmp_path / "empty")
    (tmp_path / "nocat.csv").write_text("path,speaker_id\na.wav,p1\n")
    with pytest.raises(InputError, match="no 'category' column"):
        read_sounds(tmp_path / "nocat.csv")
    m = tmp_path / "speech.csv"
    sf.write(tmp_path / "short.wav", np.full(RATE // 2, 0.1, np.float32), RATE)
    m.write_text("path,speaker,emotion\nshort.wav,s1,neutral\nshort.wav,s2,neutral\n")
    (tmp_path / "long" / "cough").mkdir(parents=True)
    sf.write(tmp_path / "long" / "cough" / "c.wav", np.full(RATE, 0.1, np.float32), RATE)  # 1 s into 0.5 s speech
    for sounds, problem in ((tmp_path / "empty", "has no audio files"), (tmp_path / "nocat.csv", "no 'category'"),
                            (tmp_path / "long", "longer than every speech clip")):
        out = tmp_path / f"out_{Path(str(sounds)).stem}"
        code = main(["pointing-game", "build", "--kind", "vocalization", "--sounds", str(sounds), "--manifest", str(m),
                     "--out", str(out), "--n-clips", "2", "--quiet"])
        assert code == 2 and not out.exists(), sounds
        err = capsys.readouterr().err.strip()
        assert err.startswith("explain-ser: error:") and problem in err and "\n" not in err, err
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out_")]


@needs_espeak
def test_build_splice_emotion_and_binary(tmp_path):
    src = _speech_corpus(tmp_path, emotions=("neutral", "angry"))
    df = build_splice(src, tmp_path / "sp", n_clips=4, seed=1, progress=False)
    again = pd.read_csv(tmp_path / "sp" / "manifest.csv")
    assert set(again["emotion"]) == {"angry"} and again["cue_start"].notna().all()
    assert (again["donor_emotion"] == "angry").all() and len(df) == 4
    _check_insertions(tmp_path / "sp", again)
    build_splice(src, tmp_path / "bin", n_clips=4, seed=1, labels="binary", progress=False)
    b = pd.read_csv(tmp_path / "bin" / "manifest.csv")
    assert sorted(b["emotion"]) == ["none", "none", "spliced", "spliced"]
    assert b.loc[b["emotion"] == "none", "donor_emotion"].eq("neutral").all()
    _check_insertions(tmp_path / "bin", b)
    with pytest.raises(InputError, match="no 'calm' clips"):
        build_splice(src, tmp_path / "x", base="calm", progress=False)


@needs_espeak
def test_build_join_whole_utterances_both_orders(tmp_path):
    src = _speech_corpus(tmp_path, emotions=("neutral", "angry"))
    df = build_join(src, tmp_path / "join", n_clips=4, seed=2, progress=False)
    again = pd.read_csv(tmp_path / "join" / "manifest.csv")
    assert len(df) == len(again) == 4 and set(again["emotion"]) == {"angry"}
    assert sorted(again["first"]) == ["base", "base", "emotion", "emotion"]
    for r in again.itertuples():
        y = sf.read(tmp_path / "join" / r.path, dtype="float32")[0]
        base, emo = (sf.read(p, dtype="float32")[0] for p in (r.source, r.donor))
        a, b = int(r.cue_start_sample), int(r.cue_end_sample)
        assert len(y) == len(base) + len(emo) and b - a == len(emo)
        assert (r.cue_start, r.cue_end) == (a / RATE, b / RATE)  # exact to the sample
        assert np.abs(y[a:b] - emo).max() < 2e-4  # the cue IS the emotional utterance
        rest = np.concatenate([y[:a], y[b:]])
        assert np.abs(rest - base).max() < 2e-4 and a in (0, len(base))
    pairs = again.groupby(["source", "donor"]).size()
    assert (pairs == 2).all()  # each pair in both orders
    with pytest.raises(InputError, match="no 'calm' clips"):
        build_join(src, tmp_path / "x", base="calm", progress=False)


# ---- end to end ------------------------------------------------------------------------------------------------

def _planted_frames(n_speakers=6, per=8, T=100, D=16, seed=0):
    """A cue corpus at the level of encoder frames: noise frames, and on half the clips a 10-20 frame stretch
    pushed along one direction (the planted cue; its times on the 20 ms grid); no Whisper needed."""
    import torch

    from explain_ser.sweep import Corpus
    from explain_ser.train import FeatureSet

    rng = np.random.default_rng(seed)
    u = rng.normal(size=D)
    u /= np.linalg.norm(u)
    arrays, rows = [], []
    for s in range(n_speakers):
        for k in range(per):
            n = int(rng.integers(T - 20, T + 1))
            x = rng.normal(size=(1, n, D)).astype(np.float32)
            row = {"path": f"c{s}_{k}.wav", "clip_id": f"c{s}_{k}", "speaker": f"spk{s}", "gender": "",
                   "emotion": "none", "cue_start": np.nan, "cue_end": np.nan}
            if k % 2 == 0:
                a, L = int(rng.integers(0, n - 20)), int(rng.integers(10, 21))
                x[0, a : a + L] += 4.0 * u
                row.update(emotion="vocalization", cue_start=0.02 * a, cue_end=0.02 * (a + L))
            arrays.append(x)
            rows.append(row)
    df = pd.DataFrame(rows)
    labels = sorted(df["emotion"].unique())
    return Corpus(df, FeatureSet(arrays, dtype=torch.float16), np.array([labels.index(e) for e in df["emotion"]]),
                  labels, {"source": "synthetic", "weights_hash": "-", "dim": D, "n_taps": 1, "window": "trim"},
                  "synthetic.csv")


def test_pointing_game_end_to_end_separates_diffuse_from_localising(tmp_path):
    """Through cross-validation, fold models and the metrics: a mean pooler (a uniform map) scores exactly
    chance mass and fails; a one-head 1.5-entmax QKV pooler trained to detect the cue points at it and passes."""
    import json

    from explain_ser.pointing_run import run_pointing_game
    from explain_ser.splits import make_folds
    from explain_ser.train import TrainConfig

    corpus = _planted_frames()
    folds = make_folds(corpus.manifest, "speakers", k=2, n_val=0)
    cfg = TrainConfig(epochs=30, batch_size=8, lr=1e-2, seed=0, threads=1)
    base = {"dim": 16, "taps": [0], "n_taps": 1, "hidden": 16}
    diffuse = run_pointing_game(corpus, folds, {**base, "pooler": "mean"}, cfg, methods=(), progress=False,
                                n_boot=200)
    sharp = run_pointing_game(corpus, folds, {**base, "pooler": "qkv", "pooler_hparams": {
        "n_heads": 1, "normalizer": "entmax15"}}, cfg, out=tmp_path / "game",
        methods=("ig", "occlusion"), progress=False, n_boot=200)
    d = {r["method"]: r for r in diffuse["table"]}["attention:mean"]
    s = {r["method"]: r for r in sharp["table"]}
    assert d["mass"] == pytest.approx(d["chance"], abs=1e-9) and d["mass"] < 0.3
    assert s["attention:h0"]["mass"] > 0.8 and s["attention:h0"]["hit"] > 0.9, s["attention:h0"]  # measured 0.895, 1.0
    # occlusion's 5-frame window smears onto the frames beside the cue, so its top frame may sit just outside
    assert s["ig"]["mass"] > 0.8 and s["occlusion"]["mass"] > 0.6 and set(s) == {"attention:h0", "ig", "occlusion"}
    assert sharp["detection"]["all"]["accuracy"] > 0.9 and sharp["detection"]["cue"]["clips"] == 24
    got = {p.name for p in (tmp_path / "game").iterdir()}
    assert got == {"pointing.csv", "pointing.json", "pointing.png", "pointing_clips.csv", "pointing.md"}
    saved = json.loads((tmp_path / "game" / "pointing.json").read_text())
    assert saved["training"]["seed"] == 0 and len(saved["folds"]) == 3 and saved["bootstrap"]["clusters"] == "speaker"


def test_cli_refuses_a_manifest_without_cues_in_one_line(tmp_path, capsys):
    from explain_ser.cli import main

    m = _manifest(tmp_path, ["a.wav,s1,voc"], header="path,speaker,emotion")
    assert main(["pointing-game", "run", str(m), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("explain-ser: error:") and "cue_start" in err and "\n" not in err
    assert not (tmp_path / "o").exists()
    assert main(["pointing-game", "run", str(m), "--out", str(tmp_path / "o"), "--methods", "ig,lime"]) == 2
    assert "unknown method 'lime'" in capsys.readouterr().err


def test_score_result_is_recorded_in_the_checkpoint_config_and_card(tmp_path):
    import json
    import shutil

    from explain_ser.checkpoint import read_config, resolve_checkpoint
    from explain_ser.publish import localisation_entry, record_evaluation

    ck = tmp_path / "ck"
    shutil.copytree(resolve_checkpoint("ravdess-tiny.en"), ck, ignore=shutil.ignore_patterns("folds"))
    row = lambda m, mass: {"method": m, "clips": 10, "mass": mass, "mass_lo": mass - .05, "mass_hi": mass + .05,  # noqa: E731
                           "hit": 0.9, "hit_lo": .8, "hit_hi": 1.0, "chance": 0.52, "chance_lo": .5, "chance_hi": .54}
    result = {"clips": 252, "recognised": {"accuracy": 0.718, "lo": 0.635, "hi": 0.802},
              "table": {"recognised": [row("attention:mean", 0.807), row("ig", 0.865)], "all": []}}
    record_evaluation(ck, localisation=localisation_entry(result, "join", "explain-ser pointing-game score X"))
    loc = read_config(ck)["localisation"]
    assert loc["benchmark"] == "join" and loc["recognised"]["accuracy"] == 0.718
    assert "71.8 % [63.5, 80.2]" in loc["text"] and "80.7 %" in loc["text"] and "uniform 52.0 %" in loc["text"]
    card = (ck / "MODEL_CARD.md").read_text()
    assert "## Localisation (pointing game)" in card and "Join benchmark (252 clips" in card
    assert json.loads((ck / "config.json").read_text())["model"] == read_config(resolve_checkpoint("ravdess-tiny.en"))["model"]


def test_maps_of_a_trimming_input_rule_are_scored_on_the_clip_grid(tmp_path):
    """The model of a checkpoint with an input rule sees the clip without its silent ends; the pointing game
    moves the cue back by the frames trimmed at the start (else every map would look beside the cue)."""
    from explain_ser.inputs import AS_RECORDED, RECOMMENDED
    from explain_ser.pointing_run import first_frame as _first_frame

    t = np.arange(16000) / 16000
    x = np.concatenate([np.zeros(16000), 0.3 * np.sin(2 * np.pi * 220 * t), np.zeros(16000)]).astype(np.float32)
    sf.write(tmp_path / "c.wav", x, RATE)
    first = _first_frame(tmp_path / "c.wav", RECOMMENDED)
    assert 40 <= first <= 50  # 1 s of silence = 50 frames, less the rule's margin
    assert _first_frame(tmp_path / "c.wav", AS_RECORDED) == 0


@needs_tiny
def test_deep_ig_is_scored_on_the_frames_the_model_saw(tmp_path, tiny_encoder):
    """With a trimming input rule, deep IG must go through the same rule as the features: its map then covers
    the model's frames, exactly as attention does, and the shifted cue lines up with it. (It ran on the raw
    clip, a longer map scored against the cue moved by the trimmed frames: the wrong window.)"""
    import torch

    from explain_ser.audio import load_audio
    from explain_ser.inputs import RECOMMENDED, prepare
    from explain_ser.pointing_run import run_pointing_game
    from explain_ser.splits import make_folds
    from explain_ser.sweep import Corpus
    from explain_ser.train import FeatureSet, TrainConfig

    rng = np.random.default_rng(0)
    rows, arrays = [], []
    for s in range(6):
        for k in range(2):
            quiet = lambda n: (1e-4 * rng.standard_normal(n)).astype(np.float32)  # noqa: E731
            burst = (0.2 * rng.standard_normal(int(0.5 * RATE))).astype(np.float32)
            tone = 0.2 * np.sin(2 * np.pi * 300 * np.arange(RATE) / RATE).astype(np.float32)
            body = np.concatenate([tone[: RATE // 2], burst, tone[RATE // 2 :]]) if k == 0 else tone
            x = np.concatenate([quiet(RATE), body, quiet(RATE // 2)])
            p = tmp_path / f"s{s}_{k}.wav"
            sf.write(p, x, RATE, subtype="FLOAT")
            prep = prepare(load_audio(p), RECOMMENDED)
            assert prep.first_frame > 20  # the rule trims most of the leading second
            arrays.append(tiny_encoder.encode(prep.clip))
            rows.append({"path": str(p), "clip_id": p.stem, "speaker": f"spk{s}", "gender": "",
                         "emotion": "vocalization" if k == 0 else "none",
                         "cue_start": 1.5 if k == 0 else np.nan, "cue_end": 2.0 if k == 0 else np.nan})
    df = pd.DataFrame(rows)
    corpus = Corpus(df, FeatureSet(arrays, dtype=torch.float16), np.array([0, 1] * 6), ["vocalization", "none"],
        {"source": "tiny.en", "weights_hash": tiny_encoder.weights_hash, "dim": tiny_encoder.dim,
         "n_taps": tiny_encoder.n_taps, "window": "trim", "input": RECOMMENDED.to_config()}, "cues.csv")
    folds = make_folds(corpus.manifest, "speakers", k=2, n_val=0)
    kw = {"dim": tiny_encoder.dim, "taps": [2], "n_taps": tiny_encoder.n_taps, "hidden": 8, "pooler": "qkv",
          "pooler_hparams": {"n_heads": 1}}
    res = run_pointing_game(corpus, folds, kw, TrainConfig(epochs=2, batch_size=4, seed=0, threads=1), methods=(),
                            deep=True, progress=False, n_boot=50)
    pc = res["per_clip"].set_index(["clip_id", "method"])
    for cid in pc.index.get_level_values(0).unique():
        att, deep = pc.loc[(cid, "attention:h0")], pc.loc[(cid, "deep_ig")]
        # the same frames: the same share of them on the cue, the same cue frames
        assert (deep["chance"], deep["cue_frames"]) == (att["chance"], att["cue_frames"]), cid
        assert att["shift_s"] > 0.4
