"""Attention export, captum attributions and faithfulness on a model trained on a planted-cue task."""

import numpy as np
import pytest
import torch

from explain_ser.explain.attention import attention_weights
from explain_ser.explain.attributions import attribute_frames
from explain_ser.explain.faithfulness import aopc, deletion_curves, randomization_check, spearman
from explain_ser.model import SERModel, pad_batch

D, T, CUE = 16, 40, slice(22, 27)


def planted_data(n=160, seed=0):
    """Class 1 clips carry a fixed direction in frames 22-26; everything else is noise."""
    cue = np.random.default_rng(123).standard_normal(D).astype(np.float32) * 2.0  # the same cue in every split
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, T, D)).astype(np.float32)
    y = rng.integers(0, 2, n)
    x[y == 1, 0, CUE] += cue
    return x, y


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    x, y = planted_data()
    model = SERModel(labels=["a", "b"], dim=D, taps=[0], n_taps=1, pooler="mhaap", pooler_hparams={"n_heads": 2},
                     hidden=32, dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xt, None), yt).backward()
        opt.step()
    model.eval()
    xs, ys = planted_data(40, seed=1)
    with torch.no_grad():
        acc = (model(torch.from_numpy(xs)).argmax(-1).numpy() == ys).mean()
    assert acc > 0.95, f"the planted task should be learnt (accuracy {acc})"
    return model, xs[ys == 1]


def test_exported_weights_match_the_pooler_and_sum_to_one(trained):
    model, xs = trained
    probs, att = attention_weights(model, xs[0])
    assert set(att) == {"h0", "h1", "mean"}
    for w in att.values():
        assert w.shape == (T,) and abs(w.sum() - 1) < 1e-6 and (w >= 0).all()
    # same weights as a padded batch forward through the model (padding gets exactly zero)
    x, mask = pad_batch([xs[0], xs[1][:, :30]])
    with torch.no_grad():
        logits, w = model.forward_with_weights(x, mask)
    assert np.allclose(w["h0"][0].numpy(), att["h0"], atol=1e-6)
    assert np.allclose(torch.softmax(logits, -1)[0].numpy(), probs, atol=1e-6)
    assert (w["h1"][1, 30:] == 0).all() and abs(float(w["h1"][1].sum()) - 1) < 1e-6
    _, again = attention_weights(model, xs[0])
    assert all(np.array_equal(att[k], again[k]) for k in att)


def test_ig_completeness(trained):
    model, xs = trained
    attr, info = attribute_frames(model, xs[0], methods=("ig",), n_steps=64)
    gap = info["p_target"] - info["ig_p_baseline"]
    assert abs(attr["ig"].sum() - gap) <= info["ig_delta"] + 1e-4
    assert info["ig_delta"] < 0.05 * max(abs(gap), 1e-3) + 1e-3


def test_occlusion_and_ig_find_the_planted_region(trained):
    model, xs = trained
    for x in xs[:5]:
        attr, info = attribute_frames(model, x, methods=("ig", "occlusion", "saliency"), occlusion_window=3)
        assert info["target_label"] == "b"
        assert CUE.start <= int(np.argmax(attr["occlusion"])) < CUE.stop
        assert CUE.start <= int(np.argmax(attr["ig"])) < CUE.stop


def test_deletion_by_attention_drops_faster_than_random(trained):
    model, xs = trained
    curves = []
    for i, x in enumerate(xs[:6]):
        _, att = attention_weights(model, x)
        c = deletion_curves(model, x, {"attention": att["mean"]}, n_random=5, seed=i)
        c["clip_id"] = i
        curves.append(c)
    import pandas as pd

    a = aopc(pd.concat(curves)).groupby("method")["aopc"].mean()
    assert a["attention"] > a["random"] + 0.1
    ins = pd.concat(curves)
    ins = ins[(ins.curve == "insertion") & (ins.fraction == 0.2)].groupby("method")["score"].mean()
    assert ins["attention"] > ins["random"]


def test_randomization_changes_the_explanations(trained):
    model, xs = trained
    sim = randomization_check(model, xs[0], methods=("ig",))
    assert sim["attention"] < 0.8 and sim["ig"] < 0.8


def test_spearman_edge_cases():
    assert spearman([1, 2, 3], [2, 4, 9]) == pytest.approx(1.0)
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


@pytest.mark.parametrize("taps,members", [([1], 1), ([0, 2], 1), ([0, 2], 2)])
def test_ig_on_frames_equals_ig_on_raw_features(taps, members):
    """attribute_frames integrates on the standardised (tap-mixed) frames; summed over taps and dims
    that must equal IG computed on the raw features, for one tap, a learned tap mixture and an ensemble."""
    from captum.attr import IntegratedGradients

    from explain_ser.explain.attributions import _baseline, _prob_fn
    from explain_ser.model import EnsembleModel

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    ms = []
    for k in range(members):
        m = SERModel(labels=list("abc"), dim=16, taps=taps, n_taps=3, pooler="qkv", pooler_hparams={"n_heads": 2}).eval()
        if m.layer_logits is not None:
            m.layer_logits.data = torch.tensor([0.4, -0.3 + k])
        m.set_standardization(rng.normal(size=(len(taps), 16)), rng.uniform(0.5, 2, size=(len(taps), 16)))
        ms.append(m)
    m = ms[0] if members == 1 else EnsembleModel(ms).eval()
    feats = rng.normal(size=(3, 30, 16)).astype(np.float32) * 2
    fast, info = attribute_frames(m, feats, methods=("ig",), n_steps=48)
    x = m.select_taps(torch.from_numpy(feats)[None])
    slow = IntegratedGradients(_prob_fn(m)).attribute(x, baselines=_baseline(m, x, "mean"), target=info["target"],
                                                      n_steps=48)[0].detach().sum(dim=(0, 2)).numpy()
    assert np.abs(slow).max() > 1e-4
    np.testing.assert_allclose(fast["ig"], slow, rtol=1e-4, atol=1e-7)


def test_ensemble_explanations(trained):
    """An ensemble of two copies of the trained model: IG stays complete, attention holds both members'
    heads (identical here), and the randomisation check changes every member."""
    import copy

    from explain_ser.model import EnsembleModel

    model, xs = trained
    ens = EnsembleModel([model, copy.deepcopy(model)]).eval()
    probs, att = attention_weights(ens, xs[0])
    p_single, att_single = attention_weights(model, xs[0])
    np.testing.assert_allclose(probs, p_single, atol=1e-6)
    assert set(att) == {"m0.h0", "m0.h1", "m1.h0", "m1.h1", "mean"}
    np.testing.assert_allclose(att["m1.h1"], att_single["h1"], atol=1e-7)
    attr, info = attribute_frames(ens, xs[0], methods=("ig", "occlusion"), n_steps=64)
    single, _ = attribute_frames(model, xs[0], methods=("ig", "occlusion"), n_steps=64)
    np.testing.assert_allclose(attr["ig"], single["ig"], atol=1e-5)
    np.testing.assert_allclose(attr["occlusion"], single["occlusion"], atol=1e-5)
    curves = deletion_curves(ens, xs[0], {"attention": att["mean"]})
    assert set(curves["method"]) == {"attention", "random"}
    sim = randomization_check(ens, xs[0], methods=("ig",))
    assert sim["attention"] < 0.9
