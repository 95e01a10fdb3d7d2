"""Figure: cross-validated UA per encoder tap for every pooler (RAVDESS and EmoDB, tiny.en).

Do intermediate Whisper layers beat the last (arXiv 2602.06000)? Reads
``analyses/results/sweep_<corpus>_tiny.en.csv`` (written by ``explain-ser sweep``); computes it when
missing (speaker-independent folds: RAVDESS 6 x 3 actors, EmoDB leave-one-speaker-out).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from _common import RESULTS, ROOT, need_corpus, save

POOLERS = ["mean", "mhaap", "qkv", "qkv-tanh", "mqmha", "transformer"]


def sweep_csv(corpus: str, model: str = "tiny.en"):
    path = RESULTS / f"sweep_{corpus}_{model}.csv"
    if not path.is_file():
        RESULTS.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "explain_ser.cli", "sweep", str(need_corpus(corpus)), "--model", model,
                        "--poolers", ",".join(POOLERS), "--out", str(path), "--quiet"], check=True, cwd=ROOT)
    return pd.read_csv(path)


def main():
    from explain_ser.plots import HEAD_PALETTE, _new

    # corpora with a cached sweep; with none cached, RAVDESS is computed (EmoDB: `--compute emodb`)
    corpora = [c for c in ("ravdess", "emodb") if (RESULTS / f"sweep_{c}_tiny.en.csv").is_file()]
    corpora += [c for c in sys.argv[2:] if sys.argv[1:2] == ["--compute"] and c not in corpora]
    corpora = corpora or ["ravdess"]
    fig = _new(3.6 * len(corpora), 2.8)
    axes = fig.subplots(1, len(corpora), sharey=False)
    for ax, corpus in zip(np.atleast_1d(axes), corpora):
        df = sweep_csv(corpus)
        df = df[~df["tap"].astype(str).str.contains(",")]
        df["tap"] = df["tap"].astype(int)
        for i, pooler in enumerate(p for p in POOLERS if p in set(df["pooler"])):
            d = df[df["pooler"] == pooler].sort_values("tap")
            ax.errorbar(d["tap"] + (i - 2.5) * 0.05, 100 * d["ua_mean"], yerr=100 * d["ua_std"], marker="o", ms=3,
                        lw=1, capsize=2, label=pooler, color="black" if pooler == "mean" else HEAD_PALETTE[i])
        n_folds = int(df["n_folds"].iloc[0])
        ax.set_title(f"{corpus.upper()}, tiny.en, {n_folds} folds")
        ax.set_xlabel("encoder tap (0 = input, 4 = ln_post output)")
        ax.set_ylabel("UA (%), mean ± std over folds")
        ax.set_xticks(sorted(df["tap"].unique()))
    np.atleast_1d(axes)[0].legend(frameon=False, fontsize=7)
    save(fig, "layerwise_ua")


if __name__ == "__main__":
    main()
