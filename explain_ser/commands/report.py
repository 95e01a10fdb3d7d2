"""``explain-ser report MANIFEST``: coverage-curve report over a corpus (HTML + CSV/Parquet + PNG)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from ..engine import add_engine_args


def add_parser(sub):
    p = sub.add_parser("report", help="batch coverage-curve report over a corpus (offline HTML, tables, figures)")
    p.add_argument("manifest", help="manifest CSV or corpus directory")
    p.add_argument("--checkpoint", default="ravdess-tiny.en", help="shipped name or checkpoint directory")
    p.add_argument("--out", required=True, help="output directory (resumable: finished clips are reused)")
    p.add_argument("--aligner", default="auto", choices=["auto", "mfa", "pocketsphinx", "whisper", "kaldi", "none"],
                   help="kaldi = train a monophone aligner on this corpus first (languages PocketSphinx lacks)")
    p.add_argument("--methods", default="ig,occlusion", help="attribution methods (comma-separated, or 'none')")
    p.add_argument("--no-prosody", action="store_true")
    from ..tagger import DEFAULT_TAGGER

    p.add_argument("--tagger", default=None, metavar="NAME|DIR",
                   help=f"vocalization tagger: a shipped name or an explain-ser train-tagger directory (default {DEFAULT_TAGGER}); 'rules' for the rule-based tagger")
    p.add_argument("--no-deletion", action="store_true", help="skip the deletion/insertion curves")
    p.add_argument("--limit", type=int, default=None, help="only the first N clips (a quick look)")
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--n-perm", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    add_engine_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..api import Explainer
    from ..batch import explain_corpus
    from ..corpora import load_manifest_or_dir
    from ..engine import cluster_from_args, report_failures
    from ..errors import InputError
    from ..pipeline import vocalization_tagger
    from ..report import write_report

    manifest = load_manifest_or_dir(args.manifest)
    if args.limit is not None and args.limit < 1:
        raise InputError("--limit", "must be at least 1")
    ex = Explainer(args.checkpoint)
    methods = () if args.methods in ("none", "") else tuple(m.strip() for m in args.methods.split(","))
    out = Path(args.out)
    rows = manifest if args.limit is None else manifest.iloc[: args.limit]
    with cluster_from_args(args, n_items=len(rows)) as client:
        if args.aligner == "kaldi":
            from ..batch import annotate_manifest

            annotate_manifest(rows, aligner="kaldi", prosody=not args.no_prosody, progress=not args.quiet,
                              whisper_source=ex.ckpt.encoder_source, language=ex.ckpt.language, client=client,
                              tagger=vocalization_tagger(args.tagger))  # the same cache key explain_corpus looks up
        run = explain_corpus(rows, ex, out, methods=methods, align=args.aligner != "none",
                             aligner=args.aligner if args.aligner != "none" else "auto",
                             prosody=not args.no_prosody, deletion=not args.no_deletion,
                             progress=not args.quiet, client=client,
                             tagger=vocalization_tagger(args.tagger))
    code = report_failures(out, run.failures, len(rows))
    if run.meta.empty:
        print("report: no clip could be explained; nothing to report", file=sys.stderr)
        return code
    frames, meta, deletion = run.frames, run.meta, run.deletion
    cfg = ex.checkpoint_config
    card = {"checkpoint": args.checkpoint, "pooler": cfg.get("model", {}).get("pooler"),
            "taps": cfg.get("model", {}).get("taps"), "encoder": cfg.get("encoder", {}).get("source"),
            "window": cfg.get("encoder", {}).get("window"), "labels": cfg.get("model", {}).get("labels"),
            "metrics": cfg.get("metrics"), "training": cfg.get("training"), "localisation": cfg.get("localisation")}
    seen = meta["seen_in_training"].dropna() if "seen_in_training" in meta else []
    corpus = {"manifest": str(Path(args.manifest).resolve()), "clips": len(meta)}
    if len(seen) and bool(seen.any()):
        corpus["warning"] = (f"{int(seen.sum())} of {len(seen)} clips are from speakers this checkpoint was trained on: "
                             "its predictions (confusion matrix) on them are not a held-out evaluation")
    rep = write_report(frames, meta, out, model_card=card, command=" ".join(shlex.quote(a) for a in sys.argv),
                       corpus=corpus, folds=cfg.get("folds"), deletion=deletion if len(deletion) else None,
                       n_boot=args.n_boot, n_perm=args.n_perm, seed=args.seed)
    print(f"report: {rep.html}")
    return code
