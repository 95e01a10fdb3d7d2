"""Speaker turns from a diarizer, for :mod:`explain_ser.timeline`: an RTTM file
(``SPEAKER <file> <chan> <start> <dur> ... <name> ...``) or a TextGrid, either with a tier named
``speaker``/``speakers``/``turns`` whose labels are the speakers, or with one interval tier per speaker
(the tier name is the speaker); and the cutting of speech spans at turn boundaries.

>>> from explain_ser.vad import Span
>>> turns = [Turn(0.0, 2.5, "A"), Turn(2.5, 5.5, "B")]
>>> [(s.start, s.end, s.speaker) for s in split_at_turns([Span(50, 200)], turns)]   # 1.0-4.0 s
[(1.0, 2.5, 'A'), (2.5, 4.0, 'B')]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError
from .timegrid import SAMPLE_RATE, SAMPLES_PER_FRAME
from .vad import Span

__all__ = ["Turn", "read_rttm", "read_turn_textgrid", "read_turns", "split_at_turns", "SPEAKER_TIERS"]


# ---- speaker turns -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: str


def read_rttm(path, recording: str | None = None) -> list[Turn]:
    """``SPEAKER`` lines of an RTTM file as turns, sorted by start.

    With several file ids in the file, ``recording`` (the recording's stem) picks its lines.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(p, "turns file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(p, f"unreadable turns file ({e.__class__.__name__})") from None
    by_file: dict[str, list[Turn]] = {}
    for i, line in enumerate(text.splitlines(), 1):
        f = line.split()
        if not f or f[0].startswith("#") or f[0] != "SPEAKER":
            continue
        if len(f) < 8:
            raise InputError(p, f"line {i}: an RTTM SPEAKER line has 10 fields "
                                f"(SPEAKER file chan start dur ortho stype name conf slat), this one {len(f)}")
        try:
            start, dur = float(f[3]), float(f[4])
        except ValueError:
            raise InputError(p, f"line {i}: start {f[3]!r} and duration {f[4]!r} must be numbers") from None
        if not (math.isfinite(start) and math.isfinite(dur)) or start < 0 or dur < 0:
            raise InputError(p, f"line {i}: start {f[3]} and duration {f[4]} must be finite and not negative")
        if dur > 0:
            by_file.setdefault(f[1], []).append(Turn(start, start + dur, f[7]))
    if not by_file:
        raise InputError(p, "no SPEAKER lines: not an RTTM file of speaker turns")
    if len(by_file) == 1:
        turns = next(iter(by_file.values()))
    elif recording in by_file:
        turns = by_file[recording]
    else:
        ids = ", ".join(sorted(by_file)[:5])
        raise InputError(p, f"turns of several files ({ids}...), none named {recording!r}")
    return sorted(turns, key=lambda t: (t.start, t.end, t.speaker))


SPEAKER_TIERS = ("speaker", "speakers", "turns", "speaker turns", "diarization")


def read_turn_textgrid(path) -> list[Turn]:
    """Turns from a TextGrid: a tier named ``speaker``/``speakers``/``turns`` (labels are speakers), or
    else one interval tier per speaker (any non-silent interval of tier ``X`` is a turn of ``X``)."""
    from .align.textgrid import read_tiers

    tiers, _ = read_tiers(path)  # one-line InputError on a malformed file
    named = [n for n in tiers if n.strip().lower() in SPEAKER_TIERS]
    if named:
        turns = [Turn(iv.start, iv.end, iv.label) for iv in tiers[named[0]]]
    else:
        turns = [Turn(iv.start, iv.end, name) for name, ivs in tiers.items() for iv in ivs]
    turns = [t for t in turns if t.end > t.start]
    if not turns:
        raise InputError(path, f"no speaker turns (tiers: {', '.join(tiers) or 'none'}; want a 'speaker' tier "
                               "with speaker labels, or one tier per speaker)")
    return sorted(turns, key=lambda t: (t.start, t.end, t.speaker))


def read_turns(path, recording: str | None = None) -> list[Turn]:
    """Speaker turns from an RTTM (``.rttm``) or a TextGrid (``.TextGrid``); a directory is searched for
    ``<recording>.rttm`` or ``<recording>.TextGrid``."""
    p = Path(path)
    if p.is_dir():
        for cand in (p / f"{recording}.rttm", p / f"{recording}.TextGrid"):
            if cand.is_file():
                return read_turns(cand, recording)
        raise InputError(p, f"no {recording}.rttm or {recording}.TextGrid in the turns directory")
    if not p.is_file():
        raise InputError(p, "turns file not found")
    if p.suffix.lower() == ".textgrid":
        return read_turn_textgrid(p)
    if p.suffix.lower() == ".rttm":
        return read_rttm(p, recording)
    raise InputError(p, "turns must be an RTTM (.rttm) or a TextGrid (.TextGrid)")


def split_at_turns(spans: list[Span], turns: list[Turn], min_speech: float = 0.25) -> list[Span]:
    """Cut utterance spans at speaker-turn boundaries and name each piece's speaker.

    A piece's speaker is whoever speaks over at least half of it (two such speakers: ``A+B``, overlapped
    speech), else whoever speaks most of it, else ``""`` (outside every turn). Cuts fall on the 20 ms
    grid; adjacent pieces of one speaker stay together; pieces shorter than ``min_speech`` s are
    dropped (too short to classify).
    """
    frame_s = SAMPLES_PER_FRAME / SAMPLE_RATE
    bounds = np.array(sorted({round(t.start / frame_s) for t in turns} | {round(t.end / frame_s) for t in turns}),
                      dtype=np.int64)
    min_frames = max(1, int(round(min_speech / frame_s)))
    out: list[Span] = []
    for sp in spans:
        inner = bounds[(bounds > sp.first_frame) & (bounds < sp.end_frame)]
        edges = [sp.first_frame, *inner.tolist(), sp.end_frame]
        pieces: list[list] = []
        for a, b in zip(edges, edges[1:]):
            who = _speaker_of(a * frame_s, b * frame_s, turns)
            if pieces and pieces[-1][2] == who and pieces[-1][1] == a:
                pieces[-1][1] = b
            else:
                pieces.append([a, b, who])
        out += [Span(a, b, who) for a, b, who in pieces if b - a >= min_frames]
    return out


def _speaker_of(s: float, e: float, turns: list[Turn]) -> str:
    share: dict[str, float] = {}
    for t in turns:
        if t.start >= e:
            break  # turns are sorted by start
        ov = min(e, t.end) - max(s, t.start)
        if ov > 0:
            share[t.speaker] = share.get(t.speaker, 0.0) + ov
    if not share:
        return ""
    half = [k for k, v in share.items() if v >= 0.5 * (e - s) - 1e-9]
    if len(half) > 1:
        return "+".join(sorted(half))
    return half[0] if half else max(sorted(share), key=share.get)


# ---- options ----------------------------------------------------------------------------------------------
