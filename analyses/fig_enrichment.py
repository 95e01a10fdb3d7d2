"""Figure: phone-class and vocalization enrichment of attention (held out), with the shift null.

Enrichment = attention share / frame share of a category (1 = no preference). Bars carry 95 %
speaker-bootstrap CIs; the grey band is the 95 % range of the circular-shift null (attention rotated
against the alignment within each clip); stars mark Benjamini-Hochberg q < 0.05 / 0.01 / 0.001.
"""

from __future__ import annotations

import pandas as pd

from _common import heldout_run, save

# the held-out run with attributions and deletion curves (MQMHA, the Leygue et al. pooler, at tap 2)
FULL_POOLER = "mqmha"

FAMILIES = ["phone_class", "stress", "vocalization", "voicing", "f0", "intensity", "hyper"]


def main(corpus: str = "ravdess"):
    from explain_ser.plots import enrichment_figure

    out = heldout_run(corpus, pooler=FULL_POOLER)
    table = pd.read_csv(out / "tables" / "enrichment.csv", keep_default_na=False)
    fams = [f for f in FAMILIES if f in set(table["family"])]
    fig = enrichment_figure(table, head="mean", families=fams,
                            title=f"{corpus.upper()}, held out: enrichment")
    save(fig, f"enrichment_{corpus}")
    cols = ["family", "category", "frame_share", "enrichment", "ci_low", "ci_high", "null_low", "null_high", "q", "mark"]
    t = table[(table["head"] == "mean") & table["family"].isin(fams)][cols]
    print(t.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    import sys

    main(*(sys.argv[1:] or ["ravdess"]))
