"""Out-of-fold predictions: one row per clip, predicted by the fold model that never heard its speaker.

``explain-ser train`` writes them as ``cv_predictions.csv`` next to the checkpoint (or next to ``cv.json``
with ``--cv-only``). Averaging the probabilities of several such runs over the SAME folds is exactly what an
ensemble of those recipes would have scored in cross-validation, without training anything again:
``explain-ser cv-ensemble run_a run_b run_c``. The same files give the selection-aware estimate of a recipe
search (:func:`nested_selection`, ``explain-ser cv-select``).

>>> import numpy as np, pandas as pd
>>> from explain_ser.splits import Fold
>>> man = pd.DataFrame({"clip_id": ["a", "b", "c", "d"], "speaker": ["s1", "s1", "s2", "s2"]})
>>> folds = [Fold("f0", "speakers", np.array([2, 3]), np.array([], int), np.array([0, 1])),
...          Fold("f1", "speakers", np.array([0, 1]), np.array([], int), np.array([2, 3]))]
>>> p1 = np.array([[.9, .1], [.6, .4], [.2, .8], [.7, .3]])
>>> p2 = np.array([[.8, .2], [.1, .9], [.3, .7], [.1, .9]])
>>> y = np.array([0, 1, 1, 1])
>>> f1 = predictions_frame(man, folds, ["neg", "pos"], y, p1)
>>> f1.columns.tolist()
['clip_id', 'speaker', 'fold', 'emotion', 'predicted', 'p_neg', 'p_pos']
>>> float(fold_scores(f1)["ua"].mean())    # fold f0: UA 0.5, f1: 0.5 (one of two 'pos' right)
0.5
>>> float(fold_scores(average([f1, predictions_frame(man, folds, ["neg", "pos"], y, p2)]))["ua"].mean())
1.0
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = ["FILENAME", "predictions_frame", "read_predictions", "average", "aligned", "nested_selection",
           "fold_scores"]

FILENAME = "cv_predictions.csv"
_KEY = ["clip_id", "speaker", "fold", "emotion"]


def predictions_frame(manifest: pd.DataFrame, folds, labels: Sequence[str], y, probs) -> pd.DataFrame:
    """One row per clip of ``manifest`` (in its order): id, speaker, test fold, true and predicted emotion,
    and the probability of every label (``p_<label>``). Clips in no fold's test set are left out."""
    probs = np.asarray(probs, dtype=np.float64)
    fold_of = np.full(len(manifest), "", dtype=object)
    for f in folds:
        fold_of[np.asarray(f.test, dtype=np.int64)] = f.name
    ids = manifest["clip_id"] if "clip_id" in manifest.columns else manifest.get("path", pd.Series(range(len(manifest))))
    speakers = manifest["speaker"] if "speaker" in manifest.columns else pd.Series([""] * len(manifest))
    labels = list(labels)
    out = pd.DataFrame({"clip_id": ids.astype(str).to_numpy(), "speaker": speakers.astype(str).to_numpy(),
                        "fold": fold_of, "emotion": [labels[int(i)] for i in y],
                        "predicted": [labels[int(i)] for i in probs.argmax(1)]})
    for i, lab in enumerate(labels):
        out[f"p_{lab}"] = probs[:, i].round(6)
    return out[out["fold"] != ""].reset_index(drop=True)


def read_predictions(path) -> pd.DataFrame:
    """A ``cv_predictions.csv``, or the training output directory that holds one."""
    from pathlib import Path

    p = Path(path)
    if p.is_dir():
        p = p / FILENAME
    if not p.is_file():
        raise InputError(str(path), f"no {FILENAME} here (`explain-ser train` writes one beside its checkpoint or cv.json)")
    try:
        df = pd.read_csv(p, dtype={"clip_id": str, "speaker": str, "fold": str, "emotion": str, "predicted": str})
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        raise InputError(str(p), f"not a readable CSV ({type(e).__name__})") from None
    missing = [c for c in _KEY if c not in df.columns]
    if missing or not any(c.startswith("p_") for c in df.columns):
        raise InputError(str(p), f"not an out-of-fold predictions file (missing {missing or 'p_<label> columns'})")
    probs = df[[c for c in df.columns if c.startswith("p_")]].apply(pd.to_numeric, errors="coerce").to_numpy()
    if not np.isfinite(probs).all():
        raise InputError(str(p), "has missing or non-numeric probabilities (a truncated or edited file?)")
    return df


def average(frames: Sequence[pd.DataFrame], names: Sequence[str] | None = None) -> pd.DataFrame:
    """The clip-wise mean of the probabilities of runs made on the same clips, folds and labels."""
    names = list(names) if names is not None else [f"run {i + 1}" for i in range(len(frames))]
    if len(frames) < 1:
        raise InputError("cv-ensemble", "give at least one run")
    ref = frames[0].reset_index(drop=True)  # its row (and so fold) order is kept
    pcols = [c for c in ref.columns if c.startswith("p_")]
    total = ref[pcols].to_numpy(dtype=np.float64)
    for d in aligned(frames, names)[1:]:
        total += d[pcols].to_numpy(dtype=np.float64)
    out = ref[_KEY].copy()
    mean = total / len(frames)
    out["predicted"] = [pcols[i][2:] for i in mean.argmax(1)]
    for j, c in enumerate(pcols):
        out[c] = mean[:, j]
    return out


def aligned(frames: Sequence[pd.DataFrame], names: Sequence[str]) -> list[pd.DataFrame]:
    """``frames`` with rows in the first one's clip order, after checking that all were cross-validated on
    the same clips, folds and labels (:class:`InputError` naming the first run that was not)."""
    ref = frames[0].reset_index(drop=True)
    pcols = sorted(c for c in ref.columns if c.startswith("p_"))
    for name, df in zip(names, frames):
        if df["clip_id"].duplicated().any():
            raise InputError(name, "names some clips twice (clip_id must be unique)")
    out = [ref]
    for name, df in zip(names[1:], frames[1:]):
        if sorted(c for c in df.columns if c.startswith("p_")) != pcols:
            raise InputError(name, f"has other labels than {names[0]}")
        d = df.set_index("clip_id").reindex(ref["clip_id"]).reset_index()  # rows matched by clip, not position
        if len(df) != len(ref) or not (d[_KEY].astype(str).to_numpy() == ref[_KEY].astype(str).to_numpy()).all():
            raise InputError(name, f"was not cross-validated on the same clips and folds as {names[0]}")
        out.append(d)
    return out


def nested_selection(frames: Sequence[pd.DataFrame], names: Sequence[str], key: str = "ua") -> dict:
    """Selection-aware CV of a search over candidate runs made on the same folds.

    For every fold f, the candidate with the best mean ``key`` over the OTHER folds is chosen (ties: the
    first given) and scored on f; the mean over folds of those scores is the nested estimate of "run the
    whole search, keep the winner". Beside it: the winner on all folds and its plain CV (what picking the
    best and reporting its own CV would claim; optimistic by the amount of selection).

    Returns ``{"per_fold": [{fold, chosen, score}], "nested": {mean, std}, "winner", "winner_cv": {mean, std},
    "candidates": {name: {mean, std, per_fold}}}``.

    >>> f = lambda p: pd.DataFrame({"clip_id": list("abcd"), "speaker": ["1", "1", "2", "2"],
    ...     "fold": ["f0", "f0", "f1", "f1"], "emotion": list("xyxy"), "predicted": p,
    ...     "p_x": [0.5] * 4, "p_y": [0.5] * 4})
    >>> r = nested_selection([f(list("xyyx")), f(list("yxxy"))], ["A", "B"])
    >>> r["winner"], r["winner_cv"]["mean"], r["nested"]["mean"], [d["chosen"] for d in r["per_fold"]]
    ('A', 0.5, 0.0, ['B', 'A'])
    """
    frames = aligned(frames, names)
    scores = [fold_scores(f).set_index("fold")[key] for f in frames]  # per candidate: fold -> score
    folds = list(scores[0].index)
    if len(folds) < 2:
        raise InputError(names[0], "has one fold; selection-aware CV needs at least 2")
    table = np.array([[s[f] for f in folds] for s in scores])  # [candidates, folds]
    per_fold = []
    for j, fold in enumerate(folds):
        others = np.delete(table, j, axis=1).mean(1)
        best = int(np.argmax(others))  # argmax keeps the first of equal candidates
        per_fold.append({"fold": fold, "chosen": names[best], "score": float(table[best, j])})
    nested = np.array([d["score"] for d in per_fold])
    means = table.mean(1)
    win = int(np.argmax(means))
    std = lambda v: float(v.std(ddof=1)) if len(v) > 1 else 0.0
    return {"key": key, "folds": folds, "per_fold": per_fold,
            "nested": {"mean": float(nested.mean()), "std": std(nested)},
            "winner": names[win], "winner_cv": {"mean": float(means[win]), "std": std(table[win])},
            "candidates": {n: {"mean": float(table[i].mean()), "std": std(table[i]),
                               "per_fold": [float(v) for v in table[i]]} for i, n in enumerate(names)}}


def fold_scores(df: pd.DataFrame) -> pd.DataFrame:
    """UA, WA and macro-F1 of every test fold (rows in fold order of first appearance)."""
    from .metrics import classification_metrics

    labels = [c[2:] for c in df.columns if c.startswith("p_")]
    rows = []
    for fold, g in df.groupby("fold", sort=False):
        m = classification_metrics(g["emotion"].astype(str), g["predicted"].astype(str), labels=labels)
        rows.append({"fold": fold, "n": len(g), "ua": m["ua"], "wa": m["wa"], "macro_f1": m["macro_f1"]})
    return pd.DataFrame(rows)
