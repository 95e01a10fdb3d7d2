"""Prosody tracks from Praat (through parselmouth), sampled onto the 20 ms encoder-frame grid.

Per encoder frame (see :mod:`explain_ser.timegrid`):

* ``f0`` — median of Praat's autocorrelation pitch (10 ms steps) over the frame's voiced
  samples, Hz; NaN when no sample in the frame is voiced;
* ``voiced`` — fraction of the frame's pitch samples that are voiced (0..1; a frame is
  "voiced" when this is >= 0.5);
* ``intensity`` — Praat intensity (dB SPL re 2e-5, window 3.2 / floor) at the frame centre;
  digital silence is clamped to 0 dB;
* ``hnr`` — harmonics-to-noise ratio (cross-correlation), dB, mean over the frame; NaN
  where Praat finds no periodicity;
* ``jitter``, ``shimmer`` — local jitter and shimmer of the voiced stretch (>= 60 ms) the
  frame lies in, as fractions; NaN outside voiced stretches.

The pitch range is **speaker-adaptive** (Hirst 2011's two-pass method): a first pass with
a wide 60-700 Hz range, then floor = 0.75 x 25th percentile and ceiling = 1.5 x 75th
percentile of the voiced F0, clamped to [50, 800] Hz. Give the floor and ceiling of a
speaker (from :func:`pitch_range` over all their clips) to use one range for a corpus speaker.

>>> import numpy as np
>>> t = np.arange(16000) / 16000
>>> p = extract_prosody(0.3 * np.sin(2 * np.pi * 200 * t).astype(np.float32))
>>> len(p.f0), round(float(np.nanmedian(p.f0)))
(50, 200)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explain_ser.timegrid import SAMPLE_RATE, frame_bounds, frame_of_time, n_frames

WIDE_FLOOR, WIDE_CEILING = 60.0, 700.0
MIN_FLOOR, MAX_CEILING = 50.0, 800.0
PITCH_STEP = 0.01  # s; two pitch samples per 20 ms encoder frame
MIN_STRETCH = 0.06  # s; shorter voiced stretches give no jitter/shimmer
COLUMNS = ("f0", "voiced", "intensity", "hnr", "jitter", "shimmer")


@dataclass
class Prosody:
    """Prosody of one clip, one value per encoder frame."""

    f0: np.ndarray
    voiced: np.ndarray
    intensity: np.ndarray
    hnr: np.ndarray
    jitter: np.ndarray
    shimmer: np.ndarray
    floor: float
    ceiling: float

    def __post_init__(self):
        n = len(self.f0)
        for c in COLUMNS:
            assert len(getattr(self, c)) == n, f"{c} has {len(getattr(self, c))} frames, f0 has {n}"

    @property
    def n_frames(self) -> int:
        return len(self.f0)

    def to_frame(self):
        """A DataFrame with one row per encoder frame and the :data:`COLUMNS`."""
        import pandas as pd

        return pd.DataFrame({c: getattr(self, c) for c in COLUMNS})


def _sound(samples: np.ndarray):
    import parselmouth

    x = np.asarray(samples, dtype=np.float64)
    assert x.ndim == 1, f"mono samples expected, got shape {x.shape}"
    return parselmouth.Sound(x, sampling_frequency=SAMPLE_RATE)


def _voiced_f0(samples: np.ndarray, floor: float, ceiling: float) -> np.ndarray:
    if len(samples) < _min_samples(floor):
        return np.zeros(0)
    pitch = _sound(samples).to_pitch_ac(time_step=PITCH_STEP, pitch_floor=floor, pitch_ceiling=ceiling)
    f = pitch.selected_array["frequency"]
    return f[f > 0]


def _min_samples(floor: float) -> int:
    # Praat's pitch and intensity analyses need a window of 3 periods of the floor (plus a margin)
    return int(3.2 / floor * SAMPLE_RATE) + 1


def pitch_range(clips_samples, floor: float = WIDE_FLOOR, ceiling: float = WIDE_CEILING) -> tuple[float, float]:
    """Speaker-adaptive (floor, ceiling) in Hz from one or more clips of the same speaker.

    Falls back to the wide range when fewer than 20 voiced samples are found.
    """
    if isinstance(clips_samples, np.ndarray) and clips_samples.ndim == 1:
        clips_samples = [clips_samples]
    f0 = np.concatenate([_voiced_f0(x, floor, ceiling) for x in clips_samples] or [np.zeros(0)])
    if f0.size < 20:
        return floor, ceiling
    q25, q75 = np.percentile(f0, [25, 75])
    lo, hi = max(MIN_FLOOR, 0.75 * q25), min(MAX_CEILING, 1.5 * q75)
    return (float(lo), float(hi)) if hi > lo * 1.5 else (floor, ceiling)


def extract_prosody(samples: np.ndarray, floor: float | None = None, ceiling: float | None = None,
                    voice_quality: bool = True) -> Prosody:
    """Praat prosody of a 16 kHz mono clip on the encoder-frame grid.

    ``floor``/``ceiling`` default to this clip's own two-pass estimate. ``voice_quality=False``
    skips jitter and shimmer (the slowest part; they are NaN then).
    """
    from parselmouth import praat

    samples = np.asarray(samples, dtype=np.float32)
    n = n_frames(len(samples))
    if floor is None or ceiling is None:
        lo, hi = pitch_range(samples)
        floor, ceiling = floor or lo, ceiling or hi
    start, end = frame_bounds(n)
    if len(samples) < _min_samples(floor):  # too short for Praat: nothing is voiced
        nan = np.full(n, np.nan)
        return Prosody(f0=nan, voiced=np.zeros(n), intensity=np.zeros(n), hnr=nan.copy(),
                       jitter=nan.copy(), shimmer=nan.copy(), floor=float(floor), ceiling=float(ceiling))
    snd = _sound(samples)
    centre = (start + end) / 2

    # pitch: aggregate the 10 ms samples that fall in each 20 ms frame
    pitch = snd.to_pitch_ac(time_step=PITCH_STEP, pitch_floor=floor, pitch_ceiling=ceiling)
    pt = np.asarray(pitch.xs())
    pf = pitch.selected_array["frequency"]
    f0, voiced = np.full(n, np.nan), np.zeros(n)
    if pt.size and n:
        idx = frame_of_time(pt)
        ok = (idx >= 0) & (idx < n)
        idx, pf_ok = idx[ok], pf[ok]
        count = np.bincount(idx, minlength=n)
        nv = np.bincount(idx, weights=(pf_ok > 0).astype(float), minlength=n)
        voiced = np.divide(nv, count, out=np.zeros(n), where=count > 0)
        for i in np.unique(idx[pf_ok > 0]):
            f0[i] = np.median(pf_ok[(idx == i) & (pf_ok > 0)])

    # intensity at frame centres (interpolated; edges take the nearest analysis frame)
    intensity = np.zeros(n)
    if n:
        try:
            inten = snd.to_intensity(minimum_pitch=floor, time_step=PITCH_STEP, subtract_mean=False)
            it, iv = np.asarray(inten.xs()), inten.values[0]
            iv = np.where(np.isfinite(iv), iv, 0.0)
            intensity = np.clip(np.interp(centre, it, iv) if it.size else np.zeros(n), 0.0, None)
        except Exception:  # clip shorter than one analysis window
            intensity = np.zeros(n)

    # harmonics-to-noise ratio, mean of the valid values per frame
    hnr = np.full(n, np.nan)
    if n:
        try:
            import parselmouth

            harm = snd.to_harmonicity_cc(time_step=PITCH_STEP, minimum_pitch=floor)
            ht, hv = np.asarray(harm.xs()), harm.values[0]
            hidx = frame_of_time(ht)
            good = (hv > -199) & (hidx >= 0) & (hidx < n)
            s = np.bincount(hidx[good], weights=hv[good], minlength=n)
            c = np.bincount(hidx[good], minlength=n)
            hnr = np.divide(s, c, out=np.full(n, np.nan), where=c > 0)
        except parselmouth.PraatError:
            # Praat refuses harmonicity on stretches shorter than its analysis window: HNR stays NaN there
            hnr = np.full(n, np.nan)

    jitter, shimmer = np.full(n, np.nan), np.full(n, np.nan)
    if voice_quality and n and (voiced >= 0.5).any():
        pp = praat.call([snd, pitch], "To PointProcess (cc)")
        for a, b in _runs(voiced >= 0.5):
            t0, t1 = start[a], end[b - 1]
            if t1 - t0 < MIN_STRETCH:
                continue
            j = praat.call(pp, "Get jitter (local)", t0, t1, 0.0001, 0.02, 1.3)
            s = praat.call([snd, pp], "Get shimmer (local)", t0, t1, 0.0001, 0.02, 1.3, 1.6)
            jitter[a:b] = j if j == j else np.nan  # Praat returns NaN ("--undefined--") freely
            shimmer[a:b] = s if s == s else np.nan

    return Prosody(f0=f0, voiced=voiced, intensity=intensity, hnr=hnr, jitter=jitter,
                   shimmer=shimmer, floor=float(floor), ceiling=float(ceiling))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index pairs of the True runs of a boolean array."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.diff(m.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def speaker_zscores(table, speaker: str = "speaker", columns=("f0", "intensity", "hnr")):
    """Per-speaker z-scores of prosody columns of a (multi-clip) FrameTable.

    Adds ``<col>_z`` columns. F0 is z-scored in semitones (log scale), the others as
    they are; only voiced frames enter the F0/HNR statistics (NaN elsewhere stays NaN),
    and only frames with ``voiced >= 0.5`` or any frame for intensity.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"speaker": ["a", "a", "b", "b"], "f0": [100.0, 200.0, 200.0, 400.0],
    ...                   "intensity": [60.0, 70.0, 50.0, 50.0], "hnr": [10.0, 20.0, np.nan, 5.0]})
    >>> speaker_zscores(t)["f0_z"].round(3).tolist()
    [-0.707, 0.707, -0.707, 0.707]
    """
    out = table.copy()
    for col in columns:
        if col not in out:
            continue
        v = out[col].astype(float)
        if col == "f0":
            v = 12 * np.log2(v)
        g = v.groupby(out[speaker])
        sd = g.transform("std")
        out[f"{col}_z"] = (v - g.transform("mean")) / sd.where(sd > 0)
    return out
