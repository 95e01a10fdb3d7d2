"""Issue 28, one more lever on the lockbox's DEV actors: does utterance prosody add what the Whisper taps miss?

Whisper was trained to transcribe, so its taps may carry less of the pitch and loudness contour than emotion needs.
Each dev clip (as recorded) gets 17 prosodic functionals from :func:`explain_ser.prosody.extract_prosody`:
F0 in semitones re 100 Hz over voiced frames (median, spread, 5/90/95th percentiles, slope, mean absolute change),
intensity over the frames within 30 dB of the loudest (spread, peak over median, 10-90 range; level-free, like
the shipped input rule), the voiced share and voiced stretches per second, the speech's length, and median HNR,
jitter and shimmer. A logistic regression on them is trained on each dev fold's training actors and its log
probabilities are added, with weight w, to those of the shipped recipe's fold model on the same held-out clips
(``analyses/results/dev_levers/P_shipped_fold*.npy``, written by ``TAG=shipped python analyses/dev_levers.py
run``): late fusion, no retraining.

    python analyses/dev_prosody.py [--out analyses/results/dev_levers]

Prints UA per fold for prosody alone and for w = 0 (the shipped recipe), 0.25, 0.5 and 1. Three weights were
tried, so the best of them carries a selection among three. No locked actor is loaded.

>>> import numpy as np
>>> t = np.arange(32000) / 16000
>>> v = functionals((0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32))
>>> v.shape, round(float(v[0]), 1)  # 200 Hz = 12 semitones above 100 Hz
((17,), 12.0)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explain_ser.prosody import extract_prosody  # noqa: E402

FRAMES_PER_SECOND = 50  # the encoder grid: 20 ms frames
WEIGHTS = (0.25, 0.5, 1.0)


def functionals(x: np.ndarray) -> np.ndarray:
    """17 level-free prosodic functionals of a 16 kHz clip (see the module text)."""
    p = extract_prosody(x)
    voiced = p.voiced >= 0.5
    f0 = p.f0[voiced & np.isfinite(p.f0)]
    st = 12 * np.log2(f0 / 100.0) if len(f0) > 3 else np.zeros(4)
    loud = p.intensity > p.intensity.max() - 30
    it = p.intensity[loud]
    slope = np.polyfit(np.arange(len(st)), st, 1)[0]
    stretches = int((np.diff(np.concatenate([[0], voiced.astype(int), [0]])) == 1).sum())
    hnr = p.hnr[voiced & np.isfinite(p.hnr)]
    jit, shim = p.jitter[np.isfinite(p.jitter)], p.shimmer[np.isfinite(p.shimmer)]

    def med(a):
        return float(np.median(a)) if len(a) else 0.0

    return np.array([np.median(st), st.std(), np.percentile(st, 90) - np.percentile(st, 10), np.percentile(st, 95),
                     np.percentile(st, 5), slope, np.abs(np.diff(st)).mean(),
                     it.std(), it.max() - np.median(it), np.percentile(it, 90) - np.percentile(it, 10),
                     voiced[loud].mean(), stretches / max(1, loud.sum()) * FRAMES_PER_SECOND,
                     loud.sum() / FRAMES_PER_SECOND, med(hnr), hnr.std() if len(hnr) else 0.0, med(jit), med(shim)],
                    dtype=np.float64)


def main(argv=None) -> int:
    import soundfile as sf
    from sklearn.linear_model import LogisticRegression

    from _common import dev_split, fold_probabilities

    from explain_ser.metrics import classification_metrics

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="analyses/results/dev_levers")
    args = ap.parse_args(argv)
    df, labels, y, folds = dev_split()  # dev_levers.py's folds
    shipped = fold_probabilities(Path(args.out), "shipped", len(folds))
    X = np.nan_to_num(np.stack([functionals(sf.read(p, dtype="float32")[0]) for p in df["path"]]))
    rows = {"prosody alone": [], **{f"w = {w}": [] for w in (0.0, *WEIGHTS)}}
    for i, fold in enumerate(folds):
        mean, scale = X[fold.train].mean(0), X[fold.train].std(0) + 1e-9
        lr = LogisticRegression(C=1.0, max_iter=5000).fit((X[fold.train] - mean) / scale, y[fold.train])
        pp = lr.predict_proba((X[fold.test] - mean) / scale)
        ps = shipped[i]

        def ua(pred):
            return 100 * classification_metrics(y[fold.test], pred, labels=range(len(labels)))["ua"]

        rows["prosody alone"].append(ua(pp.argmax(1)))
        for w in (0.0, *WEIGHTS):
            rows[f"w = {w}"].append(ua((np.log(ps + 1e-9) + w * np.log(pp + 1e-9)).argmax(1)))
    for name, r in rows.items():
        print(f"{name:14s} " + " ".join(f"{v:5.1f}" for v in r) + f"   mean {np.mean(r):5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
