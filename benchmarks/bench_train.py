"""Training speed: seconds per fold and per epoch for each pooler on cached tiny.en RAVDESS features.

    python benchmarks/bench_train.py [--manifest ../shared/corpora/ravdess/manifest.csv] [--epochs 5]

Falls back to synthetic features of RAVDESS' shape (1080 clips x ~180 frames x 384) when the corpus or the
Whisper weights are missing. Prints one line per pooler: s/epoch on the training speakers of fold 0.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from explain_ser.sweep import DEFAULT_POOLER_HPARAMS, default_folds, load_corpus, pooler_spec
from explain_ser.train import FeatureSet, TrainConfig, fit


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "corpora",
                                                        "ravdess", "manifest.csv"))
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--tap", type=int, default=2)
    ap.add_argument("--poolers", default=",".join(DEFAULT_POOLER_HPARAMS))
    args = ap.parse_args()
    try:
        c = load_corpus(args.manifest, taps=[args.tap], progress=False)
        data, y, labels, dim = c.data, c.y, c.labels, c.encoder["dim"]
        fold = default_folds(c.manifest)[0]
        train, val, what = fold.train, fold.val, f"{args.manifest} tap {args.tap}, fold 0"
        taps = [args.tap]
    except Exception as e:  # no corpus / no weights: same shapes, random numbers
        print(f"(synthetic features: {e})")
        rng = np.random.default_rng(0)
        arrays = [rng.normal(size=(1, int(rng.integers(140, 260)), 384)).astype(np.float16) for _ in range(1080)]
        data, y, labels, dim = FeatureSet(arrays), np.arange(1080) % 8, [str(i) for i in range(8)], 384
        train, val, what = np.arange(780), np.arange(780, 900), "synthetic 1080 x ~200 x 384"
        taps = [0]
    print(f"{what}: {len(train)} training clips, {len(val)} validation clips, torch threads {torch.get_num_threads()}")
    for name in args.poolers.split(","):
        pooler, hp = pooler_spec(name)
        kw = {"dim": dim, "taps": taps, "pooler": pooler, "pooler_hparams": hp}
        t = time.perf_counter()
        _, hist = fit(data, y, train, val, labels=labels, model_kwargs=kw,
                      config=TrainConfig(epochs=args.epochs, patience=args.epochs))
        dt = time.perf_counter() - t
        print(f"{name:12s} {dt / hist['epochs_run']:6.2f} s/epoch (train + validation), {dt:6.1f} s for "
              f"{hist['epochs_run']} epochs", flush=True)


if __name__ == "__main__":
    main()
