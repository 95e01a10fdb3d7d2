"""Figure: deletion and insertion curves (held out) — attention vs IG vs occlusion vs random order.

Frames are removed from (deletion) or kept in (insertion) the pooling in order of each method's
ranking; the y axis is the probability of the class predicted on the full clip, mean over clips
with a 95 % CI. AOPC per method is printed.
"""

from __future__ import annotations

import pandas as pd

from _common import heldout_run, save

# the held-out run with attributions and deletion curves (MQMHA, the Leygue et al. pooler, at tap 2)
FULL_POOLER = "mqmha"


def main(corpus: str = "ravdess"):
    from explain_ser.plots import deletion_figure

    out = heldout_run(corpus, pooler=FULL_POOLER)
    curves = pd.read_csv(out / "tables" / "deletion.csv")
    fig = deletion_figure(curves, title=f"{corpus.upper()}, held out: p(target)")
    save(fig, f"deletion_{corpus}")
    d = curves[curves["curve"] == "deletion"].sort_values("fraction")
    aopc = d.groupby("method").apply(lambda g: float((g["score"].iloc[0] - g["score"]).mean()), include_groups=False)
    print("AOPC (mean drop of p(target) over deletion fractions):")
    print(aopc.sort_values(ascending=False).to_string(float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    import sys

    main(*(sys.argv[1:] or ["ravdess"]))
