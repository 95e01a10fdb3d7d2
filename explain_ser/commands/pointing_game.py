"""``explain-ser pointing-game``: build cue corpora, then check that explanations point at the cue."""

from __future__ import annotations

from . import command_line


def add_parser(sub):
    from .train import add_attention_args, add_training_args

    p = sub.add_parser("pointing-game", help="plant cues in speech, train poolers to find them, and score whether "
                                             "attention and attributions point at them")
    ps = p.add_subparsers(dest="pointing_command", metavar="ACTION")
    b = ps.add_parser("build", help="write a cue corpus (audio + manifest with cue_start/cue_end)")
    b.add_argument("--kind", required=True, choices=["vocalization", "splice", "join"],
                   help="vocalization: planted vocalizations (synthetic laugh/breath/sigh/cough, or real ones with "
                        "--sounds) vs the clip's own background; "
                        "splice: another emotion's speech spliced into neutral speech; "
                        "join: a whole neutral and a whole emotional utterance of one speaker, both orders")
    b.add_argument("--manifest", required=True, help="source speech: manifest CSV or corpus directory")
    b.add_argument("--out", required=True, help="new directory to write")
    b.add_argument("--n-clips", type=int, default=288, help="clips to write, spread evenly over speakers (default 288)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--vocalizations", default=None,
                   help="vocalization: kinds to plant (synthetic: laugh,breath,sigh,cough, the default; with --sounds: "
                        "its categories, default all)")
    b.add_argument("--sounds", default=None, metavar="DIR|MANIFEST",
                   help="vocalization: plant these REAL recordings instead of synthetic sounds: a folder of category "
                        "folders (<category>/<clip>.wav) or a manifest with path, category and optionally "
                        "speaker_id (who made the sound; held out with the host speaker it is dealt to)")
    b.add_argument("--max-seconds", type=float, default=2.5,
                   help="vocalization with --sounds: leave out sounds longer than this (default 2.5 s)")
    b.add_argument("--labels", default="emotion", choices=["emotion", "binary"],
                   help="splice: label = the spliced emotion, or spliced vs none")
    b.add_argument("--base", default="neutral", help="splice/join: the emotion spliced into or joined with (default neutral)")
    b.add_argument("--quiet", action="store_true")
    b.set_defaults(func=run_build)

    r = ps.add_parser("run", help="cross-validate a pooler on a cue corpus and score every explanation method")
    add_training_args(r)
    r.add_argument("--taps", default="2", help="encoder tap(s), as for train (default 2)")
    r.add_argument("--pooler", default="mqmha", help="pooler, as for train (default mqmha)")
    r.add_argument("--heads", type=int, default=None, help="attention heads (pooler default otherwise)")
    r.add_argument("--queries", type=int, default=None, help="MQMHA queries per head")
    add_attention_args(r)
    r.add_argument("--label-column", default="emotion", help="column with the labels (default emotion)")
    r.add_argument("--methods", default="ig,saliency,occlusion",
                   help="attributions besides attention (comma list of ig, saliency, occlusion; '' for none)")
    r.add_argument("--deep", action="store_true", help="also IG through the encoder onto the log-mel (slow)")
    r.add_argument("--out", required=True, help="directory for pointing.csv/.json/.md/.png")
    r.set_defaults(func=run_game)
    s = ps.add_parser("score", help="score the fold models of a cross-validated emotion run (train "
                                    "--save-fold-models) on a cue corpus: is the spliced emotion recognised, "
                                    "and does its explanation point at the splice?")
    s.add_argument("manifest", help="cue manifest (e.g. from build --kind splice)")
    s.add_argument("--cv-run", required=True, metavar="DIR", help="an explain-ser train --save-fold-models output")
    s.add_argument("--methods", default="ig", help="attributions besides attention (comma list; '' for none)")
    s.add_argument("--out", required=True, help="directory for pointing_score.json and pointing_score_clips.csv")
    s.add_argument("--record", metavar="CHECKPOINT_DIR", default=None,
                   help="also write the result into this checkpoint's config.json and model card (the checkpoint "
                        "the --cv-run's recipe produced)")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=run_score)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def run_score(args) -> int:
    from ..pointing import read_cue_manifest
    from ..pointing_run import score_models

    df = read_cue_manifest(args.manifest)
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    if args.record:
        from ..checkpoint import read_config

        read_config(args.record)  # a wrong --record fails now, not after the scoring
    res = score_models(df, args.cv_run, methods=methods, out=args.out, progress=not args.quiet,
                       command=command_line())
    r = res["recognised"]
    print(f"{res['clips']} cue clips: the spliced emotion is predicted for {100 * r['accuracy']:.1f} % "
          f"[{100 * r['lo']:.1f}, {100 * r['hi']:.1f}]")
    if args.record:
        import json
        from pathlib import Path

        from ..publish import localisation_entry, record_evaluation

        build = Path(args.manifest).parent / "build.json"
        kind = json.loads(build.read_text()).get("kind", "cue") if build.exists() else "cue"
        record_evaluation(args.record, localisation=localisation_entry(res, kind, res["command"]))
        print(f"recorded in {args.record}/config.json and MODEL_CARD.md")
    for scope, rows in res["table"].items():
        for row in rows:
            print(f"  {scope:>10} {row['method']:>16}: mass on the splice {100 * row['mass']:.1f} % "
                  f"[{100 * row['mass_lo']:.1f}, {100 * row['mass_hi']:.1f}] (uniform {100 * row['chance']:.1f} %), "
                  f"top frame inside {100 * row['hit']:.0f} %")
    return 0


def run_build(args) -> int:
    from ..errors import InputError
    from ..pointing_build import build_join, build_splice, build_vocalization

    if args.n_clips < 2:
        raise InputError(f"--n-clips {args.n_clips}", "must be at least 2")
    if args.kind != "vocalization" and args.sounds:
        raise InputError(f"--sounds {args.sounds}", "only --kind vocalization plants sounds")
    if args.kind == "vocalization":
        kinds = None if args.vocalizations is None else [k.strip() for k in args.vocalizations.split(",") if k.strip()]
        df = build_vocalization(args.manifest, args.out, n_clips=args.n_clips, seed=args.seed, kinds=kinds,
                                sounds=args.sounds, max_seconds=args.max_seconds, progress=not args.quiet)
    elif args.kind == "join":
        df = build_join(args.manifest, args.out, n_clips=args.n_clips, seed=args.seed, base=args.base,
                        progress=not args.quiet)
    else:
        df = build_splice(args.manifest, args.out, n_clips=args.n_clips, seed=args.seed, base=args.base,
                          labels=args.labels, progress=not args.quiet)
    counts = ", ".join(f"{k} {v}" for k, v in df["emotion"].value_counts().sort_index().items())
    cues = f"{df['cues'].iloc[0]} " if "cues" in df else ""
    print(f"wrote {len(df)} clips of {df['speaker'].nunique()} speakers ({counts}; {cues}cues) -> {args.out}/manifest.csv")
    return 0


def run_game(args) -> int:
    from pathlib import Path

    from ..errors import InputError
    from ..explain.attributions import METHODS
    from ..pointing import format_table, read_cue_manifest
    from ..pointing_run import run_pointing_game
    from ..sweep import parse_taps, pooler_spec
    from .train import attention_hparams, common_setup

    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    for m in methods:
        if m not in METHODS:
            raise InputError(f"--methods {args.methods}", f"unknown method {m!r} (choose from {', '.join(METHODS)})")
    pooler, hp = pooler_spec(args.pooler)
    if args.heads is not None:
        hp["n_heads"] = args.heads
    if args.queries is not None:
        hp["n_queries"] = args.queries
    hp = attention_hparams(args, hp)
    cue = read_cue_manifest(args.manifest, args.label_column)
    out = Path(args.out)
    if args.label_column != "emotion":  # training reads 'emotion': give it a copy that has it
        from ..atomic import write_path

        used = out / "manifest.used.csv"
        write_path(used, lambda p: cue.to_csv(p, index=False), suffix=".csv")
        args.manifest = str(used)
    corpus, folds, config, head = common_setup(args, taps_spec=args.taps)
    if not folds[0].speaker_independent:
        raise InputError("--folds random", "the pointing game scores held-out speakers only")
    corpus.manifest = cue.reset_index(drop=True)  # same file, same order, with the checked cue columns
    taps = parse_taps(args.taps, corpus.encoder["n_taps"])
    kw = {"dim": corpus.encoder["dim"], "taps": taps, "n_taps": corpus.encoder["n_taps"], "pooler": pooler,
          "pooler_hparams": hp, **head}
    cmd = command_line("pointing-game")
    result = run_pointing_game(corpus, folds, kw, config, out, methods=methods, deep=args.deep, source=args.model,
                               window=args.window, command=cmd, progress=not args.quiet)
    print(format_table(result))
    print(f"train {result['seconds']['train']} s, explain {result['seconds']['explain']} s -> "
          f"{out}/pointing.csv, pointing.json, pointing.md, pointing.png")
    return 0
