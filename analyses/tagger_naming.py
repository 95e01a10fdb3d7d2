"""Issue 27: how well can a segment head name a breath or a cough from the Whisper taps, given the TRUE span?

The shipped tagger's misses on real breaths and coughs are mostly naming, not detection: of the breaths it
loses, most are found at the right time but called a cough (and the other way round), and almost all of them
are short. This study takes detection out of the question: every true event of an events table is pooled over
its true span and named by a head fitted on the true events of the other folds' speakers (the same 5 folds of
host speakers as ``explain-ser train-tagger --folds 5``, so the vocalizing people are held out too). Variants
change the pooled features or the classifier; a variant that names short sounds much better would be worth a new
head, one that does not says the taps hold no more about them.

    python analyses/tagger_naming.py /tmp/tagger/table4/events.csv [VARIANT ...]

Variants (default: all): ``base`` (the shipped head: every tap's mean and standard deviation over the event,
standardised, logistic regression C = 0.01), ``C=0.003``, ``C=0.03``, ``max`` (+ every tap's maximum),
``onset`` (+ the first 200 ms pooled apart), ``taps012`` / ``taps234`` (only those taps), ``lda`` (shrinkage
LDA on 256 principal components), ``mlp`` (one hidden layer of 128). Prints, per variant, the share named right
per category and for breaths and coughs under / from 1 s. Features come from the cache (``train-tagger`` fills it).

>>> import numpy as np
>>> f = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
>>> pooled(f, 0, 2, "max").shape, pooled(f, 0, 2, "taps012").shape
((18,), (12,))
"""

from __future__ import annotations

import sys

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))

from explain_ser.tagger_segments import _frames, pool_span  # noqa: E402

VARIANTS = ("base", "C=0.003", "C=0.03", "max", "onset", "taps012", "taps234", "lda", "mlp")
ONSET_FRAMES = 10  # 200 ms: a cough's burst, a breath's slow rise


def pooled(f: np.ndarray, a: int, b: int, variant: str) -> np.ndarray:
    """The event's vector for one variant, from taps ``f [L, T, D]`` over frames ``a:b``."""
    keep = {"taps012": [0, 1, 2], "taps234": [2, 3, 4]}.get(variant)
    if keep is not None:
        f = f[[k for k in keep if k < f.shape[0]]]
    parts = [pool_span(f, a, b)]
    if variant == "max":
        parts.append(np.asarray(f[:, a:b], np.float32).max(1).ravel())
    if variant == "onset":
        parts.append(pool_span(f, a, min(b, a + ONSET_FRAMES)))
    return np.concatenate(parts).astype(np.float64)


def classifier(variant: str, seed: int):
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline

    if variant == "lda":
        return make_pipeline(PCA(256, random_state=seed), LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"))
    if variant == "mlp":
        return MLPClassifier((128,), alpha=1.0, max_iter=500, early_stopping=True, random_state=seed)
    C = float(variant.split("=")[1]) if variant.startswith("C=") else 0.01
    return LogisticRegression(C=C, max_iter=3000, random_state=seed)


def study(events_path: str, variants=VARIANTS, n_folds: int = 5) -> list[str]:
    from explain_ser.encoder import Encoder
    from explain_ser.features import FeatureStore
    from explain_ser.tagger_events import read_events
    from explain_ser.tagger_train import group_folds, load_features

    ev = read_events(events_path)
    feats, _ = load_features(ev, Encoder("tiny.en", "trim"), FeatureStore(), False)
    truth = [ev.events_of(c) for c in ev.clips["clip"]]
    folds = group_folds(ev.clips["group"].to_numpy(), n_folds, 0.2, 0)  # train-tagger's folds
    lines = []
    for var in variants:
        rows = []  # (tag, duration, named right)
        for k, fold in enumerate(folds):
            test = set(int(i) for i in fold.test)
            X, y = [], []
            for i in range(len(feats)):
                if i not in test:
                    for e in truth[i]:
                        X.append(pooled(feats[i], *_frames(e, feats[i].shape[1]), var))
                        y.append(e.label)
            X = np.asarray(X)
            mean, scale = X.mean(0), X.std(0)
            scale[scale < 1e-8] = 1.0
            head = classifier(var, k).fit((X - mean) / scale, y)
            for i in sorted(test):
                for e in truth[i]:
                    v = (pooled(feats[i], *_frames(e, feats[i].shape[1]), var) - mean) / scale
                    rows.append((e.label, e.end - e.start, head.predict(v[None])[0] == e.label))
        cells = []
        for t in ev.tags:
            r = [ok for tag, _, ok in rows if tag == t]
            cells.append(f"{t} {100 * np.mean(r):.1f}")
        for t in ("breath", "cough"):
            for name, sel in (("< 1 s", lambda d: d < 1.0), (">= 1 s", lambda d: d >= 1.0)):
                r = [ok for tag, d, ok in rows if tag == t and sel(d)]
                if r:
                    cells.append(f"{t} {name} {100 * np.mean(r):.1f} ({len(r)})")
        lines.append(f"{var:8s} " + " | ".join(cells))
        print(lines[-1], flush=True)
    return lines


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    study(sys.argv[1], sys.argv[2:] or VARIANTS)
