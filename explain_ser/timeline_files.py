"""Reading an ``explain-ser timeline`` output directory back (the explorer's recording view, ``explore
--timeline``, and anyone else's code): no computation beyond arranging what the run stored.

A timeline directory holds, per recording ``<rec>``, the files :mod:`explain_ser.timeline` wrote:
``<rec>.summary.json`` (which names the recording, the checkpoint and the other files),
``<rec>.segments.csv`` (one row per utterance) and ``<rec>.frames.parquet`` (or ``.csv``: the
FrameTable of the frames heard, in recording time). This module lists the recordings, reads one
(:func:`read_recording`; a malformed file is a one-line :class:`~explain_ser.errors.InputError`),
arranges its stored per-frame attention for drawing (:func:`attention_heat`), and cuts one utterance
out of the recording exactly as the timeline run did (:func:`utterance_clip`), so that a clip view
explains the very samples the timeline explained.

>>> import json, tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "a.summary.json").write_text(json.dumps({"recording": "/x/a.wav", "files": {"segments": "a.segments.csv"}}))
>>> _ = (d / "a.segments.csv").write_text("start,end,emotion,confidence,heard_start,heard_end\\n")
>>> list_recordings(d)
['a']
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .timegrid import FRAME_SECONDS, SAMPLE_RATE, SAMPLES_PER_FRAME

__all__ = ["Recording", "list_recordings", "check_timeline_dir", "read_summary", "recording_audio", "read_recording",
           "read_attention", "attention_heat", "heard_frames", "utterance_clip", "SEGMENT_COLUMNS", "BIN_FRAMES"]

BIN_FRAMES = 5  # 0.1 s per attention bin: the timeline run's figures and page, and the explorer's
MAX_BINS = 3000  # the figure's heatmap is coarsened to at most this many columns (an hour: 1.2 s each)
SEGMENT_COLUMNS = ("start", "end", "emotion", "confidence", "heard_start", "heard_end")


@dataclass
class Recording:
    """One recording of a timeline directory: its summary, utterances and where its files are."""

    stem: str
    summary: dict
    segments: pd.DataFrame
    frames_path: Path | None
    audio: Path | None  # the recording itself, when it can still be found
    labels: list[str]

    @property
    def duration(self) -> float:
        return float(self.summary.get("duration_s") or (self.segments["end"].max() if len(self.segments) else 0.0))

    @property
    def checkpoint(self) -> str:
        return str(self.summary.get("checkpoint") or "")


def list_recordings(directory) -> list[str]:
    """Stems of the recordings in a timeline directory (a ``<rec>.summary.json`` with its segments table)."""
    d = Path(directory)
    out = []
    for f in sorted(d.glob("*.summary.json")):
        stem = f.name[: -len(".summary.json")]
        if (d / f"{stem}.segments.csv").is_file():
            out.append(stem)
    return out


def check_timeline_dir(directory) -> list[str]:
    """The recordings of ``directory``; InputError when it is no ``explain-ser timeline`` output."""
    d = Path(directory)
    if not d.is_dir():
        raise InputError(directory, "timeline directory not found")
    stems = list_recordings(d)
    if not stems:
        raise InputError(directory, "not an explain-ser timeline directory (no <rec>.summary.json with its "
                                    "<rec>.segments.csv)")
    for stem in stems:  # a malformed file fails at launch, in one line, not later in the browser
        read_recording(d, stem)
    return stems


def read_summary(directory, stem: str) -> dict:
    """``<stem>.summary.json`` of a timeline directory; InputError when unreadable or not a timeline summary."""
    f = Path(directory) / f"{stem}.summary.json"
    try:
        s = json.loads(f.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f, f"unreadable timeline summary ({e})") from None
    if not isinstance(s, dict) or "recording" not in s:
        raise InputError(f, "not a timeline summary (no 'recording')")
    return s


def recording_audio(summary: dict, directory, audio_roots=()) -> Path | None:
    """The recording a summary names, where it was; else a file of that name in the timeline directory or an
    ``--audio-root`` (outputs moved with their audio); None when it is nowhere."""
    rec = Path(str(summary.get("recording") or ""))
    if rec.name and rec.is_file():
        return rec.resolve()
    for root in [Path(directory), *map(Path, audio_roots)]:
        cand = root / rec.name
        if rec.name and cand.is_file():
            return cand.resolve()
    return None


def read_recording(directory, stem: str, audio_roots=()) -> Recording:
    """One recording's summary and segments (the frames are read on demand: :func:`attention_heat`)."""
    d = Path(directory)
    summary = read_summary(d, stem)
    f = d / f"{stem}.segments.csv"
    try:
        seg = pd.read_csv(f, keep_default_na=False, na_values={"confidence": [""], "start": [""], "end": [""]})
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise InputError(f, f"unreadable segments table ({e})") from None
    missing = [c for c in SEGMENT_COLUMNS if c not in seg.columns]
    if missing:
        raise InputError(f, f"not a timeline segments table (missing {', '.join(missing)})")
    for c in ("start", "end", "confidence", "heard_start", "heard_end", "top_start", "top_end", "att_k80", "language_p",
              *[c for c in seg.columns if c.startswith("prob_")]):
        if c in seg:
            seg[c] = pd.to_numeric(seg[c], errors="coerce")
    seg["emotion"] = seg["emotion"].astype(str)
    for c in ("text", "language", "language_source"):  # text as written ("" when absent), "no" stays Norwegian
        if c in seg:
            seg[c] = seg[c].astype(str)
    labels = list(summary.get("labels") or [c[len("prob_"):] for c in seg.columns if c.startswith("prob_")])
    frames_name = (summary.get("files") or {}).get("frames")
    frames = d / frames_name if frames_name else None
    if frames is None or not frames.is_file():
        frames = next((p for p in (d / f"{stem}.frames.parquet", d / f"{stem}.frames.csv") if p.is_file()), None)
    return Recording(stem=stem, summary=summary, segments=seg.reset_index(drop=True), frames_path=frames,
                     audio=recording_audio(summary, d, audio_roots), labels=labels)


def read_attention(rec: Recording) -> pd.DataFrame:
    """The stored per-frame attention of the recording: ``segment, frame, model_input, att_<head>...``."""
    if rec.frames_path is None:
        return pd.DataFrame(columns=["segment", "frame"])
    f = rec.frames_path
    try:
        if f.suffix == ".parquet":
            import pyarrow.parquet as pq

            names = pq.read_schema(f).names
            cols = [c for c in names if c in ("segment", "frame", "model_input") or c.startswith("att_")]
            return pd.read_parquet(f, columns=cols)
        t = pd.read_csv(f, usecols=lambda c: c in ("segment", "frame", "model_input") or c.startswith("att_"))
        return t
    except (OSError, ValueError) as e:
        raise InputError(f, f"unreadable timeline frame table ({e})") from None


def attention_heat(frames: pd.DataFrame, n_frames: int, max_bins: int = MAX_BINS) -> tuple[np.ndarray, list[str], float]:
    """The stored attention of every head relative to uniform (weight x frames the model heard in that
    utterance: 1 = the utterance's average frame), averaged per 0.1 s and coarsened to at most ``max_bins``
    columns for drawing. Returns ``(heat [heads, bins], heads, seconds per bin)``; NaN where nobody speaks.

    >>> f = pd.DataFrame({"segment": [0] * 10, "frame": range(10), "att_mean": [0.1] * 10})
    >>> h, heads, step = attention_heat(f, 20)
    >>> heads, h.round(2).tolist(), step
    (['mean'], [[1.0, 1.0, nan, nan]], 0.1)
    """
    heads = [c[len("att_"):] for c in frames.columns if c.startswith("att_")]
    heads = (["mean"] if "mean" in heads else []) + [h for h in heads if h != "mean"]
    n_bins = max(1, -(-int(n_frames) // BIN_FRAMES))
    if not heads or not len(frames):
        return np.full((len(heads), n_bins), np.nan), heads, BIN_FRAMES * FRAME_SECONDS
    seg = frames["segment"].to_numpy(np.int64)
    seen_col = frames["model_input"].astype(bool) if "model_input" in frames else pd.Series(True, index=frames.index)
    seen = seen_col.groupby(seg).transform("sum").to_numpy(np.float64)
    w = frames[[f"att_{h}" for h in heads]].to_numpy(np.float64).T * np.maximum(seen, 1.0)
    b = frames["frame"].to_numpy(np.int64) // BIN_FRAMES
    ok = (b >= 0) & (b < n_bins)
    sums = np.zeros((len(heads), n_bins))
    np.add.at(sums.T, b[ok], w[:, ok].T)
    counts = np.bincount(b[ok], minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        heat = np.where(counts > 0, sums / counts, np.nan)
    f = max(1, -(-n_bins // max_bins))
    if f > 1:
        pad = (-n_bins) % f
        h = np.pad(heat, ((0, 0), (0, pad)), constant_values=np.nan).reshape(len(heads), -1, f)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN (silent) column stays NaN
            heat = np.nanmean(h, axis=2)
    return heat, heads, BIN_FRAMES * FRAME_SECONDS * f


def heard_frames(row) -> tuple[int, int]:
    """The frames ``[first, end)`` of the recording the model heard for one utterance (with its context)."""
    return int(round(float(row["heard_start"]) / FRAME_SECONDS)), int(round(float(row["heard_end"]) / FRAME_SECONDS))


def utterance_clip(audio: Path, row, stem: str):
    """The utterance of segments row ``row`` as the timeline explained it: the recording's samples over the
    heard span (utterance + context), decoded and resampled by the same block reader
    (:func:`explain_ser.vad.stream_blocks`), with the timeline's clip id ``<rec>@<start>``."""
    from .audio import Clip
    from .vad import stream_blocks

    first, end = heard_frames(row)
    a, b = first * SAMPLES_PER_FRAME, end * SAMPLES_PER_FRAME
    if b <= a:
        raise InputError(audio, f"utterance at {float(row['start']):.2f} s has no heard span")
    parts, pos = [], 0
    for block in stream_blocks(audio):  # stops reading once the utterance's end is reached
        lo, hi = max(a - pos, 0), min(b - pos, len(block))
        if hi > lo:
            parts.append(np.asarray(block[lo:hi], np.float32))
        pos += len(block)
        if pos >= b:
            break
    x = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    if len(x) != b - a:
        raise InputError(audio, f"the recording ends at {pos / SAMPLE_RATE:.2f} s, before the utterance heard up to "
                                f"{b / SAMPLE_RATE:.2f} s (was the file changed after the timeline run?)")
    return Clip(samples=np.ascontiguousarray(x), rate=SAMPLE_RATE, path=None,
                clip_id=f"{stem}@{float(row['start']):.2f}")
