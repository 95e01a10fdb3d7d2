"""What every aligner returns, and the transcript handling they share.

An :class:`Alignment` is three lists of time-stamped :class:`Interval` s — words,
phones and non-linguistic vocalizations — plus the name of the backend that made
it. Times are seconds from the start of the clip. Gaps between intervals are
silence; a phone tier may also carry explicit silence labels (``sil``, ``SIL``,
``sp`` or empty), which readers drop and :mod:`explain_ser.align.phones` classes
as silence if they are kept.

Every backend has one call shape, ``aligner.align(clip, transcript) -> Alignment``,
where ``clip`` is an :class:`explain_ser.audio.Clip` (anything with ``.samples``
float32 mono 16 kHz, ``.rate``, ``.duration``, ``.clip_id``) and ``transcript`` a
string or ``None`` (only the Whisper backend can make its own).

>>> a = Alignment(words=[Interval(0.1, 0.4, "kids")], phones=[Interval(0.1, 0.2, "K"),
...               Interval(0.2, 0.4, "IH1")], backend="test", duration=1.0)
>>> a.word_labels()
['kids']
>>> [p.label for p in a.phones_in(a.words[0])]
['K', 'IH1']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from explain_ser.errors import InputError


@dataclass(frozen=True)
class Interval:
    """One labelled stretch ``[start, end)`` in seconds (``confidence`` for detected units)."""

    start: float
    end: float
    label: str
    confidence: float | None = None

    def __post_init__(self):
        if not self.end >= self.start:
            raise ValueError(f"interval ends before it starts: {self}")

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Alignment:
    """Words, phones and vocalizations of one clip, as made by one backend."""

    words: list[Interval]
    phones: list[Interval] = field(default_factory=list)
    vocalizations: list[Interval] = field(default_factory=list)
    backend: str = ""
    duration: float = 0.0
    clip_id: str = ""
    transcript: str = ""
    phone_set: str = "arpabet"  # "arpabet" or "ipa" (MFA's IPA sets)
    notes: list[str] = field(default_factory=list)  # fallbacks taken, for the user to see

    def word_labels(self) -> list[str]:
        return [w.label for w in self.words]

    def phones_in(self, word: Interval) -> list[Interval]:
        """Phones whose midpoint lies inside ``word``."""
        return [p for p in self.phones if word.start <= (p.start + p.end) / 2 < word.end]

    def check(self) -> "Alignment":
        """Assert the invariants every backend promises; returns self."""
        for name in ("words", "phones", "vocalizations"):
            tier = getattr(self, name)
            for a, b in zip(tier, tier[1:]):
                assert a.end <= b.start + 1e-6, f"{name} overlap or out of order: {a} {b}"
            for iv in tier:
                assert -1e-6 <= iv.start <= iv.end <= self.duration + 1e-3, f"{name} outside clip: {iv}"
        return self


class Aligner(Protocol):
    """The one interface: ``name`` and ``align(clip, transcript) -> Alignment``."""

    name: str

    def align(self, clip, transcript: str | None) -> Alignment: ...


class AlignerUnavailable(InputError):
    """A backend cannot run here (missing program or model); the next one may."""


# ---------------------------------------------------------------- transcripts

# Non-linguistic tokens as corpora write them: [laughter], (laughs), <breath>, {LG}, [cough] ...
VOCAL_TOKEN = re.compile(r"\[[^\]]*\]|\([^)]*\)|<[^>]*>|\{[^}]*\}")
_WORD_CHARS = re.compile(r"[^\w' -]+", re.UNICODE)


@dataclass(frozen=True)
class Token:
    """A transcript token: a word to align, or a vocalization placeholder."""

    text: str
    is_vocal: bool


def tokenize_transcript(text: str) -> list[Token]:
    """Split a transcript into words and bracketed vocalization tokens, in order.

    Words are lower-cased with punctuation removed (apostrophes and inner hyphens
    kept, so "don't" and "well-known" survive).

    >>> [(t.text, t.is_vocal) for t in tokenize_transcript("Well, {LG} I don't (laughs) know!")]
    [('well', False), ('{LG}', True), ('i', False), ("don't", False), ('(laughs)', True), ('know', False)]
    """
    tokens: list[Token] = []
    pos = 0
    for m in VOCAL_TOKEN.finditer(text):
        tokens += _words(text[pos : m.start()])
        tokens.append(Token(m.group(0), True))
        pos = m.end()
    tokens += _words(text[pos:])
    return tokens


def _words(chunk: str) -> list[Token]:
    out = []
    for raw in _WORD_CHARS.sub(" ", chunk).split():
        w = raw.strip("'-").lower()
        if w:
            out.append(Token(w, False))
    return out


def words_of(text: str | None) -> list[str]:
    """The words of a transcript (vocalization tokens dropped)."""
    return [t.text for t in tokenize_transcript(text or "") if not t.is_vocal]


def require_words(clip, transcript: str | None) -> list[Token]:
    """Tokens of a transcript that must contain words; InputError otherwise."""
    tokens = tokenize_transcript(transcript or "")
    n_words = sum(not t.is_vocal for t in tokens)
    what = getattr(clip, "clip_id", "") or getattr(clip, "path", "clip")
    if n_words == 0:
        raise InputError(what, "empty transcript: give the words spoken, or leave --transcript out "
                               "and let Whisper transcribe (--aligner whisper)")
    # ~ 8 words per second is already very fast speech; far more cannot be this clip's transcript
    duration = float(getattr(clip, "duration", 0.0) or 0.0)
    if duration > 0 and n_words > 10 * max(duration, 0.3):
        raise InputError(what, f"transcript has {n_words} words for {duration:.2f} s of audio; "
                               "it does not belong to this clip")
    return tokens


def place_vocal_tokens(tokens: list[Token], words: list[Interval], duration: float) -> list[Interval]:
    """Put transcript vocalization tokens on the non-word stretch where they were written.

    A token written between word k and word k+1 takes the gap between their
    intervals (before the first word: from 0; after the last: to the clip end).
    Tokens in the same gap share it equally. A token whose gap is empty (< 20 ms)
    gets no interval: the aligner saw no room for it.
    """
    gaps: dict[int, list[str]] = {}
    k = 0  # words seen so far
    for t in tokens:
        if t.is_vocal:
            gaps.setdefault(k, []).append(t.text)
        else:
            k += 1
    out = []
    for k, labels in sorted(gaps.items()):
        start = words[k - 1].end if k > 0 and k - 1 < len(words) else 0.0
        end = words[k].start if k < len(words) else duration
        if end - start < 0.02:
            continue
        step = (end - start) / len(labels)
        out += [Interval(start + i * step, start + (i + 1) * step, lab) for i, lab in enumerate(labels)]
    return out
