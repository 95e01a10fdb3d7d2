"""Training with clips of another corpus (``--extra-train``): they train in every fold, never test, and are
recorded in the checkpoint and its card."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from _env import EXAMPLES, needs_tiny
from explain_ser.errors import InputError
from explain_ser.labels import map_labels, parse_label_map
from explain_ser.splits import make_folds
from explain_ser.train import FeatureSet, TrainConfig, cross_validate
from test_train import KW, spy_on_fit, synthetic


def test_extra_items_train_in_every_fold_and_are_never_tested(monkeypatch):
    arrays, y, df = synthetic(n_spk=4, per=6)
    extra_arrays, extra_y, _ = synthetic(n_spk=2, per=5, seed=1)
    n = len(y)
    data = FeatureSet(arrays + arrays + extra_arrays)  # originals, one perturbed copy each, then the extra corpus
    folds = make_folds(df, "speakers", k=2, n_val=1)
    seen = spy_on_fit(monkeypatch)
    res = cross_validate(data, y, folds, labels=["0", "1", "2"], model_kwargs={**KW, "pooler": "mean"},
                         config=TrainConfig(epochs=1), extra_y=extra_y)
    extra = np.arange(2 * n, 2 * n + len(extra_y))
    for f, (tr, val, y_all) in zip(folds, seen):
        assert set(extra) <= set(tr.tolist())  # every extra item trains in every fold
        assert sorted(set(tr.tolist()) - set(extra)) == sorted(f.train.tolist() + (f.train + n).tolist())
        assert (val < n).all() and not set(f.test) & set(tr.tolist())
        assert (y_all[extra] == extra_y).all() and (y_all[f.train + n] == y[f.train]).all()
    assert res.probs.shape == (n, 3)  # predictions exist for the corpus' own clips only
    with pytest.raises(AssertionError, match="whole number of copies"):  # extra labels that do not fit the data
        cross_validate(data, y, folds, labels=["0", "1", "2"], model_kwargs={**KW, "pooler": "mean"},
                       config=TrainConfig(epochs=1), extra_y=extra_y[:-1])


def test_label_mapping_across_corpora():
    ravdess = ["angry", "calm", "disgust", "fearful", "happy", "neutral", "sad", "surprised"]
    emodb = ["anger", "boredom", "disgust", "fear", "happiness", "neutral", "sadness"]
    assert map_labels(emodb, ravdess) == ["angry", None, "disgust", "fearful", "happy", "neutral", "sad"]
    assert map_labels(["boredom", "Anger"], ravdess, {"bored": "calm"}) == ["calm", "angry"]
    with pytest.raises(InputError, match="not one of the model's labels"):
        map_labels(["boredom"], ravdess, {"boredom": "sleepy"})
    with pytest.raises(InputError, match="boredom=calm"):
        parse_label_map("boredom")


def _corpus(dirpath, speakers, emotions, wavs):
    """A manifest of project-made example clips copied under new names (one clip per speaker x emotion)."""
    dirpath.mkdir()
    rows = []
    for s in speakers:
        for i, e in enumerate(emotions):
            name = f"{s}_{e}.wav"
            shutil.copy(wavs[(i + len(rows)) % len(wavs)], dirpath / name)
            rows.append({"path": name, "speaker": s, "gender": "female" if len(rows) % 2 else "male", "emotion": e})
    pd.DataFrame(rows).to_csv(dirpath / "manifest.csv", index=False)
    return str(dirpath / "manifest.csv")


@needs_tiny
def test_cli_train_records_the_extra_corpus(tmp_path, capsys):
    from explain_ser.cli import main

    wavs = sorted(EXAMPLES.glob("*.wav"))
    main_csv = _corpus(tmp_path / "mine", ["a", "b", "c", "d"], ["angry", "calm", "sad"], wavs)
    extra_csv = _corpus(tmp_path / "other", ["x", "y"], ["anger", "boredom", "sadness"], wavs)
    out = tmp_path / "ckpt"
    rc = main(["train", main_csv, "--extra-train", extra_csv, "--taps", "2", "--pooler", "mean", "--k", "2",
               "--val-speakers", "0", "--epochs", "1", "--quiet", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    t = json.loads((out / "config.json").read_text())["training"]
    (x,) = t["extra"]
    assert x["corpus"] == "other" and x["n_clips"] == 4 and x["speakers"] == ["x", "y"]
    assert x["mapping"] == {"anger": "angry", "sadness": "sad"} and x["left_out"] == {"boredom": 2}
    assert t["n_clips"] == 12 and t["speakers"] == ["a", "b", "c", "d"]  # the corpus' own clips, as before
    oof = pd.read_csv(out / "cv_predictions.csv")  # out-of-fold predictions of the corpus' own clips only
    assert len(oof) == 12 and set(oof["speaker"]) == {"a", "b", "c", "d"}
    card = (out / "MODEL_CARD.md").read_text()
    assert "Additional training data" in card and "anger -> angry" in card and "boredom (2 clips)" in card

    # an explicit mapping brings boredom in
    rc = main(["train", main_csv, "--extra-train", extra_csv, "--extra-map", "boredom=calm", "--taps", "2",
               "--pooler", "mean", "--k", "2", "--val-speakers", "0", "--epochs", "1", "--quiet", "--cv-only",
               "--out", str(tmp_path / "cv")])
    assert rc == 0
    x = json.loads((tmp_path / "cv" / "cv.json").read_text())["training"]["extra"][0]
    assert x["n_clips"] == 6 and x["mapping"]["boredom"] == "calm" and not x["left_out"]


@needs_tiny
@pytest.mark.parametrize("case,needle", [
    ("same", "shares 12 clips with"),
    ("nomatch", "maps onto the labels"),
    ("map_alone", "--extra-map boredom=calm: maps the emotions of --extra-train corpora; none given"),
    ("bad_target", "boredom=sleepy: 'sleepy' is not one of the model's labels"),
])
def test_extra_train_errors_are_one_line(case, needle, tmp_path, capsys):
    from explain_ser.cli import main

    wavs = sorted(EXAMPLES.glob("*.wav"))
    main_csv = _corpus(tmp_path / "mine", ["a", "b", "c", "d"], ["angry", "calm", "sad"], wavs)
    args = ["train", main_csv, "--taps", "2", "--pooler", "mean", "--val-speakers", "0", "--epochs", "1", "--quiet",
            "--out", str(tmp_path / "ckpt")]
    if case == "same":
        args += ["--extra-train", main_csv]
    elif case == "nomatch":
        args += ["--extra-train", _corpus(tmp_path / "other", ["x"], ["elated", "bored"], wavs)]
    elif case == "map_alone":
        args += ["--extra-map", "boredom=calm"]
    else:
        args += ["--extra-train", _corpus(tmp_path / "other", ["x"], ["boredom"], wavs), "--extra-map",
                 "boredom=sleepy"]
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == 2 and needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "ckpt").exists()
