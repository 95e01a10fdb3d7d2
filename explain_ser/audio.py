"""Audio loading: any common file -> a validated 16 kHz mono :class:`Clip`.

wav/flac/ogg (and whatever libsndfile reads) are decoded by soundfile; mp3 and
other containers fall back to ffmpeg when it is installed. Multi-channel audio is
mixed down by averaging channels; other rates are resampled with soxr's
high-quality polyphase resampler. Every problem a user can cause raises
:class:`~explain_ser.errors.InputError` with one line naming the file.

A file whose audio data ends before the length its header declares (a cut-off
download or copy) loads with a :class:`TruncatedAudioWarning` naming both
durations, and the clip records it (``declared_duration``, ``truncated``,
``notes``); ``load_audio(path, strict=True)`` refuses it instead.

>>> import numpy as np
>>> clip = Clip.from_array(np.zeros(8000, dtype=np.float32) + 0.1, 8000, "tone")
>>> clip.rate, clip.samples.shape, clip.n_frames
(16000, (16000,), 50)
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import shutil
import struct
import subprocess
import sys
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError
from .timegrid import SAMPLE_RATE, SAMPLES_PER_FRAME, n_frames

# Below this peak amplitude (about -80 dBFS) a clip is treated as silent.
SILENCE_PEAK = 1e-4

# Float samples may exceed full scale a little without anything being damaged: lossy decoders
# (mp3, aac) and resamplers overshoot on loud material, float WAVs from editors keep overs, and
# Whisper's log-mel is computed in float, so nothing clips. A peak beyond +6 dBFS is something else:
# samples stored unscaled (int16 values in a float file, a gain applied twice). Such clips are
# refused rather than peak-normalised, because the log-mel depends on the absolute level (a gain g
# shifts every log-mel value by 2*log10(g)) and only the user knows which level the file was meant
# to have; a silent guess would explain a sound the user never had.
MAX_PEAK = 2.0

# Sample rates outside this range are header damage, not audio; resampling from them would
# allocate absurd amounts of memory (1 Hz -> 16 kHz multiplies the length by 16000).
MIN_RATE, MAX_RATE = 1000, 768_000

# How far short of the declared length a decoded clip may end and still count as whole. PCM and
# FLAC headers count samples, and libsndfile decodes exactly that many: any shortfall is a cut
# (0). When ffmpeg decodes such a file, its resampler may move the end by a sample or two (2 ms).
# Compressed streams carry encoder delay and padding (one mp3 frame is 26-144 ms), and ffprobe
# estimates some durations from the bitrate.
PCM_TOLERANCE_S, RESAMPLED_TOLERANCE_S = 0.0, 0.002
CODEC_TOLERANCE_S, CODEC_TOLERANCE_REL = 0.15, 0.02
CODEC_SUBTYPES = ("MPEG", "VORBIS", "OPUS", "GSM", "ADPCM", "G721", "G723", "NMS", "ALAC", "DWVW", "VOX")

# Blocks keep memory bounded by what is actually decoded, never by what a (possibly damaged)
# header claims.
BLOCK_VALUES = 1 << 20


class SilentClipWarning(UserWarning):
    """An all-silent clip: it loads, but attention over it means little."""


class TruncatedAudioWarning(UserWarning):
    """The audio data ends before the length the file's header declares."""


@dataclass(frozen=True, eq=False)
class Clip:
    """A mono 16 kHz clip.

    ``sha256`` hashes the float32 samples after decoding and resampling, so the
    same sound stored as wav or flac gets the same feature-cache key.

    ``declared_duration`` is the length in seconds the file's header (or ffprobe)
    declares, None when it declares none (in-memory arrays, streamed WAVs, Ogg);
    ``truncated`` is True when the decoded audio is shorter than that, and ``notes``
    holds one line per such loading problem (the text of the warning).
    """

    samples: np.ndarray
    rate: int
    path: str | None = None
    clip_id: str = ""
    sha256: str = field(default="")
    declared_duration: float | None = None
    truncated: bool = False
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        if self.rate != SAMPLE_RATE:
            raise ValueError(f"Clip must be {SAMPLE_RATE} Hz, got {self.rate}")
        if not self.sha256:
            digest = hashlib.sha256(np.ascontiguousarray(self.samples, dtype="<f4").tobytes()).hexdigest()
            object.__setattr__(self, "sha256", digest)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.rate

    @property
    def n_frames(self) -> int:
        """Number of 20 ms Whisper encoder frames (see :mod:`explain_ser.timegrid`)."""
        return n_frames(len(self.samples))

    @classmethod
    def from_array(cls, samples: np.ndarray, rate: int, name: str = "array") -> "Clip":
        """Validate, mix down and resample an in-memory signal ([n] or [n, channels])."""
        check_rate(rate, name)
        data = _to_mono_float(np.asarray(samples), name)
        _check_values(data, name)
        data = resample(data, rate, SAMPLE_RATE)
        _validate(data, name)
        return cls(samples=data, rate=SAMPLE_RATE, path=None, clip_id=name)


@dataclass
class _Decoded:
    data: np.ndarray          # [n, channels] or [n, 1]
    rate: int
    declared_s: float | None  # what the container declares, None if nothing
    tolerance_s: float        # shortfall that still counts as whole (see PCM_TOLERANCE_S)


def existing_file(path) -> Path:
    """``path`` as a Path, if it names a non-empty file; one-line InputError saying what it is otherwise."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, "file not found")
    if p.is_dir():
        raise InputError(p, "is a directory, not an audio file")
    if p.stat().st_size == 0:
        raise InputError(p, "empty file (0 bytes)")
    return p


def load_audio(path: str | Path, strict: bool = False) -> Clip:
    """Load ``path`` as a validated 16 kHz mono clip. Raises InputError on bad input.

    A file shorter than its header declares is loaded with a :class:`TruncatedAudioWarning`,
    or refused with ``strict=True``.
    """
    p = existing_file(path)
    dec = _decode(p)
    check_rate(dec.rate, str(p))
    data = _to_mono_float(dec.data, str(p))
    if data.size == 0:
        raise InputError(p, "audio has zero samples")
    _check_values(data, str(p))
    decoded_s = data.size / dec.rate
    truncated, notes = False, []
    if dec.declared_s is not None:
        if dec.declared_s - decoded_s > dec.tolerance_s:
            problem = f"truncated: the header declares {_secs(dec.declared_s, decoded_s)}, the audio data ends at {_secs(decoded_s, dec.declared_s)}"
            if strict:
                raise InputError(p, problem)
            truncated = True
            notes.append(f"{problem}; only the decoded {_secs(decoded_s, dec.declared_s)} are used")
            warnings.warn(f"{p}: {notes[-1]}", TruncatedAudioWarning, stacklevel=2)
    data = resample(data, dec.rate, SAMPLE_RATE)
    _validate(data, str(p))
    return Clip(samples=data, rate=SAMPLE_RATE, path=str(p), clip_id=p.stem, declared_duration=dec.declared_s,
                truncated=truncated, notes=notes)


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample a mono float32 signal with soxr (VHQ polyphase); identity when rates match."""
    if rate_in == rate_out:
        return np.ascontiguousarray(x, dtype=np.float32)
    import soxr

    return np.ascontiguousarray(soxr.resample(x, rate_in, rate_out, quality="VHQ"), dtype=np.float32)


def _secs(x: float, other: float) -> str:
    # two decimals unless that would print two different lengths as the same number
    return f"{x:.2f} s" if f"{x:.2f}" != f"{other:.2f}" else f"{x:.4f} s"


def _decode(p: Path) -> _Decoded:
    import soundfile as sf

    declared = None
    partial: list[np.ndarray] = []
    rate, tolerance = 0, PCM_TOLERANCE_S
    try:
        with _quiet_c_stderr(), sf.SoundFile(str(p)) as f:
            rate, channels = int(f.samplerate), int(f.channels)
            declared = max(int(f.frames), _header_frames(p) or 0) / rate if rate > 0 else None
            check_rate(rate, str(p))
            if any(str(f.subtype).startswith(c) for c in CODEC_SUBTYPES) and declared is not None:
                tolerance = _codec_tolerance(declared)
            block = max(1, BLOCK_VALUES // max(1, channels))
            while True:
                chunk = f.read(block, dtype="float32", always_2d=True)
                if len(chunk) == 0:
                    break
                partial.append(chunk)
        data = np.concatenate(partial) if partial else np.zeros((0, 1), np.float32)
        return _Decoded(data, rate, declared, tolerance)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OverflowError) as err:
        sf_error = str(err).splitlines()[0] if str(err).strip() else type(err).__name__
    # libsndfile < 1.1 cannot read mp3, some containers (m4a) it never reads, and where it loses
    # sync in a damaged FLAC ffmpeg decodes what is left
    if shutil.which("ffmpeg"):
        data = _decode_ffmpeg(p)
        if declared is not None:
            # the header libsndfile read counts samples (ffmpeg's resampler moves the end by a sample at most)
            return _Decoded(data, SAMPLE_RATE, declared, max(tolerance, RESAMPLED_TOLERANCE_S))
        probed = _ffprobe_duration(p)
        return _Decoded(data, SAMPLE_RATE, probed, _codec_tolerance(probed or 0.0))
    if partial:
        return _Decoded(np.concatenate(partial), rate, declared, tolerance)
    raise InputError(p, f"not a readable audio file ({sf_error}); install ffmpeg for more formats")


_stderr_lock = threading.Lock()
_stderr_depth = 0
_stderr_saved: int | None = None


@contextlib.contextmanager
def _quiet_c_stderr():
    """Send file descriptor 2 to /dev/null while libsndfile decodes.

    libsndfile's mp3 decoder (libmpg123) prints notes and warnings straight to stderr
    ("Warning: Xing stream size off ...", "Note: Trying to resync..."), past Python's
    warning machinery; whatever they report shows up as an exception or a short read,
    which the loader turns into its own messages. Nested and concurrent uses share one
    redirection, so the last one out restores the real stderr.
    """
    global _stderr_depth, _stderr_saved
    with _stderr_lock:
        if _stderr_depth == 0:
            try:
                sys.stderr.flush()
                saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
            except (OSError, ValueError, AttributeError):
                saved = None  # no usable fd 2 (embedded interpreters): nothing to protect
            else:
                os.dup2(null, 2)
                os.close(null)
            _stderr_saved = saved
        _stderr_depth += 1
    try:
        yield
    finally:
        with _stderr_lock:
            _stderr_depth -= 1
            if _stderr_depth == 0 and _stderr_saved is not None:
                os.dup2(_stderr_saved, 2)
                os.close(_stderr_saved)
                _stderr_saved = None


def _codec_tolerance(declared_s: float) -> float:
    return max(CODEC_TOLERANCE_S, CODEC_TOLERANCE_REL * declared_s)


def _decode_ffmpeg(p: Path) -> np.ndarray:
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(p), "-f", "f32le", "-ac", "1", "-ar", str(SAMPLE_RATE), "-"]
    proc = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0 or len(proc.stdout) < 4:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        reason = msg[-1] if msg else "no audio stream"
        reason = reason.removeprefix(f"{p}: ")  # ffmpeg names the file too; the error already does
        raise InputError(p, f"not a readable audio file (ffmpeg: {reason})")
    # a copy: frombuffer over bytes is read-only, and torch warns about read-only arrays
    return np.frombuffer(proc.stdout, dtype=np.float32, count=len(proc.stdout) // 4).copy()[:, None]


def _ffprobe_duration(p: Path) -> float | None:
    """The container's duration according to ffprobe (None when unknown or not finite)."""
    if not shutil.which("ffprobe"):
        return None
    cmd = ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", str(p)]
    proc = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL)
    try:
        value = float(proc.stdout.decode(errors="replace").strip().splitlines()[0])
    except (ValueError, IndexError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def _header_frames(p: Path) -> int | None:
    """Frames a WAV (RIFF/RF64) or AIFF header declares.

    libsndfile reports the frames actually present in these formats, so a cut file
    would look whole; the header still says how long it was.
    """
    try:
        with open(p, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12:
                return None
            if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
                return _riff_frames(fh, rf64=head[:4] == b"RF64")
            if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
                return _aiff_frames(fh)
    except (OSError, struct.error):
        return None
    return None


def _chunks(fh, endian: str, limit: int = 4096):
    # yields (id, size, body offset); every step moves forward by >= 8 bytes, so it ends
    pos = fh.tell()
    for _ in range(limit):
        fh.seek(pos)
        hdr = fh.read(8)
        if len(hdr) < 8:
            return
        cid, size = hdr[:4], struct.unpack(endian + "I", hdr[4:])[0]
        yield cid, size, pos + 8
        pos += 8 + size + (size & 1)


def _riff_frames(fh, rf64: bool) -> int | None:
    block_align, fmt_tag, data_size = 0, 0, None
    for cid, size, body in _chunks(fh, "<"):
        fh.seek(body)
        if cid == b"ds64" and rf64:
            raw = fh.read(16)
            if len(raw) == 16:
                data_size = struct.unpack("<QQ", raw)[1]
        elif cid == b"fmt ":
            raw = fh.read(min(size, 26))
            if len(raw) >= 14:
                fmt_tag, _, _, _, block_align = struct.unpack("<HHIIH", raw[:14])
                if fmt_tag == 0xFFFE and len(raw) >= 26:
                    fmt_tag = struct.unpack("<H", raw[24:26])[0]  # the subformat GUID's first two bytes
        elif cid == b"data":
            if not rf64 or data_size is None:
                data_size = size
            break
    # streamed WAVs carry 0 or 0xFFFFFFFF as the data size: they declare nothing; ADPCM and other
    # block codecs do not have one frame per block_align bytes
    if data_size in (None, 0, 0xFFFFFFFF) or block_align <= 0 or fmt_tag not in (1, 3):
        return None
    return data_size // block_align


def _aiff_frames(fh) -> int | None:
    for cid, size, body in _chunks(fh, ">"):
        if cid == b"COMM":
            fh.seek(body)
            raw = fh.read(6)
            return struct.unpack(">hI", raw)[1] if len(raw) == 6 else None
    return None


def check_rate(rate: int, name: str) -> None:
    if not MIN_RATE <= rate <= MAX_RATE:
        raise InputError(name, f"unsupported sample rate {rate} Hz (expected {MIN_RATE} to {MAX_RATE} Hz)")


def _to_mono_float(data: np.ndarray, name: str) -> np.ndarray:
    if data.ndim == 2:
        # float64 so that channels near float32's limit do not overflow while averaged
        # (inf - inf makes NaN here: quietly, because _check_values reports it in the project's own words)
        with np.errstate(invalid="ignore", over="ignore"):
            data = data.mean(axis=1, dtype=np.float64) if data.shape[1] > 1 else data[:, 0]
    elif data.ndim != 1:
        raise InputError(name, f"expected a 1-D or 2-D signal, got shape {data.shape}")
    if np.issubdtype(data.dtype, np.integer):
        data = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
    elif not np.issubdtype(data.dtype, np.floating):
        raise InputError(name, f"samples must be real numbers, got dtype {data.dtype}")
    return np.ascontiguousarray(data, dtype=np.float32)


def _check_values(data: np.ndarray, name: str) -> None:
    """NaN/inf and level, on the samples as stored (before resampling spreads or smooths them)."""
    if not np.all(np.isfinite(data)):
        bad = int(np.count_nonzero(~np.isfinite(data)))
        raise InputError(name, f"audio contains NaN or infinite samples ({bad} of {data.size})")
    peak = float(np.max(np.abs(data))) if data.size else 0.0
    if peak > MAX_PEAK:
        raise InputError(name, f"samples exceed full scale by {20 * math.log10(peak):.1f} dB (peak {peak:.3g}, "
                               f"expected within ±1.0): rescale the audio, e.g. sox IN OUT gain -n -1")


def _validate(data: np.ndarray, name: str) -> None:
    if data.size == 0:
        raise InputError(name, "audio has zero samples")
    if not np.all(np.isfinite(data)):
        raise InputError(name, "audio contains NaN or infinite samples")
    if data.size < SAMPLES_PER_FRAME:
        ms = 1000 * data.size / SAMPLE_RATE
        raise InputError(name, f"clip too short: {ms:.1f} ms gives no 20 ms encoder frame")
    if float(np.max(np.abs(data))) < SILENCE_PEAK:
        warnings.warn(f"{name}: clip is silent (peak below -80 dBFS)", SilentClipWarning, stacklevel=3)
