"""``explain-ser timeline RECORDING... --out DIR``: emotion over time in long recordings (calls, sessions,
interviews), utterance by utterance, in flat memory (see :mod:`explain_ser.timeline`)."""

from __future__ import annotations

import sys
from pathlib import Path

from . import command_line


def add_parser(sub):
    p = sub.add_parser("timeline", help="emotion timeline of long recordings: VAD, every utterance explained",
                       description="Segment long recordings into utterances (silero-vad, cut at pauses, at most 30 s) "
                                   "and explain each one: emotion, per-head attention, attributions, prosody. Writes "
                                   "<rec>.segments.csv, <rec>.frames.parquet (the whole FrameTable, one row group "
                                   "per utterance), <rec>.TextGrid, <rec>.summary.json, <rec>.timeline.html and, "
                                   "with --plot, <rec>.timeline.png. Memory stays flat whatever the length.")
    p.add_argument("recordings", nargs="+", metavar="RECORDING", help="audio files or directories of audio files")
    p.add_argument("--out", default="out", help="output directory (default: out/)")
    p.add_argument("--checkpoint", default="ravdess-tiny.en", help="shipped name or checkpoint directory (default: ravdess-tiny.en)")
    p.add_argument("--vad", default="silero", choices=["silero", "energy"],
                   help="speech segmentation (default: silero; energy when silero-vad is not installed)")
    p.add_argument("--min-pause", type=float, default=0.3, metavar="S",
                   help="a pause at least this long ends an utterance (default 0.3 s)")
    p.add_argument("--context", type=float, default=1.0, metavar="S",
                   help="seconds of the pause before and after each utterance the model also hears, at most half "
                        "the pause (default 1.0: the shipped models were trained on clips with ~1 s of room tone; "
                        "cut tight, they get fewer segments right: 74 %% against 100 %% with 0.5 s on joined RAVDESS)")
    p.add_argument("--max-len", type=float, default=30.0, metavar="S",
                   help="longer utterances are split at their quietest frame (default and maximum: 30 s, Whisper's window)")
    p.add_argument("--turns", default=None, metavar="RTTM|TextGrid|DIR",
                   help="speaker turns from your diarizer: utterances are cut at turn boundaries and summarised per "
                        "speaker (a directory: <rec>.rttm or <rec>.TextGrid per recording)")
    p.add_argument("--align", action="store_true",
                   help="words, phones and vocalizations per utterance (Whisper transcribes; slow)")
    p.add_argument("--language", default=None,
                   help="language of the speech (default: identified per utterance by a multilingual Whisper when "
                        "one is installed and the utterance is aligned or --identify-language is given, else the "
                        "checkpoint's); decides the aligner")
    p.add_argument("--identify-language", action="store_true",
                   help="identify each utterance's language from its audio also without --align (segments.csv "
                        "column 'language'; one Whisper base pass per utterance, ~1.4 s of CPU each)")
    from ..tagger import DEFAULT_TAGGER

    p.add_argument("--tagger", default=None, metavar="NAME|DIR",
                   help=f"vocalization tagger: a shipped name or an explain-ser train-tagger directory (default {DEFAULT_TAGGER}); 'rules' for the rule-based tagger")
    p.add_argument("--methods", default="ig", help="attribution methods, comma-separated: ig,saliency,occlusion, "
                                                   "or 'none' for speed (default: ig)")
    p.add_argument("--steps", type=int, default=32, help="Integrated Gradients steps (default 32)")
    p.add_argument("--no-prosody", action="store_true", help="skip Praat prosody")
    p.add_argument("--format", default="parquet", choices=["parquet", "csv"], help="FrameTable format (default parquet)")
    p.add_argument("--plot", action="store_true", help="also write <rec>.timeline.png")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no per-recording summary")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..checkpoint import Checkpoint
    from ..corpora import audio_files
    from ..errors import InputError
    from ..pipeline import vocalization_tagger
    from ..timeline import TimelineOptions, explain_recording, read_turns

    methods = () if args.methods in ("none", "") else tuple(m.strip() for m in args.methods.split(","))
    for m in methods:
        if m not in ("ig", "saliency", "occlusion"):
            raise InputError(m, "unknown attribution method (ig, saliency, occlusion)")
    if not 0 < args.max_len <= 30:
        raise InputError(f"--max-len {args.max_len}", "must be above 0 and at most 30 s (one Whisper window)")
    if args.min_pause <= 0:
        raise InputError(f"--min-pause {args.min_pause}", "must be above 0")
    if not 0 <= args.context <= 5:
        raise InputError(f"--context {args.context}", "must be between 0 and 5 s")
    if args.language is not None:  # an unknown code: one line, exit 2, before anything is read or written
        from ..language import normalise_language

        args.language = normalise_language(args.language)
    opts = TimelineOptions(methods=methods, align=args.align, tagger=vocalization_tagger(args.tagger), language=args.language,
                           identify_language=args.identify_language, prosody=not args.no_prosody,
                           ig_steps=args.steps, vad=args.vad, min_pause=args.min_pause, context=args.context,
                           max_len=args.max_len,
                           fmt=args.format, plot=args.plot)
    paths = audio_files(args.recordings)
    stems = [p.stem for p in paths]
    if len(set(stems)) < len(stems):
        dup = sorted({s for s in stems if stems.count(s) > 1})[0]
        raise InputError(dup, "two recordings share this name: their outputs would overwrite each other")
    if args.turns is not None and len(paths) > 1 and Path(args.turns).suffix.lower() == ".textgrid":
        raise InputError(args.turns, "one TextGrid of turns for several recordings; give a directory with "
                                     "<rec>.TextGrid per recording")
    # every turns file and every recording is read before the model loads: a bad file fails fast, writes nothing
    turns = {p: (read_turns(args.turns, p.stem) if args.turns is not None else None) for p in paths}
    segs = {}
    for p in paths:
        segs[p] = _segment(p, args)
        for note in segs[p].notes:
            print(f"explain-ser: note: {p}: {note}", file=sys.stderr)
    ck = Checkpoint.load(args.checkpoint)
    enc = ck.encoder()
    command = command_line() if sys.argv else None
    for p in paths:
        res = explain_recording(p, ck, enc, args.out, opts, turns=turns[p], segmentation=segs[p],
                                progress=not args.quiet, command=command)
        if not args.quiet:
            _print_summary(p, res)
    return 0


def _segment(path, args):
    """The VAD pass over one recording, with a progress bar in audio seconds."""
    from tqdm.auto import tqdm

    from ..vad import recording_info, segment_recording

    declared = recording_info(path).declared_samples
    total = round(declared / 16000, 1) if declared else None
    # leave=False: a transient step (and a file that fails to decode leaves one error line, not a dead bar)
    with tqdm(total=total, unit="s", desc=f"{Path(path).stem} (VAD, audio s)", disable=args.quiet, leave=False,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]"
              if total else "{desc}: {n:.0f} s [{elapsed}]") as bar:
        return segment_recording(path, vad=args.vad, min_pause=args.min_pause, max_len=args.max_len,
                                 progress=lambda sec: bar.update(round(sec, 1) - bar.n))


def _print_summary(path, res) -> None:
    s, seg = res["summary"], res["segments"]
    speed = s["duration_s"] / res["seconds"] if res["seconds"] > 0 else float("inf")
    print(f"{path}  ({s['duration_s']:.1f} s, {s['speech_s']:.1f} s speech, {s['n_segments']} utterances, "
          f"{speed:.1f}x real time)")
    shares = sorted(s["emotion_share_of_speech"].items(), key=lambda kv: -kv[1])
    print("  speech time per emotion: " + ("  ".join(f"{k} {100 * v:.0f}%" for k, v in shares if v > 0) or "no speech found"))
    langs = s.get("language_share_of_speech") or {}
    if langs:
        how = sorted(set(seg["language_source"].astype(str))) if "language_source" in seg else []
        print("  speech time per language: " + "  ".join(f"{k} {100 * v:.0f}%" for k, v in langs.items())
              + f"  ({', '.join(how)})")
    for _, r in seg.head(5).iterrows():
        who = f" [{r['speaker']}]" if "speaker" in seg else ""
        lang = f"  {r['language']}" if len(langs) > 1 else ""  # a recording that switches: each utterance's
        print(f"  {r['start']:8.2f}-{r['end']:8.2f} s{who}  {r['emotion']} {r['confidence']:.2f}{lang}")
    if len(seg) > 5:
        print(f"  ... {len(seg) - 5} more in {res['files']['segments']}")
    print("  wrote " + ", ".join(str(p) for p in res["files"].values()))
