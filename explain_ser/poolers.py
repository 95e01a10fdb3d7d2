"""Poolers: frames [B, T, D] + padding mask [B, T] -> pooled vector [B, out_dim] + weights [B, H, T].

Every pooler here has the same call shape and the same guarantees:

- ``pooler(x, mask=None, keep=None) -> (pooled, weights)``. ``mask`` is a bool tensor, True for a real frame,
  False for padding (``None``: every frame is real). ``keep`` is an optional extra multiplicative frame mask
  in [0, 1] (1 = keep, 0 = remove the frame from pooling) used by faithfulness deletion/insertion tests; the
  weights are renormalised over the frames that remain, so ``keep`` is exactly "pool as if these frames were
  not there" when it is binary.
- ``weights[b, h]`` is exactly zero on padding (and on frames with ``keep == 0``) and sums to 1 over the rest,
  for every head ``h``. A row with no frame left gives all-zero weights and a zero pooled vector.
- No randomness in eval mode: two calls on the same input give identical outputs.
- ``pooler.head_names`` names the H weight rows (``"h0"``, ``"q1h3"``, ``"rollout"`` ...), ``pooler.out_dim``
  is the pooled size and ``pooler.hparams`` the keyword arguments that rebuild it with :func:`build_pooler`.

Poolers know nothing about files, encoders or labels.

>>> x, mask = torch.randn(2, 6, 8), torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]]).bool()
>>> for name in POOLERS:
...     pooled, w = build_pooler(name, dim=8, n_heads=2).eval()(x, mask)
...     print(name, tuple(pooled.shape), tuple(w.shape), bool(w[1, :, 3:].eq(0).all()))
mean (2, 8) (2, 1, 6) True
mhaap (2, 8) (2, 2, 6) True
qkv (2, 8) (2, 2, 6) True
mqmha (2, 32) (2, 4, 6) True
transformer (2, 8) (2, 3, 6) True
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = [
    "Pooler",
    "MeanPool",
    "MHAAP",
    "QKVPool",
    "MQMHAStatsPool",
    "TransformerPool",
    "POOLERS",
    "build_pooler",
    "masked_softmax",
    "masked_attention",
    "NORMALIZERS",
    "attention_entropy",
]


def _frame_mask(x: torch.Tensor, mask: torch.Tensor | None, keep: torch.Tensor | None):
    """(valid [B, T] bool, log_keep [B, T] float or None) from the padding mask and the keep mask."""
    B, T = x.shape[:2]
    valid = torch.ones(B, T, dtype=torch.bool, device=x.device) if mask is None else mask.to(torch.bool)
    assert valid.shape == (B, T), f"mask shape {tuple(valid.shape)} does not match frames {(B, T)}"
    log_keep = None
    if keep is not None:
        keep = keep.to(x.dtype)
        assert keep.shape == (B, T), f"keep shape {tuple(keep.shape)} does not match frames {(B, T)}"
        valid = valid & (keep > 0)
        log_keep = torch.log(keep.clamp_min(torch.finfo(x.dtype).tiny))
    return valid, log_keep


def masked_softmax(scores: torch.Tensor, valid: torch.Tensor, log_keep: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax over the last axis restricted to ``valid`` frames; exactly 0 elsewhere.

    ``scores`` is [B, ..., T], ``valid`` [B, T]. With ``log_keep`` the weights are proportional to
    ``keep * exp(score)``. A row without a valid frame comes out all zero (not NaN).

    >>> w = masked_softmax(torch.zeros(1, 2, 4), torch.tensor([[True, True, False, False]]))
    >>> w.tolist()
    [[[0.5, 0.5, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]]]
    """
    shape = (valid.shape[0],) + (1,) * (scores.dim() - 2) + (valid.shape[1],)
    v = valid.reshape(shape)
    if log_keep is not None:
        scores = scores + log_keep.reshape(shape)
    scores = scores.masked_fill(~v, torch.finfo(scores.dtype).min)
    w = torch.softmax(scores, dim=-1) * v  # exact zeros on invalid frames (also for all-invalid rows)
    return w / w.sum(-1, keepdim=True).clamp_min(torch.finfo(w.dtype).tiny)


NORMALIZERS = ("softmax", "sparsemax", "entmax15")


def masked_attention(scores: torch.Tensor, valid: torch.Tensor, log_keep: torch.Tensor | None = None,
                     normalizer: str = "softmax") -> torch.Tensor:
    """Attention weights over the last axis with ``normalizer`` (softmax, sparsemax or 1.5-entmax).

    Softmax is :func:`masked_softmax`. Sparsemax (Martins & Astudillo 2016) and 1.5-entmax (Peters et al.
    2019, the ``entmax`` package) give *exactly zero* weight to every frame whose score is far enough below
    the best (more than 1 for sparsemax), so a map cannot hide a long tail of tiny weights. They are taken
    over the valid frames only, so ``keep == 0`` is still exactly "as if the frame were not there"; a
    fractional ``keep`` multiplies the weights, which are then renormalised.

    >>> s = torch.tensor([[[3.0, 1.0, 0.0, 5.0]]])
    >>> masked_attention(s, torch.tensor([[True, True, True, False]]), normalizer="sparsemax").tolist()
    [[[1.0, 0.0, 0.0, 0.0]]]
    >>> w = masked_attention(s, torch.ones(1, 4, dtype=torch.bool), normalizer="entmax15")
    >>> [round(v, 3) for v in w[0, 0].tolist()]
    [0.0, 0.0, 0.0, 1.0]
    """
    if normalizer == "softmax":
        return masked_softmax(scores, valid, log_keep)
    if normalizer not in NORMALIZERS:
        raise ValueError(f"unknown attention normalizer {normalizer!r}; choose from {', '.join(NORMALIZERS)}")
    from entmax import entmax15, sparsemax

    shape = (valid.shape[0],) + (1,) * (scores.dim() - 2) + (valid.shape[1],)
    v = valid.reshape(shape)
    # Shift by the best valid score, then park invalid frames far below it: both maps are shift-invariant
    # and zero everything more than ~2 below the top, and a finite value keeps sorting/cumsum NaN-free.
    top = scores.masked_fill(~v, float("-inf")).amax(-1, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top)).detach()
    z = (scores - top).masked_fill(~v, -1e4)
    w = (sparsemax if normalizer == "sparsemax" else entmax15)(z, dim=-1) * v
    if log_keep is not None:
        w = w * log_keep.exp().reshape(shape)
    return w / w.sum(-1, keepdim=True).clamp_min(torch.finfo(w.dtype).tiny)


def attention_entropy(weights: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean normalised entropy of attention rows [B, H, T]: ``H(w) / log(n)`` with n the clip's real frames.

    0 when a row puts all its mass on one frame, 1 when it is uniform, whatever the clip's length, so one
    penalty weight suits short and long clips (the training option ``attn_entropy``). Clips of one frame
    count 0.

    >>> w = torch.tensor([[[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0]]])
    >>> round(float(attention_entropy(w)), 6)
    0.5
    """
    B, H, T = weights.shape
    n = torch.full((B,), T, dtype=weights.dtype, device=weights.device) if mask is None else mask.sum(-1).to(weights.dtype)
    ent = -(weights * torch.log(weights.clamp_min(1e-12))).sum(-1)  # 0 * log 0 = 0
    norm = torch.log(n.clamp_min(2.0))[:, None]
    return (ent / norm).mean()


class _Sharpness:
    """Options shared by the attentive poolers: a learnable score temperature and the normaliser.

    ``temperature=True`` multiplies each head's scores by ``exp(s_h)`` with ``s_h`` learned (starting at 0,
    i.e. unchanged scores): the model can sharpen its attention without growing every score weight, which
    weight decay pulls back. ``normalizer`` is softmax (default), sparsemax or entmax15. Both options are
    recorded in ``hparams`` only when switched on, so configurations written before they existed rebuild
    exactly the pooler they describe.
    """

    def _init_sharpness(self, n_rows: int, temperature: bool, normalizer: str):
        if normalizer not in NORMALIZERS:
            raise ValueError(f"unknown attention normalizer {normalizer!r}; choose from {', '.join(NORMALIZERS)}")
        self.normalizer = normalizer
        self.log_temperature = nn.Parameter(torch.zeros(n_rows)) if temperature else None
        extra = {}
        if temperature:
            extra["temperature"] = True
        if normalizer != "softmax":
            extra["normalizer"] = normalizer
        return extra

    def _weights(self, scores, valid, log_keep):
        """Scores [B, rows, T] -> weights, after the learned temperature."""
        if self.log_temperature is not None:
            scores = scores * self.log_temperature.exp()[:, None]
        return masked_attention(scores, valid, log_keep, self.normalizer)


class Pooler(nn.Module):
    """Base class: subclasses set ``out_dim``, ``head_names`` and ``hparams`` and implement ``forward``."""

    out_dim: int
    head_names: list[str]
    hparams: dict

    @property
    def n_heads(self) -> int:
        """Rows of the weight tensor (H in [B, H, T])."""
        return len(self.head_names)


class MeanPool(Pooler):
    """Masked mean over real frames; one uniform weight row. The baseline every attentive pooler must beat.

    >>> pooled, w = MeanPool(dim=4)(torch.ones(2, 3, 4), torch.tensor([[1, 1, 1], [1, 0, 0]]).bool())
    >>> tuple(pooled.shape), w[1].tolist()
    ((2, 4), [[1.0, 0.0, 0.0]])
    """

    def __init__(self, dim: int, **unused):
        super().__init__()
        self.dim = self.out_dim = dim
        self.head_names = ["mean"]
        self.hparams = {}

    def forward(self, x, mask=None, keep=None):
        valid, log_keep = _frame_mask(x, mask, keep)
        w = masked_softmax(torch.zeros_like(x[..., 0]).unsqueeze(1), valid, log_keep)  # [B, 1, T]
        return torch.einsum("bht,btd->bd", w, x), w


class MHAAP(Pooler, _Sharpness):
    """Multi-head Attentive Average Pooling (arXiv 2602.06000; India et al. 2019).

    The feature dimension is split into ``n_heads`` sub-vectors of D/H; head h scores frame t with its own
    vector, ``s[h, t] = u_h . x[t, h] / sqrt(D/H) + b_h``, softmax over real frames, and takes the weighted
    average of its sub-vectors. The heads are concatenated, so ``out_dim = D``. ``temperature`` and
    ``normalizer`` as in :func:`masked_attention` / ``_Sharpness``.

    >>> pool = MHAAP(dim=8, n_heads=4).eval()
    >>> pooled, w = pool(torch.randn(3, 5, 8), torch.tensor([[1] * 5, [1] * 3 + [0] * 2, [1] + [0] * 4]).bool())
    >>> tuple(pooled.shape), tuple(w.shape), w.sum(-1).allclose(torch.ones(3, 4))
    ((3, 8), (3, 4, 5), True)
    """

    def __init__(self, dim: int, n_heads: int = 4, temperature: bool = False, normalizer: str = "softmax",
                 **unused):
        super().__init__()
        assert dim % n_heads == 0, f"dim {dim} is not divisible by n_heads {n_heads}"
        self.dim, self.h, self.dh = dim, n_heads, dim // n_heads
        self.u = nn.Parameter(torch.randn(n_heads, self.dh) / math.sqrt(self.dh))
        self.b = nn.Parameter(torch.zeros(n_heads))
        self.out_dim = dim
        self.head_names = [f"h{i}" for i in range(n_heads)]
        self.hparams = {"n_heads": n_heads, **self._init_sharpness(n_heads, temperature, normalizer)}

    def forward(self, x, mask=None, keep=None):
        B, T, D = x.shape
        valid, log_keep = _frame_mask(x, mask, keep)
        xh = x.reshape(B, T, self.h, self.dh)
        scores = torch.einsum("bthd,hd->bht", xh, self.u) / math.sqrt(self.dh) + self.b[:, None]
        w = self._weights(scores, valid, log_keep)  # [B, H, T]
        pooled = torch.einsum("bht,bthd->bhd", w, xh).reshape(B, D)
        return pooled, w


class QKVPool(Pooler, _Sharpness):
    """Query-key-value attention pooling, single-head (``n_heads=1``) or multi-head.

    The query is a learned vector per head (``query="learned"``) or a projection of the masked mean frame
    (``query="mean"``); keys and values are linear projections of the frames;
    ``w = softmax(q . k / sqrt(d_k))`` over real frames; the pooled vector is the concatenation of the heads'
    weighted values (``out_dim = D``).

    ``tanh_bound=True`` reproduces the public 2602.06000 code, which squashes the scores with tanh before the
    softmax: scores then lie in [-1, 1], so two frames' weights differ by a factor of at most e^2 ~ 7.4 and
    attention cannot concentrate on a few frames (with 200 frames no frame can get more than ~3.6 % of the
    mass). It is off by default.

    ``stats=True`` also returns each head's attention-weighted standard deviation of its values (attentive
    statistics pooling, as in ECAPA-TDNN), so ``out_dim = 2 D``; the weights are the same.

    ``score="additive"`` replaces the dot product by additive (Bahdanau) scoring, ``s[h, t] = v_h .
    tanh(W x_t + b)`` with a ``score_hidden``-unit layer shared by the heads: the score is then a bounded,
    non-linear detector of a frame's content instead of a projection onto one direction, so it can single
    out a kind of frame (a laugh) without also ranking every other frame along the same axis. Values are
    unchanged. ``temperature`` and ``normalizer`` as in ``_Sharpness`` (learned score scale; softmax,
    sparsemax or 1.5-entmax).

    >>> pool = QKVPool(dim=8, n_heads=2, query="mean", tanh_bound=True).eval()
    >>> pooled, w = pool(torch.randn(2, 7, 8) * 10, None)
    >>> tuple(pooled.shape), bool((w.max(-1).values / w.min(-1).values <= math.e ** 2 + 1e-4).all())
    ((2, 8), True)
    """

    def __init__(self, dim: int, n_heads: int = 1, query: str = "learned", tanh_bound: bool = False,
                 stats: bool = False, score: str = "dot", score_hidden: int = 128, temperature: bool = False,
                 normalizer: str = "softmax", **unused):
        super().__init__()
        assert dim % n_heads == 0, f"dim {dim} is not divisible by n_heads {n_heads}"
        assert query in ("learned", "mean"), f"query must be 'learned' or 'mean', not {query!r}"
        assert score in ("dot", "additive"), f"score must be 'dot' or 'additive', not {score!r}"
        self.dim, self.h, self.dh = dim, n_heads, dim // n_heads
        self.query_mode, self.tanh_bound, self.score = query, bool(tanh_bound), score
        if score == "additive":
            # the additive score has no query: v_h plays its part
            self.ws = nn.Linear(dim, int(score_hidden))
            self.vs = nn.Parameter(torch.randn(n_heads, int(score_hidden)) / math.sqrt(score_hidden))
        elif query == "learned":
            self.q = nn.Parameter(torch.randn(n_heads, self.dh) / math.sqrt(self.dh))
        else:
            self.wq = nn.Linear(dim, dim)
        if score == "dot":
            self.wk = nn.Linear(dim, dim)
        self.wv = nn.Linear(dim, dim)
        self.stats = bool(stats)
        self.out_dim = 2 * dim if self.stats else dim
        self.head_names = [f"h{i}" for i in range(n_heads)]
        self.hparams = {"n_heads": n_heads, "query": query, "tanh_bound": self.tanh_bound}
        if self.stats:  # only recorded when on, so older checkpoints keep their exact config
            self.hparams["stats"] = True
        if score == "additive":
            self.hparams.update(score="additive", score_hidden=int(score_hidden))
        self.hparams.update(self._init_sharpness(n_heads, temperature, normalizer))

    def forward(self, x, mask=None, keep=None):
        # Computed without materialising keys and values per frame (same numbers, ~D/H times cheaper):
        # q . (W_k x + b_k) = (W_k^T q) . x + q . b_k, and sum_t w_t (W_v x_t + b_v) = W_v (sum_t w_t x_t) + b_v.
        B, T, D = x.shape
        valid, log_keep = _frame_mask(x, mask, keep)
        if self.score == "additive":
            scores = torch.einsum("bte,he->bht", torch.tanh(self.ws(x)), self.vs)
        else:
            if self.query_mode == "learned":
                q = self.q.expand(B, -1, -1)
            else:
                mean = masked_softmax(torch.zeros_like(x[..., 0]).unsqueeze(1), valid)  # uniform over real frames
                q = self.wq(torch.einsum("bht,btd->bd", mean, x)).reshape(B, self.h, self.dh)
            wk = self.wk.weight.reshape(self.h, self.dh, D)
            u = torch.einsum("bhe,hed->bhd", q, wk)  # per-head query mapped back to frame space
            qb = torch.einsum("bhe,he->bh", q, self.wk.bias.reshape(self.h, self.dh))
            scores = (torch.einsum("btd,bhd->bht", x, u) + qb[..., None]) / math.sqrt(self.dh)
        if self.tanh_bound:
            scores = torch.tanh(scores)
        w = self._weights(scores, valid, log_keep)
        xbar = torch.einsum("bht,btd->bhd", w, x)  # per-head weighted mean frame
        wv = self.wv.weight.reshape(self.h, self.dh, D)
        pooled = torch.einsum("bhd,hed->bhe", xbar, wv) + self.wv.bias.reshape(self.h, self.dh)
        if not self.stats:
            return pooled.reshape(B, D), w
        v = self.wv(x).reshape(B, T, self.h, self.dh)
        second = torch.einsum("bht,bthe->bhe", w, v * v)
        # Var = E[v^2] - E[v]^2 under the head's weights; the floor keeps sqrt differentiable
        std = (second - pooled * pooled).clamp_min(1e-5).sqrt()
        return torch.cat([pooled.reshape(B, D), std.reshape(B, D)], dim=1), w


class MQMHAStatsPool(Pooler, _Sharpness):
    """Multi-query multi-head attentive statistics pooling (Leygue et al.; WeSpeaker's MQMHA).

    The feature dimension is split into H heads of D/H. Each head scores its sub-vector with a small MLP
    (``hidden`` units, tanh; ``hidden=0`` for a linear score) that has one output per query, giving Q x H
    weight rows. Each row yields an attentive mean and standard deviation of its head's sub-vectors; all are
    concatenated, so ``out_dim = 2 * Q * D``. Weights come out flattened as [B, Q*H, T], row ``q * H + h``
    named ``f"q{q}h{h}"`` (:meth:`split_weights` gives them back as [B, Q, H, T]). ``temperature`` (one per
    row) and ``normalizer`` as in ``_Sharpness``.

    >>> pool = MQMHAStatsPool(dim=8, n_heads=2, n_queries=3).eval()
    >>> pooled, w = pool(torch.randn(2, 5, 8), torch.tensor([[1] * 5, [1, 1, 0, 0, 0]]).bool())
    >>> tuple(pooled.shape), tuple(w.shape), pool.head_names[:3], tuple(pool.split_weights(w).shape)
    ((2, 48), (2, 6, 5), ['q0h0', 'q0h1', 'q1h0'], (2, 3, 2, 5))
    """

    def __init__(self, dim: int, n_heads: int = 4, n_queries: int = 2, hidden: int = 64, temperature: bool = False,
                 normalizer: str = "softmax", **unused):
        super().__init__()
        assert dim % n_heads == 0, f"dim {dim} is not divisible by n_heads {n_heads}"
        self.dim, self.h, self.q, self.dh = dim, n_heads, n_queries, dim // n_heads
        self.hidden = hidden
        if hidden:
            self.w1 = nn.Parameter(torch.randn(n_heads, self.dh, hidden) / math.sqrt(self.dh))
            self.b1 = nn.Parameter(torch.zeros(n_heads, hidden))
            self.w2 = nn.Parameter(torch.randn(n_heads, hidden, n_queries) / math.sqrt(hidden))
        else:
            self.w2 = nn.Parameter(torch.randn(n_heads, self.dh, n_queries) / math.sqrt(self.dh))
        self.b2 = nn.Parameter(torch.zeros(n_heads, n_queries))
        self.out_dim = 2 * n_queries * dim
        self.head_names = [f"q{q}h{h}" for q in range(n_queries) for h in range(n_heads)]
        self.hparams = {"n_heads": n_heads, "n_queries": n_queries, "hidden": hidden,
                        **self._init_sharpness(n_queries * n_heads, temperature, normalizer)}

    def split_weights(self, w: torch.Tensor) -> torch.Tensor:
        """[B, Q*H, T] -> [B, Q, H, T]."""
        return w.reshape(w.shape[0], self.q, self.h, w.shape[-1])

    def forward(self, x, mask=None, keep=None):
        B, T, D = x.shape
        valid, log_keep = _frame_mask(x, mask, keep)
        xh = x.reshape(B, T, self.h, self.dh)
        z = torch.tanh(torch.einsum("bthd,hde->bthe", xh, self.w1) + self.b1) if self.hidden else xh
        scores = torch.einsum("bthe,heq->bqht", z, self.w2) + self.b2.T[None, :, :, None]  # [B, Q, H, T]
        w = self._weights(scores.reshape(B, self.q * self.h, T), valid, log_keep)
        wq = w.reshape(B, self.q, self.h, T)
        mean = torch.einsum("bqht,bthd->bqhd", wq, xh)
        sq = torch.einsum("bqht,bthd->bqhd", wq, xh * xh)
        std = (sq - mean * mean).clamp_min(1e-6).sqrt()
        pooled = torch.cat([mean.reshape(B, self.q, D), std.reshape(B, self.q, D)], dim=-1).reshape(B, -1)
        return pooled, w


class _Block(nn.Module):
    """Pre-norm transformer encoder layer that also returns its attention [B, H, S, S]."""

    def __init__(self, d: int, n_heads: int, ff: int, dropout: float):
        super().__init__()
        self.h, self.dh = n_heads, d // n_heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.ff = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff, d))
        self.drop = nn.Dropout(dropout)

    def forward(self, h, valid, log_keep):
        B, S, d = h.shape
        q, k, v = self.qkv(self.ln1(h)).reshape(B, S, 3, self.h, self.dh).permute(2, 0, 3, 1, 4)
        a = masked_softmax(q @ k.transpose(-1, -2) / math.sqrt(self.dh), valid, log_keep)  # [B, H, S, S]
        ctx = (self.drop(a) @ v).transpose(1, 2).reshape(B, S, d)
        h = h + self.drop(self.out(ctx))
        return h + self.drop(self.ff(self.ln2(h))), a


class TransformerPool(Pooler):
    """Two transformer encoder layers over the frames and a learned CLS token (SER-Whisper, Qu et al.).

    Padding (and ``keep == 0``) frames are masked as keys in both layers; the pooled vector is the final
    CLS state (``out_dim = d_model``). Weights [B, H + 1, T]: the CLS row of the last layer's attention per
    head (``"l2h0"`` ...), then the CLS row of attention rollout through both layers (``"rollout"``,
    Abnar & Zuidema 2020: per layer 0.5 * head-mean attention + 0.5 * identity, multiplied). Each row drops
    the CLS column and is renormalised over the frames. Dropout acts in training only.

    >>> pool = TransformerPool(dim=8, n_heads=2).eval()
    >>> pooled, w = pool(torch.randn(2, 5, 8), torch.tensor([[1] * 5, [1, 1, 1, 0, 0]]).bool())
    >>> tuple(pooled.shape), pool.head_names, bool(w[1, :, 3:].eq(0).all())
    ((2, 8), ['l2h0', 'l2h1', 'rollout'], True)
    """

    def __init__(self, dim: int, n_heads: int = 4, n_layers: int = 2, d_model: int | None = None,
                 ff_mult: int = 2, dropout: float = 0.1, **unused):
        super().__init__()
        d = d_model or dim
        assert d % n_heads == 0, f"d_model {d} is not divisible by n_heads {n_heads}"
        self.proj = nn.Linear(dim, d) if d != dim else nn.Identity()
        self.cls = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.blocks = nn.ModuleList(_Block(d, n_heads, ff_mult * d, dropout) for _ in range(n_layers))
        self.ln = nn.LayerNorm(d)
        self.out_dim = d
        self.head_names = [f"l{n_layers}h{i}" for i in range(n_heads)] + ["rollout"]
        self.hparams = {"n_heads": n_heads, "n_layers": n_layers, "d_model": d_model, "ff_mult": ff_mult,
                        "dropout": dropout}

    def forward(self, x, mask=None, keep=None):
        B, T, _ = x.shape
        valid, log_keep = _frame_mask(x, mask, keep)
        one = torch.ones(B, 1, dtype=torch.bool, device=x.device)
        valid_s = torch.cat([one, valid], 1)  # the CLS token is always a valid key
        log_keep_s = None if log_keep is None else torch.cat([torch.zeros_like(log_keep[:, :1]), log_keep], 1)
        h = torch.cat([self.cls.expand(B, -1, -1), self.proj(x)], 1)
        rollout = torch.eye(T + 1, device=x.device, dtype=x.dtype).expand(B, -1, -1)
        for block in self.blocks:
            h, a = block(h, valid_s, log_keep_s)
            rollout = (0.5 * a.mean(1) + 0.5 * torch.eye(T + 1, device=x.device, dtype=x.dtype)) @ rollout
        rows = torch.cat([a[:, :, 0, 1:], rollout[:, None, 0, 1:]], 1) * valid[:, None]  # [B, H + 1, T]
        w = rows / rows.sum(-1, keepdim=True).clamp_min(torch.finfo(rows.dtype).tiny)
        return self.ln(h[:, 0]), w


POOLERS: dict[str, type[Pooler]] = {
    "mean": MeanPool,
    "mhaap": MHAAP,
    "qkv": QKVPool,
    "mqmha": MQMHAStatsPool,
    "transformer": TransformerPool,
}


def build_pooler(name: str, dim: int, **hparams) -> Pooler:
    """Pooler ``name`` (a key of :data:`POOLERS`) on ``dim``-dimensional frames.

    Keyword arguments a pooler does not take are ignored, so one sweep can pass ``n_heads`` to all.

    >>> build_pooler("qkv", 16, n_heads=1, tanh_bound=True).hparams
    {'n_heads': 1, 'query': 'learned', 'tanh_bound': True}
    """
    if name not in POOLERS:
        raise ValueError(f"unknown pooler {name!r}; choose from {', '.join(POOLERS)}")
    return POOLERS[name](dim=dim, **hparams)
