"""Figure: held-out coverage curves (attention mass vs fraction of frames) per pooler, against uniform.

Leygue et al.'s point (15 % of frames hold 80 % of the mass) is marked. Each pooler is trained with the
fixed held-out recipe (:data:`_common.HELDOUT_TRAIN`, tap 2), one model per speaker-independent fold, and every clip is
explained by the model that never heard its speaker (:func:`_common.heldout_run`).
"""

from __future__ import annotations

import pandas as pd

from _common import heldout_run, save, table

POOLERS = ["qkv", "qkv-tanh", "mqmha"]  # mhaap and transformer: not run here (CPU time)


def main(corpus: str = "ravdess", *poolers: str):
    from explain_ser.plots import HEAD_PALETTE, LEYGUE_POINT, UNIFORM_STYLE, _new

    fig = _new(3.6, 3.2)
    ax = fig.subplots()
    rows = []
    for i, pooler in enumerate(poolers or POOLERS):
        out = heldout_run(corpus, pooler=pooler, full=False)
        curves = pd.read_csv(out / "tables" / "coverage_curves.csv")
        metrics = table(out, "clip_metrics")
        c = curves[(curves["grouping"] == "head") & (curves["head"] == "mean")].sort_values("x")
        ax.plot(c["x"], c["mean"], color=HEAD_PALETTE[i], lw=1.2, label=pooler)
        ax.fill_between(c["x"], c["ci_low"], c["ci_high"], color=HEAD_PALETTE[i], alpha=0.2, lw=0)
        m = metrics[metrics["head"] == "mean"]
        rows.append({"pooler": pooler, "k@0.8 median": float(m["k@0.8"].median()), "clips": len(m)})
    ax.plot([0, 1], [0, 1], label="uniform", **UNIFORM_STYLE)
    ax.plot(*LEYGUE_POINT, marker="*", color="black", ms=8, ls="none", label="15 % / 80 % (Leygue et al.)")
    ax.set_xlabel("fraction of frames (sorted by attention)")
    ax.set_ylabel("attention mass covered")
    ax.set_title(f"{corpus}: held-out clips, mean over heads\n(mean curve, 95 % speaker-bootstrap CI)")
    ax.legend(frameon=False, fontsize=6, loc="lower right")
    save(fig, f"coverage_{corpus}")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    import sys

    main(*(sys.argv[1:] or ["ravdess"]))
