"""Speech segmentation of long recordings, in flat memory: blocks in, utterance spans out.

A recording of any length is read block by block (:func:`stream_blocks`: soundfile, or ffmpeg for
what libsndfile cannot read; other rates resampled with soxr's streaming resampler, so the samples do
not depend on the block size), and never held whole. :func:`segment_recording` makes one pass over it:

- ``silero``: silero-vad's speech probability every 32 ms (its 512-sample window). The model is
  recurrent, so one stream would cost one call per window (measured here: 60 s of audio in 3 s, too slow
  for an hour). The recording is cut into 8 s streams run side by side as one batch, each primed with
  the 1 s of audio before it, so its state has settled by the time its own probabilities count; silero's
  own :func:`get_speech_timestamps_from_probs` then turns the probabilities into spans.
- ``energy`` (the fallback when silero-vad is not installed): 20 ms RMS levels against a threshold set
  from the recording's own noise floor and loudest frames.

Either way, pauses of at least ``min_pause`` seconds end an utterance, spans shorter than ``min_speech``
are dropped, and an utterance longer than ``max_len`` (Whisper's 30 s window) is split at its quietest
20 ms frame. Spans are returned on the encoder's 20 ms grid (:mod:`explain_ser.timegrid`), so the frames
of an utterance are frames of the recording.

>>> import numpy as np, tempfile, os, soundfile as sf
>>> rng = np.random.default_rng(0)
>>> burst = lambda s: (0.2 * rng.standard_normal(int(s * 16000))).astype(np.float32)
>>> quiet = lambda s: np.zeros(int(s * 16000), np.float32)
>>> x = np.concatenate([quiet(1.0), burst(1.5), quiet(0.8), burst(2.0), quiet(1.0)])
>>> p = os.path.join(tempfile.mkdtemp(), "rec.wav"); sf.write(p, x, 16000)
>>> seg = segment_recording(p, vad="energy", pad=0.0)
>>> [(s.start, s.end) for s in seg.spans], seg.duration
([(1.0, 2.5), (3.3, 5.3)], 6.3)
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError
from .timegrid import SAMPLE_RATE, SAMPLES_PER_FRAME, WINDOW_FRAMES

__all__ = ["Span", "Segmentation", "segment_recording", "stream_blocks", "recording_info", "have_silero",
           "split_long", "spans_from_activity", "energy_activity", "VAD_METHODS"]

VAD_METHODS = ("silero", "energy")
BLOCK_SECONDS = 16.0  # decoded per read: bounded memory whatever the file's length
MAX_PEAK = 2.0  # as explain_ser.audio: beyond +6 dBFS the samples are stored unscaled, not loud

# silero-vad: one probability per 512 samples (32 ms) at 16 kHz
SILERO_WINDOW = 512
STREAM_WINDOWS = 250  # 8 s per stream
WARM_WINDOWS = 32  # 1.024 s of the preceding audio primes each stream's recurrent state
STREAMS = 64  # streams per batch: 512 s of audio, 33 MB of float32, per pass of the model


@dataclass(frozen=True)
class Span:
    """An utterance: encoder frames ``[first_frame, end_frame)`` of the recording (20 ms each).

    >>> s = Span(50, 175); (s.start, s.end, s.n_frames, s.first_sample, s.end_sample)
    (1.0, 3.5, 125, 16000, 56000)
    """

    first_frame: int
    end_frame: int
    speaker: str | None = None

    @property
    def n_frames(self) -> int:
        return self.end_frame - self.first_frame

    @property
    def first_sample(self) -> int:
        return self.first_frame * SAMPLES_PER_FRAME

    @property
    def end_sample(self) -> int:
        return self.end_frame * SAMPLES_PER_FRAME

    @property
    def start(self) -> float:
        # from integer samples, as timegrid.frame_bounds, so no float drift over an hour
        return self.first_sample / SAMPLE_RATE

    @property
    def end(self) -> float:
        return self.end_sample / SAMPLE_RATE


@dataclass
class Segmentation:
    """The utterances of one recording and what the pass over it learnt."""

    path: str
    spans: list[Span]
    n_samples: int  # at 16 kHz
    vad: str
    source_rate: int
    channels: int
    notes: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.n_samples / SAMPLE_RATE

    @property
    def speech_seconds(self) -> float:
        return sum(s.end - s.start for s in self.spans)


def have_silero() -> bool:
    import importlib.util

    return importlib.util.find_spec("silero_vad") is not None


# ---- reading ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RecordingInfo:
    rate: int
    channels: int
    declared_samples: int | None  # at 16 kHz, None when the container does not say
    reader: str  # "soundfile" or "ffmpeg"


def recording_info(path) -> RecordingInfo:
    """Rate, channels and declared length of ``path``; one-line InputError when it cannot be read."""
    import soundfile as sf

    from .audio import check_rate, existing_file

    p = existing_file(path)
    try:
        info = sf.info(str(p))
        rate, channels, frames = int(info.samplerate), int(info.channels), int(info.frames)
    except Exception as err:  # libsndfile's error types vary by version
        if shutil.which("ffmpeg") is None:
            detail = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise InputError(p, f"not a readable audio file ({detail}); install ffmpeg for more formats") from None
        return RecordingInfo(SAMPLE_RATE, 1, None, "ffmpeg")
    check_rate(rate, str(p))
    declared = int(round(frames * SAMPLE_RATE / rate)) if 0 < frames < 2**62 else None
    return RecordingInfo(rate, channels, declared, "soundfile")


def stream_blocks(path, block_seconds: float = BLOCK_SECONDS, info: RecordingInfo | None = None):
    """Yield the recording as consecutive float32 16 kHz mono blocks (validated on the way).

    Channels are averaged; other rates go through one soxr stream (VHQ), so the output does not depend
    on ``block_seconds``. NaN/inf samples or a peak beyond +6 dBFS raise a one-line InputError naming
    the file and the time.

    >>> import numpy as np, tempfile, os, soundfile as sf
    >>> p = os.path.join(tempfile.mkdtemp(), "a.wav"); sf.write(p, np.zeros((48000 * 3, 2)), 48000)
    >>> sum(len(b) for b in stream_blocks(p, block_seconds=1.0))   # 3 s at 16 kHz, whatever the blocks
    48000
    """
    p = Path(path)
    info = info or recording_info(p)
    if info.reader == "ffmpeg":
        yield from _ffmpeg_blocks(p, block_seconds)
        return
    import soundfile as sf

    resampler = None
    if info.rate != SAMPLE_RATE:
        import soxr

        resampler = soxr.ResampleStream(info.rate, SAMPLE_RATE, 1, dtype="float32", quality="VHQ")
    block = max(1, int(block_seconds * info.rate))
    pos = 0  # source samples read so far, for the time in error messages
    try:
        with sf.SoundFile(str(p)) as f:
            while True:
                x = f.read(block, dtype="float32", always_2d=True)
                if len(x) == 0:
                    break
                mono = x[:, 0] if x.shape[1] == 1 else x.mean(axis=1, dtype=np.float64).astype(np.float32)
                _check_block(p, mono, pos / info.rate)
                pos += len(x)
                out = mono if resampler is None else resampler.resample_chunk(mono)
                if len(out):
                    yield np.ascontiguousarray(out, dtype=np.float32)
    except InputError:
        raise
    except Exception as err:  # a decoding error mid-file (a damaged FLAC frame)
        detail = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise InputError(p, f"unreadable audio after {pos / info.rate:.2f} s ({detail})") from None
    if resampler is not None:
        tail = resampler.resample_chunk(np.zeros(0, np.float32), last=True)
        if len(tail):
            yield np.ascontiguousarray(tail, dtype=np.float32)


def _ffmpeg_blocks(p: Path, block_seconds: float):
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(p), "-f", "f32le", "-ac", "1", "-ar", str(SAMPLE_RATE), "-"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    nbytes = 4 * max(1, int(block_seconds * SAMPLE_RATE))
    pos, got = 0, False
    try:
        while True:
            raw = proc.stdout.read(nbytes)
            if not raw:
                break
            x = np.frombuffer(raw[: len(raw) // 4 * 4], dtype=np.float32).copy()
            _check_block(p, x, pos / SAMPLE_RATE)
            pos += len(x)
            got = got or len(x) > 0
            yield x
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace").strip().splitlines()
        proc.stderr.close()
        code = proc.wait()
    if code != 0 and not got:
        reason = (err[-1] if err else "no audio stream").removeprefix(f"{p}: ")
        raise InputError(p, f"not a readable audio file (ffmpeg: {reason})")


def _check_block(p: Path, x: np.ndarray, at: float) -> None:
    finite = np.isfinite(x)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise InputError(p, f"audio contains NaN or infinite samples (first near {at + i / SAMPLE_RATE:.2f} s)")
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak > MAX_PEAK:
        raise InputError(p, f"samples exceed full scale by {20 * math.log10(peak):.1f} dB near {at:.2f} s "
                            f"(expected within ±1.0): rescale the audio, e.g. sox IN OUT gain -n -1")


# ---- segmentation ----------------------------------------------------------------------------------------

def frame_levels(x: np.ndarray) -> np.ndarray:
    """RMS level (dBFS, float32) of each whole 20 ms frame; digital silence is -120 dB.

    >>> [round(float(v), 2) for v in frame_levels(np.full(640, 0.5, np.float32))]
    [-6.02, -6.02]
    """
    n = len(x) // SAMPLES_PER_FRAME
    y = np.asarray(x[: n * SAMPLES_PER_FRAME], dtype=np.float64).reshape(n, SAMPLES_PER_FRAME)
    return (10 * np.log10(np.mean(y * y, axis=1) + 1e-12)).astype(np.float32)


def energy_activity(levels: np.ndarray, floor_margin_db: float = 8.0, peak_range_db: float = 35.0,
                    abs_floor_db: float = -60.0) -> np.ndarray:
    """Which 20 ms frames are loud enough to be speech, judged against the recording itself.

    The threshold is the highest of: the noise floor (10th percentile of frame levels) plus
    ``floor_margin_db``; the loud frames (99th percentile) minus ``peak_range_db`` (so a quiet room tone
    between loud speech is not speech); and ``abs_floor_db`` (so digital near-silence never is).

    >>> energy_activity(np.array([-120, -120, -20, -25, -70, -22], np.float32)).tolist()
    [False, False, True, True, False, True]
    """
    if not len(levels):
        return np.zeros(0, dtype=bool)
    floor, loud = np.percentile(levels, [10, 99])
    threshold = max(floor + floor_margin_db, loud - peak_range_db, abs_floor_db)
    return levels > threshold


def spans_from_activity(active: np.ndarray, min_pause: float, min_speech: float, pad: float,
                        frame_s: float = 0.02) -> list[tuple[int, int]]:
    """Runs of active frames as ``[first, end)`` frame spans: gaps shorter than ``min_pause`` s are bridged,
    runs shorter than ``min_speech`` s dropped, ``pad`` s added on each side (never past a neighbour's
    midpoint or the ends).

    >>> a = np.array([0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 1, 0], bool)
    >>> spans_from_activity(a, min_pause=0.05, min_speech=0.04, pad=0.0)
    [(1, 6)]
    >>> spans_from_activity(a, min_pause=0.02, min_speech=0.04, pad=0.0)
    [(1, 3), (4, 6)]
    """
    a = np.concatenate([[False], np.asarray(active, bool), [False]])
    edges = np.flatnonzero(np.diff(a.astype(np.int8)))
    runs = [[int(s), int(e)] for s, e in zip(edges[::2], edges[1::2])]
    gap = int(round(min_pause / frame_s))
    merged: list[list[int]] = []
    for s, e in runs:
        if merged and s - merged[-1][1] < gap:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    keep = [(s, e) for s, e in merged if e - s >= int(round(min_speech / frame_s))]
    return _pad(keep, int(round(pad / frame_s)), len(active))


def _pad(spans, p: int, n: int) -> list[tuple[int, int]]:
    out = []
    for i, (s, e) in enumerate(spans):
        lo = max(0, s - p) if i == 0 else max(s - p, (spans[i - 1][1] + s + 1) // 2)
        hi = min(n, e + p) if i == len(spans) - 1 else min(e + p, (e + spans[i + 1][0]) // 2)
        out.append((lo, hi))
    return out


def split_long(spans, levels: np.ndarray, max_frames: int = WINDOW_FRAMES) -> list[tuple[int, int]]:
    """Split spans longer than ``max_frames`` at their quietest frame in the second half of each
    ``max_frames`` stretch (a pause if there is one), so every piece fits one Whisper window.

    >>> lv = np.zeros(10, np.float32); lv[6] = -90
    >>> split_long([(0, 10)], lv, max_frames=8)
    [(0, 6), (6, 10)]
    """
    out = []
    for s, e in spans:
        while e - s > max_frames:
            lo, hi = s + max_frames // 2, s + max_frames
            seg = levels[lo:hi] if hi <= len(levels) else np.zeros(0)
            cut = lo + int(np.argmin(seg)) if len(seg) and lo < hi else hi
            cut = max(cut, s + 1)
            out.append((s, cut))
            s = cut
        if e > s:
            out.append((s, e))
    return out


class _SileroStreams:
    """silero-vad probabilities of a recording fed in blocks (see the module docstring)."""

    def __init__(self):
        from .threads import single_thread, torch_threads

        # silero_vad.model sets torch's global thread count to 1 when imported; keep the caller's setting
        with torch_threads(None), warnings.catch_warnings():
            # its loader uses deprecated importlib/torch.jit calls: notes for silero's authors, not our users
            warnings.simplefilter("ignore", DeprecationWarning)
            from silero_vad import load_silero_vad

            self.model = load_silero_vad()
        self.single_thread = single_thread
        self.span = STREAMS * STREAM_WINDOWS * SILERO_WINDOW
        self.warm = WARM_WINDOWS * SILERO_WINDOW
        self.buf = np.zeros(self.warm, np.float32)  # the audio before the recording: silence
        self.probs: list[np.ndarray] = []

    def feed(self, x: np.ndarray, last: bool = False) -> None:
        self.buf = np.concatenate([self.buf, x]) if len(x) else self.buf
        while len(self.buf) - self.warm >= self.span or (last and len(self.buf) > self.warm):
            take = min(self.span, len(self.buf) - self.warm)
            self._run(self.buf[: self.warm + take], take)
            self.buf = self.buf[take:]
            if last and len(self.buf) <= self.warm:
                break

    def _run(self, chunk: np.ndarray, n_new: int) -> None:
        import torch

        n_windows = -(-n_new // SILERO_WINDOW)
        # a short remainder (or a short recording) is cut into shorter streams: the cost is one model call
        # per window of the longest stream, whatever the batch
        per = min(STREAM_WINDOWS, max(WARM_WINDOWS, -(-n_windows // STREAMS)))
        sw = per * SILERO_WINDOW
        n_streams = -(-n_windows // per)
        width = self.warm + sw
        rows = np.zeros((n_streams, width), np.float32)  # a short last stream is padded with zeros, as silero pads
        for j in range(n_streams):
            part = chunk[j * sw : j * sw + width]
            rows[j, : len(part)] = part
        x = torch.from_numpy(rows)
        out = np.empty((n_streams, WARM_WINDOWS + per), np.float32)
        # one thread: per-window calls are tiny, and on a busy machine a thread pool costs 20x (measured)
        with self.single_thread(), torch.no_grad():
            self.model.reset_states()
            for k in range(WARM_WINDOWS + per):
                out[:, k] = self.model(x[:, k * SILERO_WINDOW : (k + 1) * SILERO_WINDOW], SAMPLE_RATE)[:, 0].numpy()
        self.probs.append(out[:, WARM_WINDOWS:].reshape(-1)[:n_windows])

    def speech_spans(self, n_samples: int, threshold: float, min_pause: float, min_speech: float, pad: float,
                     max_len: float) -> list[tuple[int, int]]:
        from silero_vad import get_speech_timestamps_from_probs

        probs = np.concatenate(self.probs).tolist() if self.probs else []
        ts = get_speech_timestamps_from_probs(
            probs, sampling_rate=SAMPLE_RATE, threshold=threshold, min_speech_duration_ms=int(1000 * min_speech),
            max_speech_duration_s=max_len, min_silence_duration_ms=int(1000 * min_pause),
            speech_pad_ms=int(1000 * pad), audio_length_samples=n_samples)
        return [(int(t["start"]), int(t["end"])) for t in ts]


def segment_recording(path, vad: str = "silero", min_pause: float = 0.3, min_speech: float = 0.25,
                      pad: float = 0.03, max_len: float = 30.0, threshold: float = 0.5,
                      progress=None) -> Segmentation:
    """Utterance spans of a recording in one pass over its blocks (memory does not grow with its length,
    apart from one float per 20 ms frame).

    ``vad``: ``silero`` or ``energy`` (``silero`` falls back to ``energy`` with a note when silero-vad
    is not installed); ``min_pause``: a pause at least this long (s) ends an utterance; ``max_len``:
    longer utterances are split (at most Whisper's 30 s); ``progress``: called with the seconds of
    audio read after each block.
    """
    if vad not in VAD_METHODS:
        raise InputError(vad, f"unknown VAD ({', '.join(VAD_METHODS)})")
    if not 0 < max_len <= WINDOW_FRAMES * 0.02:
        raise InputError(f"max_len {max_len}", "must be above 0 and at most 30 s (one Whisper window)")
    p = Path(path)
    info = recording_info(p)
    notes = []
    if vad == "silero" and not have_silero():
        notes.append("silero-vad is not installed (pip install silero-vad): energy-based segmentation used")
        vad = "energy"
    silero = _SileroStreams() if vad == "silero" else None
    levels: list[np.ndarray] = []
    carry = np.zeros(0, np.float32)  # samples of an unfinished 20 ms frame
    n = 0
    for block in stream_blocks(p, info=info):
        n += len(block)
        if silero is not None:
            silero.feed(block)
        x = np.concatenate([carry, block]) if len(carry) else block
        whole = len(x) // SAMPLES_PER_FRAME * SAMPLES_PER_FRAME
        levels.append(frame_levels(x[:whole]))
        carry = x[whole:]
        if progress is not None:
            progress(n / SAMPLE_RATE)
    if n == 0:
        raise InputError(p, "audio has zero samples")
    if n < SAMPLES_PER_FRAME:
        raise InputError(p, f"recording too short: {1000 * n / SAMPLE_RATE:.1f} ms gives no 20 ms encoder frame")
    lv = np.concatenate(levels)
    total = len(lv)
    max_frames = int(round(max_len / 0.02))
    if silero is not None:
        silero.feed(np.zeros(0, np.float32), last=True)
        raw = silero.speech_spans(n, threshold, min_pause, min_speech, pad, max_len)
        # onto the 20 ms grid: widen to whole frames, so no speech sample is lost
        frames = [(s // SAMPLES_PER_FRAME, min(total, -(-e // SAMPLES_PER_FRAME))) for s, e in raw]
    else:
        frames = spans_from_activity(energy_activity(lv), min_pause, min_speech, pad)
    frames = split_long([(s, e) for s, e in frames if e > s], lv, max_frames)
    spans = [Span(s, e) for s, e in frames]
    return Segmentation(path=str(p), spans=spans, n_samples=n, vad=vad, source_rate=info.rate,
                        channels=info.channels, notes=notes)
