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

__all__ = ["classification_metrics", "summarize_folds", "format_mean_std", "ua_speaker_ci"]

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


def ua_speaker_ci(y_true, y_pred, speakers, labels, n_boot: int = 2000, ci: float = 0.95, seed: int = 0) -> dict:
    """UA with a speaker-bootstrap percentile CI: whole speakers are resampled with replacement (clips of one
    speaker are not independent), and UA is recomputed on every replicate from per-speaker, per-class counts.

    Returns ``{"ua", "low", "high", "n_speakers", "n_boot", "seed"}``. A replicate missing a class averages the
    recalls of the classes it has (as :func:`classification_metrics` does).

    >>> y = ["a", "a", "b", "b", "a", "b"]; p = ["a", "b", "b", "b", "a", "a"]; s = ["s1"] * 2 + ["s2"] * 2 + ["s3"] * 2
    >>> r = ua_speaker_ci(y, p, s, ["a", "b"], n_boot=500)
    >>> round(r["ua"], 4), r["n_speakers"], bool(r["low"] <= r["ua"] <= r["high"])
    (0.6667, 3, True)
    """
    from .stats import seeded_resample_counts

    labels = list(labels)
    y_true, y_pred, speakers = np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str), np.asarray(speakers).astype(str)
    spk, codes = np.unique(speakers, return_inverse=True)
    cls = np.array([labels.index(v) if v in labels else -1 for v in y_true])
    keep = cls >= 0
    correct = np.zeros((len(spk), len(labels)))
    total = np.zeros((len(spk), len(labels)))
    np.add.at(total, (codes[keep], cls[keep]), 1.0)
    np.add.at(correct, (codes[keep], cls[keep]), (y_true == y_pred)[keep].astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        ua = float(np.nanmean(np.where(total.sum(0) > 0, correct.sum(0) / total.sum(0), np.nan)))
        m = seeded_resample_counts(len(spk), int(n_boot), int(seed))  # [n_boot, n_speakers]
        tot = m @ total
        rec = np.where(tot > 0, (m @ correct) / np.where(tot > 0, tot, 1.0), np.nan)
        reps = np.nanmean(rec, axis=1)
    alpha = (1.0 - ci) / 2.0
    lo, hi = np.nanquantile(reps, [alpha, 1.0 - alpha])
    return {"ua": ua, "low": float(lo), "high": float(hi), "n_speakers": int(len(spk)), "n_boot": int(n_boot),
            "seed": int(seed), "ci": ci}
