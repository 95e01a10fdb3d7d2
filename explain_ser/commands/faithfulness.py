"""``explain-ser faithfulness MANIFEST``: deletion/insertion curves, AOPC, agreement, randomisation check,
and, when the manifest gives cue times (``cue_start``, ``cue_end`` in seconds, as the pointing-game corpora
do), the localisation of attention, IG and occlusion against them.

Each clip's explanation and curves, and each of the first ``--sanity`` clips' randomisation check, is one
task on the Dask engine (``--jobs``, ``--scheduler``, ``--cluster``; :mod:`explain_ser.engine`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..engine import add_engine_args


def add_parser(sub):
    p = sub.add_parser("faithfulness", help="deletion/insertion curves and AOPC of attention vs IG vs occlusion vs random")
    p.add_argument("manifest", help="manifest CSV, corpus directory or one audio file")
    p.add_argument("--checkpoint", default="ravdess-tiny.en")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--methods", default="ig,occlusion")
    p.add_argument("--limit", type=int, default=None, help="only the first N clips")
    p.add_argument("--sanity", type=int, default=20, help="clips for the model-randomisation check (0 = skip)")
    p.add_argument("--quiet", action="store_true")
    add_engine_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np
    import pandas as pd

    from ..api import Explainer
    from ..atomic import write_text
    from ..batch import explain_corpus, randomization_checks
    from ..corpora import load_manifest_or_dir
    from ..engine import cluster_from_args, report_failures
    from ..explain.faithfulness import aopc, spearman

    manifest = load_manifest_or_dir(args.manifest)
    ex = Explainer(args.checkpoint)
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    out = Path(args.out)
    rows = manifest if args.limit is None else manifest.iloc[: args.limit]
    with cluster_from_args(args, n_items=len(rows)) as client:
        run = explain_corpus(rows, ex, out / "work", methods=methods, align=False, prosody=False,
                             progress=not args.quiet, client=client)
        failed = {f["clip"] for f in run.failures}
        # the randomisation check: the first --sanity clips that could be explained, tasks on the same workers
        checked = rows[~rows["clip_id"].astype(str).isin(failed)].head(max(args.sanity, 0))
        sanity, sanity_failures = (randomization_checks(checked, ex, methods=("ig",), client=client,
                                                        progress=not args.quiet)
                                   if len(checked) else (pd.DataFrame(), []))
    code = report_failures(out, run.failures + sanity_failures, len(rows))
    if run.meta.empty:
        print("faithfulness: no clip could be explained", file=sys.stderr)
        return code
    frames, curves = run.frames, run.deletion
    a = aopc(curves)
    summary = a.groupby("method")["aopc"].agg(["mean", "std", "count"]).reset_index()
    agree = []
    for cid, g in frames.groupby("clip_id", sort=False):
        for m in methods:
            agree.append({"clip_id": cid, "method": m, "spearman": spearman(g["att_mean"], np.abs(g[f"attr_{m}"]))})
    agree = pd.DataFrame(agree)
    # localisation: with cue times in the manifest, where each method puts its weight against where the
    # evidence is (attention per head and mean, IG and occlusion positive mass; explain_ser.pointing)
    from ..pointing import frames_localisation, summarize as summarize_localisation

    loc = frames_localisation(frames, run.meta)
    loc_summary = summarize_localisation(loc) if len(loc) else pd.DataFrame()
    out.mkdir(parents=True, exist_ok=True)
    for name, table in (("deletion_curves", curves), ("aopc", a), ("aopc_summary", summary), ("agreement", agree),
                        ("randomization", sanity), ("localisation", loc), ("localisation_summary", loc_summary)):
        if name.startswith("localisation") and table.empty:
            continue
        write_text(out / f"{name}.csv", table.to_csv(index=False))
    print("AOPC (mean drop of the target probability over deletion fractions; higher = more faithful):")
    for _, r in summary.iterrows():
        print(f"  {r['method']:>10}: {r['mean']:.4f} ± {r['std']:.4f}  (n={int(r['count'])})")
    for m in methods:
        s = agree[agree.method == m]["spearman"]
        print(f"  attention vs |{m}| Spearman per clip: median {s.median():.3f}")
    if len(sanity):
        print("  randomisation check (Spearman trained vs re-initialised; should be far below 1): "
              + ", ".join(f"{c} {sanity[c].median():.3f}" for c in sanity.columns if c != "clip_id"))
    if len(loc_summary):
        print(f"localisation against the manifest's cues ({int(loc_summary['clips'].max())} clips; chance = a flat map):")
        for _, r in loc_summary.iterrows():
            print(f"  {r['method']:>16}: mass on the cue {100 * r['mass']:.1f} % [{100 * r['mass_lo']:.1f}, "
                  f"{100 * r['mass_hi']:.1f}], top frame on it {100 * r['hit']:.0f} % (chance {100 * r['chance']:.1f} %)")
    elif {"cue_start", "cue_end"} & set(manifest.columns):
        print("  localisation: no explained clip has a cue time")
    print(f"wrote {out}")
    return code
