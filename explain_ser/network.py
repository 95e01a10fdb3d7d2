"""SER model over frozen encoder features: tap choice -> standardisation -> pooler -> classifier head.

``SERModel`` takes the encoder's taps ``[B, L, T, D]`` (all ``n_taps`` of them, or just the model's own taps in
the model's order; ``[B, T, D]`` for a one-tap model) and a padding mask ``[B, T]`` (True = real frame):

1. tap choice: one tap, or a learned softmax-weighted sum of several (weights in :meth:`SERModel.layer_weights`);
2. per-tap standardisation with mean/std computed on the training frames, stored in the checkpoint;
3. a pooler from :mod:`explain_ser.poolers` (pooled vector + frame weights [B, H, T]);
4. head: Linear -> ReLU -> Dropout -> Linear (as in arXiv 2602.06000).

The network only: checkpoints (``model.safetensors`` + ``config.json``) are read and written by
:mod:`explain_ser.checkpoint`, which imports this module (never the other way round).
:mod:`explain_ser.model` is the public face of both.

>>> model = SERModel(labels=["angry", "sad"], dim=8, taps=[2], n_taps=5, pooler="mhaap", pooler_hparams={"n_heads": 2})
>>> feats, mask = torch.randn(3, 5, 7, 8), torch.ones(3, 7, dtype=torch.bool)
>>> logits, weights = model.eval().forward_with_weights(feats, mask)
>>> tuple(logits.shape), list(weights), tuple(weights["h0"].shape)
((3, 2), ['h0', 'h1'], (3, 7))
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .poolers import build_pooler

__all__ = ["SERModel", "EnsembleModel", "pad_batch", "predict_proba"]


class SERModel(nn.Module):
    """Frozen-encoder SER classifier; see the module docstring."""

    def __init__(self, labels, dim: int, taps, n_taps: int | None = None, pooler: str = "mhaap",
                 pooler_hparams: dict | None = None, hidden: int = 256, dropout: float = 0.3,
                 input_dropout: float = 0.0):
        super().__init__()
        self.labels = [str(x) for x in labels]
        self.dim, self.taps = int(dim), [int(t) for t in (taps if isinstance(taps, (list, tuple)) else [taps])]
        self.n_taps = int(n_taps) if n_taps is not None else None
        assert self.taps, "at least one tap"
        if self.n_taps is not None:
            assert all(0 <= t < self.n_taps for t in self.taps), f"taps {self.taps} outside 0..{self.n_taps - 1}"
        self.pooler_name, self.hidden, self.dropout_p = pooler, int(hidden), float(dropout)
        self.input_dropout_p = float(input_dropout)
        self.register_buffer("feat_mean", torch.zeros(len(self.taps), dim))
        self.register_buffer("feat_std", torch.ones(len(self.taps), dim))
        self.layer_logits = nn.Parameter(torch.zeros(len(self.taps))) if len(self.taps) > 1 else None
        self.input_dropout = nn.Dropout(self.input_dropout_p)
        self.pooler = build_pooler(pooler, dim, **(pooler_hparams or {}))
        self.head = nn.Sequential(nn.Linear(self.pooler.out_dim, hidden), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(hidden, len(self.labels)))

    # ---- description -------------------------------------------------------------------------------------
    def config(self) -> dict:
        """Keyword arguments that rebuild this model (JSON-serialisable)."""
        return {"labels": self.labels, "dim": self.dim, "taps": self.taps, "n_taps": self.n_taps,
                "pooler": self.pooler_name, "pooler_hparams": self.pooler.hparams, "hidden": self.hidden,
                "dropout": self.dropout_p, "input_dropout": self.input_dropout_p}

    @property
    def head_names(self) -> list[str]:
        """Names of the pooler's weight rows (H of [B, H, T])."""
        return list(self.pooler.head_names)

    def layer_weights(self) -> dict[int, float]:
        """{tap: weight} of the tap mixture (1.0 for a one-tap model)."""
        if self.layer_logits is None:
            return {self.taps[0]: 1.0}
        w = torch.softmax(self.layer_logits.detach(), 0).tolist()
        return dict(zip(self.taps, w))

    def set_standardization(self, mean, std) -> None:
        """Per-tap frame mean/std ``[len(taps), dim]`` computed on the training data."""
        self.feat_mean.copy_(torch.as_tensor(np.asarray(mean), dtype=torch.float32))
        self.feat_std.copy_(torch.as_tensor(np.asarray(std), dtype=torch.float32).clamp_min(1e-5))

    # ---- computation -------------------------------------------------------------------------------------
    def select_taps(self, features: torch.Tensor) -> torch.Tensor:
        """[B, L, T, D] (all encoder taps, or the model's taps) or [B, T, D] -> [B, len(taps), T, D]."""
        if features.dim() == 3:
            assert len(self.taps) == 1, f"[B, T, D] input needs a one-tap model, this one has taps {self.taps}"
            features = features.unsqueeze(1)
        assert features.dim() == 4 and features.shape[-1] == self.dim, (
            f"features {tuple(features.shape)} do not match [B, L, T, {self.dim}]")
        L = features.shape[1]
        if L == len(self.taps) and (self.n_taps is None or L != self.n_taps or self.taps == list(range(L))):
            return features
        if self.n_taps is not None and L == self.n_taps:
            return features[:, self.taps]
        raise AssertionError(f"features have {L} taps; the model wants taps {self.taps} of {self.n_taps}")

    def frames(self, features: torch.Tensor) -> torch.Tensor:
        """Standardised (and tap-mixed) frames [B, T, D] that the pooler sees."""
        x = (self.select_taps(features).float() - self.feat_mean[:, None]) / self.feat_std[:, None]
        if self.layer_logits is None:
            x = x[:, 0]
        else:
            x = torch.einsum("l,bltd->btd", torch.softmax(self.layer_logits, 0), x)
        return self.input_dropout(x)

    def pool(self, features, mask=None, keep=None):
        """(pooled [B, out_dim], weights [B, H, T])."""
        return self.pooler(self.frames(features), mask, keep)

    def logits_from_frames(self, frames: torch.Tensor, mask=None, keep=None) -> torch.Tensor:
        """Logits from already standardised frames [B, T, D] (the output of :meth:`frames`).

        Perturbation methods (occlusion, deletion curves) change only the keep mask, so they
        standardise once and call this for every perturbed copy.
        """
        return self.head(self.pooler(frames, mask, keep)[0])

    def forward(self, features, mask=None, keep=None) -> torch.Tensor:
        """Logits [B, n_classes]."""
        return self.head(self.pool(features, mask, keep)[0])

    def forward_with_weights(self, features, mask=None, keep=None) -> tuple[torch.Tensor, dict]:
        """(logits [B, n_classes], {head name: frame weights [B, T]}), weights exactly 0 on padding."""
        pooled, w = self.pool(features, mask, keep)
        return self.head(pooled), {name: w[:, i] for i, name in enumerate(self.head_names)}


class EnsembleModel(nn.Module):
    """K :class:`SERModel` s of one recipe (e.g. trained with different seeds) whose class probabilities are
    averaged. It reads the same input as its members and exports every member's heads, named
    ``m<k>.<head>``, so the attention of an ensemble is its members' attention, nothing blended.

    ``forward`` returns log-mean-probabilities: ``softmax(forward(x))`` is exactly the mean of the members'
    softmax outputs. :meth:`frames` stacks the members' standardised frames as ``[B, K, T, D]`` and
    :meth:`logits_from_frames` reads them back, so perturbation code written for a single model
    (occlusion, deletion curves, IG on frames) runs unchanged and standardises only once.

    >>> members = [SERModel(labels=["a", "b"], dim=8, taps=[1], n_taps=3, pooler="qkv",
    ...                     pooler_hparams={"n_heads": 2}).eval() for _ in range(2)]
    >>> ens = EnsembleModel(members).eval()
    >>> x = torch.randn(2, 3, 5, 8)
    >>> mean_p = torch.stack([torch.softmax(m(x), -1) for m in members]).mean(0)
    >>> bool(torch.allclose(torch.softmax(ens(x), -1), mean_p, atol=1e-6)), ens.head_names
    (True, ['m0.h0', 'm0.h1', 'm1.h0', 'm1.h1'])
    """

    def __init__(self, members):
        super().__init__()
        members = list(members)
        assert len(members) >= 2, "an ensemble needs at least two members"
        first = members[0]
        for m in members[1:]:
            assert (m.labels, m.taps, m.n_taps, m.dim) == (first.labels, first.taps, first.n_taps, first.dim), (
                "ensemble members must share labels, taps and feature dim")
        self.members = nn.ModuleList(members)
        self.labels, self.taps, self.n_taps, self.dim = first.labels, first.taps, first.n_taps, first.dim

    @property
    def feat_mean(self) -> torch.Tensor:
        """Per-tap training mean of the members (IG's default baseline); members of one recipe share it."""
        return torch.stack([m.feat_mean for m in self.members]).mean(0)

    @property
    def head_names(self) -> list[str]:
        return [f"m{k}.{h}" for k, m in enumerate(self.members) for h in m.head_names]

    @property
    def pooler_name(self) -> str:
        """The members' pooler (an ensemble is one recipe), so callers need not ask which kind of model they hold."""
        return self.members[0].pooler_name

    def config(self) -> dict:
        """The members' common configuration plus ``members`` = K (rebuilt by :meth:`explain_ser.checkpoint.Checkpoint.load`)."""
        return {**self.members[0].config(), "members": len(self.members)}

    def layer_weights(self) -> dict[int, float]:
        """{tap: weight}, averaged over the members."""
        ws = [m.layer_weights() for m in self.members]
        return {t: float(np.mean([w[t] for w in ws])) for t in ws[0]}

    def select_taps(self, features: torch.Tensor) -> torch.Tensor:
        return self.members[0].select_taps(features)

    def frames(self, features: torch.Tensor) -> torch.Tensor:
        """Every member's own standardised, tap-mixed frames, stacked: ``[B, K, T, D]``."""
        return torch.stack([m.frames(features) for m in self.members], dim=1)

    def logits_from_frames(self, frames: torch.Tensor, mask=None, keep=None) -> torch.Tensor:
        """Ensemble logits from :meth:`frames` output (member k reads ``frames[:, k]``)."""
        return self._combine([m.logits_from_frames(frames[:, k], mask, keep) for k, m in enumerate(self.members)])

    def _combine(self, logits: list[torch.Tensor]) -> torch.Tensor:
        logp = torch.stack([torch.log_softmax(z, -1) for z in logits])
        return torch.logsumexp(logp, 0) - float(np.log(len(logits)))

    def forward(self, features, mask=None, keep=None) -> torch.Tensor:
        """Log of the mean class probability [B, n_classes]."""
        return self._combine([m(features, mask, keep) for m in self.members])

    def forward_with_weights(self, features, mask=None, keep=None) -> tuple[torch.Tensor, dict]:
        logits, weights = [], {}
        for k, m in enumerate(self.members):
            z, w = m.forward_with_weights(features, mask, keep)
            logits.append(z)
            weights.update({f"m{k}.{name}": v for name, v in w.items()})
        return self._combine(logits), weights


def pad_batch(arrays, taps=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack per-clip arrays [L, T_i, D] (or [T_i, D]) into (float32 [B, L, T, D], mask [B, T]).

    ``taps`` selects tap indices first (saves memory when the arrays hold every tap).

    >>> x, m = pad_batch([np.ones((2, 3, 4)), np.ones((2, 1, 4))])
    >>> tuple(x.shape), m.tolist()
    ((2, 2, 3, 4), [[True, True, True], [True, False, False]])
    """
    arrays = [a[None] if a.ndim == 2 else a for a in arrays]  # [T, D] -> [1, T, D]
    if taps is not None:
        arrays = [np.asarray(a[list(taps)]) for a in arrays]
    T = max(a.shape[-2] for a in arrays)
    L, D = arrays[0].shape[0], arrays[0].shape[-1]
    x = torch.zeros(len(arrays), L, T, D)
    mask = torch.zeros(len(arrays), T, dtype=torch.bool)
    for i, a in enumerate(arrays):
        x[i, :, : a.shape[-2]] = torch.from_numpy(np.array(a, dtype=np.float32))
        mask[i, : a.shape[-2]] = True
    return x, mask


@torch.no_grad()
def predict_proba(model: SERModel, arrays, batch_size: int = 32) -> np.ndarray:
    """Class probabilities [N, n_classes] for per-clip feature arrays (all taps or the model's taps)."""
    model.eval()
    out = []
    for b in range(0, len(arrays), batch_size):
        x, mask = pad_batch(arrays[b : b + batch_size])
        out.append(torch.softmax(model(x, mask), -1).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(model.labels)), np.float32)
