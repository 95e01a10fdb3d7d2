"""``explain-ser align``: words, phones and vocalizations of clips, written as TextGrids."""

from __future__ import annotations

import sys

from ..engine import add_engine_args


def add_parser(sub):
    p = sub.add_parser("align", help="align clips to words, phones and vocalizations (TextGrids)",
                       description="Align clips to words, phones and non-linguistic vocalizations and "
                                   "write one Praat TextGrid per clip (tiers: words, phones, vocalizations).")
    p.add_argument("target", nargs="+", metavar="CLIP_OR_MANIFEST",
                   help="audio file(s), a manifest CSV (its 'transcript' column is used) or a corpus directory")
    p.add_argument("--aligner", default="auto", choices=["auto", "mfa", "pocketsphinx", "whisper", "kaldi"],
                   help="backend (default auto: pocketsphinx for English with a transcript, "
                        "whisper when there is none; mfa falls back to pocketsphinx when not installed)")
    p.add_argument("--transcript", default=None,
                   help="the words of a single clip; omit (or give '') to let Whisper transcribe")
    p.add_argument("--language", default=None,
                   help="language code or name (default: the manifest's 'language' column, else identified from "
                        "the audio by a multilingual Whisper when one is installed, else en)")
    p.add_argument("--whisper", default="tiny.en", metavar="SOURCE",
                   help="Whisper source for transcription/word times (default tiny.en: English only)")
    p.add_argument("--no-vocalizations", action="store_true", help="skip acoustic vocalization tagging")
    from ..tagger import DEFAULT_TAGGER

    p.add_argument("--tagger", default=None, metavar="NAME|DIR",
                   help=f"vocalization tagger: a shipped name or an explain-ser train-tagger directory (default {DEFAULT_TAGGER}); 'rules' for the rule-based tagger")
    p.add_argument("--frames", action="store_true",
                   help="also write <clip>.frames.csv: alignment + prosody on the 20 ms encoder grid")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_engine_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    import pandas as pd

    from ..batch import align_corpus
    from ..corpora import load_manifest_or_dir
    from ..engine import cluster_from_args, report_failures
    from ..errors import InputError
    from ..pipeline import vocalization_tagger

    from ..language import check_request, normalise_language

    if args.language is not None:  # before anything is read or written: one line, exit 2
        args.language = normalise_language(args.language)
    check_request(args.language, args.aligner)
    manifest = pd.concat([load_manifest_or_dir(t) for t in args.target], ignore_index=True)
    if args.transcript is not None and len(manifest) != 1:
        raise InputError("--transcript", f"gives the words of one clip, but {len(manifest)} clips were named; "
                                         "use a manifest with a 'transcript' column")
    out = Path(args.out)
    with cluster_from_args(args, n_items=len(manifest)) as client:
        records, failures = align_corpus(manifest, out, aligner=args.aligner, whisper=args.whisper,
                                         language=args.language, vocalizations=not args.no_vocalizations,
                                         frames=args.frames, transcript=args.transcript, client=client,
                                         tagger=vocalization_tagger(args.tagger),
                                         progress=not args.quiet and len(manifest) > 1)
    if len(manifest) == 1 and failures:  # one named clip: bad input, nothing written (exit 2)
        raise InputError(failures[0]["message"])
    notes_seen = set()
    for rec in records:
        for note in (rec or {}).get("notes", []):
            key = note.split(":")[0] if note.startswith("no transcript") else note
            if key not in notes_seen:
                notes_seen.add(key)
                print(f"explain-ser: note: {note}", file=sys.stderr)
    done = sum(r is not None for r in records)
    if len(manifest) == 1:
        r = records[0]
        lang = r.get("language") or {}
        said = "" if not lang else f", language {lang['language']} ({lang.get('source')}" + (
            f" p={lang['probability']:.2f})" if lang.get("probability") is not None else ")")
        print(f"{r['clip_id']}: {r['words']} words, {r['phones']} phones, {r['vocalizations']} vocalizations "
              f"({r['backend']}{said}) -> {out / (r['clip_id'] + '.TextGrid')}")
        if r["backend"] == "none" and r.get("notes"):
            print(f"  {r['notes'][0]}")
    else:
        print(f"aligned {done} of {len(manifest)} clips -> {out}")
    return report_failures(out, failures, len(manifest))
