"""Selection-aware CV (``explain-ser cv-select``), the speaker-bootstrap CI of UA and ``evaluate --classes``."""

import json

import numpy as np
import pandas as pd
import pytest

from _env import EXAMPLES, needs_tiny
from explain_ser.errors import InputError
from explain_ser.metrics import classification_metrics, ua_speaker_ci
from explain_ser.oof import nested_selection
from explain_ser.stats import seeded_resample_counts


def _run(correct_per_fold, n=10, seed=0):
    """An out-of-fold frame of 3 folds x ``n`` clips (2 classes) whose fold f has ``correct_per_fold[f]`` right."""
    rng = np.random.default_rng(seed)
    rows = []
    for f, k in enumerate(correct_per_fold):
        right = np.zeros(n, bool)
        right[rng.choice(n, k, replace=False)] = True
        for i in range(n):
            true = "x" if i % 2 else "y"
            pred = true if right[i] else ("y" if true == "x" else "x")
            rows.append({"clip_id": f"f{f}c{i}", "speaker": f"s{f}{i % 2}", "fold": f"fold{f}", "emotion": true,
                         "predicted": pred, "p_x": float(pred == "x"), "p_y": float(pred == "y")})
    return pd.DataFrame(rows)


def test_nested_choice_uses_only_the_other_folds_and_matches_a_hand_computation():
    runs = [_run([10, 5, 5]), _run([5, 9, 5]), _run([6, 6, 7])]
    names = ["A", "B", "C"]
    ua = np.array([[classification_metrics(r[r.fold == f].emotion, r[r.fold == f].predicted, ["x", "y"])["ua"]
                    for f in ("fold0", "fold1", "fold2")] for r in runs])
    res = nested_selection(runs, names)
    for j, d in enumerate(res["per_fold"]):
        best = int(np.argmax(np.delete(ua, j, axis=1).mean(1)))
        assert d["chosen"] == names[best] and d["score"] == pytest.approx(ua[best, j])
    assert res["nested"]["mean"] == pytest.approx(np.mean([d["score"] for d in res["per_fold"]]))
    assert res["winner"] == names[int(np.argmax(ua.mean(1)))]
    assert res["winner_cv"]["mean"] == pytest.approx(ua.mean(1).max())
    # a search whose winner's luck does not repeat: the nested estimate is below the winner's own CV
    assert res["nested"]["mean"] < res["winner_cv"]["mean"]
    # with one candidate there is nothing to select: nested == plain
    one = nested_selection(runs[:1], ["A"])
    assert one["nested"]["mean"] == pytest.approx(one["winner_cv"]["mean"])


def test_nested_selection_refuses_runs_on_other_folds_or_a_single_fold():
    a, b = _run([10, 5, 5]), _run([5, 9, 5])
    with pytest.raises(InputError, match="b: was not cross-validated on the same clips and folds as a"):
        nested_selection([a, b.assign(fold=b["fold"].replace({"fold0": "fold1", "fold1": "fold0"}))], ["a", "b"])
    with pytest.raises(InputError, match="at least 2"):
        nested_selection([a.assign(fold="fold0")], ["a"])


def test_cli_cv_select_json_and_one_line_refusal(tmp_path, capsys):
    from explain_ser.cli import main

    for name, k in (("A", [10, 5, 5]), ("B", [5, 9, 5])):
        (tmp_path / name).mkdir()
        _run(k).to_csv(tmp_path / name / "cv_predictions.csv", index=False)
    assert main(["cv-select", str(tmp_path / "A"), str(tmp_path / "B"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    direct = nested_selection([_run([10, 5, 5]), _run([5, 9, 5])], [str(tmp_path / "A"), str(tmp_path / "B")])
    assert out["nested"] == pytest.approx(direct["nested"]) and out["winner"] == direct["winner"]
    assert main(["cv-select", str(tmp_path / "A"), str(tmp_path / "B")]) == 0
    text = capsys.readouterr().out
    assert "selection-aware CV (nested): UA" in text and "plain CV of the winner" in text
    other = _run([5, 9, 5]).iloc[:20]  # two of the three folds: another set of clips
    other.to_csv(tmp_path / "other.csv", index=False)
    assert main(["cv-select", str(tmp_path / "A"), str(tmp_path / "other.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "other.csv: was not cross-validated on the same clips and folds" in err


def test_speaker_bootstrap_ci_recomputes_ua_on_resampled_speakers():
    rng = np.random.default_rng(3)
    spk = np.repeat([f"s{i}" for i in range(6)], 8)
    y = rng.choice(["a", "b", "c"], len(spk))
    p = np.where(rng.random(len(spk)) < 0.7, y, rng.choice(["a", "b", "c"], len(spk)))
    r = ua_speaker_ci(y, p, spk, ["a", "b", "c"], n_boot=300, seed=5)
    assert r["ua"] == pytest.approx(classification_metrics(y, p, ["a", "b", "c"])["ua"])
    # replicate by replicate, by brute force with the same resampling counts
    m = seeded_resample_counts(6, 300, 5)
    uniq = np.unique(spk)
    reps = []
    for row in m:
        idx = np.concatenate([np.repeat(np.where(spk == s)[0][None], int(c), 0).ravel() for s, c in zip(uniq, row)])
        reps.append(classification_metrics(y[idx], p[idx], ["a", "b", "c"])["ua"])
    lo, hi = np.quantile(reps, [0.025, 0.975])
    assert r["low"] == pytest.approx(lo) and r["high"] == pytest.approx(hi) and r["low"] < r["ua"] < r["high"]
    one = ua_speaker_ci(y[:8], p[:8], spk[:8], ["a", "b", "c"], n_boot=50)  # one speaker: no spread
    assert one["low"] == pytest.approx(one["ua"]) == pytest.approx(one["high"])


def test_unknown_class_is_one_line_exit_2_nothing_written(tmp_path, capsys):
    from explain_ser.cli import main
    from explain_ser.commands.evaluate import _shared_classes

    assert _shared_classes("angry,happy,neutral,sad", ["anger", "boredom", "happiness", "neutral", "sadness"]) == \
        ["anger", "happiness", "neutral", "sadness"]
    (tmp_path / "m.csv").write_text("path,emotion,speaker\nnone.wav,angry,1\n")
    rc = main(["evaluate", str(tmp_path / "m.csv"), "--classes", "angry,bored", "--predictions",
               str(tmp_path / "p.csv"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "unknown class 'bored'" in err and not (tmp_path / "p.csv").exists()
    assert main(["evaluate", str(tmp_path / "m.csv"), "--classes", "angry,anger", "--quiet"]) == 2
    assert "names a class twice" in capsys.readouterr().err


@needs_tiny
def test_cli_evaluate_classes_is_the_argmax_over_the_shared_classes(tmp_path, capsys):
    from explain_ser.checkpoint import Checkpoint
    from explain_ser.cli import main
    from explain_ser.corpora import load_manifest_or_dir
    from explain_ser.features import FeatureStore, features_for_manifest
    from explain_ser.model import predict_proba
    from test_extra_train import _corpus

    wavs = sorted(EXAMPLES.glob("*.wav"))
    csv = _corpus(tmp_path / "emo", ["03", "08"], ["anger", "sadness", "boredom"], wavs)  # EmoDB spellings
    rc = main(["evaluate", csv, "--checkpoint", "ravdess-tiny.en-single", "--classes", "angry,sad", "--json",
               "--predictions", str(tmp_path / "p.csv"), "--n-boot", "200"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["classes"] == ["angry", "sad"] and out["left_out"] == 2 and out["n"] == 4
    ck = Checkpoint.load("ravdess-tiny.en-single")
    df = load_manifest_or_dir(csv)
    df = df[df["emotion"] != "boredom"].reset_index(drop=True)
    probs = predict_proba(ck.model, features_for_manifest(df, ck.encoder(), FeatureStore(None), layers=ck.model.taps,
                                                          progress=False))
    cols = [ck.model.labels.index("angry"), ck.model.labels.index("sad")]
    pred = np.array(["angry", "sad"])[probs[:, cols].argmax(1)]
    truth = df["emotion"].map({"anger": "angry", "sadness": "sad"})
    assert out["ua"] == pytest.approx(classification_metrics(truth, pred, ["angry", "sad"])["ua"])
    assert pd.read_csv(tmp_path / "p.csv")["predicted"].tolist() == pred.tolist()
    assert out["ua_ci"]["n_speakers"] == 2 and out["ua_ci"]["low"] <= out["ua"] <= out["ua_ci"]["high"]


def test_evaluate_warns_only_when_the_checkpoint_heard_these_speakers_or_this_corpus(capsys):
    from types import SimpleNamespace

    from explain_ser.commands.evaluate import _warn_if_seen

    ck = SimpleNamespace(training={"corpus": "ravdess", "speakers": ["Actor_01", "Actor_02"],
                                   "extra": [{"corpus": "emodb"}]})
    _warn_if_seen(ck, "corpora/ravdess/manifest.csv", pd.DataFrame({"speaker": ["Actor_05"]}))
    assert capsys.readouterr().err == ""  # same corpus, unseen speakers: held out by speaker
    _warn_if_seen(ck, "corpora/ravdess/manifest.csv", pd.DataFrame({"speaker": ["Actor_01", "Actor_05"]}))
    assert "1 of these speakers were trained on" in capsys.readouterr().err
    _warn_if_seen(ck, "corpora/emodb/manifest.csv", pd.DataFrame({"speaker": ["03"]}))
    assert "trained on clips of this corpus (emodb)" in capsys.readouterr().err
    _warn_if_seen(ck, "corpora/cremad/manifest.csv", pd.DataFrame({"speaker": ["1001"]}))
    assert capsys.readouterr().err == ""
