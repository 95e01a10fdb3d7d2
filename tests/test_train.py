"""Training: learns a separable synthetic task, is seeded, respects folds."""

import numpy as np
import pandas as pd
import pytest
import torch

from explain_ser.splits import make_folds
from explain_ser.train import FeatureSet, TrainConfig, cross_validate, fit


def synthetic(n_spk=6, per=24, n_cls=3, T=(8, 20), D=12, L=3, seed=0):
    """Class c puts a burst of a class-specific direction on a few frames of tap 1; taps 0 and 2 are noise."""
    rng = np.random.default_rng(seed)
    dirs = rng.normal(size=(n_cls, D)) * 2
    arrays, y, rows = [], [], []
    for s in range(n_spk):
        spk_shift = rng.normal(size=D) * 0.3
        for i in range(per):
            c = i % n_cls
            t = int(rng.integers(*T))
            a = rng.normal(size=(L, t, D)) + spk_shift
            where = rng.choice(t, size=3, replace=False)
            a[1, where] += dirs[c]
            arrays.append(a.astype(np.float32))
            y.append(c)
            rows.append({"speaker": f"s{s}", "gender": "male" if s % 2 else "female", "emotion": str(c)})
    return arrays, np.array(y), pd.DataFrame(rows)


KW = {"dim": 12, "taps": [1], "n_taps": 3, "hidden": 32, "dropout": 0.1}


@pytest.mark.parametrize("pooler", ["mean", "mhaap", "qkv", "mqmha", "transformer"])
def test_learns_separable_task(pooler):
    arrays, y, df = synthetic()
    data = FeatureSet(arrays)
    fold = make_folds(df, "speakers", k=2, n_val=1)[0]
    model, hist = fit(data, y, fold.train, fold.val, labels=["0", "1", "2"],
                      model_kwargs={**KW, "pooler": pooler, "pooler_hparams": {"n_heads": 2}},
                      config=TrainConfig(epochs=40, patience=40, lr=3e-3, seed=0))
    from explain_ser.train import evaluate

    p, _ = evaluate(model, data, fold.test)
    acc = (p.argmax(1) == y[fold.test]).mean()
    assert acc > 0.8, f"{pooler}: test accuracy {acc:.2f} (chance 0.33)"
    assert hist["best_epoch"] >= 1 and not model.training


def test_seeded_reproducible_and_standardized_on_train_only():
    arrays, y, df = synthetic(n_spk=4, per=12)
    data = FeatureSet(arrays)
    fold = make_folds(df, "speakers", k=1, n_val=1)[0]
    cfg = TrainConfig(epochs=5, seed=7)
    kw = {**KW, "pooler": "mhaap", "pooler_hparams": {"n_heads": 2}}
    m1, h1 = fit(data, y, fold.train, fold.val, labels=["0", "1", "2"], model_kwargs=kw, config=cfg)
    m2, h2 = fit(data, y, fold.train, fold.val, labels=["0", "1", "2"], model_kwargs=kw, config=cfg)
    assert h1["val_loss"] == h2["val_loss"]
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    mean, _ = data.standardization(fold.train, [1])
    assert np.allclose(m1.feat_mean.numpy(), mean)
    frames = np.concatenate([arrays[i][1] for i in fold.train])
    assert np.allclose(mean[0], frames.mean(0), atol=1e-2)


def test_fixed_epochs_without_validation_and_weighted_taps():
    arrays, y, df = synthetic(n_spk=2, per=12)
    data = FeatureSet(arrays, taps=[0, 1, 2])
    m, h = fit(data, y, np.arange(len(y)), None, labels=["0", "1", "2"],
               model_kwargs={**KW, "taps": [0, 1, 2], "pooler": "mean"},
               config=TrainConfig(epochs=3, class_weights=True, frame_drop=0.2, label_smoothing=0.1))
    assert h["epochs_run"] == 3 and h["best_epoch"] == 3 and len(m.layer_weights()) == 3


def test_feature_set_subset_of_taps():
    arrays, y, df = synthetic(n_spk=2, per=6)
    data = FeatureSet(arrays, taps=[1])
    x, mask = data.batch([0, 1])
    assert x.shape[1] == 1 and torch.allclose(x[0, 0, : mask[0].sum()], torch.from_numpy(arrays[0][1]))


def test_cross_validate_covers_every_clip_once():
    arrays, y, df = synthetic(n_spk=4, per=9)
    data = FeatureSet(arrays)
    folds = make_folds(df, "speakers", k=2, n_val=1)
    res = cross_validate(data, y, folds, labels=["0", "1", "2"],
                         model_kwargs={**KW, "pooler": "mean"}, config=TrainConfig(epochs=3))
    assert (res.pred >= 0).all() and len(res.folds) == 2
    assert set(res.summary) == {"ua", "wa", "macro_f1"}
    assert 0 <= res.pooled_metrics(y)["ua"] <= 1


def test_cli_commands_parse():
    import argparse

    from explain_ser.commands import evaluate, sweep, train

    p = argparse.ArgumentParser()
    sub = p.add_subparsers()
    for mod in (train, evaluate, sweep):
        mod.add_parser(sub)
    a = p.parse_args(["train", "m.csv", "--taps", "1-3", "--pooler", "mhaap", "--out", "x"])
    assert a.func is train.run and a.taps == "1-3" and a.folds is None
    a = p.parse_args(["sweep", "m.csv", "--poolers", "mean,mqmha"])
    assert a.func is sweep.run and a.taps == "all"
    a = p.parse_args(["evaluate", "m.csv", "--checkpoint", "ravdess-tiny.en"])
    assert a.func is evaluate.run


def test_unknown_pooler_and_taps_are_input_errors():
    from explain_ser.errors import InputError
    from explain_ser.sweep import parse_taps, pooler_spec

    with pytest.raises(InputError):
        pooler_spec("lstm")
    with pytest.raises(InputError):
        parse_taps("7", 5)
    assert parse_taps("1,3", 5) == [1, 3] and pooler_spec("qkv-tanh")[1]["tanh_bound"]


def spy_on_fit(monkeypatch) -> list:
    """Record ``(train_idx, val_idx, labels)`` of every call of ``train.fit``, which still runs."""
    import explain_ser.train as train_mod

    seen = []
    real_fit = train_mod.fit

    def spy(data_, y_, train_idx, val_idx=None, **kw):
        seen.append((np.asarray(train_idx), np.asarray(val_idx), np.asarray(y_)))
        return real_fit(data_, y_, train_idx, val_idx, **kw)

    monkeypatch.setattr(train_mod, "fit", spy)
    return seen


def test_perturbed_copies_join_training_only(monkeypatch):
    arrays, y, df = synthetic(n_spk=4, per=6)
    n = len(y)
    data = FeatureSet(arrays + arrays)  # originals, then one "perturbed" copy of each
    folds = make_folds(df, "speakers", k=2, n_val=1)
    seen = spy_on_fit(monkeypatch)
    res = cross_validate(data, y, folds, labels=["0", "1", "2"], model_kwargs={**KW, "pooler": "mean"},
                         config=TrainConfig(epochs=2))
    for f, (tr, val, y_all) in zip(folds, seen):
        assert sorted(tr.tolist()) == sorted(f.train.tolist() + (f.train + n).tolist())
        assert (val < n).all() and set(val) == set(f.val)
        assert (y_all[f.train + n] == y[f.train]).all()
    assert len(res.pred) == n and (res.pred >= 0).all()
    with pytest.raises(AssertionError, match="whole number of copies"):
        cross_validate(FeatureSet(arrays + arrays[:3]), y, folds, labels=["0", "1", "2"],
                       model_kwargs={**KW, "pooler": "mean"}, config=TrainConfig(epochs=1))


def test_ensemble_members_use_consecutive_seeds():
    from explain_ser.model import EnsembleModel
    from explain_ser.train import fit_model

    arrays, y, df = synthetic(n_spk=4, per=6)
    data = FeatureSet(arrays)
    kw = {**KW, "pooler": "qkv", "pooler_hparams": {"n_heads": 2}}
    cfg = TrainConfig(epochs=2, seed=5, ensemble=2)
    ens, hist = fit_model(data, y, np.arange(len(y)), None, labels=["0", "1", "2"], model_kwargs=kw, config=cfg)
    assert isinstance(ens, EnsembleModel) and len(hist["members"]) == 2
    for k, member in enumerate(ens.members):  # member k is exactly the single model of seed 5 + k
        single, _ = fit(data, y, np.arange(len(y)), None, labels=["0", "1", "2"], model_kwargs=kw,
                        config=TrainConfig(epochs=2, seed=5 + k))
        for a, b in zip(member.state_dict().values(), single.state_dict().values()):
            assert torch.equal(a, b)
    assert not torch.equal(ens.members[0].pooler.q, ens.members[1].pooler.q)
    folds = make_folds(df, "speakers", k=2, n_val=1)
    res = cross_validate(data, y, folds, labels=["0", "1", "2"], model_kwargs=kw, config=cfg, keep_models=True)
    assert all(isinstance(m, EnsembleModel) for m in res.models) and (res.pred >= 0).all()


def test_mixup_schedule_and_weight_averaging():
    arrays, y, df = synthetic()
    data = FeatureSet(arrays)
    fold = make_folds(df, "speakers", k=2, n_val=0)[0]
    kw = {**KW, "pooler": "qkv", "pooler_hparams": {"n_heads": 2}}
    cfg = TrainConfig(epochs=30, lr=3e-3, seed=0, mixup=0.4, schedule="cosine", average_last=5)
    m1, h1 = fit(data, y, fold.train, None, labels=["0", "1", "2"], model_kwargs=kw, config=cfg)
    m2, _ = fit(data, y, fold.train, None, labels=["0", "1", "2"], model_kwargs=kw, config=cfg)
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    from explain_ser.train import evaluate

    p, _ = evaluate(m1, data, fold.test)
    assert (p.argmax(1) == y[fold.test]).mean() > 0.8
    # the averaged weights are not those of the last epoch
    last, _ = fit(data, y, fold.train, None, labels=["0", "1", "2"], model_kwargs=kw,
                  config=TrainConfig(epochs=30, lr=3e-3, seed=0, mixup=0.4, schedule="cosine"))
    assert not torch.equal(m1.head[0].weight, last.head[0].weight)


def test_weight_averaging_of_identical_epochs_is_the_identity():
    arrays, y, df = synthetic(n_spk=2, per=6)
    data = FeatureSet(arrays)
    kw = {**KW, "pooler": "mean"}
    # lr 0: every epoch ends with the initial weights, so their average must equal them exactly
    a, _ = fit(data, y, np.arange(len(y)), None, labels=["0", "1", "2"], model_kwargs=kw,
               config=TrainConfig(epochs=3, lr=0.0, seed=0, average_last=3))
    b, _ = fit(data, y, np.arange(len(y)), None, labels=["0", "1", "2"], model_kwargs=kw,
               config=TrainConfig(epochs=3, lr=0.0, seed=0))
    assert all(torch.allclose(p, q, atol=1e-7) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_cosine_schedule_ends_at_zero_and_unknown_is_rejected():
    from explain_ser.train import _schedule

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = _schedule(opt, TrainConfig(schedule="cosine"), steps=10)
    lrs = []
    for _ in range(10):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[4] == pytest.approx(0.5) and lrs[-1] == pytest.approx(0.0, abs=1e-12)
    assert _schedule(opt, TrainConfig(), steps=10) is None
    with pytest.raises(ValueError):
        _schedule(opt, TrainConfig(schedule="linear"), steps=10)


def test_distillation_returns_one_student_fit_to_the_teachers():
    from explain_ser.model import SERModel
    from explain_ser.train import evaluate, fit_model

    arrays, y, df = synthetic()
    data = FeatureSet(arrays)
    fold = make_folds(df, "speakers", k=2, n_val=0)[0]
    kw = {**KW, "pooler": "qkv", "pooler_hparams": {"n_heads": 2}}
    cfg = TrainConfig(epochs=25, lr=3e-3, seed=0, distill=2)
    student, hist = fit_model(data, y, fold.train, None, labels=["0", "1", "2"], model_kwargs=kw, config=cfg)
    assert isinstance(student, SERModel) and len(hist["teachers"]) == 2
    p, _ = evaluate(student, data, fold.test)
    assert (p.argmax(1) == y[fold.test]).mean() > 0.8
    again, _ = fit_model(data, y, fold.train, None, labels=["0", "1", "2"], model_kwargs=kw, config=cfg)
    assert all(torch.equal(a, b) for a, b in zip(student.state_dict().values(), again.state_dict().values()))
    # the student is not simply the seed-0 model trained on the labels
    plain, _ = fit_model(data, y, fold.train, None, labels=["0", "1", "2"], model_kwargs=kw,
                         config=TrainConfig(epochs=25, lr=3e-3, seed=0))
    assert not torch.equal(student.head[0].weight, plain.head[0].weight)
