"""The pointing game (explain_ser/pointing.py): metrics, cue manifests, corpus builders, an end-to-end game."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from _env import needs_espeak, needs_tiny
from explain_ser.errors import InputError
from explain_ser.pointing import (build_splice, build_vocalization, cue_mass, frames_in_cue, pointing_hit,
                                  read_cue_manifest, score_map, summarize)

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

def _speech_corpus(tmp_path, speakers=("en-us+m3", "en-us+f3"), emotions=("neutral",), per=2):
    """Project-made speech: espeak-ng voices as speakers; 'angry' is faster and higher."""
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
                p = tmp_path / "src" / f"s{s}_{emo}_{k}.wav"
                p.parent.mkdir(exist_ok=True)
                sf.write(p, x * 0.5, RATE, subtype="FLOAT")
                rows.append({"path": str(p), "speaker": f"spk{s}", "emotion": emo})
    m = tmp_path / "src" / "manifest.csv"
    pd.DataFrame(rows).to_csv(m, index=False)
    return m


def _check_insertions(out, df):
    """Every output clip = its source with exactly [start_sample, end_sample) inserted (up to 16-bit rounding)."""
    for r in df.itertuples():
        y, sr = sf.read(out / r.path, dtype="float32")
        x, _ = sf.read(r.source, dtype="float32")
        a, b = int(r.insert_start_sample), int(r.insert_end_sample)
        assert sr == RATE and len(y) == len(x) + (b - a)
        assert np.abs(y[:a] - x[:a]).max(initial=0) < 2e-4 and np.abs(y[b:] - x[a:]).max(initial=0) < 2e-4
        if isinstance(r.cue_start, float) and not np.isnan(r.cue_start):
            assert (r.cue_start, r.cue_end) == (a / RATE, b / RATE)  # exact to the sample
            assert int(r.cue_start_sample) == a and int(r.cue_end_sample) == b


@needs_espeak
def test_build_vocalization_cues_exact_to_the_sample(tmp_path):
    src = _speech_corpus(tmp_path)
    out = tmp_path / "voc"
    df = build_vocalization(src, out, n_clips=4, seed=3, progress=False)
    again = pd.read_csv(out / "manifest.csv")
    assert sorted(again["emotion"]) == ["none", "none", "vocalization", "vocalization"]
    assert (again.groupby("speaker")["emotion"].nunique() == 2).all()  # both classes from every speaker
    _check_insertions(out, again)
    pos = again[again["emotion"] == "vocalization"]
    assert pos["cue_start"].notna().all() and again.loc[again["emotion"] == "none", "cue_start"].isna().all()
    assert ((pos["cue_end"] - pos["cue_start"]) <= 1.5).all()
    assert len(df) == 4 and sorted(p.name for p in out.iterdir()) == ["audio", "build.json", "manifest.csv"]
    # deterministic: the same seed writes the same audio
    build_vocalization(src, tmp_path / "voc2", n_clips=4, seed=3, progress=False)
    a = sf.read(out / again["path"][0])[0]
    b = sf.read(tmp_path / "voc2" / again["path"][0])[0]
    assert np.array_equal(a, b)
    with pytest.raises(InputError, match="not an empty directory"):
        build_vocalization(src, out, n_clips=4, progress=False)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".voc")]  # nothing half-written left


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


# ---- end to end ------------------------------------------------------------------------------------------------

@pytest.mark.slow
@needs_tiny
@needs_espeak
def test_pointing_game_end_to_end_separates_diffuse_from_localising(tmp_path):
    """On project-made clips with planted vocalizations, a mean pooler (uniform map) scores chance mass and
    fails; a sparse additive-attention pooler finds the cue and passes."""
    from explain_ser.splits import make_folds
    from explain_ser.sweep import load_corpus
    from explain_ser.train import TrainConfig

    voices = ("en-us+m3", "en-us+f3", "en-gb+m1", "en-us+f2")
    src = _speech_corpus(tmp_path, speakers=voices, per=4)
    out = tmp_path / "voc"
    build_vocalization(src, out, n_clips=32, seed=0, progress=False)
    manifest = read_cue_manifest(out / "manifest.csv")
    corpus = load_corpus(out / "manifest.csv", taps="2", progress=False)
    corpus.manifest = manifest
    folds = make_folds(manifest, "loso", n_val=0)
    cfg = TrainConfig(epochs=25, batch_size=8, seed=0, threads=1)
    base = {"dim": corpus.encoder["dim"], "taps": [2], "n_taps": corpus.encoder["n_taps"], "hidden": 32}
    from explain_ser.pointing import run_pointing_game

    diffuse = run_pointing_game(corpus, folds, {**base, "pooler": "mean"}, cfg, methods=(), progress=False,
                                n_boot=200)
    sharp = run_pointing_game(corpus, folds, {**base, "pooler": "qkv", "pooler_hparams": {
        "n_heads": 1, "score": "additive", "normalizer": "entmax15", "temperature": True}}, cfg,
        out=tmp_path / "game", methods=("occlusion",), progress=False, n_boot=200)
    d = {r["method"]: r for r in diffuse["table"]}["attention:mean"]
    s = {r["method"]: r for r in sharp["table"]}
    assert d["mass"] == pytest.approx(d["chance"], abs=1e-9) and d["mass"] < 0.5
    assert s["attention:h0"]["mass"] > 0.6 and s["attention:h0"]["hit"] > 0.8
    assert sharp["detection"]["all"]["accuracy"] > 0.8
    assert {p.name for p in (tmp_path / "game").iterdir()} >= {"pointing.csv", "pointing.json", "pointing.png",
                                                               "pointing_clips.csv", "pointing.md"}
