"""A segment-level category head for the vocalization tagger: which sound a detected event is, from the
Whisper taps pooled over the whole event.

The frame head (:class:`explain_ser.tagger_train.TaggerNet`) sees at most its convolutions' context, and
its summed class probabilities name an event by its frames' votes. A breath and a cough differ most in their
whole shape (a burst and its decaying tail against a long even stream of noise), so this head pools every
tap over the event (mean and standard deviation per dimension) and names it with a multinomial logistic
regression (standardised inputs, L2 penalty ``C``), fitted on the TRUE event spans of the training clips.
Its weights are a few arrays stored beside the frame head's (``category.*`` in ``model.safetensors``).

>>> rng = np.random.default_rng(0)
>>> f = [rng.standard_normal((2, 40, 3)).astype(np.float32) for _ in range(8)]
>>> for k in range(8): f[k][:, 10:30] += 3.0 if k % 2 else -3.0
>>> truth = [[Interval(0.2, 0.6, "cough" if k % 2 else "breath")] for k in range(8)]
>>> head = fit_category(f, truth, range(8), ["breath", "cough"], C=1.0)
>>> name_events(head, f[1], [Interval(0.2, 0.6, "breath", 0.9)], ["breath", "cough"])[0].label
'cough'
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .align.base import Interval
from .timegrid import FRAME_SECONDS

__all__ = ["pool_span", "fit_category", "category_probs", "name_events", "PREFIX"]

PREFIX = "category."


def _frames(e: Interval, n: int) -> tuple[int, int]:
    a = min(max(0, int(round(e.start / FRAME_SECONDS))), max(0, n - 1))
    return a, min(n, max(a + 1, int(round(e.end / FRAME_SECONDS))))


def pool_span(features: np.ndarray, a: int, b: int) -> np.ndarray:
    """Mean and standard deviation of every tap over frames ``a:b`` of ``features [L, T, D]``: ``[2 L D]``.

    >>> pool_span(np.arange(12, dtype=np.float32).reshape(1, 4, 3), 0, 2).tolist()
    [1.5, 2.5, 3.5, 1.5, 1.5, 1.5]
    """
    seg = np.asarray(features[:, a:b], dtype=np.float64)
    return np.concatenate([np.concatenate([s.mean(0), s.std(0)]) for s in seg]).astype(np.float32)


def fit_category(feats, truth, idx, tags, C: float = 0.01, seed: int = 0) -> dict:
    """The head fitted on the true events of clips ``idx`` (``truth[i]``: that clip's events):
    ``{"mean", "scale", "coef" [n_tags, 2 L D], "intercept" [n_tags]}`` as float32 arrays, rows in ``tags``
    order (a tag without training events gets a never-winning row)."""
    from sklearn.linear_model import LogisticRegression

    X, y = [], []
    for i in idx:
        for e in truth[i]:
            if e.label in tags:
                X.append(pool_span(feats[i], *_frames(e, feats[i].shape[1])))
                y.append(e.label)
    X = np.asarray(X, dtype=np.float64)
    mean, scale = X.mean(0), X.std(0)
    scale[scale < 1e-8] = 1.0
    lr = LogisticRegression(C=C, max_iter=3000, random_state=seed).fit((X - mean) / scale, np.asarray(y))
    coef = np.zeros((len(tags), X.shape[1]))
    icpt = np.full(len(tags), -1e4)
    if len(lr.classes_) == 2:  # scikit-learn keeps one row for two classes: logit of the second
        rows = {lr.classes_[1]: (lr.coef_[0], lr.intercept_[0]), lr.classes_[0]: (0 * lr.coef_[0], 0.0)}
    else:
        rows = {c: (lr.coef_[k], lr.intercept_[k]) for k, c in enumerate(lr.classes_)}
    for k, t in enumerate(tags):
        if t in rows:
            coef[k], icpt[k] = rows[t]
    return {"mean": mean.astype(np.float32), "scale": scale.astype(np.float32), "coef": coef.astype(np.float32),
            "intercept": icpt.astype(np.float32)}


def category_probs(head: dict, x: np.ndarray) -> np.ndarray:
    """Softmax over the tags of pooled vectors ``x [n, 2 L D]`` (or one vector)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    z = ((x - head["mean"]) / head["scale"]) @ np.asarray(head["coef"], dtype=np.float64).T + head["intercept"]
    z = np.exp(z - z.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


def name_events(head: dict | None, features: np.ndarray, events: list[Interval], tags,
                probs: np.ndarray | None = None) -> list[Interval]:
    """Each event renamed by the head; its confidence becomes the head's probability of that name times the
    event's mean vocalization probability ``1 - P(none)`` (frame probabilities ``probs``; without them, its
    confidence so far). Unchanged without a head."""
    if head is None or not events:
        return events
    tags = list(tags)
    x = np.stack([pool_span(features, *_frames(e, features.shape[1])) for e in events])
    p = category_probs(head, x)
    out = []
    for e, q in zip(events, p):
        k = int(np.argmax(q))
        if probs is not None:
            a, b = _frames(e, len(probs))
            conf = round(float(np.mean(1.0 - np.asarray(probs)[a:b, 0])) * float(q[k]), 3)
        else:
            conf = None if e.confidence is None else round(float(e.confidence) * float(q[k]), 3)
        out.append(replace(e, label=tags[k], confidence=conf))
    return out
