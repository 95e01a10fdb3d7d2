"""The lockbox (6 of RAVDESS' 18 actors locked away from recipe search) and EmoBox's RAVDESS folds."""

import json

import pandas as pd
import pytest

from _env import EXAMPLES, SHARED, needs_shared, needs_tiny
from explain_ser.errors import InputError
from explain_ser.splits import (EMOBOX_RAVDESS_FOLDS, LOCKBOX_FILE, draw_lockbox, emobox_coverage, load_lockbox,
                                lockbox_subset, make_folds)
from test_extra_train import _corpus
from test_splits import check_disjoint, corpus


def test_the_stored_lockbox_is_the_seeded_gender_balanced_draw():
    box = load_lockbox()
    assert len(box["locked"]) == 6 and len(box["dev"]) == 12 and not set(box["locked"]) & set(box["dev"])
    assert sorted(box["locked"] + box["dev"]) == [f"Actor_{i:02d}" for i in range(1, 19)]
    # RAVDESS: odd actors are male, even female -> 3 + 3 locked
    assert sorted(int(s[-2:]) % 2 for s in box["locked"]) == [0, 0, 0, 1, 1, 1]
    again = draw_lockbox(corpus(18, 2), n_locked=6, seed=box["seed"])  # same speakers and genders as RAVDESS
    assert again["locked"] == box["locked"] and again["dev"] == box["dev"]
    assert draw_lockbox(corpus(18, 2), 6, seed=box["seed"] + 1)["locked"] != box["locked"]  # the seed matters
    assert "rule" in json.loads(LOCKBOX_FILE.read_text())


@needs_shared
def test_the_lockbox_speakers_are_in_the_shared_ravdess_with_the_recorded_genders():
    from explain_ser.corpora import load_manifest_or_dir

    df = load_manifest_or_dir(SHARED / "corpora" / "ravdess" / "manifest.csv")
    assert draw_lockbox(df, 6, load_lockbox()["seed"])["locked"] == load_lockbox()["locked"]
    locked = lockbox_subset(df, "locked")
    assert len(locked) == 360 and set(locked["speaker"]) == set(load_lockbox()["locked"])


def test_lockbox_subset_keeps_one_part_and_refuses_a_manifest_without_its_speakers():
    df = corpus(18, 3)
    dev = lockbox_subset(df, "dev")
    assert sorted(dev["speaker"].unique()) == load_lockbox()["dev"] and len(dev) == 36
    with pytest.raises(InputError, match="lockbox locked speaker\\(s\\) Actor_05.* missing from the manifest"):
        lockbox_subset(df[df["speaker"] != "Actor_05"], "locked", name="m.csv")
    with pytest.raises(InputError, match="choose dev or locked"):
        lockbox_subset(df, "all")


def test_emobox_folds_cover_the_24_actors_once_in_six_folds_of_four():
    actors = [a for fold in EMOBOX_RAVDESS_FOLDS for a in fold]
    assert sorted(actors) == list(range(1, 25)) and all(len(f) == 4 for f in EMOBOX_RAVDESS_FOLDS)
    full = corpus(24, 2)
    folds = make_folds(full, "emobox", n_val=2)
    check_disjoint(full, folds)
    assert [f.name for f in folds] == [f"emobox{i}" for i in range(1, 7)]
    assert folds[0].test_speakers == ["Actor_01", "Actor_11", "Actor_20", "Actor_21"]
    assert emobox_coverage(full)["missing"] == []


def test_emobox_folds_on_the_18_actors_we_have_say_what_is_missing():
    df = corpus(18, 2)
    folds = make_folds(df, "emobox", n_val=0)
    check_disjoint(df, folds)
    assert [len(f.test_speakers) for f in folds] == [2, 4, 2, 3, 4, 3]  # EmoBox's folds minus actors 19-24
    assert sorted(emobox_coverage(df)["missing"]) == [19, 20, 21, 22, 23, 24]
    with pytest.raises(InputError, match="RAVDESS actors 1-24"):
        make_folds(pd.DataFrame({"speaker": ["03", "08", "x"], "emotion": ["a"] * 3}), "emobox")
    with pytest.raises(InputError, match="CV needs 2"):
        make_folds(corpus(1, 4), "emobox")


@needs_tiny
def test_cli_lockbox_speaker_missing_is_one_line_exit_2_nothing_written(tmp_path, capsys):
    from explain_ser.cli import main

    wavs = sorted(EXAMPLES.glob("*.wav"))
    csv = _corpus(tmp_path / "mine", ["Actor_01", "Actor_02", "Actor_03"], ["angry", "sad"], wavs)
    out = tmp_path / "run"
    rc = main(["train", csv, "--lockbox", "dev", "--taps", "2", "--pooler", "mean", "--cv-only", "--out", str(out),
               "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "lockbox dev speaker(s) Actor_04" in err and not out.exists()
    rc = main(["evaluate", csv, "--lockbox", "locked", "--predictions", str(tmp_path / "p.csv"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "lockbox locked speaker(s) Actor_05" in err
    assert not (tmp_path / "p.csv").exists()


@needs_tiny
def test_cli_train_final_only_writes_a_checkpoint_without_cv_whose_card_says_so(tmp_path, capsys):
    from explain_ser.checkpoint import read_config
    from explain_ser.cli import main

    wavs = sorted(EXAMPLES.glob("*.wav"))
    csv = _corpus(tmp_path / "mine", ["a", "b", "c"], ["angry", "sad"], wavs)
    out = tmp_path / "ck"
    assert main(["train", csv, "--taps", "2", "--pooler", "qkv", "--val-speakers", "0", "--epochs", "2",
                 "--final-only", "--out", str(out), "--quiet"]) == 0
    c = read_config(out)
    assert c["metrics"]["cv"] is None and c["training"]["final_epochs"] == 2 and c["training"]["n_clips"] == 6
    assert "`--final-only`" in (out / "MODEL_CARD.md").read_text() and not (out / "cv_predictions.csv").exists()
    capsys.readouterr()
    assert main(["evaluate", csv, "--checkpoint", str(out), "--quiet"]) == 0
    assert "UA" in capsys.readouterr().out
    assert main(["train", csv, "--final-only", "--out", str(tmp_path / "x"), "--quiet"]) == 2  # needs --val-speakers 0
    assert "--final-only" in capsys.readouterr().err and not (tmp_path / "x").exists()
