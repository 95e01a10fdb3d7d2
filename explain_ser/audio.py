"""Audio loading: any common file -> a validated 16 kHz mono :class:`Clip`.

wav/flac/ogg (and whatever libsndfile reads) are decoded by soundfile; mp3 and
other containers fall back to ffmpeg when it is installed. Multi-channel audio is
mixed down by averaging channels; other rates are resampled with soxr's
high-quality polyphase resampler. Every problem a user can cause raises
:class:`~explain_ser.errors.InputError` with one line naming the file.

>>> import numpy as np
>>> clip = Clip.from_array(np.zeros(8000, dtype=np.float32) + 0.1, 8000, "tone")
>>> clip.rate, clip.samples.shape, clip.n_frames
(16000, (16000,), 50)
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError
from .timegrid import SAMPLE_RATE, SAMPLES_PER_FRAME, n_frames

# Below this peak amplitude (about -80 dBFS) a clip is treated as silent.
SILENCE_PEAK = 1e-4


class SilentClipWarning(UserWarning):
    """An all-silent clip: it loads, but attention over it means little."""


@dataclass(frozen=True, eq=False)
class Clip:
    """A mono 16 kHz clip.

    ``sha256`` hashes the float32 samples after decoding and resampling, so the
    same sound stored as wav or flac gets the same feature-cache key.
    """

    samples: np.ndarray
    rate: int
    path: str | None = None
    clip_id: str = ""
    sha256: str = field(default="")

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
        data = _to_mono_float(np.asarray(samples), name)
        data = resample(data, rate, SAMPLE_RATE)
        _validate(data, name)
        return cls(samples=data, rate=SAMPLE_RATE, path=None, clip_id=name)


def load_audio(path: str | Path) -> Clip:
    """Load ``path`` as a validated 16 kHz mono clip. Raises InputError on bad input."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, "file not found")
    if p.is_dir():
        raise InputError(p, "is a directory, not an audio file")
    if p.stat().st_size == 0:
        raise InputError(p, "empty file (0 bytes)")
    data, rate = _decode(p)
    data = _to_mono_float(data, str(p))
    if data.size == 0:
        raise InputError(p, "audio has zero samples")
    data = resample(data, rate, SAMPLE_RATE)
    _validate(data, str(p))
    return Clip(samples=data, rate=SAMPLE_RATE, path=str(p), clip_id=p.stem)


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample a mono float32 signal with soxr (VHQ polyphase); identity when rates match."""
    if rate_in == rate_out:
        return np.ascontiguousarray(x, dtype=np.float32)
    import soxr

    return np.ascontiguousarray(soxr.resample(x, rate_in, rate_out, quality="VHQ"), dtype=np.float32)


def _decode(p: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)
        return data, int(rate)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        sf_error = str(err).splitlines()[0] if str(err) else type(err).__name__
    # libsndfile < 1.1 cannot read mp3, and some containers (m4a) it never reads
    if shutil.which("ffmpeg"):
        return _decode_ffmpeg(p)
    raise InputError(p, f"not a readable audio file ({sf_error}); install ffmpeg for more formats")


def _decode_ffmpeg(p: Path) -> tuple[np.ndarray, int]:
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(p), "-f", "f32le", "-ac", "1", "-ar", str(SAMPLE_RATE), "-"]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0 or not proc.stdout:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        reason = msg[-1] if msg else "no audio stream"
        raise InputError(p, f"not a readable audio file (ffmpeg: {reason})")
    return np.frombuffer(proc.stdout, dtype=np.float32)[:, None], SAMPLE_RATE


def _to_mono_float(data: np.ndarray, name: str) -> np.ndarray:
    if data.ndim == 2:
        data = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    elif data.ndim != 1:
        raise InputError(name, f"expected a 1-D or 2-D signal, got shape {data.shape}")
    if np.issubdtype(data.dtype, np.integer):
        data = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
    return np.ascontiguousarray(data, dtype=np.float32)


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
