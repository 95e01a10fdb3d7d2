"""``explain-ser robustness``: accuracy and attention of a checkpoint (or of a CV run's held-out fold models)
under perturbed copies of a manifest's clips (gain, noise, padding, codecs, speed, reverberation)."""

from __future__ import annotations


def add_parser(sub):
    from ..robustness import DEFAULT_CONDITIONS

    p = sub.add_parser("robustness", help="score a checkpoint on perturbed copies of every clip (gain, noise, "
                                          "padding, codecs, speed, reverb): UA with CIs and attention stability")
    p.add_argument("manifest", help="manifest CSV or corpus directory with emotion (and speaker) columns")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--checkpoint", default=None, metavar="NAME|DIR",
                     help="shipped name or directory (default ravdess-tiny.en)")
    who.add_argument("--cv-run", default=None, metavar="DIR",
                     help="an `explain-ser train --save-fold-models` output: every clip is scored by the fold model "
                          "that never heard its speaker (held-out numbers)")
    p.add_argument("--conditions", nargs="+", default=None, metavar="SPEC",
                   help="perturbation specs, space- or comma-separated (default: " + " ".join(DEFAULT_CONDITIONS)
                        + "); the clean clip (none) is always scored too")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="write robustness.csv, robustness.json, predictions.csv and robustness.png here")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="score a seeded random sample of N clips (kept in manifest order)")
    p.add_argument("--seed", type=int, default=0, help="seed of the perturbations, the sample and the bootstrap")
    p.add_argument("--n-boot", type=int, default=2000, help="speaker-bootstrap resamples (default 2000)")
    p.add_argument("--cache", default=None, help="feature cache directory (default: user cache)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (1 is kind to a shared machine)")
    p.add_argument("--record", metavar="CHECKPOINT_DIR", default=None,
                   help="also write the table into this checkpoint's config.json and model card (the checkpoint "
                        "the --cv-run's recipe produced)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from ..corpora import load_manifest_or_dir
    from ..errors import InputError
    from ..features import FeatureStore
    from ..robustness import checkpoint_scorer, cv_run_scorer, format_table, parse_conditions, run_benchmark
    from ..robustness_view import write_outputs
    from ..threads import torch_threads

    conditions = parse_conditions(args.conditions)  # bad specs fail before anything loads
    if args.record:
        from ..checkpoint import read_config

        read_config(args.record)  # a wrong --record fails now, not after the benchmark
    if any(c.needs_ffmpeg for c in conditions):
        import shutil

        if shutil.which("ffmpeg") is None:
            bad = next(c for c in conditions if c.needs_ffmpeg)
            raise InputError(bad.text, "needs ffmpeg on PATH (apt-get install ffmpeg)")
    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit {args.limit}", "must be at least 1")
    if args.n_boot < 1:
        raise InputError(f"--n-boot {args.n_boot}", "must be at least 1")
    df = load_manifest_or_dir(args.manifest).reset_index(drop=True)
    if "emotion" not in df.columns or df["emotion"].isna().any():
        raise InputError(args.manifest, "every clip needs an 'emotion' label to be evaluated")
    if args.limit is not None and args.limit < len(df):
        keep = np.sort(np.random.default_rng(args.seed).choice(len(df), size=args.limit, replace=False))
        df = df.iloc[keep].reset_index(drop=True)
    store = FeatureStore(args.cache)
    with torch_threads(args.threads):
        scorer = (cv_run_scorer(args.cv_run, df, store=store) if args.cv_run else
                  checkpoint_scorer(args.checkpoint or "ravdess-tiny.en", df, store=store))
        res = run_benchmark(df, scorer, conditions, seed=args.seed, progress=not args.quiet, n_boot=args.n_boot)
    res.record["manifest"] = str(args.manifest)
    if args.limit is not None:
        res.record["limit"] = args.limit
    what = args.cv_run and f"held-out fold models of {args.cv_run}" or (args.checkpoint or "ravdess-tiny.en")
    print(f"{what} on {args.manifest} ({res.record['n_clips']} clips, {res.record['n_speakers']} speakers, "
          f"seed {args.seed}):")
    print(format_table(res.table))
    t = res.record["timing"]
    print(f"{t['seconds_total']:.0f} s; per clip: clean {t['clean_seconds_per_clip']:.3f} s, each perturbed "
          f"condition {t['mean_seconds_per_clip_per_perturbed_condition']:.3f} s (perturb + features + model)")
    if "clean_vs_cv_predictions_max_abs_diff" in res.record:
        print(f"clean vs the run's cv_predictions.csv: max |dp| = {res.record['clean_vs_cv_predictions_max_abs_diff']}")
    if args.out:
        paths = write_outputs(res, args.out)
        print("wrote " + ", ".join(str(p) for p in paths.values()))
    if args.record:
        from ..publish import record_evaluation, robustness_entry
        from . import command_line

        record_evaluation(args.record, robustness=robustness_entry(res.record, command_line()))
        print(f"recorded in {args.record}/config.json and MODEL_CARD.md")
    return 0
