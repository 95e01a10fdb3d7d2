"""Classification metrics for SER: UA, WA, macro-F1, per-class recall, confusion; mean ± std over folds.

UA (unweighted accuracy) is the mean of the per-class recalls (scikit-learn's balanced accuracy); WA
(weighted accuracy) is plain accuracy. Labels are passed explicitly so that a class absent from one fold's
predictions still gets its row and column.

>>> m = classification_metrics(["a", "a", "b", "c"], ["a", "b", "b", "c"], labels=["a", "b", "c"])
>>> round(m["ua"], 4), m["wa"], m["recall"], m["confusion"]
(0.8333, 0.75, {'a': 0.5, 'b': 1.0, 'c': 1.0}, [[1, 1, 0], [0, 1, 0], [0, 0, 1]])
"""

from __future__ import annotations

import numpy as np

__all__ = ["classification_metrics", "summarize_folds", "format_mean_std"]

SUMMARY_KEYS = ("ua", "wa", "macro_f1")


def classification_metrics(y_true, y_pred, labels) -> dict:
    """UA, WA, macro-F1 (all in [0, 1]), per-class recall {label: r} and confusion [true][pred] (counts).

    Classes of ``labels`` that never occur in ``y_true`` are left out of UA and macro-F1 (their recall is
    undefined and reported as NaN), as scikit-learn's balanced accuracy does.
    """
    from sklearn.metrics import confusion_matrix, f1_score

    labels = list(labels)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    assert y_true.shape == y_pred.shape and y_true.ndim == 1, "y_true and y_pred must be 1-D of equal length"
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    support = cm.sum(1)
    present = support > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(present, np.diag(cm) / np.maximum(support, 1), np.nan)
    present_labels = [lab for lab, p in zip(labels, present) if p]
    return {
        "ua": float(np.nanmean(recall)) if present.any() else float("nan"),
        "wa": float(np.trace(cm) / max(cm.sum(), 1)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present_labels, average="macro", zero_division=0)),
        "recall": {lab: float(r) for lab, r in zip(labels, recall)},
        "confusion": cm.astype(int).tolist(),
        "n": int(cm.sum()),
    }


def summarize_folds(per_fold: list[dict], keys=SUMMARY_KEYS) -> dict:
    """Mean and sample std (ddof=1; 0 for one fold) of each key over folds: {key: {"mean", "std"}}.

    >>> summarize_folds([{"ua": 0.5, "wa": 0.6, "macro_f1": 0.4}, {"ua": 0.7, "wa": 0.6, "macro_f1": 0.6}])["ua"]
    {'mean': 0.6, 'std': 0.1414}
    """
    out = {}
    for k in keys:
        v = np.array([f[k] for f in per_fold], dtype=float)
        out[k] = {
            "mean": round(float(v.mean()), 4),
            "std": round(float(v.std(ddof=1)) if len(v) > 1 else 0.0, 4),
        }
    return out


def format_mean_std(summary: dict, key: str, percent: bool = True) -> str:
    """'73.4 ± 5.1' from a :func:`summarize_folds` entry.

    >>> format_mean_std({"ua": {"mean": 0.7341, "std": 0.051}}, "ua")
    '73.4 ± 5.1'
    """
    s = 100 if percent else 1
    return f"{summary[key]['mean'] * s:.1f} ± {summary[key]['std'] * s:.1f}"
