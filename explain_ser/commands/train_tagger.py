"""``explain-ser train-tagger EVENTS --out DIR``: a vocalization tagger over the cached Whisper taps.

Also ``--evaluate TAGGER`` (score a trained tagger on EVENTS, e.g. held-out speakers, with its own thresholds;
``--rules`` adds the rule-based tagger on the same clips), ``--plant MANIFEST`` (build an events table of
vocalizations planted into speech, :mod:`explain_ser.vocal_corpus`) and ``--sounds DIR|MANIFEST`` (plant the
user's own isolated recordings into the speech MANIFEST, then train on them).
"""

from __future__ import annotations

from pathlib import Path

from . import command_line


def add_parser(sub):
    p = sub.add_parser(
        "train-tagger", help="train a frame-level vocalization tagger from an events table (path,start,end,tag)",
        description="Train a vocalization tagger on the cached Whisper taps from an events table: one row per "
                    "event (path, start, end, tag; seconds), a row with an empty tag lists a clip without events; "
                    "an optional speaker or source column groups clips for cross-validation. Writes "
                    "model.safetensors, config.json, MODEL_CARD.md and cv_events.csv into --out. Use the result "
                    "with --tagger DIR in attribute, align and report.")
    p.add_argument("events", metavar="EVENTS", nargs="?",
                   help="events CSV (with --plant: the speech manifest(s) to plant into, comma-separated)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--model", default="tiny.en", help="Whisper encoder source (default tiny.en)")
    p.add_argument("--window", default="trim", choices=["trim", "full"])
    p.add_argument("--folds", type=int, default=5, help="group-independent folds (default 5)")
    p.add_argument("--val", type=float, default=0.2,
                   help="share of each fold's training groups that choose the thresholds (default 0.2)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--layers", type=int, default=2,
                   help="residual convolutions over time, dilations 1, 2, 4, ... (default 2: 260 ms of context)")
    p.add_argument("--mix", default="concat", choices=["concat", "softmax"],
                   help="how the frame head reads the taps: concat (default), all taps side by side into one linear "
                        "map; softmax, one learned weight per tap (taggers before this option)")
    p.add_argument("--decoder", default="spans", choices=["spans", "classes"],
                   help="spans (default): vocalization or none first, then one category per event by its summed "
                        "probability; classes: per-class thresholds frame by frame (taggers before 2026-12)")
    p.add_argument("--category", default="segments", choices=["segments", "frames"],
                   help="segments (default): each event named by a logistic regression on the taps pooled over the "
                        "event, fitted on the training clips' true events; frames: by the frame head's summed votes")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--min-dur", type=float, default=0.06, help="shortest event kept, seconds (default 0.06)")
    p.add_argument("--merge-gap", type=float, default=0.1, help="join runs of a tag closer than this (default 0.1 s)")
    p.add_argument("--smooth", type=int, default=3,
                   help="frames of the moving average over the probabilities before the thresholds (default 3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--note", default="", help="a paragraph for the model card: what the data is, what not to use it for")
    p.add_argument("--evaluate", metavar="TAGGER", default=None,
                   help="do not train: score TAGGER (directory or shipped name) on EVENTS and write evaluation.json/.md")
    p.add_argument("--rules", action="store_true",
                   help="with --evaluate: also score the rule-based tagger (explain_ser.align.vocalizations) on the "
                        "clips whose words can be aligned (the table's transcript/language columns)")
    p.add_argument("--plant", action="store_true",
                   help="do not train: plant synthetic vocalizations into the clips of the manifest(s) given as "
                        "EVENTS and write DIR/events.csv + DIR/audio")
    p.add_argument("--sounds", default=None, metavar="DIR|MANIFEST",
                   help="isolated vocalization recordings to plant into the speech manifest(s) given as EVENTS: a folder "
                        "of category folders (<category>/<clip>.wav) or a CSV with path, category and optionally "
                        "speaker_id (who made the sound: dealt to one host speaker, so folds hold both out) and "
                        "attribution; without --plant the table is written to OUT-planted/ and the tagger trained on it")
    p.add_argument("--synthetic", default=None, metavar="TAGS",
                   help="synthetic sounds planted beside them (laugh,breath,sigh,cough,other; default: all four "
                        "vocalizations without --sounds, none with it; '' for none)")
    p.add_argument("--max-seconds", type=float, default=None,
                   help="with --sounds: leave out recordings longer than this (default: keep all; one longer than "
                        "every speech clip is an error)")
    p.add_argument("--n-clips", type=int, default=400, help="with --plant/--sounds: about this many clips")
    p.add_argument("--copies", type=int, default=1,
                   help="with --plant/--sounds: plant each picked clip this many times, with other sounds and places "
                        "(default 1)")
    p.add_argument("--speakers", default=None, help="with --plant/--sounds: only these speakers (comma-separated)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import InputError

    if not args.events:
        raise InputError("train-tagger", "needs EVENTS (an events CSV, or with --plant a manifest)")
    if args.copies < 1:
        raise InputError(f"--copies {args.copies}", "must be 1 or more")
    if args.layers < 0:  # before anything is planted or encoded: a bad option fails fast, nothing written
        raise InputError(f"--layers {args.layers}", "must be 0 (no temporal context) or more convolutions")
    command = command_line("train-tagger") or ""
    if args.plant or args.sounds:
        _plant(args, Path(args.out) if args.plant else Path(f"{args.out.rstrip('/')}-planted"))
        if args.plant:
            return 0
        args.events = str(Path(f"{args.out.rstrip('/')}-planted") / "events.csv")
    if args.evaluate:
        return _evaluate(args)
    from ..tagger_card import metrics_table
    from ..tagger_train import train_tagger

    cfg = train_tagger(args.events, args.out, encoder_source=args.model, window=args.window, n_folds=args.folds,
                       n_val=args.val, seed=args.seed, progress=not args.quiet, note=args.note, command=command,
                       epochs=args.epochs, hidden=args.hidden, lr=args.lr, min_dur=args.min_dur,
                       layers=args.layers, mix=args.mix, decoder=args.decoder, category=args.category,
                       merge_gap=args.merge_gap, smooth=args.smooth)
    print(f"cross-validated ({cfg['cv']['n_folds']} folds, held-out {cfg['training']['group_by']}s, "
          f"onset collar 200 ms):")
    print(metrics_table(cfg["cv"]["event"], cfg["tags"]))
    print(f"wrote {Path(args.out) / 'model.safetensors'}, config.json, MODEL_CARD.md, cv_events.csv")
    return 0


def _plant(args, out: Path):
    """Build the planted events table (synthetic sounds and/or the user's recordings) into ``out``."""
    from ..errors import InputError
    from ..vocal_corpus import SYNTH_TAGS, TAGS, build_planted
    from ..vocal_sounds import read_sounds

    sounds = None
    if args.sounds:
        sounds = read_sounds(args.sounds)  # bad input fails here, before anything is written
        if args.max_seconds is not None:
            sounds = sounds[sounds["duration_s"] <= args.max_seconds]
            if sounds.empty:
                raise InputError(args.sounds, f"no recording is {args.max_seconds} s or shorter")
    if args.synthetic is None:
        synthetic = [] if sounds is not None else list(TAGS)
    else:
        synthetic = [t.strip() for t in args.synthetic.split(",") if t.strip()]
        bad = [t for t in synthetic if t not in SYNTH_TAGS]
        if bad:
            raise InputError(f"--synthetic {args.synthetic}", f"unknown sound {bad[0]!r} (choose from {', '.join(SYNTH_TAGS)})")
    if not args.plant and not ((Path(args.out) / "config.json").is_file() or not Path(args.out).exists()
                               or not any(Path(args.out).iterdir())):
        raise InputError(args.out, "exists and is neither empty nor a tagger directory; choose a new --out")
    speakers = None if not args.speakers else [s.strip() for s in args.speakers.split(",") if s.strip()]
    df = build_planted(args.events.split(","), out, n_clips=args.n_clips, seed=args.seed, speakers=speakers,
                       tags=synthetic, sounds=sounds, progress=not args.quiet, copies=args.copies)
    n = df[df["tag"] != ""]
    kinds = {t: "/".join(sorted(set(g["kind"]))) for t, g in n.groupby("tag")}
    print(f"planted {len(n)} events ({', '.join(f'{t} {c} {kinds[t]}' for t, c in n['tag'].value_counts().sort_index().items())}) "
          f"in {df['path'].nunique()} clips -> {out / 'events.csv'}")
    return df


def _evaluate(args) -> int:
    from ..atomic import write_text
    from ..jsonio import dumps
    from ..tagger import evaluate_tagger, load_tagger
    from ..tagger_card import metrics_table

    tg = load_tagger(args.evaluate)
    res = evaluate_tagger(tg, args.events, progress=not args.quiet)
    m = res["metrics"]
    out = Path(args.out)
    report = {"tagger": str(args.evaluate), "tagger_identity": tg.identity, "events": str(args.events),
              "tagger_metrics": m}
    text = [f"# {tg.name} on {args.events}", "", "## Tagger (its own thresholds)", "", metrics_table(m, tg.tags), ""]
    if args.rules:
        rm, n_used, n_all = rule_based_scores(args.events, tg.tags, progress=not args.quiet,
                                              encoder_source=tg.config["encoder"]["source"])
        tm = _subset_scores(res, args.events, tg.tags, rm["clips"])
        report["rules"] = {"metrics": rm["metrics"], "tagger_same_clips": tm, "clips": n_used, "of": n_all}
        from ..tagger_card import pct
        text += [f"## Same {n_used} of {n_all} clips (those whose words could be aligned)", "",
                 "| tag | rule-based event F1 | tagger event F1 |", "| --- | ---: | ---: |"]
        for t in tg.tags:
            text.append(f"| {t} | {pct(rm['metrics']['per_class'][t]['f1'])} | {pct(tm['per_class'][t]['f1'])} |")
        text.append(f"| all (micro) | {pct(rm['metrics']['micro']['f1'])} | {pct(tm['micro']['f1'])} |")
        text.append("")
        pause = _pause_only_clips(args.events)
        if pause is not None:  # the fair ground for the rules: no sound over speech
            keep = pause & set(rm["clips"])
            rp = _subset_scores({"found": rm["found"]}, args.events, tg.tags, keep)
            tp = _subset_scores(res, args.events, tg.tags, keep)
            report["rules"]["pause_only"] = {"clips": len(keep), "rules": rp, "tagger": tp}
            text += [f"## The {len(keep)} of them whose every sound was inserted at a pause (none over speech)", "",
                     "| tag | true events | rule-based event F1 | tagger event F1 |", "| --- | ---: | ---: | ---: |"]
            for t in tg.tags:
                n = rp["per_class"][t]["tp"] + rp["per_class"][t]["fn"]
                text.append(f"| {t} | {n} | {pct(rp['per_class'][t]['f1'])} | {pct(tp['per_class'][t]['f1'])} |")
            text.append(f"| all (micro) | {rp['micro']['tp'] + rp['micro']['fn']} | {pct(rp['micro']['f1'])} | "
                        f"{pct(tp['micro']['f1'])} |")
            text.append("")
    command = command_line("train-tagger") or ""
    if command:
        text += ["Reproduce:", "", "```", command, "```", ""]
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "evaluation.json", dumps(report) + "\n")
    write_text(out / "evaluation.md", "\n".join(text))
    print("\n".join(text))
    print(f"wrote {out / 'evaluation.json'}, {out / 'evaluation.md'}")
    return 0


def _subset_scores(res, events_path, tags, clips) -> dict:
    from ..tagger import event_metrics, read_events

    ev = read_events(events_path)
    keep = set(clips)
    truth = [{"clip": c, "start": s, "end": e, "tag": t} for c, s, e, t in ev.events[["clip", "start", "end", "tag"]].values
             if c in keep]
    found = [r for r in res["found"] if r["clip"] in keep]
    return event_metrics(truth, found, tags)


def _pause_only_clips(events_path) -> set | None:
    """Clips of a planted table (with a ``mode`` column) whose every event was inserted at a pause: the only
    sounds the rule-based tagger, which looks between words, can see."""
    import pandas as pd

    from ..tagger import read_events

    raw = pd.read_csv(events_path, dtype=str, keep_default_na=False)
    if "mode" not in raw.columns:
        return None
    ev = read_events(events_path)
    full = dict(zip(raw["path"].drop_duplicates(), ev.clips["clip"]))  # first-seen order in both
    over = set(raw.loc[raw["mode"] == "overlay", "path"])
    return {full[p] for p in full if p not in over}


def rule_based_scores(events_path, tags, progress: bool = True, encoder_source: str = "tiny.en"):
    """Event scores of the rule-based tagger, through the per-clip annotation stage
    (:func:`explain_ser.pipeline.plan_annotation` + :func:`~explain_ser.pipeline.annotate`): the table's
    transcript and language columns decide the words (the tagger's Whisper, ``encoder_source``, transcribes
    or aligns when needed); clips that cannot be aligned are left out and counted."""
    from tqdm.auto import tqdm

    from ..audio import load_audio
    from ..errors import InputError
    from ..pipeline import ClipOptions, annotate, plan_annotation
    from ..tagger import event_metrics, read_events

    ev = read_events(events_path)
    extra = ev.extra.set_index(ev.clips["clip"]) if len(ev.extra) else None
    found, used = [], []
    for cid in tqdm(list(ev.clips["clip"]), desc="rule-based tagger", disable=not progress):
        row = extra.loc[cid].to_dict() if extra is not None else {}
        clip = load_audio(cid)
        plan = plan_annotation(clip, ClipOptions(prosody=False, tagger="rules"), row, whisper_source=encoder_source)
        try:
            a = annotate(clip, plan, strict=True).alignment
        except InputError:
            continue
        if a is None:
            continue
        used.append(cid)
        found += [{"clip": cid, "start": v.start, "end": v.end, "tag": v.label} for v in a.vocalizations]
    truth = [{"clip": c, "start": s, "end": e, "tag": t} for c, s, e, t in ev.events[["clip", "start", "end", "tag"]].values
             if c in set(used)]
    return {"metrics": event_metrics(truth, found, tags), "clips": used, "found": found}, len(used), len(ev.clips)
