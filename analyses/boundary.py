"""Issue 28: how much of each attention head's mass sits on the first / last 10 % of the frames the model sees.

A head that keeps its mass at the end of the input "explains" by position (the boundary where a trimmed
input stops), whatever was said. Uniform attention puts 10 % there. Two ways to run it:

    # the fold models of a cross-validation run (train --save-fold-models), each on its own test clips
    python analyses/boundary.py --run RUN_DIR [--manifest ../shared/corpora/ravdess/manifest.csv]
    # one checkpoint on a manifest (e.g. the lockbox's locked actors)
    python analyses/boundary.py --checkpoint CK --manifest M [--lockbox locked]

Prints one line per head: mean mass on the first and last 10 % of frames over clips (%), and the worst head.
``--json`` prints the numbers. Clips are read from the feature cache (extract them first).

``--crop 0.6`` tells the input's end apart from the sentence's last word (RAVDESS' sentences all end in
"door"): every clip is cut to its first 60 % (its original samples; the model's input rule then applies as
always), so the input ends mid-sentence. A head that latches onto the boundary keeps its mass on the last
frames; a head that listens to the last word loses it.

>>> import numpy as np
>>> edge_mass(np.array([[0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]]), 0.1)
(array([0.5]), array([0.5]))
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np


def edge_mass(weights: np.ndarray, frac: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """``weights`` ``[heads, T]`` (each row sums to 1) -> mass on the first and last ``ceil(frac * T)`` frames."""
    n = max(1, math.ceil(frac * weights.shape[1]))
    return weights[:, :n].sum(1), weights[:, -n:].sum(1)


def clip_edges(model, feats: list, frac: float) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Per clip and head: (head names, first-edge mass ``[clips, heads]``, last-edge mass)."""
    import torch

    from explain_ser.model import pad_batch

    firsts, lasts = [], []
    model.eval()
    with torch.no_grad():
        for a in feats:
            x, mask = pad_batch([a])  # the features hold only the model's taps already
            _, w = model.forward_with_weights(x, mask)
            names = list(w)
            W = np.stack([w[h][0].numpy() for h in names])  # [heads, T]
            f, last = edge_mass(W, frac)
            firsts.append(f)
            lasts.append(last)
    return names, np.array(firsts), np.array(lasts)


CROP = {"frac": None}  # set by --crop


def _features(ck, df):
    from explain_ser.features import FeatureStore, features_for_manifest, features_of

    if CROP["frac"] is None:
        return features_for_manifest(df, ck.encoder(), FeatureStore(None), layers=ck.model.taps, progress=False)
    from explain_ser.audio import Clip, load_audio

    clips = []
    for path in df["path"]:
        c = load_audio(path)
        n = max(1, int(len(c.samples) * CROP["frac"]))
        clips.append(Clip.from_array(c.samples[:n].copy(), c.rate, name=f"{c.clip_id}-crop"))
    return [np.asarray(a)[ck.model.taps] for a in features_of(clips, ck.encoder(), None)]


def run_folds(run: Path, manifest: str, frac: float, limit: int | None):
    import pandas as pd

    from explain_ser.checkpoint import Checkpoint
    from explain_ser.corpora import load_manifest_or_dir

    man = load_manifest_or_dir(manifest)
    man["clip_id"] = man["clip_id"].astype(str)
    oof = pd.read_csv(run / "cv_predictions.csv", dtype={"clip_id": str})
    firsts, lasts, names = [], [], None
    for fold, g in oof.groupby("fold", sort=False):
        ck = Checkpoint.load(run / "folds" / fold)
        df = man.set_index("clip_id").loc[g["clip_id"]].reset_index()
        if limit:
            df = df.iloc[:limit]
        names, f, last = clip_edges(ck.model, _features(ck, df), frac)
        firsts.append(f)
        lasts.append(last)
    return names, np.concatenate(firsts), np.concatenate(lasts)


def run_checkpoint(checkpoint: str, manifest: str, lockbox: str | None, frac: float, limit: int | None):
    from explain_ser.checkpoint import Checkpoint
    from explain_ser.corpora import load_manifest_or_dir
    from explain_ser.splits import lockbox_subset

    ck = Checkpoint.load(checkpoint)
    df = load_manifest_or_dir(manifest).reset_index(drop=True)
    if lockbox:
        df = lockbox_subset(df, lockbox, name=manifest)
    if limit:
        df = df.iloc[:limit]
    return clip_edges(ck.model, _features(ck, df), frac)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, help="a train output directory with folds/ and cv_predictions.csv")
    p.add_argument("--checkpoint", help="a checkpoint name or directory")
    p.add_argument("--manifest", default="../shared/corpora/ravdess/manifest.csv")
    p.add_argument("--lockbox", choices=["dev", "locked"], default=None)
    p.add_argument("--frac", type=float, default=0.1)
    p.add_argument("--limit", type=int, default=None, help="at most this many clips (per fold with --run)")
    p.add_argument("--crop", type=float, default=None, help="cut every clip to this fraction of its samples first")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    CROP["frac"] = a.crop
    if bool(a.run) == bool(a.checkpoint):
        p.error("give --run or --checkpoint")
    names, f, last = (run_folds(a.run, a.manifest, a.frac, a.limit) if a.run else
                      run_checkpoint(a.checkpoint, a.manifest, a.lockbox, a.frac, a.limit))
    res = {"frac": a.frac, "crop": a.crop, "n_clips": int(len(f)), "heads": names,
           "first": [float(v) for v in f.mean(0)], "last": [float(v) for v in last.mean(0)]}
    res["worst"] = float(max(max(res["first"]), max(res["last"])))
    if a.json:
        print(json.dumps(res))
        return 0
    print(f"{a.run or a.checkpoint}: {res['n_clips']} clips, mass on the first / last {100 * a.frac:.0f} % of frames "
          f"(uniform {100 * a.frac:.0f} %)")
    for h, x, y in zip(names, res["first"], res["last"]):
        print(f"  {h:>6}  first {100 * x:5.1f} %   last {100 * y:5.1f} %")
    print(f"  worst head-edge: {100 * res['worst']:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
