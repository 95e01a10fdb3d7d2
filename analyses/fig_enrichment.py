"""Figure: phone-class and vocalization enrichment of attention (held out), with the shift null.

Enrichment = attention share / frame share of a category (1 = no preference). Bars carry 95 %
speaker-bootstrap CIs; the grey band is the 95 % range of the circular-shift null (attention rotated
against the alignment within each clip); stars mark Benjamini-Hochberg q < 0.05 / 0.01 / 0.001.
"""

from __future__ import annotations

import pandas as pd

from _common import heldout_run, save, table

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


def vocalization_with_tagger(corpus: str = "ravdess", pooler: str = FULL_POOLER):
    """The enrichment of vocalization frames with today's default tagger (issue 27): the same held-out recipe
    (fold models retrained as :func:`_common.heldout_run` trains them, attention only, no words or prosody),
    every clip tagged by :data:`explain_ser.tagger.DEFAULT_TAGGER` over speech and pauses. Its rows beside the committed run's
    (tagged by the rules between words). Cached under ``analyses/results/heldout_<corpus>_<pooler>_tap2_<tagger>``."""
    from explain_ser.tagger import DEFAULT_TAGGER, load_tagger

    tg = load_tagger(DEFAULT_TAGGER)
    # no words or prosody: only the vocalization family is recomputed (the tagger needs no words)
    out = heldout_run(corpus, pooler=pooler, full=False, tag=f"{pooler}_tap2_{DEFAULT_TAGGER}-{tg.identity[:8]}",
                      aligner="none", prosody=False)
    new = table(out, "enrichment")
    old = table(heldout_run(corpus, pooler=pooler), "enrichment") if pooler == FULL_POOLER else None
    cols = ["category", "n_frames", "frame_share", "enrichment", "ci_low", "ci_high", "null_low", "null_high", "q", "mark"]
    pick = lambda t: t[(t["head"] == "mean") & (t["family"] == "vocalization")][cols]  # noqa: E731
    print(f"{corpus}, {pooler}, held out, vocalization tags by {DEFAULT_TAGGER} ({tg.identity}):")
    print(pick(new).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if old is not None:
        print("the committed run (rule-based tags between words):")
        print(pick(old).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return pick(new)


if __name__ == "__main__":
    import sys

    args = sys.argv[1:]
    if args[:1] == ["--tagger"]:  # python analyses/fig_enrichment.py --tagger [corpus [pooler]]
        vocalization_with_tagger(*(args[1:] or ["ravdess"]))
    else:
        main(*(args or ["ravdess"]))
