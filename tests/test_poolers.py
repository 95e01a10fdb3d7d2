"""Contracts every pooler must honour (see explain_ser/poolers.py)."""

import math

import pytest
import torch

from explain_ser.poolers import POOLERS, QKVPool, build_pooler, masked_softmax

D = 16
CONFIGS = [
    ("mean", {}),
    ("mhaap", {"n_heads": 4}),
    ("qkv", {"n_heads": 1}),
    ("qkv", {"n_heads": 4, "query": "mean"}),
    ("qkv", {"n_heads": 2, "tanh_bound": True}),
    ("qkv", {"n_heads": 2, "stats": True}),
    ("mqmha", {"n_heads": 4, "n_queries": 2}),
    ("mqmha", {"n_heads": 2, "n_queries": 3, "hidden": 0}),
    ("transformer", {"n_heads": 4}),
    ("transformer", {"n_heads": 2, "d_model": 8}),
    ("qkv", {"n_heads": 1, "temperature": True}),
    ("qkv", {"n_heads": 2, "score": "additive", "score_hidden": 8}),
    ("qkv", {"n_heads": 1, "normalizer": "sparsemax", "temperature": True}),
    ("qkv", {"n_heads": 2, "normalizer": "entmax15", "score": "additive", "score_hidden": 8}),
    ("mhaap", {"n_heads": 2, "normalizer": "sparsemax"}),
    ("mqmha", {"n_heads": 2, "n_queries": 2, "normalizer": "entmax15", "temperature": True}),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw in CONFIGS]


def make(name, kw, seed=0):
    torch.manual_seed(seed)
    return build_pooler(name, D, **kw).eval()


def batch(seed=1, lengths=(9, 5, 1)):
    g = torch.Generator().manual_seed(seed)
    T = max(lengths)
    x = torch.randn(len(lengths), T, D, generator=g)
    mask = torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]
    return x, mask


def test_registry_covers_all_poolers():
    assert set(POOLERS) == {"mean", "mhaap", "qkv", "mqmha", "transformer"}


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_shapes_sum_to_one_zero_on_padding(name, kw):
    pool = make(name, kw)
    x, mask = batch()
    pooled, w = pool(x, mask)
    assert pooled.shape == (3, pool.out_dim)
    assert w.shape == (3, pool.n_heads, x.shape[1]) and len(pool.head_names) == pool.n_heads
    assert torch.allclose(w.sum(-1), torch.ones(3, pool.n_heads), atol=1e-5)
    assert torch.all(w[~mask[:, None, :].expand_as(w)] == 0)
    assert torch.all(w >= 0) and torch.isfinite(pooled).all()


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_padding_content_changes_nothing(name, kw):
    pool = make(name, kw)
    x, mask = batch()
    x2 = x.clone()
    x2[~mask] = torch.randn(int((~mask).sum()), D) * 100
    p1, w1 = pool(x, mask)
    p2, w2 = pool(x2, mask)
    assert torch.allclose(p1, p2, atol=1e-5) and torch.equal(w1, w2)


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_batch_padding_invariance(name, kw):
    """A clip pooled alone gives what it gives inside a padded batch."""
    pool = make(name, kw)
    x, mask = batch()
    p, w = pool(x, mask)
    p1, w1 = pool(x[1:2, :5], None)
    assert torch.allclose(p[1], p1[0], atol=1e-5)
    assert torch.allclose(w[1, :, :5], w1[0], atol=1e-6)


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_deterministic_in_eval(name, kw):
    pool = make(name, kw)
    x, mask = batch()
    p1, w1 = pool(x, mask)
    p2, w2 = pool(x, mask)
    assert torch.equal(p1, p2) and torch.equal(w1, w2)


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_keep_mask_equals_removing_frames(name, kw):
    pool = make(name, kw)
    x, mask = batch(lengths=(9,))
    keep = torch.ones(1, 9)
    keep[0, [2, 5, 6]] = 0
    p, w = pool(x, mask, keep=keep)
    idx = keep[0].bool()
    p_sub, w_sub = pool(x[:, idx], None)
    assert torch.allclose(p, p_sub, atol=1e-5)
    assert torch.all(w[:, :, ~idx] == 0)
    assert torch.allclose(w[:, :, idx], w_sub, atol=1e-6)


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_gradients_flow(name, kw):
    pool = make(name, kw).train()
    x, mask = batch()
    x.requires_grad_(True)
    pooled, w = pool(x, mask)
    (pooled.square().sum() + w.square().sum()).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert torch.all(x.grad[~mask] == 0), "padding frames must get no gradient"
    params = [p for p in pool.parameters()]
    if name != "mean":
        assert params and all(p.grad is not None and torch.isfinite(p.grad).all() for p in params)


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_empty_row_gives_zeros_not_nan(name, kw):
    pool = make(name, kw)
    x, mask = batch()
    keep = torch.ones(mask.shape)
    keep[2] = 0  # remove every frame of clip 2
    pooled, w = pool(x, mask, keep=keep)
    assert torch.isfinite(pooled).all() and torch.all(w[2] == 0)


def test_transformer_dropout_only_in_training():
    pool = make("transformer", {"n_heads": 2, "dropout": 0.5})
    x, mask = batch()
    pool.train()
    assert not torch.equal(pool(x, mask)[0], pool(x, mask)[0])
    pool.eval()
    assert torch.equal(pool(x, mask)[0], pool(x, mask)[0])


def test_tanh_bound_limits_weight_ratio():
    torch.manual_seed(0)
    x = torch.randn(4, 50, D) * 50  # large scores: unbounded attention concentrates
    for h in (1, 4):
        bounded = QKVPool(D, n_heads=h, tanh_bound=True).eval()
        free = QKVPool(D, n_heads=h).eval()
        free.load_state_dict(bounded.state_dict())
        _, wb = bounded(x, None)
        _, wf = free(x, None)
        ratio_b = (wb.max(-1).values / wb.min(-1).values).max().item()
        ratio_f = (wf.max(-1).values / wf.min(-1).values).max().item()
        assert ratio_b <= math.e**2 * (1 + 1e-5)
        assert ratio_f > math.e**2
        assert wb.max().item() <= math.e**2 / (math.e**2 + 49) + 1e-6  # the most one frame of 50 can get


def test_masked_softmax_soft_keep():
    scores = torch.zeros(1, 1, 4)
    valid = torch.ones(1, 4, dtype=torch.bool)
    w = masked_softmax(scores, valid, torch.log(torch.tensor([[1.0, 1.0, 0.5, 0.5]])))
    assert torch.allclose(w, torch.tensor([[[1 / 3, 1 / 3, 1 / 6, 1 / 6]]]))


def test_mqmha_weight_layout():
    pool = make("mqmha", {"n_heads": 2, "n_queries": 3})
    x, mask = batch()
    _, w = pool(x, mask)
    wq = pool.split_weights(w)
    assert torch.equal(wq[:, 1, 0], w[:, pool.head_names.index("q1h0")])


def test_qkv_stats_are_the_weighted_mean_and_std_of_each_heads_values():
    pool = make("qkv", {"n_heads": 2, "stats": True})
    x, mask = batch()
    pooled, w = pool(x, mask)
    assert pooled.shape == (3, 2 * D) and pool.out_dim == 2 * D
    plain = QKVPool(D, n_heads=2)
    plain.load_state_dict(pool.state_dict())
    assert torch.allclose(pooled[:, :D], plain.eval()(x, mask)[0], atol=1e-6)  # first half: the usual output
    dh = D // 2
    for b in range(3):
        n = int(mask[b].sum())
        v = pool.wv(x[b, :n]).reshape(n, 2, dh)
        for h in range(2):
            wt = w[b, h, :n, None]
            mu = (wt * v[:, h]).sum(0)
            sd = (wt * (v[:, h] - mu) ** 2).sum(0).clamp_min(1e-5).sqrt()
            assert torch.allclose(pooled[b, D + h * dh : D + (h + 1) * dh], sd, atol=1e-5)


def test_build_pooler_rejects_unknown():
    with pytest.raises(ValueError, match="unknown pooler"):
        build_pooler("nope", 8)


# ---- sharpening options: temperature, additive scores, sparse normalisers ---------------------------------

def test_sparse_normalizers_zero_the_tail_and_softmax_does_not():
    torch.manual_seed(0)
    x = torch.randn(2, 40, D)
    x[:, 10:13] += 6  # a few frames stand out along every direction
    pool = QKVPool(D, n_heads=1, score="additive", score_hidden=8)
    with torch.no_grad():
        pool.vs.fill_(1.0)
        pool.ws.weight.fill_(0.5)
        pool.ws.bias.zero_()
    for name in ("sparsemax", "entmax15"):
        sparse = QKVPool(D, n_heads=1, score="additive", score_hidden=8, normalizer=name).eval()
        sparse.load_state_dict(pool.state_dict())
        _, w = sparse(x, None)
        assert (w == 0).sum() > 0.5 * w.numel(), f"{name} should give most frames exactly 0"
        assert torch.allclose(w.sum(-1), torch.ones(2, 1), atol=1e-5)
    _, ws = pool.eval()(x, None)
    assert (ws > 0).all()


def test_temperature_starts_neutral_and_sharpens():
    torch.manual_seed(0)
    plain = QKVPool(D, n_heads=2).eval()
    warm = QKVPool(D, n_heads=2, temperature=True).eval()
    warm.load_state_dict({**plain.state_dict(), "log_temperature": torch.zeros(2)})
    x, mask = batch()
    assert torch.allclose(plain(x, mask)[1], warm(x, mask)[1], atol=1e-6)  # exp(0) = 1: identical at init
    with torch.no_grad():
        warm.log_temperature.fill_(2.0)
    w0, w1 = plain(x, mask)[1][0], warm(x, mask)[1][0]
    assert (w1.max(-1).values > w0.max(-1).values).all()


def test_new_options_are_recorded_only_when_on():
    """Configurations written before the options existed must rebuild exactly the same pooler."""
    old = {"n_heads": 4, "query": "learned", "tanh_bound": False}
    assert build_pooler("qkv", D, **old).hparams == old
    assert build_pooler("mhaap", D, n_heads=4).hparams == {"n_heads": 4}
    assert build_pooler("mqmha", D, n_heads=2).hparams == {"n_heads": 2, "n_queries": 2, "hidden": 64}
    torch.manual_seed(3)
    a = build_pooler("qkv", D, **old)
    torch.manual_seed(3)
    b = build_pooler("qkv", D, **old, normalizer="softmax", temperature=False, score="dot")
    assert set(a.state_dict()) == set(b.state_dict())
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    hp = build_pooler("qkv", D, n_heads=1, score="additive", temperature=True, normalizer="entmax15").hparams
    assert hp == {"n_heads": 1, "query": "learned", "tanh_bound": False, "score": "additive", "score_hidden": 128,
                  "temperature": True, "normalizer": "entmax15"}
    assert build_pooler("qkv", D, **hp).hparams == hp


def test_unknown_normalizer_rejected():
    with pytest.raises(ValueError, match="normalizer"):
        build_pooler("qkv", D, normalizer="softermax")
