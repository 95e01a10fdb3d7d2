"""Issue 28: the UA difference of two models on the SAME clips, with a paired speaker-bootstrap CI.

Two models scored on one set of held-out clips (``explain-ser evaluate ... --predictions A.csv``) differ by
less than their separate CIs suggest: the clips and speakers are shared. Each bootstrap replicate draws
speakers with replacement once and recomputes both UAs on that draw.

    python analyses/paired_ua.py A.csv B.csv [--n-boot 2000] [--seed 0]

>>> import pandas as pd
>>> a = pd.DataFrame({"clip_id": list("abcd"), "speaker": ["1", "1", "2", "2"], "emotion": list("xyxy"),
...                   "predicted": list("xyxx")})
>>> b = a.assign(predicted=list("xxxx"))
>>> r = paired_difference(a, b, n_boot=200)
>>> round(r["ua_a"], 3), round(r["ua_b"], 3), round(r["diff"], 3)
(0.75, 0.5, 0.25)
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import pandas as pd


def _counts(df: pd.DataFrame, speakers, labels):
    idx = {s: i for i, s in enumerate(speakers)}
    correct = np.zeros((len(speakers), len(labels)))
    total = np.zeros((len(speakers), len(labels)))
    for s, t, p in zip(df["speaker"].astype(str), df["emotion"].astype(str), df["predicted"].astype(str)):
        j = labels.index(t)
        total[idx[s], j] += 1
        correct[idx[s], j] += float(t == p)
    return correct, total


def paired_difference(a: pd.DataFrame, b: pd.DataFrame, n_boot: int = 2000, seed: int = 0, ci: float = 0.95) -> dict:
    """UA of ``a`` and ``b`` (per-clip predictions with clip_id, speaker, emotion, predicted) and of ``a - b``."""
    from explain_ser.stats import seeded_resample_counts

    b = b.set_index(b["clip_id"].astype(str)).loc[a["clip_id"].astype(str)].reset_index(drop=True)
    if not (a["emotion"].astype(str).to_numpy() == b["emotion"].astype(str).to_numpy()).all():
        raise SystemExit("the two files do not hold the same clips with the same labels")
    speakers = sorted(a["speaker"].astype(str).unique())
    labels = sorted(a["emotion"].astype(str).unique())
    ca, ta = _counts(a, speakers, labels)
    cb, tb = _counts(b, speakers, labels)
    m = seeded_resample_counts(len(speakers), int(n_boot), int(seed))

    def ua(c, t, w=None):
        cs, ts = (c.sum(0), t.sum(0)) if w is None else (w @ c, w @ t)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nanmean(np.where(ts > 0, cs / np.where(ts > 0, ts, 1), np.nan), axis=-1)

    reps = ua(ca, ta, m) - ua(cb, tb, m)
    alpha = (1 - ci) / 2
    lo, hi = np.quantile(reps, [alpha, 1 - alpha])
    return {"ua_a": float(ua(ca, ta)), "ua_b": float(ua(cb, tb)), "diff": float(ua(ca, ta) - ua(cb, tb)),
            "low": float(lo), "high": float(hi), "p_a_not_better": float((reps <= 0).mean()),
            "n_clips": int(len(a)), "n_speakers": len(speakers), "n_boot": int(n_boot), "seed": int(seed)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--n-boot", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    r = paired_difference(pd.read_csv(args.a, dtype=str), pd.read_csv(args.b, dtype=str), args.n_boot, args.seed)
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
