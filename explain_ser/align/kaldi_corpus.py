"""Train the Kaldi aligner on a whole corpus manifest and align every clip of it.

``explain-ser align MANIFEST --aligner kaldi --out DIR`` and ``explain-ser report --aligner kaldi`` call
:func:`train_and_align`; the trainer itself is :class:`explain_ser.align.kaldi_train.KaldiTrainAligner`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from explain_ser.align.base import Alignment
from explain_ser.align.kaldi_train import KaldiTrainAligner, TrainConfig, _log
from explain_ser.align.textgrid import write_alignment
from explain_ser.errors import InputError


def train_and_align(manifest_df, language: str | None = None, out_dir=None, progress: bool = True,
                    lexicon=None, config: TrainConfig | None = None, cache: bool = True) -> dict[str, Alignment]:
    """Train on a corpus manifest and align every clip of it: ``{clip_id: Alignment}``.

    ``manifest_df`` has ``path``, ``clip_id`` and ``transcript`` columns (as
    :func:`explain_ser.corpora.read_manifest` gives); ``language`` defaults to its
    ``language`` column (which must then hold one language). The model is cached by
    corpus hash (a second call only aligns). Clips without a transcript, and clips the
    aligner cannot fit, are left out of the result; with ``out_dir`` the alignments are
    also written as ``<clip_id>.TextGrid`` and the left-out clips listed in ``failed.txt``.
    """
    from explain_ser.audio import load_audio

    from explain_ser.language import normalise_language

    df = manifest_df.reset_index(drop=True)
    if language is None:
        langs = sorted({normalise_language(v, "manifest language") for v in df.get("language", [])
                        if isinstance(v, str) and v.strip()})
        if len(langs) > 1:
            raise InputError("language", f"the manifest mixes languages {langs}; align one language at a time")
        language = langs[0] if langs else None
    texts = [t if isinstance(t, str) else "" for t in df.get("transcript", [""] * len(df))]
    rows = list(zip(df["clip_id"].astype(str), df["path"], texts))
    it = rows
    if progress:
        from tqdm import tqdm

        it = tqdm(rows, desc="kaldi load", unit="clip", file=sys.stderr)
    clips = [load_audio(p) for _, p, _ in it]
    import dataclasses

    clips = [c if c.clip_id == cid else dataclasses.replace(c, clip_id=cid) for c, (cid, _, _) in zip(clips, rows)]
    if language is None:  # nobody said it: the lexicon's language comes from the audio (else English)
        language = corpus_language(clips, progress=progress)
    aligner = KaldiTrainAligner(language=language, lexicon=lexicon, config=config)
    aligner.train(clips, texts, cache=cache, progress=progress)
    out: dict[str, Alignment] = {}
    failed: list[tuple[str, str]] = []
    it = zip(clips, rows)
    if progress:
        from tqdm import tqdm

        it = tqdm(list(it), desc="kaldi align", unit="clip", file=sys.stderr)
    for clip, (cid, _, text) in it:
        try:
            out[cid] = aligner.align(clip, text)
        except InputError as exc:
            failed.append((cid, str(exc)))
    if out_dir is not None:
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        for cid, a in out.items():
            write_alignment(a, d / f"{cid}.TextGrid")
        if failed:
            (d / "failed.txt").write_text("".join(f"{c}\t{m}\n" for c, m in failed), encoding="utf-8")
    if failed:
        _log(progress, f"kaldi: {len(failed)} of {len(rows)} clips not aligned"
                       + (f" (see {Path(out_dir) / 'failed.txt'})" if out_dir is not None else ""))
    train_and_align.last_aligner = aligner  # for callers that want the model (model_dir, stats)
    return out


def corpus_language(clips, n: int = 5, progress: bool = False) -> str:
    """The language of a corpus nobody named: Whisper's identification on ``n`` clips spread over it, the
    majority when it holds most of them with p >= 0.5; English when no multilingual Whisper is installed or
    the clips disagree (said on stderr), because the espeak-ng lexicon needs one language."""
    from collections import Counter

    from explain_ser.language import MIN_LANGUAGE_P, identify_language, language_identifier

    source = language_identifier("tiny.en")
    if source is None or not clips:
        _log(progress, "kaldi: no language given and no multilingual Whisper to identify it: English lexicon")
        return "en"
    picks = [clips[i] for i in sorted({round(k * (len(clips) - 1) / max(1, n - 1)) for k in range(n)})]
    votes = Counter(d.language for d in (identify_language(c, source) for c in picks)
                    if (d.probability or 0.0) >= MIN_LANGUAGE_P)
    lang, count = votes.most_common(1)[0] if votes else ("en", 0)
    if count * 2 <= len(picks):
        _log(progress, f"kaldi: Whisper {source} could not agree on the corpus' language ({dict(votes)}): "
                       "English lexicon; give --language")
        return "en"
    _log(progress, f"kaldi: language {lang} identified by Whisper {source} on {count} of {len(picks)} clips")
    return lang
