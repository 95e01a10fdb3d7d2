"""``explain-ser attribute CLIP...``: predict, export attention, attribute, align, and summarise clips."""

from __future__ import annotations

import textwrap
from pathlib import Path


def add_parser(sub):
    p = sub.add_parser("attribute", help="explain clips: prediction, per-head attention, attributions, words/phones",
                       description="Explain one or more clips (files or directories) with a trained pooler. "
                                   "Writes <clip>.frames.<fmt> (the FrameTable), <clip>.summary.json, "
                                   "<clip>.attention.npz, a TextGrid and, with --plot, <clip>.png.")
    p.add_argument("clips", nargs="+", metavar="CLIP", help="audio files or directories of audio files")
    p.add_argument("--checkpoint", default="ravdess-tiny.en", help="shipped name or checkpoint directory (default: ravdess-tiny.en)")
    p.add_argument("--transcript", default=None, metavar="TEXT|FILE",
                   help="transcript text or a .txt file (default: CLIP.txt beside the audio if present, else Whisper transcribes)")
    p.add_argument("--language", default=None,
                   help="language of the speech, code or name (default: identified from the audio by a multilingual "
                        "Whisper when one is installed, else the checkpoint's training language); decides the aligner")
    p.add_argument("--aligner", default="auto", choices=["auto", "mfa", "pocketsphinx", "whisper", "none"],
                   help="word/phone aligner (default: auto = PocketSphinx for English with a transcript)")
    p.add_argument("--methods", default="ig,occlusion", help="attribution methods, comma-separated: ig,saliency,occlusion (or 'none')")
    p.add_argument("--target", default=None, help="class to explain (default: the predicted class)")
    p.add_argument("--steps", type=int, default=32, help="Integrated Gradients steps (default 32)")
    p.add_argument("--baseline", default="mean", choices=["mean", "zero"], help="IG baseline features (default: training mean)")
    p.add_argument("--deep", action="store_true", help="also IG through the frozen encoder onto the log-mel")
    p.add_argument("--no-prosody", action="store_true", help="skip Praat prosody")
    from ..tagger import DEFAULT_TAGGER

    p.add_argument("--tagger", default=None, metavar="NAME|DIR",
                   help=f"vocalization tagger: a shipped name or an explain-ser train-tagger directory (default {DEFAULT_TAGGER}); 'rules' for the rule-based tagger")
    p.add_argument("--out", default="out", help="output directory (default: out/)")
    p.add_argument("--format", default="csv", choices=["csv", "parquet", "json"], help="FrameTable format")
    p.add_argument("--plot", action="store_true", help="write a PNG panel per clip")
    p.add_argument("--strict", action="store_true",
                   help="refuse a truncated file (shorter than its header declares) instead of warning")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no per-clip summary")
    from ..engine import add_engine_args

    add_engine_args(p)
    p.set_defaults(func=run, jobs=1)  # clips run in this process unless --jobs/--scheduler/--cluster say otherwise


def _transcript(arg):
    if arg is None:
        return None
    p = Path(arg)
    if p.suffix == ".txt" or (len(arg) < 255 and p.is_file()):
        from ..errors import InputError

        if not p.is_file():
            raise InputError(p, "transcript file not found")
        return p.read_text().strip()
    return arg


def print_summary(s: dict) -> None:
    """The few lines a user reads of one clip's summary (``Attribution.summary``)."""
    probs = sorted(s["probabilities"].items(), key=lambda kv: -kv[1])
    print(f"{s['clip']}  ({s['duration_s']:.2f} s, {s['n_frames']} frames)")
    print(f"  predicted: {s['predicted']}   " + "  ".join(f"{k} {v:.2f}" for k, v in probs[:4]))
    heads = ", ".join(f"{h} {100 * v:.0f}%" for h, v in s["frames_for_80pct"].items())
    # an ensemble has every member's heads: wrap rather than print one very long line
    print(textwrap.fill(f"frames holding 80% of the attention (uniform = 80%): {heads}", width=110,
                        initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False))
    b = s.get("boundary")
    if b and b.get("heads"):
        lim = 2 * b["fraction"]  # issue 28's bar: more than 20 % on the first or last 10 %
        parts = [f"{h}\x00{100 * e['first']:.0f}%/{100 * e['last']:.0f}%" + ("*" if max(e["first"], e["last"]) > lim else "")
                 for h, e in b["heads"].items()]
        flagged = any(p.endswith("*") for p in parts)
        print(textwrap.fill(f"attention on the first/last {100 * b['fraction']:.0f}% of the model's frames "
                            f"(uniform = {100 * b['uniform']:.0f}%): " + ", ".join(parts)
                            + (f"  (* over {100 * lim:.0f}%: a head that may point at where the input starts "
                               "or stops, not at what was said)" if flagged else ""),
                            width=110, initial_indent="  ", subsequent_indent="    ",
                            break_on_hyphens=False).replace("\x00", " "))  # a head's numbers stay on one line
    al = s.get("alignment") or {}
    if al.get("backend") == "none":
        print(f"  no words or phones: {al['notes'][0]}")
    for seg in s["top_segments"][:3]:
        what = " ".join(seg.get("words", []) + seg.get("vocalizations", [])) or (
            "(not aligned)" if al.get("backend") == "none" else "(pause: no word)")
        ph = " ".join(seg.get("phones", []))
        print(f"  top segment {seg['start']:.2f}-{seg['end']:.2f} s  mass {100 * seg['mass']:.1f}%  {what}"
              + (f"  [{ph}]" if ph else ""))


def run(args) -> int:
    from tqdm.auto import tqdm

    from ..api import Explainer
    from ..audio import load_audio
    from ..corpora import audio_files
    from ..errors import InputError

    from ..language import check_request, normalise_language

    if args.language is not None:  # an unknown code, or pocketsphinx on another language: one line, nothing written
        args.language = normalise_language(args.language)
    check_request(args.language, args.aligner)
    paths = audio_files(args.clips)
    transcript = _transcript(args.transcript)
    if transcript is not None and len(paths) > 1:
        raise InputError("--transcript", "one transcript given for several clips; put CLIP.txt beside each clip instead")
    methods = () if args.methods in ("none", "") else tuple(m.strip() for m in args.methods.split(","))
    from ..explain.attributions import METHODS

    for m in methods:
        if m not in METHODS:
            raise InputError(m, f"unknown attribution method ({', '.join(METHODS)})")
    # --jobs N / --scheduler / --cluster: clips are tasks on a Dask cluster; a bad clip is listed in
    # failures.csv and the rest finish (exit 1). In this process (the default) every clip is validated before
    # the model is loaded, so a bad file fails fast and nothing is written (exit 2).
    distributed = len(paths) > 1 and ((args.jobs or 1) > 1 or args.scheduler or args.cluster)
    clips = paths if distributed else [load_audio(p, strict=args.strict) for p in paths]
    from ..pipeline import trained_tagger, vocalization_tagger
    from ..tagger import load_tagger

    tagger = vocalization_tagger(args.tagger)  # the library reads the option the same way
    if trained_tagger(tagger):  # a bad tagger fails fast too, before anything is computed
        load_tagger(tagger)
    ex = Explainer(args.checkpoint)
    target = None
    if args.target is not None:
        if args.target not in ex.labels:
            raise InputError(args.target, f"not a class of this checkpoint ({', '.join(ex.labels)})")
        target = ex.labels.index(args.target)
    out = Path(args.out)
    # transcript None: the pipeline reads CLIP.txt beside the audio (explain_ser.pipeline.transcript_beside)
    options = dict(transcript=transcript, methods=methods, target=target, align=args.aligner != "none",
                   aligner="auto" if args.aligner == "none" else args.aligner, language=args.language,
                   prosody=not args.no_prosody, deep=args.deep, ig_steps=args.steps, baseline=args.baseline,
                   tagger=tagger)
    if distributed:
        from ..batch import attribute_clips
        from ..engine import cluster_from_args, report_failures

        with cluster_from_args(args, n_items=len(paths)) as client:
            results, failures = attribute_clips(paths, ex, out, fmt=args.format, plot=args.plot, strict=args.strict,
                                                client=client, progress=not args.quiet, **options)
        if not args.quiet:
            for r in results:
                if r is not None:
                    print_summary(r["summary"])
                    print("  wrote " + ", ".join(r["written"]))
        return report_failures(out, failures, len(paths))
    for clip in tqdm(clips, desc="attribute", unit="clip", disable=args.quiet or len(paths) < 2):
        res = ex.attribute(clip, **options)
        written = res.save(out, fmt=args.format)
        if args.plot:
            from ..plots import save_clip_panel

            written["plot"] = save_clip_panel(res, out)
        if not args.quiet:
            print_summary(res.summary)
            print("  wrote " + ", ".join(str(p) for p in written.values()))
    return 0
