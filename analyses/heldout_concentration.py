"""Held-out concentration of a cross-validated recipe: k@0.8 per attention head, every clip explained by the
fold model that never heard its speaker.

    python analyses/heldout_concentration.py RUN [MANIFEST] [--jobs N]

RUN is an ``explain-ser train --save-fold-models`` output (``folds.csv`` names each fold's test speakers,
``folds/<fold>/`` holds its model). For each fold, ``explain-ser report`` runs on that fold's test clips with
the fold's model (no alignment, attributions, prosody or deletion curves: only attention is needed), and the
per-clip metrics of all folds are pooled: mean k@0.8 per head with a speaker-bootstrap 95 % CI (uniform
attention: 0.80). Writes ``RUN/concentration/`` (one report per fold, ``k80.csv``) and prints the table.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from _common import CORPORA, ROOT


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("manifest", nargs="?", default=str(CORPORA["ravdess"]))
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()
    from explain_ser.corpora import load_manifest_or_dir
    from explain_ser.stats import bootstrap_ci

    folds = pd.read_csv(args.run / "folds.csv")
    manifest = load_manifest_or_dir(args.manifest)
    out = args.run / "concentration"
    out.mkdir(exist_ok=True)
    metrics = []
    for fold, g in folds[folds["role"] == "test"].groupby("fold"):
        rows = manifest[manifest["clip_id"].astype(str).isin(g["clip_id"].astype(str))]
        m = out / f"{fold}.csv"
        rows.to_csv(m, index=False)
        rep = out / fold
        subprocess.run([sys.executable, "-m", "explain_ser.cli", "report", str(m), "--checkpoint",
                        str(args.run / "folds" / fold), "--out", str(rep), "--aligner", "none", "--methods", "none",
                        "--no-prosody", "--no-deletion", "--quiet", "--jobs", str(args.jobs), "--n-boot", "200",
                        "--n-perm", "20"], check=True, cwd=ROOT)
        metrics.append(pd.read_csv(rep / "tables" / "clip_metrics.csv").assign(fold=fold))
    df = pd.concat(metrics, ignore_index=True)
    rows = []
    for head, g in df.groupby("head"):
        k = g["k@0.8"].to_numpy(float)
        m, lo, hi = bootstrap_ci(k, clusters=g["speaker"].astype(str).to_numpy(), n_boot=2000)
        rows.append({"head": head, "clips": len(g), "k80": round(float(m), 3), "lo": round(float(lo), 3), "hi": round(float(hi), 3)})
    table = pd.DataFrame(rows)
    table.to_csv(out / "k80.csv", index=False)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
