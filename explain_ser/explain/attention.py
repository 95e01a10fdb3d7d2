"""Attention export: the pooler's own weights for one clip.

>>> import numpy as np, torch
>>> from explain_ser.model import SERModel
>>> m = SERModel(labels=["a", "b"], dim=8, taps=[1], n_taps=3, pooler="mhaap", pooler_hparams={"n_heads": 2}).eval()
>>> probs, att = attention_weights(m, np.random.rand(3, 10, 8).astype("float32"))
>>> probs.shape, sorted(att), round(float(att["mean"].sum()), 6)
((2,), ['h0', 'h1', 'mean'], 1.0)
"""

from __future__ import annotations

import numpy as np
import torch


def model_input(model, features: np.ndarray) -> torch.Tensor:
    """One clip's features ``[n_taps, T, D]`` (or the model's taps) as the model's input ``[1, L, T, D]``."""
    x = np.asarray(features, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    # np.array copies: cached features are read-only memory maps, which torch.from_numpy warns about
    return torch.from_numpy(np.array(x, dtype=np.float32, order="C"))[None]


@torch.no_grad()
def attention_weights(model, features: np.ndarray, keep: np.ndarray | None = None):
    """(probabilities [C], {head: weights [T]} with ``"mean"`` = the mean over heads).

    Every head's weights sum to 1 over the clip's frames; the model must be in eval mode,
    so two calls give identical results.
    """
    assert not model.training, "attention is exported in eval mode only (dropout off)"
    from ..threads import single_thread

    with single_thread():
        return _attention_weights(model, features, keep)


def _attention_weights(model, features, keep):
    x = model_input(model, features)
    keep_t = None if keep is None else torch.tensor(np.asarray(keep), dtype=torch.float32)[None]  # copy: keep may be read-only
    logits, weights = model.forward_with_weights(x, None, keep_t)
    probs = torch.softmax(logits, -1)[0].numpy().astype(np.float64)
    att = {name: w[0].numpy().astype(np.float64) for name, w in weights.items()}
    att["mean"] = np.mean(np.stack(list(att.values())), axis=0)
    return probs, att
