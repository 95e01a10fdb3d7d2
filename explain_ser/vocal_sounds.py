"""Isolated vocalization recordings a user brings (real breaths, coughs, laughs ...), and how they go into speech.

A *sounds source* is either

- a **folder** of category sub-folders (``laugh/a.wav``, ``cough/b.flac``; the category is the sub-folder's
  name, each clip its own vocalizing person), or a folder holding a ``manifest.csv`` (as below), or
- a **manifest CSV** with ``path`` and ``category`` (or ``tag``) columns; optional ``speaker_id`` / ``speaker``
  (the person who made the sound: train and test never share one), ``attribution`` / ``license`` (carried
  into everything built from the clip).

:func:`read_sounds` reads and checks it; :func:`assign_people` deals the vocalizing people to the host speakers
of a speech corpus (every person to one host speaker), so folds that hold host speakers out also hold their
vocalizing people out; :func:`noise_floor` makes any length of a host clip's own background (the spectrum of its
quietest stretch, random phases), which goes *under* an inserted sound: real recordings are often gated to
digital silence, and a model must not find the sound by its silence.

>>> x = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.01
>>> f = noise_floor(x, 8000, np.random.default_rng(1))
>>> f.shape, bool(0.5 < float(np.sqrt(np.mean(f ** 2))) / 0.01 < 2)
((8000,), True)
>>> assign_people(["p1", "p2", "p3"], ["A", "B"], seed=0) == assign_people(["p3", "p1", "p2"], ["A", "B"], seed=0)
True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .timegrid import SAMPLE_RATE

__all__ = ["read_sounds", "assign_people", "noise_floor", "quietest", "speech_rms", "frame_rms", "SOUND_COLUMNS"]

SOUND_COLUMNS = ("path", "category", "person", "duration_s", "attribution")


def _audio_files(root: Path) -> list[Path]:
    from .corpora import AUDIO_SUFFIXES

    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def _duration(path: Path, where) -> float:
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:  # soundfile raises its own error types for unreadable files
        from .audio import load_audio

        try:
            return float(load_audio(path).duration)  # formats soundfile cannot read (mp3 without libsndfile 1.1)
        except InputError:
            raise InputError(where, f"{path}: not a readable audio file") from None
    if info.frames == 0:
        raise InputError(where, f"{path}: empty audio file")
    return info.frames / info.samplerate


def read_sounds(source) -> pd.DataFrame:
    """The clips of a sounds source (see the module text), one row each: ``path`` (absolute), ``category``,
    ``person``, ``duration_s``, ``attribution`` (may be empty); one-line :class:`InputError` on any problem.

    >>> import tempfile, pathlib, soundfile as sf
    >>> d = pathlib.Path(tempfile.mkdtemp()); (d / "cough").mkdir()
    >>> sf.write(d / "cough" / "c1.wav", np.zeros(800, np.float32), 16000)
    >>> read_sounds(d)[["category", "person", "duration_s"]].values.tolist()
    [['cough', 'cough/c1', 0.05]]
    """
    from .corpora import read_csv_table

    src = Path(source)
    if src.is_dir() and (src / "manifest.csv").is_file():
        src = src / "manifest.csv"
    if src.is_dir():
        files = _audio_files(src)
        if not files:
            raise InputError(src, "has no audio files (expected <category>/<clip>.wav, .flac, ...)")
        loose = [f for f in files if f.parent == src]
        if loose:
            raise InputError(src, f"{loose[0].name} is not in a category folder (expected <category>/<clip>)")
        cats = [f.relative_to(src).parts[0] for f in files]
        df = pd.DataFrame({"path": [str(f) for f in files], "category": cats,
                           "person": [f"{c}/{f.stem}" for c, f in zip(cats, files)], "attribution": ""})
    else:
        raw = read_csv_table(src, "sounds manifest")
        raw.columns = [c.strip() for c in raw.columns]
        if "path" not in raw.columns:
            raise InputError(src, "sounds manifest has no 'path' column (needs path, category)")
        cat = next((c for c in ("category", "tag") if c in raw.columns), None)
        if cat is None:
            raise InputError(src, "sounds manifest has no 'category' column (needs path, category)")
        if raw.empty:
            raise InputError(src, "sounds manifest has no rows")
        blank = raw[cat].str.strip() == ""
        if blank.any():
            raise InputError(src, f"line {int(np.argmax(blank.to_numpy())) + 2}: empty category")
        paths = [p if Path(p).is_absolute() else str(src.parent / p) for p in raw["path"].str.strip()]
        for i, p in enumerate(paths):
            if not Path(p).is_file():
                raise InputError(src, f"line {i + 2}: unknown path {raw['path'].iloc[i]!r} (no such file)")
        who = next((c for c in ("speaker_id", "speaker", "person") if c in raw.columns), None)
        person = raw[who].str.strip() if who else pd.Series([""] * len(raw))
        person = [p or f"{c}/{Path(x).stem}" for p, c, x in zip(person, raw[cat].str.strip(), paths)]
        att = next((c for c in ("attribution", "license", "licence") if c in raw.columns), None)
        df = pd.DataFrame({"path": paths, "category": raw[cat].str.strip().to_numpy(), "person": person,
                           "attribution": raw[att].to_numpy() if att else ""})
    if "none" in set(df["category"]):
        raise InputError(source, "'none' is reserved for frames without an event; it cannot be a category")
    df["duration_s"] = [round(_duration(Path(p), source), 4) for p in df["path"]]
    return df[list(SOUND_COLUMNS)].reset_index(drop=True)


def assign_people(people, hosts, seed: int = 0) -> dict[str, str]:
    """``{person: host speaker}``: the (sorted, seeded-shuffled) people dealt round-robin to the sorted host
    speakers, so every person's sounds go into one host speaker's clips. With fewer people than hosts some
    hosts get none (their clips then take sounds of no one: the caller skips them)."""
    ppl = np.array(sorted({str(p) for p in people}))
    hs = sorted({str(h) for h in hosts})
    perm = np.random.default_rng(seed).permutation(ppl) if len(ppl) else ppl
    return {str(p): hs[i % len(hs)] for i, p in enumerate(perm)}


def frame_rms(x: np.ndarray, hop: int = 320) -> np.ndarray:
    n = len(x) // hop
    return np.sqrt(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-20)


def speech_rms(x: np.ndarray) -> float:
    """RMS of the loudest 30 % of 20 ms frames: the level of speech (or of a sound's active part).

    >>> speech_rms(np.concatenate([np.zeros(3200), np.full(3200, 0.5)]).astype(np.float32))
    0.5
    """
    r = np.sort(frame_rms(np.asarray(x, dtype=np.float64)))
    return float(np.sqrt(np.mean(r[int(0.7 * len(r)):] ** 2))) if len(r) else 1e-3


def quietest(x: np.ndarray, length: int) -> np.ndarray:
    """The clip's quietest stretch of ``length`` samples (the clip tiled when shorter), 10 ms steps."""
    if len(x) < length:
        x = np.tile(x, -(-length // len(x)))
    c = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    starts = np.arange(0, len(x) - length + 1, 160)
    s = int(starts[int(np.argmin(c[starts + length] - c[starts]))])
    return x[s : s + length].copy()


def noise_floor(x: np.ndarray, n: int, rng: np.random.Generator, seconds: float = 0.25) -> np.ndarray:
    """``n`` samples of ``x``'s own background: seeded white noise shaped to the power spectrum (Welch) of the
    clip's quietest ``seconds`` and scaled to its RMS. Stationary, so no seam or repeat gives it away; a
    clip gated to digital silence gives silence."""
    from scipy.signal import welch

    q = quietest(np.asarray(x, dtype=np.float64), min(len(x), int(seconds * SAMPLE_RATE)))
    level = float(np.sqrt(np.mean(q ** 2)))
    if n <= 0:
        return np.zeros(0, np.float32)
    if level < 1e-9:
        return np.zeros(n, np.float32)
    f, psd = welch(q, fs=SAMPLE_RATE, nperseg=min(512, len(q)))
    spec = np.fft.rfft(rng.standard_normal(n))
    spec *= np.sqrt(np.interp(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), f, psd))
    y = np.fft.irfft(spec, n)
    return (y * level / max(float(np.sqrt(np.mean(y ** 2))), 1e-12)).astype(np.float32)
