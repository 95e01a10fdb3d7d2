"""The house style of every figure: fixed colours per emotion and per head, label order, the matplotlib
rc style, atomic saving, and the small table helpers both figure libraries share. No drawing here:
:mod:`explain_ser.plots` (matplotlib) and :mod:`explain_ser.plots_plotly` (plotly) draw with it.

>>> emotion_color("Anger") == emotion_color("angry")
True
>>> head_colors(["h1", "mean", "h0"])["mean"]
'#000000'
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)  # builders never need a display

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .ordering import natural_key  # noqa: E402

LEYGUE_POINT = (0.15, 0.80)  # 15 % of frames carry 80 % of the attention (Leygue et al.)

EMOTION_COLORS = {
    "neutral": "#7f7f7f",
    "calm": "#17becf",
    "happy": "#e6ab02",
    "sad": "#1f77b4",
    "angry": "#d62728",
    "fearful": "#9467bd",
    "disgust": "#2ca02c",
    "surprised": "#ff7f0e",
    "boredom": "#8c564b",
    "excited": "#e377c2",
    "frustrated": "#bcbd22",
    "contempt": "#393b79",
}
_EMOTION_ALIASES = {
    "neu": "neutral", "anger": "angry", "ang": "angry", "happiness": "happy", "hap": "happy", "joy": "happy",
    "sadness": "sad", "fear": "fearful", "fea": "fearful", "disgusted": "disgust", "dis": "disgust",
    "surprise": "surprised", "sur": "surprised", "bored": "boredom", "exc": "excited", "fru": "frustrated",
}
# Okabe-Ito, colour-blind safe, the yellow last (weak on white)
HEAD_PALETTE = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#999999", "#F0E442",
                "#882255", "#44AA99", "#332288", "#AA4499")
UNIFORM_STYLE = {"color": "#555555", "linestyle": "--", "linewidth": 1.0}
STYLE = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8, "xtick.labelsize": 8,
    "ytick.labelsize": 8, "axes.spines.top": False, "axes.spines.right": False, "savefig.dpi": 200,
    "pdf.fonttype": 42, "svg.fonttype": "none",
}


def emotion_color(name) -> str:
    """Fixed colour of an emotion label (case and corpus spelling insensitive); unknown -> from a hash."""
    key = str(name).strip().lower()
    key = _EMOTION_ALIASES.get(key, key)
    if key in EMOTION_COLORS:
        return EMOTION_COLORS[key]
    return HEAD_PALETTE[sum(map(ord, key)) % len(HEAD_PALETTE)]


def head_colors(heads) -> dict[str, str]:
    """Colour per head name: ``mean`` black, the others in natural order from :data:`HEAD_PALETTE`."""
    names = sorted({str(h) for h in heads} - {"mean"}, key=natural_key)
    out = {"mean": "#000000"}
    out.update({h: HEAD_PALETTE[i % len(HEAD_PALETTE)] for i, h in enumerate(names)})
    return out


def group_colors(column: str, values) -> dict[str, str]:
    """Colours for the groups of a ``by`` column: emotions and heads get their fixed colours."""
    values = list(dict.fromkeys(str(v) for v in values))
    if column in ("emotion", "predicted"):
        return {v: emotion_color(v) for v in values}
    if column == "head":
        return head_colors(values)
    return {v: HEAD_PALETTE[i % len(HEAD_PALETTE)] for i, v in enumerate(sorted(values, key=natural_key))}


def ordered(column: str, values) -> list[str]:
    vals = list(dict.fromkeys(str(v) for v in values))
    if column == "head":
        return ["mean"] * ("mean" in vals) + sorted(set(vals) - {"mean"}, key=natural_key)
    return sorted(vals, key=natural_key)


def new_figure(width=3.5, height=2.8, **kw) -> Figure:
    with matplotlib.rc_context(STYLE):
        return Figure(figsize=(width, height), layout="constrained", **kw)


def save_figure(fig: Figure, path, **kw) -> None:
    """Save with the house style (constrained layout, 200 dpi for raster, TrueType fonts embedded in PDF).

    Atomically (temporary file beside ``path``, then rename): a run killed while a PNG is being
    written must not leave a truncated image under the final name.
    """
    from .atomic import temporary_beside

    if not isinstance(path, (str, os.PathLike)):  # a file object: the caller owns atomicity
        with matplotlib.rc_context(STYLE):
            fig.savefig(path, **kw)
        return
    kw.setdefault("format", Path(path).suffix.lstrip(".").lower() or None)
    with temporary_beside(path, suffix=".tmp" + Path(path).suffix) as tmp, matplotlib.rc_context(STYLE):
        fig.savefig(tmp, **kw)




def family_colors(families) -> dict[str, str]:
    """Colour per category family, in order of first appearance."""
    return {f: HEAD_PALETTE[i % len(HEAD_PALETTE)] for i, f in enumerate(dict.fromkeys(map(str, families)))}


def confusion_shares(confusion: pd.DataFrame, normalize: bool) -> tuple[np.ndarray, np.ndarray]:
    """Counts and what a cell shows: the row share, NaN for a row without clips (a class no clip has)."""
    counts = confusion.to_numpy(dtype=float)
    if not normalize:
        return counts, counts
    totals = counts.sum(1, keepdims=True)
    return counts, np.divide(counts, totals, out=np.full_like(counts, np.nan), where=totals > 0)


def confusion_cell(counts, shown, i, j, normalize: bool, multiline: bool = False) -> str:
    if not normalize:
        return f"{int(counts[i, j])}"
    if not np.isfinite(shown[i, j]):  # no clip of this true class: there is no share to show
        return "–"
    pct, n = f"{100 * shown[i, j]:.0f}", int(counts[i, j])
    return f"{pct}\n({n})" if multiline else f"{pct} % ({n})"


SUMMARY_STATS = ("k@0.8", "gini", "entropy", "n_eff_frac")
STAT_LABELS = {"k@0.5": "k@0.5 (frames for 50 % of the mass)", "k@0.8": "k@0.8 (frames for 80 % of the mass)",
               "k@0.9": "k@0.9 (frames for 90 % of the mass)", "gini": "Gini (0 = uniform)",
               "entropy": "normalised entropy (1 = uniform)", "n_eff_frac": "effective frames / frames (1 = uniform)"}


def summary_panels(summary: pd.DataFrame, stats) -> tuple[list[str], list[str]]:
    """Statistics present (in ``stats`` order) and heads (mean first) of a per-head coverage summary."""
    s = summary[summary["grouping"] == "head"] if "grouping" in summary else summary
    present = [st for st in stats if (s["stat"] == st).any()]
    return present, ordered("head", s["head"].astype(str))
