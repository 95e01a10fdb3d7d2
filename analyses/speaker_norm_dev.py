"""Issue 28: what per-speaker normalisation (``evaluate --speaker-norm``) gives on the lockbox's DEV actors, and
when it hurts. No training: it re-scores the dev fold models' stored test probabilities
(``analyses/results/dev_levers/P_<tag>_fold<i>.npy``, from ``analyses/dev_levers.py``).

1. Plain against speaker-normalised UA per dev fold, for the shipped recipe and two other recipes.
2. Unbalanced speakers: RAVDESS records every emotion of every actor, the best case for the normalisation. Each
   held-out speaker keeps all clips of one emotion drawn at random and a share ``q`` of the others (20 draws per
   ``q``); printed with the mean share of a speaker's clips in its commonest emotion.

    python analyses/speaker_norm_dev.py [--out analyses/results/dev_levers]

>>> import numpy as np
>>> dominant_share(np.array([0, 0, 0, 1]), np.array(["a", "a", "a", "a"]))
0.75
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explain_ser.speaker_norm import center_by_speaker  # noqa: E402

RECIPES = ("shipped", "as-recorded-gain-noise-pad-join", "whisper-base-taps345")
SHARES = (1.0, 0.5, 0.25, 0.1, 0.05)


def dominant_share(y: np.ndarray, speakers: np.ndarray) -> float:
    """Mean over speakers of the share of their clips in their commonest emotion."""
    return float(np.mean([np.bincount(y[speakers == s]).max() / (speakers == s).sum() for s in np.unique(speakers)]))


def main(argv=None) -> int:
    from _common import dev_split, fold_probabilities

    from explain_ser.metrics import classification_metrics

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="analyses/results/dev_levers")
    args = ap.parse_args(argv)
    df, labels, y, folds = dev_split()  # dev_levers.py's folds
    spk = df["speaker"].astype(str).to_numpy()

    def ua(t, p):
        return 100 * classification_metrics(t, p, labels=range(len(labels)))["ua"]

    probs = {r: fold_probabilities(Path(args.out), r, len(folds)) for r in RECIPES}
    for r in RECIPES:
        plain = [ua(y[f.test], p.argmax(1)) for f, p in zip(folds, probs[r])]
        norm = [ua(y[f.test], center_by_speaker(p, spk[f.test]).argmax(1)) for f, p in zip(folds, probs[r])]
        print(f"{r:34s} plain {' '.join(f'{v:5.1f}' for v in plain)} mean {np.mean(plain):5.1f} | "
              f"speaker-normalised {' '.join(f'{v:5.1f}' for v in norm)} mean {np.mean(norm):5.1f}")
    rng = np.random.default_rng(0)
    for q in SHARES:
        plain, norm, share = [], [], []
        for _ in range(20):
            yy, a, b, ss = [], [], [], []
            for f, p in zip(folds, probs["shipped"]):
                t, s = y[f.test], spk[f.test]
                keep = np.zeros(len(t), dtype=bool)
                for sp in np.unique(s):
                    m = np.flatnonzero(s == sp)
                    dom = rng.integers(len(labels))
                    keep[m[t[m] == dom]] = True
                    rest = m[t[m] != dom]
                    keep[rest[rng.random(len(rest)) < q]] = True
                yy.append(t[keep]), a.append(p[keep].argmax(1))
                b.append(center_by_speaker(p[keep], s[keep]).argmax(1)), ss.append(s[keep])
            yy, a, b, ss = map(np.concatenate, (yy, a, b, ss))
            plain.append(ua(yy, a)), norm.append(ua(yy, b)), share.append(dominant_share(yy, ss))
        print(f"others kept {q:4.2f}: commonest emotion {100 * np.mean(share):4.0f} % of a speaker's clips; "
              f"UA plain {np.mean(plain):5.1f}, speaker-normalised {np.mean(norm):5.1f} "
              f"({np.mean(norm) - np.mean(plain):+.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
