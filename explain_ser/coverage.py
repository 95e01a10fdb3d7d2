"""How concentrated is attention? Coverage curves, k@p, Gini, entropy, effective frames; corpus summaries.

Definitions, for one clip of ``T`` frames with non-negative weights ``w`` normalised to sum 1
(attention of one head, or ``att_mean``; attribution columns ``attr_*`` are taken in absolute value):

* **coverage curve**: sort the weights in decreasing order ``w(1) >= ... >= w(T)`` and let
  ``y_i = w(1) + ... + w(i)``. The curve is the polyline through ``(i / T, y_i)`` for ``i = 0..T``
  (it starts at ``(0, 0)`` and ends at ``(1, 1)``); linear between the points means each frame's mass
  is spread evenly over its ``1 / T`` of the x axis. Uniform attention gives the diagonal ``y = x``.
* **k@p** (frames for mass ``p``): the fraction of frames needed to hold mass ``p``, counting the last
  frame fractionally, and never less than one whole frame::

      n* = (i - 1) + (p - y_{i-1}) / w(i)      with i the first index where y_i >= p
      k@p = max(n*, 1) / T

  Between whole frames this is the x where the coverage curve reaches ``p``. The floor of one frame
  makes the two reference cases exact: uniform weights give ``k@p = p`` (for ``p >= 1/T``) and a
  one-hot vector gives ``k@p = 1/T`` for every p. k@0.8 is the headline number (Leygue et al.: 15 % of
  frames carry 80 % of the mass, i.e. k@0.8 = 0.15; uniform attention has k@0.8 = 0.80).
* **Gini** ``= 2 A - 1`` with ``A`` the area under the coverage curve; equal to the usual
  ``sum_i sum_j |w_i - w_j| / (2 T)``: 0 for uniform, ``1 - 1/T`` for one-hot.
* **normalised entropy** ``= -sum w log w / log T`` (``0 log 0 = 0``): 1 for uniform, 0 for one-hot,
  NaN when ``T == 1``.
* **effective number of frames** ``n_eff = 1 / sum w^2`` (``T`` for uniform, 1 for one-hot) and
  ``n_eff_frac = n_eff / T``.

All of these are vectorised over a ``[..., T]`` array in which NaN marks "no frame here" (ragged clips
are padded with NaN).

>>> m = concentration(np.full(10, 0.1))
>>> round(float(m["k@0.8"]), 6), round(float(m["gini"]), 6), round(float(m["entropy"]), 6)
(0.8, 0.0, 1.0)
>>> m = concentration(np.eye(4)[1])
>>> float(m["k@0.8"]), float(m["gini"]), float(m["n_eff"])
(0.25, 0.75, 1.0)
>>> x, y = coverage_curve([0.5, 0.25, 0.25])
>>> x.round(3).tolist(), y.tolist()
([0.0, 0.333, 0.667, 1.0], [0.0, 0.5, 0.75, 1.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from explain_ser import stats

DEFAULT_PS = (0.5, 0.8, 0.9)
HEADLINE_P = 0.8
LEYGUE_POINT = (0.15, 0.80)  # Leygue et al.: 15 % of frames carry 80 % of the attention mass
RUN_KEYS = ("model", "pooler", "layer")  # columns that, when present, distinguish runs over the same clips
METRICS = ("gini", "entropy", "n_eff", "n_eff_frac")
# the value each statistic takes under uniform attention (n_eff is T, so it has no single reference)
UNIFORM_REFERENCE = {"gini": 0.0, "entropy": 1.0, "n_eff_frac": 1.0}
BOUNDARY_FRACTION = 0.1  # the first / last share of the model's frames the boundary statistic looks at
UNIFORM_REFERENCE.update(boundary_first=BOUNDARY_FRACTION, boundary_last=BOUNDARY_FRACTION)


def k_name(p: float) -> str:
    """Column name of k@p: ``k_name(0.8) == 'k@0.8'``."""
    return f"k@{p:g}"


def uniform_reference(stat: str) -> float:
    """Value of a statistic under uniform attention (``k@p`` -> p); NaN when it depends on T."""
    if stat.startswith("k@"):
        return float(stat[2:])
    return UNIFORM_REFERENCE.get(stat, float("nan"))


def _normalise(weights) -> tuple[np.ndarray, np.ndarray]:
    """Weights as float array normalised along the last axis; also the frame counts T."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 0:
        raise ValueError("weights must have a frame axis")
    if (w < 0).any():  # NaN compares False
        raise ValueError("weights must be non-negative (take abs() of signed attributions)")
    n = (~np.isnan(w)).sum(-1)
    total = np.nansum(w, -1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(total > 0, w / total, np.nan)
    return w, n


def _sorted_cumulative(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights sorted decreasing (padding last, as 0) and their cumulative sums ``y_1..y_Tmax``."""
    s = -np.sort(-w, axis=-1)  # NaN sorts last in both directions
    s = np.nan_to_num(s, nan=0.0)
    return s, np.cumsum(s, axis=-1)


def concentration(weights, ps=DEFAULT_PS) -> dict[str, np.ndarray]:
    """Concentration statistics of weight vectors along the last axis (NaN = padding).

    Returns a dict of arrays of shape ``weights.shape[:-1]``: ``n_frames``, ``k@p`` for each p in
    ``ps``, ``gini``, ``entropy``, ``n_eff``, ``n_eff_frac``. Rows whose weights are all zero or all
    NaN give NaN. See the module docstring for the exact definitions.

    >>> w = np.array([[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]])
    >>> concentration(w, ps=(0.8,))["k@0.8"].round(4).tolist()
    [0.5, 0.8]
    """
    w, n = _normalise(weights)
    s, y = _sorted_cumulative(w)
    nf = n.astype(np.float64)
    bad = ~np.isfinite(w).any(-1) | (n == 0)
    out: dict[str, np.ndarray] = {"n_frames": n}
    idx = np.arange(w.shape[-1])
    for p in ps:
        if not 0.0 < p <= 1.0:
            raise ValueError(f"mass p must be in (0, 1], got {p}")
        # index (0-based) of the first frame whose cumulative mass reaches p; rounding below 1 is tolerated
        i = (y < p - 1e-12).sum(-1)
        i = np.minimum(i, np.maximum(n - 1, 0))
        y_prev = np.where(i > 0, np.take_along_axis(y, np.maximum(i - 1, 0)[..., None], -1)[..., 0], 0.0)
        s_i = np.take_along_axis(s, i[..., None], -1)[..., 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            n_star = i + np.clip((p - y_prev) / s_i, 0.0, 1.0)
            out[k_name(p)] = np.where(bad, np.nan, np.maximum(n_star, 1.0) / nf)
    real = idx < n[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        area = (np.where(real, y, 0.0).sum(-1) - 0.5) / nf
        out["gini"] = np.where(bad, np.nan, 2.0 * area - 1.0)
        wl = np.where(w > 0, w * np.log(np.where(w > 0, w, 1.0)), 0.0)
        ent = -np.nansum(wl, -1) / np.log(nf)
        out["entropy"] = np.where(bad | (n < 2), np.nan, ent)
        n_eff = 1.0 / np.nansum(w * w, -1)
        out["n_eff"] = np.where(bad, np.nan, n_eff)
        out["n_eff_frac"] = np.where(bad, np.nan, n_eff / nf)
    return out


def k_at(weights, p: float = HEADLINE_P) -> np.ndarray:
    """k@p alone (see :func:`concentration`).

    >>> float(k_at(np.full(5, 0.2), 0.8)), float(k_at([0, 0, 1, 0, 0], 0.8))
    (0.8, 0.2)
    """
    return concentration(weights, ps=(p,))[k_name(p)]


def coverage_curve(weights) -> tuple[np.ndarray, np.ndarray]:
    """Exact coverage curve of one weight vector: points ``(i / T, y_i)`` for ``i = 0..T``."""
    w, n = _normalise(weights)
    if w.ndim != 1:
        raise ValueError("coverage_curve takes one weight vector; use curve_on_grid for many")
    w = w[~np.isnan(w)]
    _, y = _sorted_cumulative(w)
    return np.arange(len(w) + 1) / len(w), np.concatenate([[0.0], y])


def curve_on_grid(weights, grid=101) -> np.ndarray:
    """Coverage curves of ``[..., T]`` weights (NaN padding) evaluated at the x values of ``grid``.

    ``grid`` is an array of fractions of frames in [0, 1] or a number of evenly spaced points. Uses
    the polyline of the module docstring, so curves of clips of any length share one x axis and can be
    averaged. Returns ``[..., len(grid)]``.

    >>> curve_on_grid([0.5, 0.5], grid=[0, 0.25, 0.5, 1]).tolist()
    [0.0, 0.25, 0.5, 1.0]
    """
    g = np.linspace(0.0, 1.0, int(grid)) if np.isscalar(grid) else np.asarray(grid, dtype=np.float64)
    w, n = _normalise(weights)
    s, y = _sorted_cumulative(w)
    y0 = np.concatenate([np.zeros(y.shape[:-1] + (1,)), y], -1)  # y_0 = 0
    s_pad = np.concatenate([s, np.zeros(s.shape[:-1] + (1,))], -1)
    u = g * n[..., None]  # position in frames
    i0 = np.minimum(np.floor(u).astype(np.int64), n[..., None])
    frac = u - i0
    val = np.take_along_axis(y0, i0, -1) + frac * np.take_along_axis(s_pad, i0, -1)
    bad = (n == 0) | ~np.isfinite(w).any(-1)
    return np.where(bad[..., None], np.nan, np.minimum(val, 1.0))


# ---------------------------------------------------------------------------------------------
# FrameTable level


def weight_columns(frames: pd.DataFrame, attributions: bool = False) -> list[str]:
    """The attention columns of a FrameTable (``att_mean`` first, then heads in natural order).

    With ``attributions=True`` the ``attr_*`` columns follow.
    """
    import re

    def natural(c: str):
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", c)]

    att = sorted((c for c in frames.columns if c.startswith("att_") and c != "att_mean"), key=natural)
    cols = (["att_mean"] if "att_mean" in frames.columns else []) + att
    if attributions:
        cols += sorted((c for c in frames.columns if c.startswith("attr_")), key=natural)
    return cols


def head_name(column: str) -> str:
    """Display name of a weight column: ``att_h1 -> 'h1'``, ``att_mean -> 'mean'``, ``attr_ig`` unchanged."""
    return column[4:] if column.startswith("att_") else column


def clip_keys(frames: pd.DataFrame) -> list[str]:
    """Columns identifying one clip of one run: run keys present in ``frames`` and ``clip_id``."""
    return [k for k in RUN_KEYS if k in frames.columns] + ["clip_id"]


def pad_by_clip(frames: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """Stack per-clip columns into a NaN-padded array ``[n_clips, T_max, len(columns)]``.

    Returns the clip index (one row per clip, key columns) and the array; frames are ordered by
    ``frame`` within each clip.
    """
    keys = clip_keys(frames)
    order = keys + (["frame"] if "frame" in frames.columns else [])
    f = frames.sort_values(order, kind="stable")
    codes = f.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    pos = f.groupby(keys, sort=False, dropna=False).cumcount().to_numpy()
    index = f.loc[:, keys].drop_duplicates().reset_index(drop=True)
    n_clips = int(codes.max()) + 1 if len(codes) else 0
    t_max = int(pos.max()) + 1 if len(pos) else 0
    arr = np.full((n_clips, t_max, len(columns)), np.nan)
    arr[codes, pos] = f[columns].to_numpy(dtype=np.float64, na_value=np.nan)
    return index, arr


def _weights_array(frames: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    index, arr = pad_by_clip(frames, columns)
    for j, c in enumerate(columns):
        if c.startswith("attr_"):
            arr[..., j] = np.abs(arr[..., j])
    return index, arr


def attach_meta(table: pd.DataFrame, clip_meta: pd.DataFrame | None) -> pd.DataFrame:
    """Left-join clip metadata (speaker, gender, emotion, ...) on the clip keys both tables share."""
    if clip_meta is None:
        return table
    keys = [k for k in clip_keys(table) if k in clip_meta.columns]
    extra = [c for c in clip_meta.columns if c not in table.columns or c in keys]
    return table.merge(clip_meta[extra].drop_duplicates(keys), on=keys, how="left")


def clip_metrics(
    frames: pd.DataFrame,
    columns: list[str] | None = None,
    ps=DEFAULT_PS,
    clip_meta: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per clip and weight column: ``n_frames``, ``k@p``..., ``gini``, ``entropy``, ``n_eff``, ``n_eff_frac``.

    ``columns`` defaults to :func:`weight_columns` (attention; pass ``attr_*`` names to include
    attributions, taken in absolute value). The ``head`` column holds :func:`head_name` of the
    weight column. ``clip_meta`` rows are joined on ``clip_id`` (and run keys when present).
    """
    columns = list(columns or weight_columns(frames))
    if not columns:
        raise ValueError("no att_* weight columns in the frame table")
    index, arr = _weights_array(frames, columns)
    res = concentration(np.moveaxis(arr, -1, 1), ps=ps)  # [clips, columns]
    parts = []
    for j, c in enumerate(columns):
        part = index.copy()
        part["head"] = head_name(c)
        for name, values in res.items():
            part[name] = values[:, j]
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    return attach_meta(out, clip_meta)


def summarize(
    metrics: pd.DataFrame,
    by=("head",),
    statistics: tuple[str, ...] | None = None,
    cluster: str | None = None,
    n_boot: int = stats.DEFAULT_N_BOOT,
    ci: float = stats.DEFAULT_CI,
    seed: int = stats.DEFAULT_SEED,
) -> pd.DataFrame:
    """Corpus summary of :func:`clip_metrics`: mean and bootstrap CI of each statistic per group.

    ``by`` names the grouping columns (any of emotion, speaker, gender, head, layer, pooler ... that
    the metrics table carries after :func:`attach_meta`). ``cluster=None`` resamples clips;
    ``cluster="speaker"`` resamples speakers (cluster bootstrap, the honest choice for acted corpora).
    Output, one row per group and statistic: the group columns, ``stat``, ``n_clips``, ``n_clusters``,
    ``mean``, ``median``, ``ci_low``, ``ci_high``, ``uniform`` (value under uniform attention),
    and the provenance columns ``resample`` (clip or the cluster column), ``n_boot``, ``ci``, ``seed``.
    """
    by = [by] if isinstance(by, str) else list(by)
    stat_names = list(statistics or [c for c in metrics.columns if c.startswith("k@")] + list(METRICS))
    missing = [c for c in by + stat_names + ([cluster] if cluster else []) if c not in metrics.columns]
    if missing:
        raise ValueError(f"metrics table lacks column(s) {missing}")
    rows = []
    groups = metrics.groupby(by, sort=True, dropna=False) if by else [((), metrics)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        for st in stat_names:
            v = g[st].to_numpy(dtype=np.float64)
            ok = ~np.isnan(v)
            cl = g[cluster].to_numpy()[ok] if cluster else None
            mean, lo, hi = stats.bootstrap_ci(v[ok], clusters=cl, n_boot=n_boot, ci=ci, seed=seed)
            rows.append({
                **dict(zip(by, key)), "stat": st, "n_clips": int(ok.sum()),
                "n_clusters": int(len(np.unique(cl.astype(str)))) if cluster else int(ok.sum()),
                "mean": float(mean), "median": float(np.median(v[ok])) if ok.any() else np.nan,
                "ci_low": float(lo), "ci_high": float(hi), "uniform": uniform_reference(st),
                "resample": cluster or "clip", "n_boot": n_boot, "ci": ci, "seed": seed,
            })
    return pd.DataFrame(rows)


def boundary_mass(weights, fraction: float = BOUNDARY_FRACTION) -> dict[str, float]:
    """Share of one head's attention on the first and the last ``fraction`` of the frames the model saw,
    and that share under uniform attention (``k / T`` with ``k = max(1, round(fraction T))``).

    A head whose ``last`` is far above ``uniform`` explains by position: it points at where the input
    stops (with trimmed silence, the end of Whisper's window) whatever was said (issue 28).

    >>> boundary_mass([0.0] * 18 + [0.5, 0.5])
    {'first': 0.0, 'last': 1.0, 'uniform': 0.1}
    >>> boundary_mass([1.0] * 20)["last"]
    0.1
    """
    w = np.asarray(weights, dtype=np.float64)
    T = len(w)
    if T == 0:
        return {"first": float("nan"), "last": float("nan"), "uniform": float("nan")}
    k = max(1, int(round(fraction * T)))
    total = w.sum()
    if not total > 0:
        return {"first": float("nan"), "last": float("nan"), "uniform": k / T}
    return {"first": float(w[:k].sum() / total), "last": float(w[T - k :].sum() / total), "uniform": k / T}


def boundary_table(frames: pd.DataFrame, columns: list[str] | None = None, fraction: float = BOUNDARY_FRACTION,
                   clip_meta: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per clip and attention column: ``boundary_first``, ``boundary_last`` (:func:`boundary_mass`
    over the frames the model saw: the ``model_input`` rows when the FrameTable has that column) and
    ``boundary_uniform``.

    >>> f = pd.DataFrame({"clip_id": "a", "frame": range(10), "att_h0": [0.0] * 9 + [1.0]})
    >>> boundary_table(f)[["head", "boundary_first", "boundary_last", "boundary_uniform"]].values.tolist()
    [['h0', 0.0, 1.0, 0.1]]
    """
    columns = [c for c in (columns or weight_columns(frames)) if c.startswith("att_")]
    f = frames
    if "model_input" in f.columns:
        f = f[f["model_input"].fillna(True).astype(bool)]
    keys = clip_keys(f)
    order = keys + (["frame"] if "frame" in f.columns else [])
    rows = []
    for key, g in f.sort_values(order, kind="stable").groupby(keys, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        for c in columns:
            b = boundary_mass(g[c].to_numpy(dtype=np.float64), fraction)
            rows.append({**dict(zip(keys, key)), "head": head_name(c), "n_frames_seen": len(g),
                         "boundary_first": b["first"], "boundary_last": b["last"], "boundary_uniform": b["uniform"]})
    out = pd.DataFrame(rows, columns=keys + ["head", "n_frames_seen", "boundary_first", "boundary_last",
                                             "boundary_uniform"])
    return attach_meta(out, clip_meta)


@dataclass
class CurveSet:
    """Coverage curves of many clips on one grid: ``index`` (clip keys, head, metadata), ``values [n, G]``."""

    index: pd.DataFrame
    grid: np.ndarray
    values: np.ndarray

    def __post_init__(self):
        assert self.values.shape == (len(self.index), len(self.grid)), "curve table shape mismatch"


def coverage_curves(
    frames: pd.DataFrame,
    columns: list[str] | None = None,
    grid=101,
    clip_meta: pd.DataFrame | None = None,
) -> CurveSet:
    """Coverage curve of every clip and weight column, resampled onto a common grid of frame fractions."""
    columns = list(columns or weight_columns(frames))
    g = np.linspace(0.0, 1.0, int(grid)) if np.isscalar(grid) else np.asarray(grid, dtype=np.float64)
    index, arr = _weights_array(frames, columns)
    vals = curve_on_grid(np.moveaxis(arr, -1, 1), g)  # [clips, columns, G]
    idx = pd.concat([index.assign(head=head_name(c)) for c in columns], ignore_index=True)
    values = np.concatenate([vals[:, j] for j in range(len(columns))], 0)
    idx = attach_meta(idx, clip_meta)
    return CurveSet(idx, g, values)


def summarize_curves(
    curves: CurveSet,
    by=("head",),
    cluster: str | None = None,
    n_boot: int = stats.DEFAULT_N_BOOT,
    ci: float = stats.DEFAULT_CI,
    seed: int = stats.DEFAULT_SEED,
) -> pd.DataFrame:
    """Mean coverage curve per group with a pointwise bootstrap CI (clips, or clusters of clips).

    Long table: group columns, ``x`` (fraction of frames), ``mean``, ``ci_low``, ``ci_high``,
    ``uniform`` (= x, the uniform-attention reference), ``n_clips``, ``resample``, ``n_boot``, ``seed``.
    """
    by = [by] if isinstance(by, str) else list(by)
    idx = curves.index.reset_index(drop=True)
    ok = ~np.isnan(curves.values).any(1)
    parts = []
    groups = idx[ok].groupby(by, sort=True, dropna=False) if by else [((), idx[ok])]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        v = curves.values[g.index.to_numpy()]
        cl = g[cluster].to_numpy() if cluster else None
        mean, lo, hi = stats.bootstrap_ci(v, clusters=cl, n_boot=n_boot, ci=ci, seed=seed)
        part = pd.DataFrame({"x": curves.grid, "mean": mean, "ci_low": lo, "ci_high": hi})
        for b, k in zip(by, key):
            part[b] = k
        part["uniform"] = curves.grid
        part["n_clips"] = len(g)
        part["resample"], part["n_boot"], part["seed"] = cluster or "clip", n_boot, seed
        parts.append(part)
    cols = by + ["x", "mean", "ci_low", "ci_high", "uniform", "n_clips", "resample", "n_boot", "seed"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def extreme_clips(metrics: pd.DataFrame, head: str = "mean", stat: str = "k@0.8", n: int = 5) -> pd.DataFrame:
    """The ``n`` most and ``n`` least concentrated clips by ``stat`` (small k@p = concentrated).

    Adds a ``rank`` column: ``"most concentrated"`` or ``"least concentrated"``.
    """
    m = metrics[metrics["head"] == head].dropna(subset=[stat]).sort_values(stat, kind="stable")
    most = m.head(n).assign(rank="most concentrated")
    least = m.tail(n).iloc[::-1].assign(rank="least concentrated")
    return pd.concat([most, least], ignore_index=True)
