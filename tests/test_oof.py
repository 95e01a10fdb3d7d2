"""Out-of-fold predictions (``cv_predictions.csv``) and ``explain-ser cv-ensemble`` over them."""

import json

import numpy as np
import pandas as pd
import pytest

from _env import EXAMPLES, needs_tiny
from explain_ser.errors import InputError
from explain_ser.metrics import classification_metrics
from explain_ser.oof import average, fold_scores, predictions_frame, read_predictions
from explain_ser.splits import make_folds
from test_extra_train import _corpus
from test_train import KW, synthetic


def _runs():
    """Two cross-validations (seeds 0 and 1) of the same synthetic corpus, as out-of-fold frames."""
    from explain_ser.train import FeatureSet, TrainConfig, cross_validate

    arrays, y, df = synthetic(n_spk=4, per=6)
    df = df.assign(clip_id=[f"c{i:02d}" for i in range(len(df))])
    folds = make_folds(df, "speakers", k=2, n_val=0)
    frames = []
    for seed in (0, 1):
        res = cross_validate(FeatureSet(arrays), y, folds, labels=["a", "b", "c"], model_kwargs=KW,
                             config=TrainConfig(epochs=2, seed=seed))
        frames.append(predictions_frame(df, folds, ["a", "b", "c"], y, res.probs))
    return frames, y, folds


def test_average_is_the_clipwise_mean_whatever_the_row_order():
    (f0, f1), y, folds = _runs()
    assert len(f0) == len(y) and set(f0["fold"]) == {f.name for f in folds}
    p = lambda f: f.sort_values("clip_id")[["p_a", "p_b", "p_c"]].to_numpy()
    assert np.allclose(p(f0).sum(1), 1, atol=1e-5)
    assert not np.allclose(p(f0), p(f1))  # the seeds differ, so averaging means something
    mean = average([f0, f1.sample(frac=1, random_state=3)])  # shuffled rows: matched by clip, not position
    assert np.allclose(p(mean), (p(f0) + p(f1)) / 2)
    assert mean["clip_id"].tolist() == f0["clip_id"].tolist()  # the first run's order (and fold order) is kept
    for fold, g in mean.groupby("fold"):
        truth = y[[int(c[1:]) for c in g["clip_id"]]]
        expect = classification_metrics(truth, g[["p_a", "p_b", "p_c"]].to_numpy().argmax(1), labels=range(3))
        got = fold_scores(mean).set_index("fold").loc[fold]
        assert got["ua"] == pytest.approx(expect["ua"]) and got["n"] == len(g)


def test_runs_on_other_folds_or_labels_are_refused(tmp_path):
    (f0, f1), _, _ = _runs()
    other_folds = f1.assign(fold=f1["fold"].map({"fold1": "fold2", "fold2": "fold1"}).fillna("x"))
    with pytest.raises(InputError, match="same clips and folds"):
        average([f0, other_folds], names=["a", "b"])
    with pytest.raises(InputError, match="b: names some clips twice"):
        average([f0, pd.concat([f1, f1.iloc[:1]])], names=["a", "b"])
    with pytest.raises(InputError, match="other labels"):
        average([f0, f1.rename(columns={"p_c": "p_z"})], names=["a", "b"])
    with pytest.raises(InputError, match="no cv_predictions.csv"):
        read_predictions(tmp_path)
    f0.iloc[:3].assign(p_a=["0.5", "", "x"]).to_csv(tmp_path / "cut.csv", index=False)
    with pytest.raises(InputError, match="missing or non-numeric probabilities"):
        read_predictions(tmp_path / "cut.csv")
    (tmp_path / "x.csv").write_text("clip_id,speaker\n1,2\n")
    with pytest.raises(InputError, match="not an out-of-fold predictions file"):
        read_predictions(tmp_path / "x.csv")


@needs_tiny
def test_cli_cv_ensemble_scores_the_average_of_two_training_runs(tmp_path, capsys):
    from explain_ser.cli import main

    wavs = sorted(EXAMPLES.glob("*.wav"))
    csv = _corpus(tmp_path / "mine", ["a", "b", "c", "d"], ["angry", "calm", "sad"], wavs)
    base = ["train", csv, "--taps", "2", "--pooler", "qkv", "--val-speakers", "0", "--epochs", "2",
            "--quiet", "--cv-only"]
    for seed in (0, 1):
        assert main(base + ["--seed", str(seed), "--out", str(tmp_path / f"s{seed}")]) == 0
    runs = [read_predictions(tmp_path / f"s{s}") for s in (0, 1)]
    cv = json.loads((tmp_path / "s0" / "cv.json").read_text())
    assert len(runs[0]) == 12 and set(runs[0]["fold"]) == {f["name"] for f in cv["folds"]["folds"]}
    capsys.readouterr()
    rc = main(["cv-ensemble", str(tmp_path / "s0"), str(tmp_path / "s1" / "cv_predictions.csv"), "--json",
               "--predictions", str(tmp_path / "mean.csv")])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    # recomputed here from the two files: mean probabilities, argmax, balanced accuracy per fold
    a, b = (r.sort_values("clip_id").reset_index(drop=True) for r in runs)
    pcols = [c for c in a.columns if c.startswith("p_")]
    pred = np.array([c[2:] for c in pcols])[((a[pcols].to_numpy() + b[pcols].to_numpy()) / 2).argmax(1)]
    for row in out["per_fold"]:
        m = a["fold"] == row["fold"]
        ua = classification_metrics(a.loc[m, "emotion"], pred[m.to_numpy()], labels=[c[2:] for c in pcols])["ua"]
        assert row["ua"] == pytest.approx(ua)
    assert len(pd.read_csv(tmp_path / "mean.csv")) == 12
    # a run on other folds (2 of 2 speakers instead of leave-one-speaker-out) is refused in one line
    assert main(base + ["--folds", "speakers", "--k", "2", "--out", str(tmp_path / "k4")]) == 0
    capsys.readouterr()
    assert main(["cv-ensemble", str(tmp_path / "s0"), str(tmp_path / "k4")]) == 2
    err = capsys.readouterr().err
    assert "k4: was not cross-validated on the same clips and folds" in err and err.count("\n") == 1
