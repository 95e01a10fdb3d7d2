"""Is a Whisper transcript plausibly right? Whisper's own signals and its known hallucinations decide.

A clip explained with words nobody said is worse than one explained without words: an English-only Whisper
turns Urdu into fluent English ("Thank you for watching, and I will see you in the next video."). A
transcript Whisper made itself (no transcript was given) is kept only when all of these hold:

* average log-probability of its tokens (duration-weighted over segments) >= ``min_avg_logprob``;
* mean probability of its words >= ``min_word_p`` (Whisper's per-word probability from word timestamps);
* no-speech probability <= ``max_no_speech`` and gzip compression ratio <= ``max_compression`` (Whisper's
  own thresholds for silence and for looping output);
* it is not one of Whisper's known hallucinations (:data:`KNOWN_HALLUCINATIONS`).

Otherwise the clip gets no words, and the reason says which signal failed and what to do. The thresholds were
chosen on real English (RAVDESS), real German (EmoDB) and espeak-ng speech in seven languages; the measured
acceptance rates are in RESULTS.md (languages).

>>> res = {"text": " Thank you for watching!", "segments": [{"start": 0, "end": 2, "avg_logprob": -0.2,
...        "no_speech_prob": 0.1, "compression_ratio": 0.9, "words": [{"probability": 0.9}] * 4}]}
>>> judge(res, "tiny.en", "en", multilingual=False).reason
"no words: Whisper tiny.en's transcript 'Thank you for watching!' is a known Whisper hallucination; pass --transcript"
>>> res["text"] = " Dogs are sitting by the door."
>>> judge(res, "tiny.en", "en", multilingual=False).ok
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Thresholds", "Verdict", "judge", "signals_of", "NoWords", "KNOWN_HALLUCINATIONS", "is_hallucination"]

# Phrases Whisper is known to produce on silence, music or speech it cannot follow (subtitle credits and video
# sign-offs from its training data). Matched on lowercase letters and spaces, as a whole transcript or a part.
KNOWN_HALLUCINATIONS = (
    "thank you for watching", "thanks for watching", "thank you so much for watching",
    "see you in the next video", "please subscribe", "subscribe to my channel", "like and subscribe",
    "don't forget to subscribe", "subtitles by", "subtitled by", "amara.org", "transcription by",
    "untertitel im auftrag", "untertitel der amara", "sous-titrage", "sous-titres réalisés",
    "subtítulos realizados por", "gracias por ver", "merci d'avoir regardé", "vielen dank fürs zuschauen",
    "продолжение следует", "ご視聴ありがとうございました",
)
# ... and what it says on silence, refused only as the whole transcript ("thank you" can be said)
WHOLE_HALLUCINATIONS = ("you", "thank you", "thanks", "bye", "okay", "so")


@dataclass(frozen=True)
class Thresholds:
    min_avg_logprob: float = -0.8
    min_word_p: float = 0.65
    max_no_speech: float = 0.6
    max_compression: float = 2.4


DEFAULT = Thresholds()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""  # "no words: ..." when not ok
    signals: dict = field(default_factory=dict)


class NoWords(Exception):
    """Whisper's transcript is not plausible: the clip gets no words (``reason`` says why)."""

    def __init__(self, reason: str, signals: dict | None = None):
        super().__init__(reason)
        self.reason = reason
        self.signals = signals or {}


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w.'\s]", " ", text.lower()).split())


def is_hallucination(text: str) -> bool:
    """``True`` when ``text`` holds one of :data:`KNOWN_HALLUCINATIONS`.

    >>> is_hallucination("Thank you for watching, and I will see you in the next video."), is_hallucination("Hi")
    (True, False)
    """
    plain = _plain(text)
    return plain.strip(". ") in WHOLE_HALLUCINATIONS or any(_plain(h) in plain for h in KNOWN_HALLUCINATIONS)


def signals_of(result: dict) -> dict:
    """Whisper's own confidence signals of a ``transcribe(..., word_timestamps=True)`` result."""
    segs = result.get("segments", []) or []
    words = [w for s in segs for w in s.get("words", []) or []]
    if not segs:
        return {"n_words": 0}
    dur = np.array([max(float(s["end"]) - float(s["start"]), 1e-3) for s in segs])
    return {"avg_logprob": round(float(np.average([s["avg_logprob"] for s in segs], weights=dur)), 3),
            "no_speech_prob": round(float(np.mean([s["no_speech_prob"] for s in segs])), 3),
            "compression_ratio": round(float(max(s["compression_ratio"] for s in segs)), 3),
            "word_p": round(float(np.mean([w["probability"] for w in words])), 3) if words else None,
            "n_words": len(words)}


def judge(result: dict, model_name: str, language: str | None, multilingual: bool,
          thresholds: Thresholds = DEFAULT) -> Verdict:
    """Keep or refuse a Whisper transcript (see the module text); ``language``: the language it was decoded in."""
    text = (result.get("text") or "").strip()
    sig = signals_of(result)
    if not text or not sig.get("n_words"):
        return Verdict(False, f"no words: Whisper {model_name} heard no speech", sig)
    if is_hallucination(text):
        return Verdict(False, f"no words: Whisper {model_name}'s transcript {text!r} is a known Whisper "
                              "hallucination; pass --transcript", sig)
    failed = []
    if sig["avg_logprob"] < thresholds.min_avg_logprob:
        failed.append(f"avg log-prob {sig['avg_logprob']:.2f} < {thresholds.min_avg_logprob}")
    if sig["word_p"] is not None and sig["word_p"] < thresholds.min_word_p:
        failed.append(f"word probability {sig['word_p']:.2f} < {thresholds.min_word_p}")
    if sig["no_speech_prob"] > thresholds.max_no_speech:
        failed.append(f"no-speech probability {sig['no_speech_prob']:.2f} > {thresholds.max_no_speech}")
    if sig["compression_ratio"] > thresholds.max_compression:
        failed.append(f"compression ratio {sig['compression_ratio']:.2f} > {thresholds.max_compression}")
    if not failed:
        return Verdict(True, "", sig)
    why = ", ".join(failed)
    if not multilingual:
        return Verdict(False, f"no words: the speech does not look like English to {model_name} ({why}); pass "
                              "--language/--transcript or install explain_ser[base] (multilingual Whisper)", sig)
    shown = text if len(text) <= 80 else text[:77] + "..."  # a looping decode can be hundreds of characters
    return Verdict(False, f"no words: Whisper {model_name}'s {language or 'auto'} transcript {shown!r} is not "
                          f"plausible ({why}); pass --transcript", sig)
