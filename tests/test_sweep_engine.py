"""Cross-validation folds, the tap x pooler sweep and the randomisation check as tasks on the Dask engine.

Every (configuration, fold) is a task on a real LocalCluster of 2 worker processes; its results must be
identical, to the last digit, to the same folds run in this process, also when a worker is killed mid-sweep.
One cluster serves the module, because starting one costs seconds.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import torch

from _env import kill_a_worker_midway, needs_espeak, needs_tiny
from explain_ser.cli import main
from explain_ser.engine import engine
from explain_ser.splits import make_folds
from explain_ser.sweep import Corpus, sweep
from explain_ser.train import FeatureSet, TrainConfig, cross_validate

LABELS = ["0", "1", "2"]
KW = {"dim": 12, "taps": [1], "n_taps": 3, "hidden": 16, "dropout": 0.1}


def synthetic(n_spk=4, per=9, n_cls=3, D=12, L=3, seed=0):
    """Class c adds a class-specific direction to a few frames of tap 1 (taps 0 and 2 are noise)."""
    rng = np.random.default_rng(seed)
    dirs = rng.normal(size=(n_cls, D)) * 2
    arrays, y, rows = [], [], []
    for s in range(n_spk):
        for i in range(per):
            t = int(rng.integers(6, 16))
            a = rng.normal(size=(L, t, D))
            a[1, rng.choice(t, size=3, replace=False)] += dirs[i % n_cls]
            arrays.append(a.astype(np.float32))
            y.append(i % n_cls)
            rows.append({"speaker": f"s{s}", "gender": "mf"[s % 2], "emotion": str(i % n_cls)})
    return arrays, np.array(y), pd.DataFrame(rows)


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of 2 worker processes (what ``--jobs 2`` starts).

    A spawned worker first re-runs the parent's ``__main__`` script, and test_explorer's Streamlit AppTest
    leaves its app there for the rest of the session (the worker then dies at start). The workers only run
    explain_ser functions, so while this module's cluster lives (restarts included) ``__main__`` is bare.
    """
    import sys
    import types

    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        with engine(jobs=2) as c:
            assert len(c.scheduler_info()["workers"]) == 2
            yield c
    finally:
        sys.modules["__main__"] = main


@pytest.fixture(scope="module")
def corpus():
    arrays, y, df = synthetic()
    return Corpus(df, FeatureSet(arrays), y, LABELS, {"source": "synthetic", "dim": 12, "n_taps": 3,
                                                       "window": "trim"}, "synthetic.csv")


SWEEP = {"taps": [0, 1, 2], "poolers": ["mean", "qkv"], "config": TrainConfig(epochs=12, patience=20, seed=3)}


@pytest.fixture(scope="module")
def sweep_here(corpus):
    """The reference: the sweep in this process."""
    folds = make_folds(corpus.manifest, "speakers", k=2, n_val=1)
    return folds, sweep(corpus, folds, SWEEP["taps"], SWEEP["poolers"], SWEEP["config"], model_kwargs={"hidden": 16},
                        progress=False)


def _same_table(a: pd.DataFrame, b: pd.DataFrame):
    """Equal to the last digit, apart from the wall time."""
    pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"), check_exact=True)


def _without_seconds(folds: list[dict]) -> list[dict]:
    return [{k: v for k, v in f.items() if k != "seconds"} for f in folds]


def test_cv_folds_on_two_workers_equal_in_process(corpus, client):
    folds = make_folds(corpus.manifest, "speakers", k=1, n_val=1)
    kw = {**KW, "pooler": "qkv", "pooler_hparams": {"n_heads": 2}}
    cfg = TrainConfig(epochs=6, seed=1)
    here = cross_validate(corpus.data, corpus.y, folds, labels=LABELS, model_kwargs=kw, config=cfg, keep_models=True)
    there = cross_validate(corpus.data, corpus.y, folds, labels=LABELS, model_kwargs=kw, config=cfg, keep_models=True,
                           client=client)
    assert len(here.folds) == 4 and _without_seconds(here.folds) == _without_seconds(there.folds)
    assert np.array_equal(here.probs, there.probs) and np.array_equal(here.pred, there.pred)
    for a, b in zip(here.models, there.models):  # the fold models themselves, bit for bit
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_sweep_on_two_workers_gives_the_in_process_table(corpus, client, sweep_here):
    folds, ref = sweep_here
    rows = []
    table = sweep(corpus, folds, SWEEP["taps"], SWEEP["poolers"], SWEEP["config"], model_kwargs={"hidden": 16},
                  progress=False, on_row=rows.append, client=client)
    assert len(ref) == 6 and list(ref.columns) == list(table.columns)
    _same_table(ref, table)
    assert sorted(map(str, rows)) == sorted(map(str, table.to_dict("records")))  # every row reported once
    assert ref["ua_mean"].nunique() > 1  # the configurations really differ: the comparison means something


def test_worker_killed_mid_sweep_gives_identical_table(corpus, client, sweep_here):
    """SIGKILL one worker while folds run: its folds are rerun elsewhere, the table does not change."""
    folds, ref = sweep_here
    rows, result = [], {}

    def run():
        result["table"] = sweep(corpus, folds, SWEEP["taps"], SWEEP["poolers"], SWEEP["config"],
                                model_kwargs={"hidden": 16}, progress=False, on_row=rows.append, client=client)

    done_at_kill, victim = kill_a_worker_midway(client, run, lambda: len(rows), wait_s=120, poll_s=0.01)
    assert 0 < done_at_kill < len(ref), "the kill must land mid-sweep"
    assert victim not in set(client.run(os.getpid).values())  # the Nanny replaced the killed worker
    _same_table(ref, result["table"])


def test_folds_run_on_the_same_torch_threads_here_as_on_a_worker(corpus, monkeypatch):
    """The thread count changes float sums: in this process a fold trains on config.threads, else 1 (a
    worker's count), never on torch's default."""
    import explain_ser.train as train_mod

    seen, real_fit = [], train_mod.fit
    monkeypatch.setattr(train_mod, "fit", lambda *a, **k: seen.append(torch.get_num_threads()) or real_fit(*a, **k))
    folds = make_folds(corpus.manifest, "speakers", k=2, n_val=1)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for threads in (None, 2):
            cross_validate(corpus.data, corpus.y, folds, labels=LABELS, model_kwargs={**KW, "pooler": "mean"},
                           config=TrainConfig(epochs=1, threads=threads))
    finally:
        torch.set_num_threads(before)
    assert seen == [1, 1, 2, 2]


def test_a_failing_fold_raises_its_error_from_the_workers(corpus, client):
    folds = make_folds(corpus.manifest, "speakers", k=2, n_val=1)
    kw = {**KW, "taps": [1], "pooler": "mean", "hidden": -4}  # a head of negative width cannot be built
    with pytest.raises(RuntimeError) as here:
        cross_validate(corpus.data, corpus.y, folds, labels=LABELS, model_kwargs=kw, config=TrainConfig(epochs=1))
    with pytest.raises(RuntimeError) as there:
        cross_validate(corpus.data, corpus.y, folds, labels=LABELS, model_kwargs=kw, config=TrainConfig(epochs=1),
                       client=client)
    assert str(there.value) == str(here.value)


def test_local_workers_are_capped_by_the_memory_their_copies_of_the_features_need(capsys):
    from argparse import Namespace

    from explain_ser.engine import jobs_within_memory

    gb = 1 << 30
    roomy, tight, remote = (Namespace(jobs=None, scheduler=None, cluster=None), Namespace(jobs=4, scheduler=None,
                            cluster=None), Namespace(jobs=4, scheduler="tcp://10.0.0.5:8786", cluster=None))
    jobs_within_memory(roomy, nbytes=gb, available=64 * gb)
    jobs_within_memory(tight, nbytes=4 * gb, available=16 * gb)  # 4 copies + one to send do not fit; 2 do
    jobs_within_memory(remote, nbytes=4 * gb, available=gb)  # a remote cluster's memory is not this machine's
    assert (roomy.jobs, tight.jobs, remote.jobs) == (None, 2, 4)
    assert capsys.readouterr().err.strip() == ("explain-ser: note: --jobs 4 -> 2 (2 workers): every worker would hold "
                                               "its own copy of the 4.0 GB of features, and 16.0 GB are free")


def test_contradictory_engine_options_fail_before_the_corpus_is_loaded(tmp_path, capsys):
    missing = str(tmp_path / "no_such_manifest.csv")  # never read: the options are refused first
    assert main(["sweep", missing, "--jobs", "0"]) == 2
    assert main(["train", missing, "--cv-only", "--scheduler", "tcp://127.0.0.1:1", "--cluster", "slurm"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "--jobs" in err[0] and "--scheduler" in err[1]
    assert "Traceback" not in "".join(err)


# ---- on real clips: the commands, and the randomisation check -------------------------------------------

WORDS = [["come", "back", "soon"], ["kids", "are", "talking"], ["open", "the", "door"], ["my", "hands", "are", "cold"],
         ["the", "sun", "is", "out"], ["we", "can", "go", "now"]]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Six espeak-ng clips of three speakers and two emotions, as a manifest."""
    import soundfile as sf

    from _speech import words_with_gaps

    d = tmp_path_factory.mktemp("sweep_clips")
    rows = []
    for i, words in enumerate(WORDS):
        x, _ = words_with_gaps(words, gaps=0.1, speed=130 + 20 * (i % 2))
        sf.write(d / f"c{i}.wav", x, 16000)
        rows.append({"path": str(d / f"c{i}.wav"), "clip_id": f"c{i}", "speaker": f"s{i // 2}",
                     "gender": "mf"[i % 2], "emotion": ["calm", "angry"][i % 2], "transcript": " ".join(words)})
    pd.DataFrame(rows).to_csv(d / "m.csv", index=False)
    return d


@needs_tiny
@needs_espeak
@pytest.mark.slow
def test_sweep_and_train_commands_on_the_engine_match_jobs_1(clips, client, tmp_path):
    import json

    addr = client.scheduler.address
    common = [str(clips / "m.csv"), "--epochs", "3", "--val-speakers", "1", "--hidden", "16", "--quiet"]
    sweep_args = ["sweep", *common, "--taps", "1,2", "--poolers", "mean,qkv"]
    assert main([*sweep_args, "--out", str(tmp_path / "one.csv"), "--jobs", "1"]) == 0
    assert main([*sweep_args, "--out", str(tmp_path / "two.csv"), "--scheduler", addr]) == 0
    one, two = pd.read_csv(tmp_path / "one.csv"), pd.read_csv(tmp_path / "two.csv")
    assert len(one) == 4 and (one["n_folds"] == 3).all()
    _same_table(one, two)
    train_args = ["train", *common, "--taps", "2", "--pooler", "qkv", "--cv-only"]
    assert main([*train_args, "--out", str(tmp_path / "t1"), "--jobs", "1"]) == 0
    assert main([*train_args, "--out", str(tmp_path / "t2"), "--scheduler", addr]) == 0
    cv = [json.loads((tmp_path / t / "cv.json").read_text())["metrics"]["cv"] for t in ("t1", "t2")]
    assert _without_seconds(cv[0]["per_fold"]) == _without_seconds(cv[1]["per_fold"])
    assert cv[0]["summary"] == cv[1]["summary"] and cv[0]["pooled"] == cv[1]["pooled"]


@needs_tiny
@needs_espeak
@pytest.mark.slow
def test_randomisation_check_on_the_engine_equals_in_process(clips, client, tmp_path):
    from explain_ser.api import Explainer
    from explain_ser.batch import randomization_checks
    from explain_ser.corpora import load_manifest_or_dir
    from explain_ser.features import FeatureStore

    manifest = load_manifest_or_dir(clips / "m.csv").head(3)
    ex = Explainer("ravdess-tiny.en", store=FeatureStore(tmp_path / "features"))
    there, fails_there = randomization_checks(manifest, ex, client=client, progress=False)
    here, fails_here = randomization_checks(manifest, ex, client=None, progress=False)
    assert fails_here == fails_there == []
    assert here["clip_id"].tolist() == ["c0", "c1", "c2"] and list(here.columns) == ["clip_id", "attention", "ig"]
    pd.testing.assert_frame_equal(here, there, check_exact=True)
    assert (here["attention"] < 0.999).all()  # a re-initialised model attends elsewhere: the check is live
