"""Faithfulness of frame rankings: deletion / insertion curves, AOPC, agreement, sanity check.

Deletion removes the top-k % frames of a ranking *from the pooling* (the pooler's keep
mask, so the remaining frames are renormalised exactly as if the removed ones had never
been there) and records the target probability; insertion keeps only the top-k % frames.
A ranking that finds the frames the model relies on makes the deletion curve fall
faster than a random ranking does. AOPC (area over the perturbation curve) is the mean
drop ``p(full) - p(k)`` over the fractions. Random rankings are averaged over seeded draws.

>>> from explain_ser.model import SERModel
>>> m = SERModel(labels=["a", "b"], dim=4, taps=[0], n_taps=1, pooler="mhaap", pooler_hparams={"n_heads": 1}).eval()
>>> x = np.random.default_rng(0).random((1, 20, 4)).astype("float32")
>>> curves = deletion_curves(m, x, {"flat": np.ones(20)}, fractions=(0.0, 0.5))
>>> sorted(curves.columns.tolist())
['curve', 'fraction', 'method', 'score']
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .attention import model_input

FRACTIONS = tuple(np.round(np.linspace(0.0, 0.9, 10), 2))


def _ranking(scores: np.ndarray) -> np.ndarray:
    """Frame indices from most to least important (stable for ties: earlier frame first)."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


@torch.no_grad()
def _probs_with_keep(model, h: torch.Tensor, keeps: np.ndarray) -> np.ndarray:
    """Class probabilities for each keep mask [n, T], from standardised frames ``h`` [1, T, D]."""
    k = torch.tensor(np.asarray(keeps), dtype=torch.float32)  # a copy: as_tensor warns on read-only arrays
    return torch.softmax(model.logits_from_frames(h.expand(k.shape[0], *h.shape[1:]), None, k), -1).numpy()


def deletion_curves(model, features, rankings: dict, fractions=FRACTIONS, target: int | None = None,
                    n_random: int = 10, seed: int = 0, insertion: bool = True) -> pd.DataFrame:
    """Long table ``method, curve (deletion|insertion), fraction, score`` for one clip.

    ``rankings`` maps a method name to per-frame importance scores [T] (higher = more
    important). A ``random`` method (mean of ``n_random`` seeded permutations) is added.
    At least one frame is always kept, so a deletion of 100 % is never asked for.
    """
    from ..threads import single_thread

    with single_thread():
        return _deletion_curves(model, features, rankings, fractions, target, n_random, seed, insertion)


def _deletion_curves(model, features, rankings, fractions, target, n_random, seed, insertion) -> pd.DataFrame:
    with torch.no_grad():
        x = model.frames(model.select_taps(model_input(model, features)))  # standardised once
    T = x.shape[-2]  # frames are [1, T, D] (an ensemble: [1, K, T, D])
    full = _probs_with_keep(model, x, np.ones((1, T)))[0]
    tgt = int(full.argmax()) if target is None else int(target)
    rng = np.random.default_rng(seed)
    orders = {name: [_ranking(s)] for name, s in rankings.items()}
    orders["random"] = [rng.permutation(T) for _ in range(n_random)]
    curves = ("deletion", "insertion") if insertion else ("deletion",)
    keeps, spans = [], []  # every keep mask of every curve, scored together in large batches
    for name, perms in orders.items():
        for curve in curves:
            start = len(keeps)
            for order in perms:
                for f in fractions:
                    n = min(int(round(f * T)), T - 1)
                    keep = np.ones(T) if curve == "deletion" else np.zeros(T)
                    if curve == "deletion":
                        keep[order[:n]] = 0.0
                    else:
                        keep[order[: max(n, 1)]] = 1.0
                    keeps.append(keep)
            spans.append((name, curve, start, len(perms)))
    keeps = np.stack(keeps)
    scores = np.concatenate([_probs_with_keep(model, x, keeps[b : b + 64])[:, tgt] for b in range(0, len(keeps), 64)])
    rows = []
    for name, curve, start, n_perms in spans:
        p = scores[start : start + n_perms * len(fractions)].reshape(n_perms, len(fractions)).mean(0)
        rows += [{"method": name, "curve": curve, "fraction": float(f), "score": float(s)}
                 for f, s in zip(fractions, p)]
    return pd.DataFrame(rows)


def aopc(curves: pd.DataFrame) -> pd.DataFrame:
    """AOPC per method (and clip, when a ``clip_id`` column is present) from deletion curves."""
    d = curves[curves["curve"] == "deletion"]
    keys = [c for c in ("clip_id", "method") if c in d.columns]

    def one(g):
        g = g.sort_values("fraction")
        return float((g["score"].iloc[0] - g["score"]).mean())

    return d.groupby(keys).apply(one, include_groups=False).rename("aopc").reset_index()


def spearman(a, b) -> float:
    """Spearman rank correlation of two frame-score vectors (NaN if either is constant)."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def randomization_check(model, features, methods=("ig",), seed: int = 0, **attr_kwargs) -> dict:
    """Model-parameter randomisation test (Adebayo et al. 2018): re-initialise the pooler and the
    classifier head, recompute attention and attributions, and report the Spearman similarity
    of each with the trained model's. Faithful explanations must change (similarity well below 1).
    """
    import copy

    from .attention import attention_weights
    from .attributions import attribute_frames

    _, att = attention_weights(model, features)
    attr, _ = attribute_frames(model, features, methods=methods, **attr_kwargs)
    rnd = copy.deepcopy(model)
    torch.manual_seed(seed)
    for member in getattr(rnd, "members", [rnd]):  # every member of an ensemble
        for module in list(member.pooler.modules()) + list(member.head.modules()):
            if hasattr(module, "reset_parameters") and module is not member.pooler:
                module.reset_parameters()
        for name, p in member.pooler.named_parameters(recurse=False):
            torch.nn.init.normal_(p, std=0.5)  # learned queries / CLS tokens are bare parameters
    rnd.eval()
    _, att_r = attention_weights(rnd, features)
    attr_r, _ = attribute_frames(rnd, features, methods=methods, **attr_kwargs)
    out = {"attention": spearman(att["mean"], att_r["mean"])}
    out.update({m: spearman(np.abs(attr[m]), np.abs(attr_r[m])) for m in methods})
    return out
