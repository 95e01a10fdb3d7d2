"""Word timestamps from Whisper: any language, word level only; also the transcript source.

Two modes, one backend:

* **no transcript** — ``model.transcribe(audio, word_timestamps=True)`` (greedy,
  temperature 0, no conditioning on previous text): Whisper's words and their times,
  and its text becomes the alignment's transcript.
* **transcript given** — forced alignment of *that* text: the transcript is tokenized
  and ``whisper.timing.find_alignment`` (dynamic time warping over the alignment
  heads' cross-attention, the same code ``transcribe`` uses) places its tokens in the
  clip's first 30 s window. Clips longer than 30 s fall back to transcription.

Word times come from cross-attention, so they are coarser than a phone-level HMM
aligner's (see benchmarks/notes/alignment.md for the measured agreement with PocketSphinx).
The model comes from :func:`explain_ser.weights.load_whisper` (``tiny.en`` by default,
English only; pass ``source="base"`` or ``"small"`` and a ``language`` for others).
"""

from __future__ import annotations

import numpy as np

from explain_ser.align.base import (VOCAL_TOKEN, Alignment, Interval, place_vocal_tokens,
                                    tokenize_transcript, words_of)
from explain_ser.errors import InputError


class WhisperWordAligner:
    """Word-level alignment (and transcription) with an openai-whisper model."""

    name = "whisper"

    def __init__(self, source: str = "tiny.en", language: str | None = None, model=None):
        self.source = source
        self.language = language
        self._model = model
        self.last_signals: dict = {}  # Whisper's confidence signals of the last transcription

    @property
    def model(self):
        if self._model is None:
            from explain_ser.weights import load_whisper

            self._model = load_whisper(self.source)
        return self._model

    def _language(self) -> str | None:
        if not self.model.is_multilingual:
            if self.language not in (None, "en"):
                raise InputError(self.source, f"is English-only; language {self.language!r} needs a "
                                              "multilingual source (--whisper base or small)")
            return "en"
        return self.language

    def transcribe(self, clip, check: bool = True) -> tuple[str, list[Interval]]:
        """Whisper's own transcript and word intervals.

        ``check``: a transcript that is not plausibly right (Whisper's own signals, known hallucinations:
        :mod:`explain_ser.align.plausible`) raises :class:`~explain_ser.align.plausible.NoWords` instead;
        ``self.last_signals`` keeps the signals of the last call."""
        import torch

        from explain_ser.align.plausible import NoWords, judge

        # at most 10 tokens per second of audio (English speech needs about 3): speech Whisper cannot follow
        # otherwise runs to 224 tokens per pass, pass after pass (espeak-ng Persian decoded as a Thai loop took
        # over 10 minutes on a busy machine, and still 7 at 15 tokens per second)
        cap = int(min(224, max(24, 10 * float(clip.duration))))
        from ..threads import single_thread

        # one thread, as the encoder: greedy decoding near a tie and the plausibility gate near its thresholds
        # must not depend on how many threads a busy or an idle machine gives torch (same clip, same words)
        with torch.inference_mode(), single_thread():
            res = self.model.transcribe(np.asarray(clip.samples, np.float32), word_timestamps=True,
                                        fp16=False, temperature=0.0, language=self._language(),
                                        condition_on_previous_text=False, verbose=None, sample_len=cap)
        verdict = judge(res, self.source, self._language() or res.get("language"), self.model.is_multilingual)
        self.last_signals = verdict.signals
        if check and not verdict.ok:
            raise NoWords(verdict.reason, verdict.signals)
        words = []
        for seg in res.get("segments", []):
            for w in seg.get("words", []):
                for label in words_of(w["word"]):  # "don't," -> "don't"; "well-known" stays one
                    words.append(Interval(float(w["start"]), float(w["end"]), label,
                                          float(w.get("probability", np.nan))))
        return res.get("text", "").strip(), words

    def force_words(self, clip, transcript: str) -> list[Interval]:
        """Times of the transcript's own words (first 30 s window)."""
        import torch
        import whisper
        from whisper.timing import find_alignment, merge_punctuations
        from whisper.tokenizer import get_tokenizer

        model = self.model
        expected = words_of(transcript)
        tok = get_tokenizer(model.is_multilingual, num_languages=model.num_languages,
                            language=self._language() or "en", task="transcribe")
        audio = np.asarray(clip.samples, np.float32)
        # torch.tensor copies: torch.from_numpy warns when the clip's buffer is read-only
        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.tensor(audio)), model.dims.n_mels)
        num_frames = min(len(audio) // whisper.audio.HOP_LENGTH, whisper.audio.N_FRAMES)
        spoken = " ".join(VOCAL_TOKEN.sub(" ", transcript).split())
        for text in (spoken, " ".join(expected)):  # as written first, then normalised
            tokens = tok.encode(" " + text)
            with torch.inference_mode():
                timing = find_alignment(model, tok, tokens, mel, num_frames)
            merge_punctuations(timing, "\"'“¿([{-", "\"'.。,，!！?？:：”)]}、")
            words = []
            for t in timing:
                labels = words_of(t.word)
                # a timing entry that holds two words (rare): split its span evenly
                step = (t.end - t.start) / max(1, len(labels))
                words += [Interval(t.start + i * step, t.start + (i + 1) * step, lab, float(t.probability))
                          for i, lab in enumerate(labels)]
            if [w.label for w in words] == expected:
                return words
        raise InputError(getattr(clip, "clip_id", "clip"), "Whisper could not map the transcript's words "
                                                           "onto its tokens; try --aligner pocketsphinx")

    def align(self, clip, transcript: str | None) -> Alignment:
        dur = float(clip.duration)
        if transcript is None or not words_of(transcript) or dur > 30.0:
            text, words = self.transcribe(clip)
            if transcript and words_of(transcript):
                text = transcript  # > 30 s: Whisper's own words, the user's text kept for the record
        else:
            text, words = transcript, self.force_words(clip, transcript)
        words = _monotonic(words, dur)
        return Alignment(words=words, phones=[], backend=self.name, duration=dur,
                         vocalizations=place_vocal_tokens(tokenize_transcript(text), words, dur),
                         clip_id=getattr(clip, "clip_id", ""), transcript=text).check()


def _monotonic(words: list[Interval], duration: float) -> list[Interval]:
    """Clamp to the clip and remove overlaps (Whisper's times are rounded, and may touch)."""
    out, t = [], 0.0
    for w in words:
        s = min(max(w.start, t), duration)
        e = min(max(w.end, s), duration)
        out.append(Interval(s, e, w.label, w.confidence))
        t = e
    return out
