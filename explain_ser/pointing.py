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

This module holds the metrics and the cue manifest (what ``report`` and ``faithfulness`` use too). The
builders of cue corpora (synthetic or real vocalizations, splices, joins) are in
:mod:`explain_ser.pointing_build`; the game itself (cross-validation, fold models, every map scored) in
:mod:`explain_ser.pointing_run`; its figure in :mod:`explain_ser.pointing_view`.

>>> frames_in_cue(0.05, 0.11, n=8).tolist()     # 50-110 ms touches frames 2 (40-60 ms) .. 5 (100-120 ms)
[False, False, True, True, True, True, False, False]
>>> round(cue_mass(np.array([1, 1, 2, 0.0]), np.array([0, 0, 1, 1], bool)), 3)
0.5
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputError
from .timegrid import frame_bounds

__all__ = ["frames_in_cue", "cue_mass", "pointing_hit", "score_map", "read_cue_manifest", "frames_localisation",
           "summarize", "format_table", "SIGNED_METHODS", "CUE_COLUMNS"]

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


# ---- summaries -----------------------------------------------------------------------------------------------

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
