"""Figure: tanh-bounded QKV scores (the public 2602.06000 code) vs unbounded QKV pooling.

With scores squashed into [-1, 1] the largest and smallest weight of a clip can differ by at most
e^2 ~ 7.4, so attention cannot concentrate: k@0.8 stays near the uniform 0.8. Left: per-clip
max/min weight ratio (log scale) with the e^2 bound; right: k@0.8 distributions; the title gives
each variant's cross-validated UA (same folds, same training).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from _common import heldout_run, save, table


def main(corpus: str = "ravdess"):
    from explain_ser.plots import HEAD_PALETTE, UNIFORM_STYLE, _new

    fig = _new(7.0, 2.8)
    ax1, ax2 = fig.subplots(1, 2)
    ratios, ks, uas = {}, {}, {}
    for pooler in ("qkv", "qkv-tanh"):
        out = heldout_run(corpus, pooler=pooler, full=False)
        m = table(out, "clip_metrics")
        heads = m[m["head"] != "mean"]
        ks[pooler] = heads["k@0.8"].to_numpy()
        r = table(out, "weight_ratio")
        if r is not None:
            ratios[pooler] = r["ratio"].to_numpy()
        card = pd.read_json(out / "report.json", typ="series")
        uas[pooler] = card.get("model_card", {}).get("cv_ua_mean", np.nan)
    for i, (p, v) in enumerate(ratios.items()):
        ax1.hist(np.log10(v), bins=40, alpha=0.6, color=HEAD_PALETTE[i], label=p)
    ax1.axvline(np.log10(np.e ** 2), color="black", lw=1, ls=":", label="e² bound")
    ax1.set_xlabel("log10(max / min weight), per clip and head")
    ax1.set_ylabel("clip-heads")
    ax1.legend(frameon=False, fontsize=7)
    ax2.boxplot([ks[p] for p in ks], tick_labels=[f"{p}\nUA {100 * uas[p]:.1f}%" for p in ks], widths=0.5)
    ax2.axhline(0.8, label="uniform", **UNIFORM_STYLE)
    ax2.set_ylabel("k@0.8 per clip and head")
    ax2.legend(frameon=False, fontsize=7)
    fig.suptitle(f"{corpus.upper()}, held out: tanh-bounded vs unbounded QKV", fontsize=9)
    save(fig, f"tanh_bound_{corpus}")
    for p in ks:
        print(f"{p}: median k@0.8 {np.median(ks[p]):.3f}, "
              + (f"max ratio {np.max(ratios[p]):.2f}, " if p in ratios else "") + f"UA {100 * uas[p]:.1f}%")


if __name__ == "__main__":
    import sys

    main(*(sys.argv[1:] or ["ravdess"]))
