"""``explain-ser align``: words, phones and vocalizations of clips, written as TextGrids."""

from __future__ import annotations

import sys


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
                   help="language code (default: the manifest's 'language' column, else en)")
    p.add_argument("--whisper", default="tiny.en", metavar="SOURCE",
                   help="Whisper source for transcription/word times (default tiny.en: English only)")
    p.add_argument("--no-vocalizations", action="store_true", help="skip acoustic vocalization tagging")
    p.add_argument("--frames", action="store_true",
                   help="also write <clip>.frames.csv: alignment + prosody on the 20 ms encoder grid")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    import pandas as pd
    from tqdm import tqdm

    from ..align import align_clip
    from ..audio import load_audio
    from ..corpora import load_manifest_or_dir
    from ..errors import InputError
    from ..language import decide_language, plan_alignment

    manifest = pd.concat([load_manifest_or_dir(t) for t in args.target], ignore_index=True)
    if args.transcript is not None and len(manifest) != 1:
        raise InputError("--transcript", f"gives the words of one clip, but {len(manifest)} clips were named; "
                                         "use a manifest with a 'transcript' column")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failures, notes_seen = [], set()
    trained: dict = {}
    if args.aligner == "kaldi":
        # corpus-trained monophone model (cached by corpus hash): train on every clip first, then read off
        from ..align.kaldi_corpus import train_and_align

        trained = train_and_align(manifest, language=args.language, progress=not args.quiet)
    bar = tqdm(manifest.itertuples(index=False), total=len(manifest), disable=args.quiet or len(manifest) < 2,
               unit="clip", desc="align", file=sys.stderr)
    for row in bar:
        row = row._asdict()
        transcript = args.transcript if args.transcript is not None else (row.get("transcript") or None)
        language = decide_language(args.language, row.get("language")).language
        try:
            clip = load_audio(row["path"])
            if args.aligner == "kaldi":
                if str(row["clip_id"]) not in trained:
                    raise InputError(row["clip_id"], "Kaldi could not align this clip (no transcript, or no fit)")
                alignment = trained[str(row["clip_id"])]
            else:
                plan = plan_alignment(language, args.whisper, transcript, args.aligner)
                if plan.aligner is None:  # never English phones on another language
                    raise InputError(row["path"], plan.reason)
                alignment = align_clip(clip, transcript, aligner=plan.aligner, language=language,
                                       whisper_source=plan.whisper_source, vocalizations=not args.no_vocalizations)
                if plan.reason:
                    alignment.notes.insert(0, plan.reason)
        except InputError as err:
            if len(manifest) == 1:
                raise
            failures.append((row["clip_id"], str(err)))
            continue
        for note in alignment.notes:
            key = note.split(":")[0] if note.startswith("no transcript") else note
            if key not in notes_seen:
                notes_seen.add(key)
                tqdm.write(f"explain-ser: note: {note}", file=sys.stderr)
        alignment.to_textgrid(out / f"{row['clip_id']}.TextGrid")
        if args.frames:
            from ..frames import build_frame_table, save_frame_table
            from ..prosody import extract_prosody

            table = build_frame_table(row["clip_id"], clip.n_frames, alignment=alignment,
                                      prosody=extract_prosody(clip.samples))
            save_frame_table(table, out / f"{row['clip_id']}.frames.csv")
    done = len(manifest) - len(failures)
    if len(manifest) == 1 and done == 1:
        a = alignment
        print(f"{row['clip_id']}: {len(a.words)} words, {len(a.phones)} phones, "
              f"{len(a.vocalizations)} vocalizations ({a.backend}) -> {out / (row['clip_id'] + '.TextGrid')}")
    else:
        print(f"aligned {done} of {len(manifest)} clips -> {out}")
    for cid, msg in failures:
        print(f"explain-ser: error: {msg}", file=sys.stderr)
    if failures:
        (out / "failed.txt").write_text("".join(f"{c}\t{m}\n" for c, m in failures), encoding="utf-8")
    return 1 if failures else 0
