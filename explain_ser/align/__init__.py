"""Alignment of clips to words, phones and non-linguistic vocalizations.

One call for everything: :func:`align_clip`. Backends (``--aligner``):

=============  ===========================================================  ==============
name           what it gives                                                 languages
=============  ===========================================================  ==============
mfa            words + phones (ARPAbet or MFA IPA); external ``mfa`` program  MFA's models
pocketsphinx   words + ARPAbet phones with stress; embedded, the default     English
whisper        words only; transcribes when no transcript is given           any (base/small)
kaldi          words + MFA-style IPA phones; trains on the corpus first      any espeak-ng voice
=============  ===========================================================  ==============

``auto`` (the default) picks: English with a transcript -> pocketsphinx; no transcript ->
Whisper transcribes, then (English) PocketSphinx aligns phones to Whisper's text; other
languages -> mfa if installed, else whisper. When the chosen backend cannot run (``mfa``
missing), the next in :data:`FALLBACK` is used and the reason is kept in ``alignment.notes``.
"""

from __future__ import annotations

from explain_ser.align.base import (Aligner, AlignerUnavailable, Alignment, Interval, Token,
                                    tokenize_transcript, words_of)
from explain_ser.align.phones import phone_class, stress_of
from explain_ser.errors import InputError

ALIGNERS = ("auto", "mfa", "pocketsphinx", "whisper", "kaldi")
FALLBACK = {"mfa": "pocketsphinx", "pocketsphinx": "whisper", "whisper": None, "kaldi": "whisper"}

__all__ = ["Alignment", "Interval", "Token", "Aligner", "AlignerUnavailable", "ALIGNERS", "align_clip",
           "get_aligner", "no_words", "phone_class", "stress_of", "tokenize_transcript", "words_of"]

_CACHE: dict[tuple, Aligner] = {}


def get_aligner(name: str, language: str = "en", whisper_source: str = "tiny.en") -> Aligner:
    """A (cached) backend instance by name."""
    key = (name, language, whisper_source)
    if key in _CACHE:
        return _CACHE[key]
    if name == "pocketsphinx":
        from explain_ser.align.pocketsphinx_backend import PocketSphinxAligner

        aligner = PocketSphinxAligner()
    elif name == "whisper":
        from explain_ser.align.whisper_words import WhisperWordAligner

        aligner = WhisperWordAligner(source=whisper_source, language=language)
    elif name == "mfa":
        from explain_ser.align.mfa import MFAAligner

        aligner = MFAAligner(language=language)
    elif name == "kaldi":  # untrained until .train(...); see kaldi_corpus.train_and_align
        from explain_ser.align.kaldi_train import KaldiTrainAligner

        aligner = KaldiTrainAligner(language=language)
    else:
        raise InputError(name, f"unknown aligner; choose one of {', '.join(ALIGNERS)}")
    _CACHE[key] = aligner
    return aligner


def _signals_note(signals: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in signals.items() if k != "n_words")


def no_words(clip, reason: str, notes: list | None = None) -> Alignment:
    """An empty alignment that says why (no aligner for the language, or no plausible transcript).

    No vocalization tags either: the acoustic tagger looks for sounds *between* words, and with no word
    boundaries it would call speech itself laughter.
    """
    return Alignment(words=[], backend="none", duration=float(clip.duration), clip_id=getattr(clip, "clip_id", ""),
                     notes=[reason, "no vocalization tags: they need word boundaries", *(notes or [])]).check()


def _is_english(language: str | None) -> bool:
    return (language or "en").lower().split("-")[0] in ("en", "eng", "english")


def align_clip(clip, transcript: str | None = None, aligner: str = "auto", language: str = "en",
               whisper_source: str = "tiny.en", vocalizations: bool = True) -> Alignment:
    """Align one clip; ``transcript=None`` lets Whisper supply the words.

    ``vocalizations=True`` also tags non-linguistic sounds outside the words
    (:func:`explain_ser.align.vocalizations.detect_vocalizations`) and merges them
    with the transcript's own tokens.
    """
    notes: list[str] = []
    if transcript is not None and not words_of(transcript) and not transcript.strip():
        transcript = None  # an empty string means "no transcript", documented in the CLI help
    if aligner == "auto":
        if transcript is None:
            aligner = "whisper"
        else:
            aligner = "pocketsphinx" if _is_english(language) else "mfa"
    if aligner not in ALIGNERS:
        raise InputError(aligner, f"unknown aligner; choose one of {', '.join(ALIGNERS)}")

    from explain_ser.align.plausible import NoWords

    given = transcript is not None
    try:
        if transcript is None and aligner != "whisper":
            whisper = get_aligner("whisper", language, whisper_source)
            text, _ = whisper.transcribe(clip)
            notes.append(f"no transcript: Whisper ({whisper_source}) transcribed {text!r} "
                         f"({_signals_note(whisper.last_signals)})")
            transcript = text

        name, result = aligner, None
        while name is not None:
            if name == "pocketsphinx" and not _is_english(language):
                notes.append(f"pocketsphinx skipped: it has an English model only (language {language})")
                name = FALLBACK[name]
                continue
            try:
                result = get_aligner(name, language, whisper_source).align(clip, transcript)
                break
            except AlignerUnavailable as exc:
                notes.append(f"{exc}; falling back to {FALLBACK[name]}")
                name = FALLBACK[name]
    except NoWords as exc:  # Whisper's own words are not plausible: none, and why
        return no_words(clip, exc.reason, notes)
    if result is not None and result.backend == "whisper" and not given:
        notes.append(f"Whisper ({whisper_source}) transcribed {result.transcript!r} "
                     f"({_signals_note(get_aligner('whisper', language, whisper_source).last_signals)})")
    if result is None:
        raise InputError(getattr(clip, "clip_id", "clip"), "no aligner could run: " + "; ".join(notes))

    if aligner == "whisper" and transcript is None and _is_english(language) and result.words:
        # Whisper gave words only; an English clip can get phones from PocketSphinx on Whisper's text
        try:
            phoned = get_aligner("pocketsphinx").align(clip, result.transcript)
            phoned.backend = "whisper+pocketsphinx"
            notes.append("phones by PocketSphinx on Whisper's transcript")
            result = phoned
        except InputError as exc:
            notes.append(f"no phones: PocketSphinx could not align Whisper's transcript ({exc})")

    if not result.phones and result.words and not _is_english(language):
        notes.append(f"no phones for {language}: they come from --aligner kaldi on a corpus with transcripts "
                     "(explain-ser align/report) or mfa")

    if vocalizations:
        from explain_ser.align.vocalizations import detect_vocalizations, merge_with_tokens

        found = detect_vocalizations(clip.samples, result.words)
        result.vocalizations = merge_with_tokens(result.vocalizations, found)
    result.notes = notes + result.notes
    result.clip_id = result.clip_id or getattr(clip, "clip_id", "")
    return result.check()
