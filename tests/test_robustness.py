"""The perturbation benchmark: frame mapping, attention agreement, bootstrap metrics, and an end-to-end run
(train with --augment and --save-fold-models, then `explain-ser robustness` on the fold models and on a
shipped checkpoint) on project-made espeak-ng clips."""

import json

import numpy as np
import pandas as pd
import pytest

from _env import needs_espeak, needs_tiny
from explain_ser.errors import InputError
from explain_ser.metrics import classification_metrics
from explain_ser.perturb import Perturbed, perturb
from explain_ser.robustness import (DEFAULT_CONDITIONS, _replicates, _speaker_counts, attention_agreement,
                                    bootstrap_metrics, common_frames, parse_conditions)


def test_default_conditions_parse_and_clean_comes_first():
    conds = parse_conditions(None)
    assert [c.text for c in conds] == ["none", *DEFAULT_CONDITIONS] and len(conds) == 17
    assert [c.text for c in parse_conditions(["mp3:32,none", "mp3:32"])] == ["none", "mp3:32"]
    with pytest.raises(InputError, match="unknown condition"):
        parse_conditions(["gain:-3,wobble:2"])


def test_padding_maps_each_frame_to_itself_inside_the_padded_clip():
    x = np.zeros(16000, np.float32)
    p = perturb(x, 16000, "pad:silence:2", np.random.default_rng(0))
    idx, pos = common_frames(p, 50, len(p.samples) // 320)
    assert idx.tolist() == list(range(50)) and pos.tolist() == [float(i + 100) for i in range(50)]


def test_speed_and_crop_mappings():
    # 1.1x faster: clean frame centre c is heard at c / 1.1
    idx, pos = common_frames(Perturbed(np.zeros(1), tempo=1.1), 110, 100)
    assert len(idx) == 110 and np.allclose(pos, np.clip(((np.arange(110) * 320 + 160) / 1.1 - 160) / 320, 0, 99))
    # the first 30 frames cropped away: clean frames 30.. map to 0..
    idx, pos = common_frames(Perturbed(np.zeros(1), offset=-30 * 320), 100, 50)
    assert idx.tolist() == list(range(30, 80)) and pos.tolist() == [float(i) for i in range(50)]


def test_attention_agreement_on_padded_maps():
    rng = np.random.default_rng(0)
    clean = {"h0": rng.random(40), "mean": rng.random(40)}
    p = Perturbed(np.zeros(1), offset=10 * 320)
    padded = {k: np.concatenate([rng.random(10), v, rng.random(10)]) for k, v in clean.items()}
    assert attention_agreement(clean, padded, p, 40, 60) == {"h0": 1.0, "mean": 1.0}
    flipped = {k: np.concatenate([np.zeros(10), -v, np.zeros(10)]) for k, v in clean.items()}
    assert attention_agreement(clean, flipped, p, 40, 60)["h0"] == -1.0
    flat = {k: np.ones(60) for k in clean}
    assert np.isnan(attention_agreement(clean, flat, p, 40, 60)["mean"])  # a constant map has no ranking


def test_bootstrap_replicate_formula_is_metrics_py():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 200)
    yp = np.where(rng.random(200) < 0.6, y, rng.integers(0, 3, 200))  # class 3 is never predicted
    spk = rng.integers(0, 9, 200)
    sup, tp, pred = _speaker_counts(y, yp, spk, 4)
    reps = _replicates(sup, tp, pred, np.ones((1, sup.shape[0])))  # every speaker once = the sample itself
    ref = classification_metrics(y, yp, labels=range(4))
    for k in ("ua", "wa", "macro_f1"):
        assert reps[k][0] == pytest.approx(ref[k], abs=1e-12)
    m = bootstrap_metrics(y, yp, spk, 4, n_boot=500, seed=3, ref_pred=y)
    assert m["ua_lo"] < m["ua"] < m["ua_hi"] and m["ua"] == pytest.approx(ref["ua"])
    assert m["ua_drop"] == pytest.approx(1 - ref["ua"]) and 0 < m["ua_drop_lo"] < m["ua_drop"] < m["ua_drop_hi"]
    same = bootstrap_metrics(y, yp, spk, 4, n_boot=200, ref_pred=yp)
    assert same["ua_drop"] == same["ua_drop_lo"] == same["ua_drop_hi"] == 0.0  # paired: identical -> no spread


# ---- end to end ----

@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    """16 espeak-ng clips: 4 voices x (fast, high = 'happy'; slow, low = 'sad') x 2 sentences."""
    import soundfile as sf

    from _speech import espeak

    d = tmp_path_factory.mktemp("robust_corpus")
    rows = []
    for s, voice in enumerate(["en-us", "en-gb", "en-us+f3", "en-029"]):  # four distinct espeak-ng voices
        for emo, speed in (("happy", 200), ("sad", 110)):
            for i, text in enumerate(["kids are talking by the door", "dogs are sitting by the door"]):
                p = d / f"s{s}_{emo}_{i}.wav"
                sf.write(p, espeak(text, voice, speed), 16000)
                rows.append({"path": str(p), "speaker": f"s{s}", "emotion": emo})
    pd.DataFrame(rows).to_csv(d / "manifest.csv", index=False)
    return d


@pytest.mark.slow
@needs_tiny
@needs_espeak
def test_train_fold_models_then_robustness_end_to_end(tiny_corpus, tmp_path, capsys):
    from explain_ser.cli import main
    from explain_ser.features import FeatureStore

    man, cache, run = tiny_corpus / "manifest.csv", tmp_path / "cache", tmp_path / "run"
    assert main(["train", str(man), "--folds", "loso", "--val-speakers", "0", "--epochs", "3", "--pooler", "qkv",
                 "--taps", "2", "--cache", str(cache), "--augment", "gain,crop", "--cv-only", "--save-fold-models",
                 "--out", str(run), "--threads", "1", "--quiet"]) == 0
    cfg = json.loads((run / "cv.json").read_text())
    assert cfg["training"]["config"]["augment"] == ["gain", "crop"]
    assert sorted(p.name for p in (run / "folds").iterdir()) == ["fold0", "fold1", "fold2", "fold3"]
    # the augmented copies went through the cache: originals + 2 copies of each of 16 clips
    assert sum(1 for _ in cache.rglob("*.npy")) == 16 * 3
    fold0 = json.loads((run / "folds" / "fold0" / "config.json").read_text())
    assert fold0["fold"]["test"] == ["s0"] and "s0" not in fold0["training"]["speakers"]

    out = tmp_path / "rob"
    capsys.readouterr()
    assert main(["robustness", str(man), "--cv-run", str(run), "--cache", str(cache), "--conditions",
                 "gain:-10,pad:silence:1", "noise:babble:10", "mp3:32", "speed:1.1", "--out", str(out),
                 "--n-boot", "200", "--threads", "1", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "pad:silence:1" in printed and "max |dp|" in printed
    rec = json.loads((out / "robustness.json").read_text())  # strict JSON: NaN written as null
    assert rec["conditions"] == ["none", "gain:-10", "pad:silence:1", "noise:babble:10", "mp3:32", "speed:1.1"]
    assert rec["clean_vs_cv_predictions_max_abs_diff"] < 1e-3  # the fold models reproduce the run's own OOF
    table = pd.read_csv(out / "robustness.csv")
    assert table["condition"].tolist() == rec["conditions"] and (table["n"] == 16).all()
    clean = table.iloc[0]
    assert clean["ua_drop"] == 0 and clean["rho_mean"] == 1.0 and clean["flip_rate"] == 0
    assert {"ua_folds_mean", "ua_folds_std", "rho_heads"} <= set(table.columns)
    pred = pd.read_csv(out / "predictions.csv")
    assert len(pred) == 16 * 6 and set(pred["fold"]) == {"fold0", "fold1", "fold2", "fold3"}
    # each clip is scored by the fold that held its speaker out, under every condition
    assert (pred.groupby("speaker")["fold"].nunique() == 1).all()
    assert pred["rho_mean"].between(-1, 1).all()
    assert (out / "robustness.png").stat().st_size > 10_000
    # a second run reads every perturbed clip's features from the cache and gives the same numbers
    store = FeatureStore(cache)
    n_before = sum(1 for _ in cache.rglob("*.npy"))
    assert main(["robustness", str(man), "--cv-run", str(run), "--cache", str(cache), "--conditions",
                 "gain:-10,pad:silence:1", "noise:babble:10", "mp3:32", "speed:1.1", "--out", str(tmp_path / "rob2"),
                 "--n-boot", "200", "--quiet"]) == 0
    assert sum(1 for _ in cache.rglob("*.npy")) == n_before
    assert pd.read_csv(tmp_path / "rob2" / "robustness.csv").equals(table)
    assert json.loads((tmp_path / "rob2" / "robustness.json").read_text())["timing"]["cache"]["mp3:32"]["misses"] == 0
    del store


@pytest.mark.slow
@needs_tiny
@needs_espeak
def test_shipped_checkpoint_and_bad_input(tiny_corpus, tmp_path, capsys):
    from explain_ser.cli import main

    man = tiny_corpus / "manifest.csv"
    # the shipped RAVDESS model has no 'happy'/'sad'-only labels problem: both are among its 8 classes
    assert main(["robustness", str(man), "--checkpoint", "ravdess-tiny.en", "--conditions", "noise:white:10",
                 "--limit", "6", "--cache", str(tmp_path / "c"), "--n-boot", "100", "--quiet",
                 "--out", str(tmp_path / "o")]) == 0
    rec = json.loads((tmp_path / "o" / "robustness.json").read_text())
    assert rec["checkpoint"] == "ravdess-tiny.en" and rec["n_clips"] == 6 and rec["limit"] == 6
    from explain_ser.checkpoint import Checkpoint

    heads = set(Checkpoint.load("ravdess-tiny.en").model.head_names)
    assert set(rec["rho_per_head"]["none"]) >= heads | {"mean"}  # every head of the shipped model
    capsys.readouterr()
    assert main(["robustness", str(man), "--conditions", "gain:loud"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "explain-ser: error: gain:loud: fields must be numbers, e.g. gain:-20"
    assert main(["robustness", str(man), "--cv-run", str(tmp_path)]) == 2
    assert "no cv_predictions.csv" in capsys.readouterr().err
    assert not (tmp_path / "rob").exists()


def test_robustness_record_writes_the_table_into_the_checkpoint(tiny_corpus, tmp_path, capsys):
    """`robustness --record CKPT`: the table lands in CKPT's config.json and its card; a --record that is no
    checkpoint fails in one line before any clip is scored, writing nothing."""
    from explain_ser.cli import main

    man, cache, ckpt = tiny_corpus / "manifest.csv", tmp_path / "cache", tmp_path / "ckpt"
    assert main(["train", str(man), "--folds", "loso", "--val-speakers", "0", "--epochs", "2", "--pooler", "qkv",
                 "--taps", "2", "--cache", str(cache), "--save-fold-models", "--out", str(ckpt), "--threads", "1",
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["robustness", str(man), "--cv-run", str(ckpt), "--cache", str(cache), "--conditions",
                 "pad:silence:1", "--record", str(tmp_path / "nowhere"), "--out", str(tmp_path / "bad"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("explain-ser: error: ") and "nowhere" in err[0]
    assert not (tmp_path / "bad").exists()
    assert main(["robustness", str(man), "--cv-run", str(ckpt), "--cache", str(cache), "--conditions",
                 "pad:silence:1", "--record", str(ckpt), "--n-boot", "100", "--threads", "1", "--quiet"]) == 0
    cfg = json.loads((ckpt / "config.json").read_text())
    rows = cfg["robustness"]["rows"]
    assert [r["condition"] for r in rows] == ["none", "pad:silence:1"] and rows[0]["drop"] == 0
    assert "16 clips of 4 speakers" in cfg["robustness"]["what"]
    card = (ckpt / "MODEL_CARD.md").read_text()
    assert "## Robustness" in card and "| pad:silence:1 |" in card
