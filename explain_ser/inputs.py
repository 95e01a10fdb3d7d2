"""What the encoder is fed: a clip's level and its leading/trailing silence, decided by one rule.

A checkpoint records its :class:`InputRule` (``config["encoder"]["input"]``); training features,
evaluation features and every explanation go through :func:`prepare` with that rule, so training and
explaining agree. Checkpoints without the entry use :data:`AS_RECORDED` (no change), which keeps older
checkpoints' outputs identical.

Two steps, both optional:

1. **trim**: leading and trailing stretches with nothing in them are dropped, in whole 20 ms encoder
   frames, so the kept samples start on a frame boundary of the original clip and frame ``i`` of the
   model's input is frame ``first_frame + i`` of the clip (the FrameTable stays on the clip's grid).
   A stretch is "active" when its RMS level holds, for 60 ms (3 frames), within ``trim_floor_db`` dB
   of the clip's loudest such stretch and above ``trim_abs_db`` dBFS. The rule is relative, so 2 s of
   digital silence or of −55 dBFS noise around speech at a normal level (−20 dBFS) is dropped, while a
   breath or a laugh 25 dB below the loudest syllable is kept; a lone click neither counts as speech
   nor sets the reference. Only the ends are trimmed: pauses inside the clip stay. ``trim_margin``
   seconds of context are kept on each side.
2. **loudness**: the kept audio is scaled to ``loudness`` LUFS (ITU-R BS.1770 integrated loudness by
   pyloudnorm; its gating ignores silence, so pauses do not change the gain). Clips shorter than
   BS.1770's 400 ms block use the RMS level of their active frames instead. The gain is then lowered,
   if needed, so that the peak stays below full scale (recorded in ``Prepared.gain_db``).

>>> import numpy as np
>>> from explain_ser.audio import Clip
>>> rng = np.random.default_rng(0)
>>> room = lambda n: (0.001 * rng.standard_normal(n)).astype(np.float32)    # -60 dBFS room tone
>>> speech = np.concatenate([room(8000), 0.1 * rng.standard_normal(16000).astype(np.float32), room(8000)])
>>> padded = np.concatenate([np.zeros(32000, np.float32), speech, np.zeros(32000, np.float32)])
>>> rule = InputRule(loudness=-23.0, trim="energy")
>>> a, b = prepare(Clip.from_array(speech, 16000), rule), prepare(Clip.from_array(padded, 16000), rule)
>>> a.first_frame, b.first_frame, b.clip.n_frames == a.clip.n_frames   # 2 s of silence = 100 frames dropped
(20, 120, True)
>>> bool(np.allclose(a.clip.samples, b.clip.samples))
True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from .audio import Clip
from .timegrid import SAMPLES_PER_FRAME

__all__ = ["InputRule", "Prepared", "prepare", "AS_RECORDED", "RECOMMENDED"]


@dataclass(frozen=True)
class InputRule:
    loudness: float | None = None  # target integrated loudness (LUFS); None: level as recorded
    trim: str = "none"  # "none" or "energy" (leading/trailing inactive frames dropped)
    trim_floor_db: float = 30.0  # a frame this far below the loudest stretch counts as nothing
    # ... and so does any frame below this level (dBFS): low, so that a quiet recording (RAVDESS speech peaks
    # at -33 dBFS median, -55 at worst) 30 dB quieter still trims the same way (the rule is about level *ratios*)
    trim_abs_db: float = -120.0
    trim_margin: float = 0.1  # seconds of context kept before the first and after the last active frame

    def __post_init__(self):
        if self.trim not in ("none", "energy"):
            raise ValueError(f"trim must be 'none' or 'energy', not {self.trim!r}")

    @property
    def is_identity(self) -> bool:
        return self.loudness is None and self.trim == "none"

    def to_config(self) -> dict:
        return asdict(self)

    @classmethod
    def from_config(cls, d: dict | None) -> "InputRule":
        """The rule a checkpoint recorded; ``None`` (older checkpoints) means as recorded."""
        return cls(**d) if d else cls()

    def describe(self) -> str:
        if self.is_identity:
            return "as recorded"
        bits = []
        if self.trim != "none":
            bits.append(f"leading/trailing frames {self.trim_floor_db:g} dB below the loudest frame trimmed "
                        f"(margin {self.trim_margin:g} s)")
        if self.loudness is not None:
            bits.append(f"loudness normalised to {self.loudness:g} LUFS (BS.1770, peak kept below full scale)")
        return "; ".join(bits)


MIN_RUN = 3  # frames: a stretch counts as active only if it holds its level for 60 ms (a click does not)

AS_RECORDED = InputRule()
RECOMMENDED = InputRule(loudness=-23.0, trim="energy")  # EBU R128's programme loudness


@dataclass
class Prepared:
    """The clip the encoder sees, and where it sits in the original clip."""

    clip: Clip  # the model's input (a new Clip; same clip_id and path)
    first_frame: int  # frame of the original clip where the model's frame 0 lies
    gain_db: float  # gain applied (0.0 when the level was kept)
    original_frames: int  # frame count of the original clip

    @property
    def last_frame(self) -> int:
        """One past the original clip's last frame seen by the model."""
        return self.first_frame + self.clip.n_frames


def frame_levels_db(samples: np.ndarray) -> np.ndarray:
    """RMS level (dBFS) of each whole 20 ms frame; ``-inf`` for digital silence.

    >>> frame_levels_db(np.full(640, 0.5, np.float32)).round(2).tolist()
    [-6.02, -6.02]
    """
    n = len(samples) // SAMPLES_PER_FRAME
    x = np.asarray(samples[: n * SAMPLES_PER_FRAME], dtype=np.float64).reshape(n, SAMPLES_PER_FRAME)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(np.mean(x * x, axis=1))


def _held_levels(levels: np.ndarray, run: int = MIN_RUN) -> np.ndarray:
    """Level each run of ``run`` frames starting at frame i holds throughout (a moving minimum)."""
    if len(levels) < run:
        return np.full(1, levels.min() if len(levels) else -np.inf)
    return np.min(np.stack([levels[k : len(levels) - run + 1 + k] for k in range(run)]), axis=0)


def _active_span(levels: np.ndarray, rule: InputRule) -> tuple[int, int] | None:
    held = _held_levels(levels)
    finite = held[np.isfinite(held)]
    if not len(finite):
        return None
    threshold = max(float(finite.max()) - rule.trim_floor_db, rule.trim_abs_db)
    active = np.flatnonzero(held > threshold)
    if not len(active):
        return None
    run = min(MIN_RUN, len(levels))
    margin = int(round(rule.trim_margin / (SAMPLES_PER_FRAME / 16000)))
    return max(0, int(active[0]) - margin), min(len(levels), int(active[-1]) + run + margin)


def _loudness_gain_db(samples: np.ndarray, rate: int, target: float, levels: np.ndarray, rule: InputRule) -> float:
    import pyloudnorm

    x = np.asarray(samples, dtype=np.float64)
    loud = -math.inf
    if len(x) >= int(0.4 * rate):  # BS.1770 needs one full 400 ms gating block
        loud = float(pyloudnorm.Meter(rate).integrated_loudness(x))
    if not math.isfinite(loud):  # too short, or fully gated: RMS of the active frames (dBFS ~ LUFS for speech)
        finite = levels[np.isfinite(levels)]
        if not len(finite):
            return 0.0  # digital silence stays silence
        act = finite[finite > max(finite.max() - rule.trim_floor_db, rule.trim_abs_db)]
        loud = float(10 * np.log10(np.mean(10 ** (act / 10)))) if len(act) else float(finite.max())
    gain = target - loud
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak > 0:  # never push the peak past full scale: a clipped input would be a new distortion
        gain = min(gain, -20 * math.log10(peak) - 0.1)
    return gain


def prepare(clip: Clip, rule: InputRule = AS_RECORDED) -> Prepared:
    """The model's input for ``clip`` under ``rule`` (see the module docstring)."""
    n = clip.n_frames
    if rule.is_identity:
        return Prepared(clip=clip, first_frame=0, gain_db=0.0, original_frames=n)
    samples = np.asarray(clip.samples, dtype=np.float32)
    levels = frame_levels_db(samples)
    first, last = 0, n
    if rule.trim == "energy":
        span = _active_span(levels, rule)
        if span is not None:
            first, last = span
            # keep the samples after the last whole frame when the clip's tail is kept
            end = len(samples) if last == n else last * SAMPLES_PER_FRAME
            samples = samples[first * SAMPLES_PER_FRAME : end]
            levels = levels[first:last]
    gain = 0.0
    if rule.loudness is not None:
        gain = _loudness_gain_db(samples, clip.rate, rule.loudness, levels, rule)
        samples = (samples * np.float32(10 ** (gain / 20))).astype(np.float32)
    if first == 0 and last == n and gain == 0.0:
        return Prepared(clip=clip, first_frame=0, gain_db=0.0, original_frames=n)
    # a new Clip (its own hash, so the feature cache keys the prepared samples), not re-validated:
    # the original was, and the gain keeps the peak below full scale
    new = replace(clip, samples=np.ascontiguousarray(samples), sha256="")
    return Prepared(clip=new, first_frame=first, gain_db=float(gain), original_frames=n)
