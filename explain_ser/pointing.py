"""The pointing game: do explanations point at the evidence a model was trained to find?

A *cue corpus* is a manifest whose clips carry a planted stretch of evidence, ``cue_start`` / ``cue_end`` in
seconds (blank: the clip has no cue), beside ``path``, ``speaker`` and a label column (``emotion``, as for
training). A pooler trained on it to tell cue from no-cue (or one spliced emotion from another) must look at
the cue; the game asks whether each explanation says so:

- **mass inside the cue**: the share of the map's mass on frames that overlap the cue (for signed attributions
  the positive part: mass for the explained class); a uniform map scores the cue's share of the frames
  (reported as ``chance``);
- **pointing-game hit** (Zhang et al. 2016): the top-scoring frame overlaps the cue;
- **detection accuracy**: the held-out fold model's prediction is the clip's label.

Frames follow :mod:`explain_ser.timegrid`: frame i covers [0.02 i, 0.02 (i+1)) s.

Builders write such corpora from data the project has, with cue times exact to the sample (the manifest also
holds ``cue_start_sample`` / ``cue_end_sample``):

- :func:`build_vocalization`: synthetic laughs, breaths, sighs and cough-like bursts (sox, as
  ``examples/make_examples.py`` makes them) inserted into speech at seeded random times, against insertions of
  the same length of the clip's own background (labels ``vocalization`` / ``none``);
- :func:`build_splice`: a stretch of one emotion's speech spliced into the same speaker's neutral speech
  (label: the spliced emotion, or ``spliced`` / ``none`` against a neutral-into-neutral splice);
- :func:`build_join`: two whole utterances of one speaker joined, a neutral one and an emotional one, in both
  orders (label: the emotion; cue: the emotional utterance): clips twice as long as the training clips.

:func:`run_pointing_game` trains poolers through the normal cross-validation path (speaker-independent folds,
the training options of ``explain-ser train``) and scores every method on the fold models' held-out clips.

>>> frames_in_cue(0.05, 0.11, n=8).tolist()     # 50-110 ms touches frames 2 (40-60 ms) .. 5 (100-120 ms)
[False, False, True, True, True, True, False, False]
>>> round(cue_mass(np.array([1, 1, 2, 0.0]), np.array([0, 0, 1, 1], bool)), 3)
0.5
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .timegrid import FRAME_SECONDS, SAMPLE_RATE, frame_bounds

__all__ = ["frames_in_cue", "cue_mass", "pointing_hit", "score_map", "read_cue_manifest", "build_vocalization",
           "build_splice", "build_join", "frames_localisation", "run_pointing_game", "score_models", "fold_explainers", "summarize", "VOCALIZATIONS", "SIGNED_METHODS"]

VOCALIZATIONS = ("laugh", "breath", "sigh", "cough")
SIGNED_METHODS = ("ig", "occlusion", "deep_ig")  # attributions with a sign: only their positive part is mass
CUE_COLUMNS = ("cue_start", "cue_end")


# ---- metrics -------------------------------------------------------------------------------------------------

def frames_in_cue(start: float, end: float, n: int) -> np.ndarray:
    """Boolean [n]: frames whose span [0.02 i, 0.02 (i+1)) overlaps the cue [start, end).

    >>> frames_in_cue(0.04, 0.06, n=5).tolist()   # exactly frame 2
    [False, False, True, False, False]
    """
    lo, hi = frame_bounds(n)
    return (lo < end - 1e-9) & (hi > start + 1e-9)


def cue_mass(scores: np.ndarray, inside: np.ndarray, signed: bool = False) -> float:
    """Share of the map's (positive) mass on the ``inside`` frames; NaN for a map without positive mass.

    ``signed=False`` maps (attention, saliency) are non-negative by construction; negative values there are
    a caller's bug and are refused. For signed maps only the positive part counts: the frames that speak
    *for* the explained class.

    >>> cue_mass(np.array([0.5, -2.0, 1.5]), np.array([False, False, True]), signed=True)
    0.75
    """
    s = np.asarray(scores, dtype=np.float64)
    if signed:
        s = np.clip(s, 0.0, None)
    elif (s < -1e-12).any():
        raise ValueError("an unsigned map has negative values")
    total = s.sum()
    return float(s[inside].sum() / total) if total > 0 else float("nan")


def pointing_hit(scores: np.ndarray, inside: np.ndarray) -> float:
    """1.0 when the top frame (first of ties) lies inside the cue, else 0.0.

    >>> pointing_hit(np.array([0.1, 0.7, 0.7]), np.array([False, True, False]))
    1.0
    """
    return float(bool(inside[int(np.argmax(np.asarray(scores, dtype=np.float64)))]))


def score_map(scores: np.ndarray, start: float, end: float, signed: bool = False) -> dict:
    """``{"mass", "hit", "chance", "cue_frames"}`` of one map against one cue."""
    inside = frames_in_cue(start, end, len(scores))
    return {"mass": cue_mass(scores, inside, signed), "hit": pointing_hit(scores, inside),
            "chance": float(inside.mean()), "cue_frames": int(inside.sum())}


def frames_localisation(frames: pd.DataFrame, meta: pd.DataFrame) -> pd.DataFrame:
    """Score the maps of FrameTables (``att_*`` heads and mean, ``attr_*`` attributions) against the cues of
    the clips that have one (``meta``'s ``cue_start`` / ``cue_end``): one :func:`score_map` row per clip and
    map (``method`` as in :func:`score_models`: ``attention:h0``, ``attention:mean``, ``ig`` ...). Empty when
    no clip has a cue. This is how a report over a manifest with cue columns scores its own clips.

    >>> fr = pd.DataFrame({"clip_id": "c", "frame": range(4), "att_h0": [.1, .1, .7, .1], "attr_ig": [0, -1, 2, 0.]})
    >>> meta = pd.DataFrame({"clip_id": ["c"], "speaker": ["s"], "cue_start": [0.04], "cue_end": [0.06]})
    >>> frames_localisation(fr, meta)[["method", "mass", "hit"]].round(2).values.tolist()
    [['attention:h0', 0.7, 1.0], ['attention:mean', 0.7, 1.0], ['ig', 1.0, 1.0]]
    """
    if not set(CUE_COLUMNS) <= set(meta.columns) or frames.empty:
        return pd.DataFrame()
    cues = meta[["clip_id", *CUE_COLUMNS] + (["speaker"] if "speaker" in meta else [])].copy()
    for c in CUE_COLUMNS:
        cues[c] = pd.to_numeric(cues[c], errors="coerce")
    cues = cues[np.isfinite(cues["cue_start"]) & np.isfinite(cues["cue_end"])]
    heads = [c for c in frames.columns if c.startswith("att_") and c != "att_mean"]
    attrs = [c for c in frames.columns if c.startswith("attr_")]
    by_clip = {cid: g for cid, g in frames[frames["clip_id"].isin(cues["clip_id"])].groupby("clip_id", sort=False)}
    rows = []
    for r in cues.itertuples(index=False):
        if r.clip_id not in by_clip:
            continue
        fr = by_clip[r.clip_id].sort_values("frame")
        maps = {f"attention:{c[4:]}": fr[c].to_numpy(float) for c in heads}
        maps["attention:mean"] = (fr["att_mean"].to_numpy(float) if "att_mean" in fr
                                  else np.mean([fr[c].to_numpy(float) for c in heads], axis=0))
        maps.update({c[5:]: fr[c].to_numpy(float) for c in attrs})
        spk = str(getattr(r, "speaker", r.clip_id))
        for name, m in maps.items():
            rows.append({"clip_id": r.clip_id, "speaker": spk, "method": name,
                         **score_map(m, float(r.cue_start), float(r.cue_end), signed=name in SIGNED_METHODS)})
    return pd.DataFrame(rows)


# ---- manifests -----------------------------------------------------------------------------------------------

def read_cue_manifest(path, label_column: str = "emotion") -> pd.DataFrame:
    """A cue manifest, checked: ``path``, ``speaker``, the label column, ``cue_start`` / ``cue_end``.

    Blank cues mean "no cue"; a cue must have both ends, ``0 <= start < end``, and numbers. The label column
    is copied to ``emotion`` (what training reads) when it has another name.
    """
    from .corpora import read_manifest

    df = read_manifest(path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=0).columns
    for col in ("speaker", label_column, *CUE_COLUMNS):
        if col not in raw:
            raise InputError(path, f"cue manifest has no {col!r} column (needs path, speaker, {label_column}, "
                                   "cue_start, cue_end)")
    if (df[label_column].astype(str).str.strip() == "").any():
        raise InputError(path, f"every clip needs a {label_column!r} label")
    for col in CUE_COLUMNS:
        txt = df[col].astype(str).str.strip()
        num = pd.to_numeric(txt.where(txt != ""), errors="coerce")
        bad = (txt != "") & num.isna()
        if bad.any():
            raise InputError(path, f"{col} {txt[bad].iloc[0]!r} (row {int(bad.idxmax()) + 2}) is not a number")
        df[col] = num
    half = df["cue_start"].isna() != df["cue_end"].isna()
    if half.any():
        raise InputError(path, f"row {int(half.idxmax()) + 2}: a cue needs both cue_start and cue_end")
    has = df["cue_start"].notna()
    wrong = has & ~((df["cue_start"] >= 0) & (df["cue_end"] > df["cue_start"]))
    if wrong.any():
        raise InputError(path, f"row {int(wrong.idxmax()) + 2}: cue must satisfy 0 <= cue_start < cue_end")
    if not has.any():
        raise InputError(path, "no clip has a cue: there is nothing to point at")
    df["emotion"] = df[label_column].astype(str)
    return df


# ---- audio helpers for the builders ----------------------------------------------------------------------------

def _sox(*args: str, inp: np.ndarray | None = None) -> np.ndarray:
    """Samples (float32, 16 kHz mono) from sox: ``synth`` from nothing (``inp=None``) or ``inp`` through effects
    (:func:`explain_ser.vocal_corpus.run_sox`, repeatable)."""
    from .vocal_corpus import run_sox

    return run_sox(list(args), inp)


def _noise(color: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Seeded white, pink (1/f power) or brown (1/f^2) noise of ``n`` samples, unit peak."""
    white = rng.standard_normal(n)
    if color != "white":
        spec = np.fft.rfft(white)
        f = np.maximum(np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE), 20.0)
        spec = spec / (f ** (0.5 if color == "pink" else 1.0))
        white = np.fft.irfft(spec, n)
    return (white / max(np.abs(white).max(), 1e-12)).astype(np.float32)


def _voiced(seconds: float, f0: str, noise: str, noise_gain: float, rng, *effects: str) -> np.ndarray:
    """A breathy vowel: sox's sawtooth at ``f0`` ("200" or a glide "200-120") plus seeded noise, then effects."""
    saw = _sox("synth", f"{seconds:.4f}", "sawtooth", f0, "vol", "0.5")
    return _sox(*effects, inp=saw + noise_gain * _noise(noise, len(saw), rng))


def synth_vocalization(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One seeded synthetic vocalization (≤ 1.5 s), unit peak; the same ``rng`` state gives the same samples.

    - laugh: 3-7 breathy "ha" pulses (sawtooth + pink noise, falling pitch) at 4-6 Hz, the rhythm of laughter;
    - breath: 0.3-0.7 s of band-passed brown noise with a slow rise and fall;
    - sigh: 0.5-1.1 s breathy vowel whose pitch glides down, noise-heavy;
    - cough: 1-3 sharp 60-150 ms bursts of high-passed white noise with a fast decay.

    >>> x = synth_vocalization("laugh", np.random.default_rng(0))
    >>> 0.2 < len(x) / 16000 <= 1.5, float(np.abs(x).max())
    (True, 1.0)
    >>> bool(np.array_equal(x, synth_vocalization("laugh", np.random.default_rng(0))))
    True
    """
    if kind == "laugh":
        n, rate, f0 = int(rng.integers(3, 8)), float(rng.uniform(4.0, 6.0)), float(rng.uniform(180, 320))
        period = int(SAMPLE_RATE / rate)
        d = 0.5 / rate
        parts = []
        for i in range(n):
            p = _voiced(d, f"{f0 * (1 - 0.04 * i):.1f}", "pink", 0.4, rng, "lowpass", "2500",
                        "fade", "t", "0.01", f"{d:.4f}", f"{d / 2:.4f}")
            parts.append(np.concatenate([p, np.zeros(max(0, period - len(p)), np.float32)]))
        x = np.concatenate(parts)[: int(1.5 * SAMPLE_RATE)]
    elif kind == "breath":
        d = float(rng.uniform(0.3, 0.7))
        x = _sox("highpass", "300", "lowpass", "3000", "fade", "q", f"{d * 0.4:.3f}", f"{d:.3f}", f"{d * 0.5:.3f}",
                 inp=_noise("brown", int(d * SAMPLE_RATE), rng))
    elif kind == "sigh":
        d, f0 = float(rng.uniform(0.5, 1.1)), float(rng.uniform(150, 260))
        x = _voiced(d, f"{f0:.0f}-{f0 * 0.6:.0f}", "brown", 0.8, rng, "lowpass", "1800",
                    "fade", "q", f"{d * 0.2:.3f}", f"{d:.3f}", f"{d * 0.5:.3f}")
    elif kind == "cough":
        parts = []
        for _ in range(int(rng.integers(1, 4))):
            d = float(rng.uniform(0.06, 0.15))
            b = _sox("highpass", "500", "lowpass", "5000", "fade", "t", "0.005", f"{d:.3f}", f"{d * 0.8:.3f}",
                     inp=_noise("white", int(d * SAMPLE_RATE), rng))
            parts += [b, np.zeros(int(rng.uniform(0.08, 0.2) * SAMPLE_RATE), np.float32)]
        x = np.concatenate(parts[:-1])
    else:
        raise InputError(kind, f"unknown vocalization (choose from {', '.join(VOCALIZATIONS)})")
    return (x / max(float(np.abs(x).max()), 1e-9)).astype(np.float32)


def _frame_rms(x: np.ndarray, hop: int = 320) -> np.ndarray:
    n = len(x) // hop
    return np.sqrt(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-20)


def _active_rms(x: np.ndarray) -> float:
    """RMS of the speech frames (the loudest 30 %), the level planted sounds are scaled against."""
    r = np.sort(_frame_rms(x))
    return float(np.sqrt(np.mean(r[int(0.7 * len(r)):] ** 2)))


def _quietest(x: np.ndarray, length: int) -> np.ndarray:
    """The clip's own background: its quietest stretch of ``length`` samples (tiled if the clip is shorter)."""
    if len(x) < length:
        x = np.tile(x, -(-length // len(x)))
    c = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    hop = 160  # 10 ms steps are fine enough to find a pause
    starts = np.arange(0, len(x) - length + 1, hop)
    energy = c[starts + length] - c[starts]
    s = int(starts[int(np.argmin(energy))])
    return x[s : s + length].copy()


def _insert(x: np.ndarray, piece: np.ndarray, at: int) -> np.ndarray:
    return np.concatenate([x[:at], piece, x[at:]]).astype(np.float32)


def _load(path) -> np.ndarray:
    from .audio import load_audio

    return np.asarray(load_audio(path).samples, dtype=np.float32)


class _Writer:
    """Builds a corpus in a temporary folder beside ``out`` and moves it into place at the end (atomic)."""

    def __init__(self, out):
        self.out = Path(out)
        if self.out.exists() and (not self.out.is_dir() or any(self.out.iterdir())):
            raise InputError(self.out, "exists and is not an empty directory; choose a new --out")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(dir=self.out.parent, prefix=f".{self.out.name}."))
        self.rows: list[dict] = []

    def add(self, name: str, samples: np.ndarray, speaker: str, label: str, cue: tuple[int, int] | None, **extra):
        import soundfile as sf

        peak = float(np.abs(samples).max())
        if peak > 0.999:  # keep the planted level relation, just avoid clipping
            samples = samples * (0.999 / peak)
        rel = Path("audio") / f"{name}.flac"
        (self.tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(self.tmp / rel), samples, SAMPLE_RATE, subtype="PCM_16")
        # s / 16000 has at most 7 decimals (16000 = 2^7 5^3): repr writes the sample time exactly
        self.rows.append({"path": str(rel), "clip_id": name, "speaker": speaker, "emotion": label,
                          "cue_start": "" if cue is None else repr(cue[0] / SAMPLE_RATE),
                          "cue_end": "" if cue is None else repr(cue[1] / SAMPLE_RATE),
                          "cue_start_sample": "" if cue is None else cue[0],
                          "cue_end_sample": "" if cue is None else cue[1],
                          "duration_s": repr(len(samples) / SAMPLE_RATE), **extra})

    def finish(self, info: dict) -> pd.DataFrame:
        df = pd.DataFrame(self.rows)
        df.to_csv(self.tmp / "manifest.csv", index=False)
        (self.tmp / "build.json").write_text(json.dumps(info, indent=2) + "\n")
        if self.out.exists():
            self.out.rmdir()  # empty (checked in __init__)
        os.replace(self.tmp, self.out)
        return df

    def abort(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def _per_speaker(df: pd.DataFrame, n_clips: int, rng: np.random.Generator) -> pd.DataFrame:
    """About ``n_clips`` rows, the same number from every speaker (seeded)."""
    speakers = sorted(df["speaker"].astype(str).unique())
    k = max(1, n_clips // len(speakers))
    picks = []
    for s in speakers:
        idx = np.flatnonzero(df["speaker"].astype(str).to_numpy() == s)
        picks += list(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return df.iloc[sorted(picks)].reset_index(drop=True)


def build_vocalization(manifest, out, n_clips: int = 288, seed: int = 0, kinds=VOCALIZATIONS,
                       level=(0.3, 0.8), progress: bool = True) -> pd.DataFrame:
    """Plant synthetic vocalizations in speech; the other half of the clips gets the same length of its own
    background. Labels ``vocalization`` / ``none``; cues only on the former.

    Per source clip (an equal number per speaker, seeded): one vocalization of a random kind is made, scaled
    to ``level`` (uniform) x the speech's RMS, and inserted at a uniformly random sample in the middle 80 %
    of the clip; for a ``none`` clip the same number of samples of the clip's quietest stretch is inserted
    there instead, so length and splice points tell nothing. Writes ``out/audio/*.flac``, ``out/manifest.csv``
    and ``out/build.json`` (the seed and arguments), all or nothing.
    """
    from .corpora import load_manifest_or_dir

    src = load_manifest_or_dir(manifest)
    if "speaker" not in src.columns or (src["speaker"].astype(str) == "").all():
        raise InputError(manifest, "needs a speaker column (folds are speaker-independent)")
    kinds = tuple(kinds)
    for k in kinds:
        if k not in VOCALIZATIONS:
            raise InputError(k, f"unknown vocalization (choose from {', '.join(VOCALIZATIONS)})")
    rng = np.random.default_rng(seed)
    picked = _per_speaker(src, n_clips, rng)
    w = _Writer(out)
    try:
        from tqdm.auto import tqdm

        for i, row in enumerate(tqdm(list(picked.itertuples()), desc="vocalization corpus", disable=not progress)):
            x = _load(row.path)
            kind = kinds[int(rng.integers(len(kinds)))]
            voc = synth_vocalization(kind, rng) * _active_rms(x) * float(rng.uniform(*level)) / 0.3
            positive = i % 2 == 0  # alternate so every speaker has both classes
            at = int(rng.integers(int(0.1 * len(x)), int(0.9 * len(x)) + 1))
            piece = voc if positive else _quietest(x, len(voc))
            y = _insert(x, piece, at)
            name = f"{row.speaker}_{Path(row.path).stem}_{i:04d}"
            w.add(name, y, str(row.speaker), "vocalization" if positive else "none",
                  (at, at + len(piece)) if positive else None, source=str(row.path),
                  planted=kind if positive else "background", insert_start_sample=at,
                  insert_end_sample=at + len(piece))
        return w.finish({"kind": "vocalization", "manifest": str(manifest), "n_clips": n_clips, "seed": seed,
                         "kinds": list(kinds), "level": list(level)})
    except BaseException:
        w.abort()
        raise


def _active_span(x: np.ndarray) -> tuple[int, int]:
    """First and last sample of the frames above 10 % of the loudest frame's RMS (the speech)."""
    r = _frame_rms(x)
    on = np.flatnonzero(r > 0.1 * r.max())
    return int(on[0] * 320), int((on[-1] + 1) * 320)


def _emotion_source(manifest, base: str, emotions, verb: str):
    """(source manifest, its emotions as text, the emotions to plant) of a splice/join build, checked."""
    from .corpora import load_manifest_or_dir

    src = load_manifest_or_dir(manifest)
    for col in ("speaker", "emotion"):
        if col not in src.columns or (src[col].astype(str) == "").all():
            raise InputError(manifest, f"needs a {col!r} column")
    emo = src["emotion"].astype(str)
    if not (emo == base).any():
        raise InputError(manifest, f"has no {base!r} clips to {verb}")
    emotions = sorted(set(emo) - {base}) if emotions is None else list(emotions)
    missing = set(emotions) - set(emo)
    if missing:
        raise InputError(manifest, f"has no clips of {sorted(missing)}")
    return src, emo, emotions


def build_splice(manifest, out, n_clips: int = 288, seed: int = 0, base: str = "neutral", emotions=None,
                 labels: str = "emotion", stretch=(0.4, 1.2), progress: bool = True) -> pd.DataFrame:
    """Splice a stretch of one emotion's speech into the same speaker's ``base`` (neutral) speech.

    ``labels="emotion"``: every clip gets a stretch of one of ``emotions`` (default: all but ``base``), label =
    that emotion. ``labels="binary"``: half the clips get an emotional stretch (label ``spliced``), the other
    half a stretch of another ``base`` clip of the same speaker (label ``none``, no cue), so both classes have
    the same splice points. The stretch (``stretch`` seconds, uniform) is cut from inside the donor's speech
    and inserted at a random sample of the base clip's speech.
    """
    if labels not in ("emotion", "binary"):
        raise InputError(labels, "labels must be 'emotion' or 'binary'")
    src, emo, emotions = _emotion_source(manifest, base, emotions, "splice into")
    rng = np.random.default_rng(seed)
    speakers = sorted(s for s in src["speaker"].astype(str).unique()
                      if ((src["speaker"].astype(str) == s) & (emo == base)).any())
    per = max(1, n_clips // len(speakers))
    w = _Writer(out)
    try:
        from tqdm.auto import tqdm

        n = 0
        for s in tqdm(speakers, desc="splice corpus", disable=not progress):
            mine = src[src["speaker"].astype(str) == s]
            bases = mine[mine["emotion"].astype(str) == base]
            for j in range(per):
                b = bases.iloc[int(rng.integers(len(bases)))]
                positive = labels == "emotion" or j % 2 == 0
                if positive:
                    choices = [e for e in emotions if (mine["emotion"].astype(str) == e).any()]
                    if not choices:
                        continue
                    e = choices[int(rng.integers(len(choices)))]
                    pool = mine[mine["emotion"].astype(str) == e]
                else:
                    e = base
                    pool = bases[bases["path"] != b["path"]] if len(bases) > 1 else bases
                donor = pool.iloc[int(rng.integers(len(pool)))]
                x, d = _load(b["path"]), _load(donor["path"])
                d0, d1 = _active_span(d)
                L = min(int(rng.uniform(*stretch) * SAMPLE_RATE), max(320, d1 - d0))
                ds = int(rng.integers(d0, max(d0, d1 - L) + 1))
                piece = d[ds : ds + L]
                # match loudness: the splice must be found by its manner, not by a level jump
                piece = piece * (_active_rms(x) / max(_active_rms(piece), 1e-9))
                x0, x1 = _active_span(x)
                at = int(rng.integers(x0, max(x0, x1) + 1))
                y = _insert(x, piece, at)
                label = e if labels == "emotion" else ("spliced" if positive else "none")
                cue = (at, at + len(piece)) if positive else None
                w.add(f"{s}_{n:04d}", y, s, label, cue, source=str(b["path"]), donor=str(donor["path"]),
                      donor_emotion=e, insert_start_sample=at, insert_end_sample=at + len(piece))
                n += 1
        return w.finish({"kind": "splice", "manifest": str(manifest), "n_clips": n_clips, "seed": seed,
                         "base": base, "emotions": emotions, "labels": labels, "stretch": list(stretch)})
    except BaseException:
        w.abort()
        raise


def build_join(manifest, out, n_clips: int = 252, seed: int = 0, base: str = "neutral", emotions=None,
               progress: bool = True) -> pd.DataFrame:
    """Join two WHOLE utterances of one speaker, a ``base`` (neutral) one and an emotional one, in both
    orders; label = the emotional utterance's emotion, cue = its whole span (its own pauses included).

    This is the long-clip test of issue 19: twice the length of a training clip, half of it neutral. Per
    speaker, about ``n_clips / (2 x speakers)`` pairs, cycling through the speaker's emotions in a seeded
    order (RAVDESS, 18 speakers, 7 emotions: the default 252 is one pair per speaker and emotion); each
    pair is written ``base + emotional`` and ``emotional + base``. The utterances keep their recorded
    levels (a louder emotion stays louder: that is part of its manner).
    """
    src, emo, emotions = _emotion_source(manifest, base, emotions, "join with")
    rng = np.random.default_rng(seed)
    spk = src["speaker"].astype(str)
    speakers = sorted(s for s in spk.unique() if ((spk == s) & (emo == base)).any())
    pairs = max(1, n_clips // (2 * len(speakers)))
    w = _Writer(out)
    try:
        from tqdm.auto import tqdm

        n = 0
        for s in tqdm(speakers, desc="join corpus", disable=not progress):
            mine = src[spk == s]
            bases = mine[mine["emotion"].astype(str) == base]
            mine_emotions = [e for e in emotions if (mine["emotion"].astype(str) == e).any()]
            if not mine_emotions:
                continue
            order = [mine_emotions[int(i)] for i in rng.permutation(len(mine_emotions))]
            for j in range(pairs):
                e = order[j % len(order)]
                pool = mine[mine["emotion"].astype(str) == e]
                b, d = bases.iloc[int(rng.integers(len(bases)))], pool.iloc[int(rng.integers(len(pool)))]
                x, v = _load(b["path"]), _load(d["path"])
                for first in ("base", "emotion"):
                    y = np.concatenate([x, v] if first == "base" else [v, x]).astype(np.float32)
                    cue = (len(x), len(x) + len(v)) if first == "base" else (0, len(v))
                    w.add(f"{s}_{n:04d}", y, s, e, cue, source=str(b["path"]), donor=str(d["path"]),
                          donor_emotion=e, first=first)
                    n += 1
        return w.finish({"kind": "join", "manifest": str(manifest), "n_clips": n_clips, "seed": seed,
                         "base": base, "emotions": emotions})
    except BaseException:
        w.abort()
        raise


# ---- the game ------------------------------------------------------------------------------------------------

def clip_maps(model, features: np.ndarray, target: int, methods=("ig", "saliency", "occlusion")) -> dict:
    """``{method: frame scores [T]}``: every attention head (``attention:<head>``), their mean
    (``attention:mean``), and the attributions of ``target`` by ``methods``."""
    from .explain.attention import attention_weights
    from .explain.attributions import attribute_frames

    _, att = attention_weights(model, features)
    maps = {f"attention:{k}": v for k, v in att.items()}
    if len(att) == 2:  # one head: its mean is itself
        maps.pop("attention:mean")
    if methods:
        attr, _ = attribute_frames(model, features, methods=tuple(methods), target=target)
        maps.update(attr)
    return maps


def summarize(rows: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per method: mean mass and hit rate over cue clips with speaker-bootstrap 95 % CIs, and chance."""
    from .stats import bootstrap_ci

    out = []
    for method, g in rows.groupby("method", sort=False):
        rec = {"method": method, "clips": int(len(g))}
        for col in ("mass", "hit", "chance"):
            v = g[col].to_numpy(dtype=np.float64)
            m, lo, hi = bootstrap_ci(v, clusters=g["speaker"].to_numpy(), n_boot=n_boot, seed=seed)
            rec.update({col: float(m), f"{col}_lo": float(lo), f"{col}_hi": float(hi)})
        rec["mass_nan"] = int(g["mass"].isna().sum())
        out.append(rec)
    return pd.DataFrame(out)


def _first_frame(path, rule) -> int:
    """The clip frame the model's first frame is (0 without an input rule that trims the start)."""
    if rule.is_identity:
        return 0
    from .audio import load_audio
    from .inputs import prepare

    return int(prepare(load_audio(path), rule).first_frame)


def run_pointing_game(corpus, folds, model_kwargs: dict, config, out=None, methods=("ig", "saliency", "occlusion"),
                      deep: bool = False, source: str = "tiny.en", window: str = "trim", command: str | None = None,
                      progress: bool = True, n_boot: int = 2000) -> dict:
    """Cross-validate on a cue corpus and score every explanation method on the held-out clips.

    ``corpus`` is an :class:`explain_ser.sweep.Corpus` whose manifest went through :func:`read_cue_manifest`.
    Returns a dict with ``detection`` (accuracy over all held-out clips and on cue clips, speaker-bootstrap
    CIs), ``table`` (rows of :func:`summarize`) and ``per_clip`` (a DataFrame, one row per cue clip x method);
    with ``out`` writes ``pointing.csv``, ``pointing_clips.csv``, ``pointing.json`` and ``pointing.png``.
    """
    import time

    from .stats import bootstrap_ci
    from .train import cross_validate

    t0 = time.perf_counter()
    df = corpus.manifest
    res = cross_validate(corpus.data, corpus.y, folds, labels=corpus.labels, model_kwargs=model_kwargs,
                         config=config, keep_models=True, progress=progress)
    t_train = time.perf_counter() - t0
    from .inputs import InputRule

    rule = InputRule.from_config(corpus.encoder.get("input"))
    encoder = None
    if deep:
        from .encoder import Encoder

        encoder = Encoder(source, window=window, input_rule=rule)
    taps_pos = None if corpus.data.taps is None else [corpus.data.taps.index(t) for t in model_kwargs["taps"]]
    rows = []
    for f, model in zip(folds, res.models):
        for i in f.test:
            if not np.isfinite(df.at[i, "cue_start"]):
                continue
            n = int(corpus.data.lengths[i])
            x = corpus.data.x[i, :, :n] if taps_pos is None else corpus.data.x[i, taps_pos, :n]
            feats = x.float().numpy()
            target = int(corpus.y[i])
            maps = clip_maps(model, feats, target, methods)
            if deep:
                from .audio import load_audio
                from .explain.attributions import attribute_mel

                _, frame, _ = attribute_mel(model, encoder, load_audio(df.at[i, "path"]), target=target)
                maps["deep_ig"] = frame
            # the maps cover the frames the model saw: with an input rule that trims the ends they start
            # first_frame frames into the clip, so the cue (clip time) moves back by as much
            shift = _first_frame(df.at[i, "path"], rule) * FRAME_SECONDS
            for name, m in maps.items():
                rows.append({"clip_id": df.at[i, "clip_id"], "speaker": str(df.at[i, "speaker"]), "fold": f.name,
                             "label": corpus.labels[target], "predicted": corpus.labels[int(res.pred[i])],
                             "method": name, "shift_s": shift,
                             **score_map(m, float(df.at[i, "cue_start"]) - shift, float(df.at[i, "cue_end"]) - shift,
                                         signed=name in SIGNED_METHODS)})
    per_clip = pd.DataFrame(rows)
    if per_clip.empty:
        raise InputError(corpus.path, "no held-out clip has a cue")
    table = summarize(per_clip, n_boot=n_boot)
    seen = res.pred >= 0
    correct = (res.pred == corpus.y).astype(np.float64)
    spk = df["speaker"].astype(str).to_numpy()
    has_cue = np.isfinite(df["cue_start"].to_numpy(dtype=np.float64))
    det = {}
    for name, sel in (("all", seen), ("cue", seen & has_cue), ("no_cue", seen & ~has_cue)):
        if sel.any():
            m, lo, hi = bootstrap_ci(correct[sel], clusters=spk[sel], n_boot=n_boot)
            det[name] = {"accuracy": float(m), "lo": float(lo), "hi": float(hi), "clips": int(sel.sum())}
    result = {
        "format": "explain_ser.pointing/1",
        "command": command,
        "manifest": str(corpus.path),
        "labels": corpus.labels,
        "model": {k: v for k, v in model_kwargs.items()},
        "training": config.to_dict(),
        "folds": [{"name": f.name, "test": f.test_speakers, "val": f.val_speakers, "best_epoch": r["best_epoch"]}
                  for f, r in zip(folds, res.folds)],
        "cv": res.summary,
        "detection": det,
        "frame_rule": "frame i covers [0.02 i, 0.02 (i+1)) s; inside = overlaps [cue_start, cue_end)",
        "bootstrap": {"clusters": "speaker", "n_boot": n_boot, "seed": 0, "ci": 0.95},
        "seconds": {"train": round(t_train, 1), "explain": round(time.perf_counter() - t0 - t_train, 1)},
        "table": table.to_dict(orient="records"),
    }
    if out is not None:
        _write_outputs(Path(out), result, table, per_clip)
    result["per_clip"] = per_clip
    return result


def fold_explainers(run_dir, encoder=None, store=None) -> dict[str, object]:
    """``{speaker: Explainer}``: for every test speaker of an ``explain-ser train --save-fold-models`` run, the
    fold model that never heard that speaker (its config records the fold's test speakers)."""
    from .api import Explainer
    from .checkpoint import Checkpoint

    run = Path(run_dir)
    dirs = sorted(d for d in (run / "folds").glob("*") if (d / "config.json").is_file())
    if not dirs:
        raise InputError(run, "has no fold models (folds/<fold>/config.json): train with --save-fold-models")
    out: dict[str, object] = {}
    for d in dirs:
        ck = Checkpoint.load(d)
        ex = Explainer(ck, encoder=encoder, store=store)
        encoder = encoder or ex.encoder  # one Whisper for every fold
        for spk in (ck.config.get("fold") or {}).get("test", []):
            out[str(spk)] = ex
    return out


def score_models(manifest: pd.DataFrame, run_dir, methods=("ig",), n_boot: int = 2000, out=None,
                 command: str | None = None, progress: bool = True) -> dict:
    """The pointing game for models that were trained on something else (the emotion model's fold models)
    and are shown a cue corpus (e.g. a splice of an emotional utterance into neutral speech).

    Each clip goes through the one per-clip path (:meth:`explain_ser.api.Explainer.attribute`, so the
    checkpoint's input rule applies) with the fold model that never heard its speaker. Reported per method:
    the share of the map's mass on the cue and the top-frame hit, over the cue clips **the model labels as
    the spliced class** (``recognised``; the map explains the predicted class) and over all cue clips, plus
    how often the prediction is the clip's label. Speaker-bootstrap CIs.
    """
    import time

    from tqdm.auto import tqdm

    from .stats import bootstrap_ci

    t0 = time.perf_counter()
    models = fold_explainers(run_dir)
    df = manifest[np.isfinite(manifest["cue_start"].to_numpy(dtype=np.float64))].reset_index(drop=True)
    missing = sorted(set(df["speaker"].astype(str)) - set(models))
    if missing:
        raise InputError(run_dir, f"no fold model held out speakers {missing[:5]}: every clip must be scored by a "
                                  "model that never heard its speaker")
    rows, correct, spk = [], [], []
    for _, r in tqdm(list(df.iterrows()), desc="pointing (fold models)", unit="clip", disable=not progress):
        ex = models[str(r["speaker"])]
        label = str(r["emotion"])
        res = ex.attribute(r["path"], methods=tuple(methods), align=False, prosody=False)
        ok = res.predicted == label
        correct.append(float(ok))
        spk.append(str(r["speaker"]))
        maps = {"attention:mean": res.attention["mean"], **dict(res.attributions)}
        for name, m in maps.items():
            rows.append({"clip_id": r.get("clip_id", r["path"]), "speaker": str(r["speaker"]), "label": label,
                         "predicted": res.predicted, "recognised": bool(ok), "method": name,
                         **score_map(np.asarray(m), float(r["cue_start"]), float(r["cue_end"]),
                                     signed=name in SIGNED_METHODS)})
    per_clip = pd.DataFrame(rows)
    m, lo, hi = bootstrap_ci(np.array(correct), clusters=np.array(spk), n_boot=n_boot)
    rec = per_clip[per_clip["recognised"]]
    tables = {"recognised": summarize(rec, n_boot=n_boot) if len(rec) else pd.DataFrame(),
              "all": summarize(per_clip, n_boot=n_boot)}
    result = {"format": "explain_ser.pointing-score/1", "command": command, "run": str(run_dir),
              "manifest": str(manifest.attrs.get("path", "")), "clips": int(len(df)),
              "recognised": {"accuracy": float(m), "lo": float(lo), "hi": float(hi)},
              "frame_rule": "frame i covers [0.02 i, 0.02 (i+1)) s; inside = overlaps [cue_start, cue_end)",
              "bootstrap": {"clusters": "speaker", "n_boot": n_boot, "seed": 0, "ci": 0.95},
              "seconds": round(time.perf_counter() - t0, 1),
              "table": {k: v.to_dict(orient="records") for k, v in tables.items()}}
    if out is not None:
        from .atomic import write_path, write_text

        o = Path(out)
        o.mkdir(parents=True, exist_ok=True)
        write_text(o / "pointing_score.json", json.dumps(result, indent=2, default=_json) + "\n")
        write_path(o / "pointing_score_clips.csv", lambda tmp: per_clip.to_csv(tmp, index=False), suffix=".csv")
    result["per_clip"] = per_clip
    return result


def format_table(result: dict) -> str:
    """The summary as a Markdown table (what the CLI prints)."""
    d = result["detection"]
    pct = lambda r, k: f"{100 * r[k]:.1f} [{100 * r[k + '_lo']:.1f}, {100 * r[k + '_hi']:.1f}]"  # noqa: E731
    lines = [f"detection accuracy (held-out speakers): {100 * d['all']['accuracy']:.1f} % "
             f"[{100 * d['all']['lo']:.1f}, {100 * d['all']['hi']:.1f}] over {d['all']['clips']} clips"
             + (f"; on cue clips {100 * d['cue']['accuracy']:.1f} %" if "cue" in d else ""),
             "", "| method | mass inside cue (%) | top frame inside (%) | chance mass (%) | clips |",
             "| --- | --- | --- | --- | --- |"]
    for r in result["table"]:
        lines.append(f"| {r['method']} | {pct(r, 'mass')} | {pct(r, 'hit')} | {100 * r['chance']:.1f} | {r['clips']} |")
    return "\n".join(lines)


def _write_outputs(out: Path, result: dict, table: pd.DataFrame, per_clip: pd.DataFrame) -> None:
    from .atomic import write_path, write_text

    out.mkdir(parents=True, exist_ok=True)
    write_path(out / "pointing.csv", lambda p: table.to_csv(p, index=False), suffix=".csv")
    write_path(out / "pointing_clips.csv", lambda p: per_clip.to_csv(p, index=False), suffix=".csv")
    write_text(out / "pointing.json", json.dumps(result, indent=2, default=_json) + "\n")
    write_text(out / "pointing.md", format_table(result) + "\n")
    write_path(out / "pointing.png", lambda p: _figure(result, table).savefig(p, dpi=120, bbox_inches="tight"),
               suffix=".png")


def _json(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if math.isnan(float(o)) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _figure(result: dict, table: pd.DataFrame):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(max(6.0, 1.1 * len(table) + 3), 3.6), sharey=True)
    xs = np.arange(len(table))
    for ax, col, title in ((axes[0], "mass", "mass inside the cue"), (axes[1], "hit", "top frame inside the cue")):
        v = table[col].to_numpy()
        err = np.stack([v - table[f"{col}_lo"].to_numpy(), table[f"{col}_hi"].to_numpy() - v])
        ax.bar(xs, v, yerr=np.nan_to_num(err), capsize=3, color="#3b7dd8")
        ax.axhline(float(table["chance"].mean()), color="k", ls="--", lw=1, label="uniform map (chance mass)")
        ax.set_xticks(xs, table["method"], rotation=45, ha="right")
        ax.set_ylim(0, 1.05)
        ax.set_title(title)
    axes[0].legend(loc="upper right", fontsize=8)
    det = result["detection"]["all"]["accuracy"]
    fig.suptitle(f"pointing game, held-out speakers (detection {100 * det:.1f} %; 95 % speaker-bootstrap CIs)",
                 fontsize=10)
    return fig
