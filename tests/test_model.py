"""SERModel: tap selection, weights export, checkpoint round trip and encoder-mismatch errors."""

import json

import numpy as np
import pytest
import torch

from explain_ser.errors import InputError
from explain_ser.model import (SERModel, available_checkpoints, load_checkpoint, pad_batch, predict_proba,
                               save_checkpoint)

ENC = {"source": "tiny.en", "weights_hash": "ab" * 32, "dim": 8, "n_taps": 5, "window": "trim"}


def make(**kw):
    torch.manual_seed(0)
    args = dict(labels=["a", "b", "c"], dim=8, taps=[2], n_taps=5, pooler="mhaap", pooler_hparams={"n_heads": 2})
    args.update(kw)
    return SERModel(**args).eval()


def test_tap_selection_all_taps_or_own_taps():
    m = make()
    x = torch.randn(2, 5, 6, 8)
    assert torch.allclose(m(x), m(x[:, [2]])) and torch.allclose(m(x), m(x[:, 2]))


def test_weighted_taps_mix_and_report():
    m = make(taps=[1, 2, 3], pooler="mean")
    assert m.layer_weights() == pytest.approx({1: 1 / 3, 2: 1 / 3, 3: 1 / 3})
    x = torch.randn(2, 5, 6, 8)
    assert m(x).shape == (2, 3) and torch.allclose(m(x), m(x[:, 1:4]))
    (m(x).sum()).backward()
    assert m.layer_logits.grad is not None and float(m.layer_logits.grad.abs().sum()) > 0


def test_standardization_is_applied():
    m = make(pooler="mean")
    x = torch.randn(1, 5, 4, 8)
    m.set_standardization(np.full((1, 8), 3.0), np.full((1, 8), 2.0))
    assert torch.allclose(m.frames(x), (x[:, 2] - 3) / 2)


def test_forward_with_weights_names_and_padding():
    m = make(pooler="mqmha", pooler_hparams={"n_heads": 2, "n_queries": 2})
    x, mask = pad_batch([np.random.randn(5, 6, 8), np.random.randn(5, 3, 8)])
    logits, w = m.forward_with_weights(x, mask)
    assert list(w) == ["q0h0", "q0h1", "q1h0", "q1h1"]
    assert all(torch.all(v[1, 3:] == 0) and torch.allclose(v.sum(-1), torch.ones(2)) for v in w.values())
    assert torch.allclose(logits, m(x, mask))


def test_eval_is_deterministic_with_dropout():
    m = make(dropout=0.5, input_dropout=0.5, pooler="transformer", pooler_hparams={"n_heads": 2, "dropout": 0.5})
    x = torch.randn(2, 5, 6, 8)
    assert torch.equal(m(x), m(x))


def test_predict_proba_variable_lengths():
    m = make()
    arrays = [np.random.randn(5, t, 8).astype(np.float16) for t in (3, 7, 5)]
    p = predict_proba(m, arrays, batch_size=2)
    single = predict_proba(m, arrays[1:2])
    assert p.shape == (3, 3) and np.allclose(p.sum(1), 1, atol=1e-5) and np.allclose(p[1], single[0], atol=1e-5)


@pytest.mark.parametrize("pooler,hp", [("mhaap", {"n_heads": 2}), ("qkv", {"tanh_bound": True}),
                                       ("mqmha", {"n_queries": 3, "n_heads": 2}), ("transformer", {"n_heads": 2}),
                                       ("mean", {})])
def test_checkpoint_round_trip(tmp_path, pooler, hp):
    m = make(pooler=pooler, pooler_hparams=hp, taps=[1, 3])
    m.set_standardization(np.random.rand(2, 8), np.random.rand(2, 8) + 0.5)
    with torch.no_grad():
        m.layer_logits.copy_(torch.tensor([0.3, -0.2]))
    save_checkpoint(m, tmp_path / "ck", ENC, training={"corpus": "synthetic"}, metrics={"ua": 0.5})
    cfg = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert cfg["encoder"] == ENC and cfg["model"]["pooler"] == pooler and cfg["explain_ser_version"]
    m2 = load_checkpoint(tmp_path / "ck", encoder=ENC)
    x = torch.randn(2, 5, 6, 8)
    assert torch.equal(m(x), m2(x))
    assert m2.checkpoint["training"] == {"corpus": "synthetic"} and not m2.training
    assert load_checkpoint(tmp_path / "ck" / "config.json").labels == ["a", "b", "c"]


@pytest.mark.parametrize("change,msg", [({"dim": 16}, "dim 16"), ({"weights_hash": "cd" * 32}, "weights"),
                                        ({"window": "full"}, "window"), ({"n_taps": 7}, "taps")])
def test_checkpoint_refuses_other_encoder(tmp_path, change, msg):
    save_checkpoint(make(), tmp_path / "ck", ENC)
    with pytest.raises(InputError, match=msg):
        load_checkpoint(tmp_path / "ck", encoder={**ENC, **change})


def test_checkpoint_accepts_encoder_object(tmp_path):
    class Enc:
        source, weights_hash, dim, n_taps, window = "tiny.en", "ab" * 32, 8, 5, "trim"

    save_checkpoint(make(), tmp_path / "ck", ENC)
    assert load_checkpoint(tmp_path / "ck", encoder=Enc()).dim == 8


def test_unknown_checkpoint_is_input_error(tmp_path):
    with pytest.raises(InputError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "nothing-here")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    with pytest.raises(InputError, match="unreadable"):
        load_checkpoint(tmp_path / "bad")


@pytest.mark.parametrize("name", available_checkpoints())
def test_shipped_checkpoints_load_and_run(name):
    m = load_checkpoint(name)
    enc = m.checkpoint["encoder"]
    x = torch.randn(1, enc["n_taps"], 20, enc["dim"])
    logits, w = m.forward_with_weights(x, None)
    assert logits.shape == (1, len(m.labels)) and m.pooler_name != "" and w
    card = m.checkpoint_dir / "MODEL_CARD.md"
    assert card.is_file() and "UA" in card.read_text()
    cfg = m.checkpoint["training"]["config"]
    if cfg.get("average_last"):  # the card states every non-default training option
        assert f"weights averaged over the ends of the last {cfg['average_last']} epochs" in card.read_text()


def _ensemble(k=3, **kw):
    from explain_ser.model import EnsembleModel

    members = []
    for seed in range(k):
        torch.manual_seed(seed)
        args = dict(labels=["a", "b", "c"], dim=8, taps=[1, 2], n_taps=5, pooler="qkv", pooler_hparams={"n_heads": 2})
        members.append(SERModel(**{**args, **kw}).eval())
    return EnsembleModel(members).eval(), members


def test_ensemble_averages_member_probabilities_and_exports_their_heads():
    ens, members = _ensemble()
    x, mask = torch.randn(2, 5, 7, 8), torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    p = torch.softmax(ens(x, mask), -1)
    assert torch.allclose(p, torch.stack([torch.softmax(m(x, mask), -1) for m in members]).mean(0), atol=1e-6)
    logits, w = ens.forward_with_weights(x, mask)
    assert list(w) == ens.head_names == [f"m{k}.h{h}" for k in range(3) for h in range(2)]
    assert ens.pooler_name == "qkv"
    assert torch.equal(w["m1.h0"], members[1].forward_with_weights(x, mask)[1]["h0"])
    assert float(w["m2.h1"][1, 4:].detach().abs().sum()) == 0.0
    with pytest.raises(AssertionError, match="share labels, taps"):
        type(ens)([members[0], make(taps=[2], dim=8)])


def test_ensemble_checkpoint_round_trip(tmp_path):
    from explain_ser.model import EnsembleModel

    ens, _ = _ensemble(k=2)
    save_checkpoint(ens, tmp_path / "ck", ENC, seeds={"members": [0, 1]})
    cfg = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert cfg["model"]["members"] == 2
    back = load_checkpoint(tmp_path / "ck", encoder=ENC)
    assert isinstance(back, EnsembleModel) and len(back.members) == 2
    x = torch.randn(3, 5, 6, 8)
    assert torch.allclose(back(x), ens(x), atol=1e-6)
