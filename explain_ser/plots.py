"""Figure builders: data in, figure out. Matplotlib for print (PNG/PDF), plotly for the HTML report.

Each ``*_figure`` returns a :class:`matplotlib.figure.Figure` (built without pyplot, so no global
state and no display needed); each ``*_plotly`` returns a :class:`plotly.graph_objects.Figure`.
Nothing here computes statistics: the inputs are the tables of :mod:`explain_ser.coverage` and
:mod:`explain_ser.enrichment` (their column names are the contract). Colours are fixed per emotion
(:data:`EMOTION_COLORS`, with aliases for corpus spellings) and per head (:func:`head_colors`: the
mean over heads is always black), so every figure of a paper or report agrees.

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


_natural = natural_key  # the explorer's old name; use explain_ser.ordering.natural_key


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


def _order(column: str, values) -> list[str]:
    vals = list(dict.fromkeys(str(v) for v in values))
    if column == "head":
        return ["mean"] * ("mean" in vals) + sorted(set(vals) - {"mean"}, key=natural_key)
    return sorted(vals, key=natural_key)


def _new(width=3.5, height=2.8, **kw) -> Figure:
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


# ---------------------------------------------------------------------------------------------
# matplotlib


def coverage_figure(curves: pd.DataFrame, by: str = "emotion", title: str | None = None,
                    leygue: bool = True, ax=None) -> Figure:
    """Mean coverage curve per group with its CI band, the uniform diagonal and Leygue's 15 %/80 % point.

    ``curves``: :func:`explain_ser.coverage.summarize_curves` output (``by, x, mean, ci_low, ci_high``).
    """
    with matplotlib.rc_context(STYLE):
        fig = ax.figure if ax is not None else _new(3.6, 3.2)
        ax = ax or fig.add_subplot()
        colors = group_colors(by, curves[by].astype(str))
        for g in _order(by, curves[by].astype(str)):
            d = curves[curves[by].astype(str) == g]
            ax.fill_between(d["x"], d["ci_low"], d["ci_high"], color=colors[g], alpha=0.2, linewidth=0)
            ax.plot(d["x"], d["mean"], color=colors[g], linewidth=1.4, label=g)
        ax.plot([0, 1], [0, 1], label="uniform", **UNIFORM_STYLE)
        if leygue:
            ax.plot(*LEYGUE_POINT, marker="o", color="#444444", markerfacecolor="white", linestyle="none",
                    label="15 % / 80 % (Leygue et al.)")
        ax.axhline(0.8, color="#bbbbbb", linewidth=0.6, zorder=0)
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="fraction of frames (sorted by weight)",
               ylabel="cumulative attention mass", title=title)
        ax.set_aspect("equal")
        ax.legend(loc="lower right", frameon=False, title=by)
    return fig


def k_distribution_figure(metrics: pd.DataFrame, by: str = "emotion", stat: str = "k@0.8",
                          head: str | None = "mean", title: str | None = None) -> Figure:
    """Per-clip distribution of ``stat`` (default k@0.8) per group: box plot plus jittered clips.

    ``metrics``: :func:`explain_ser.coverage.clip_metrics` output (with metadata attached).
    """
    m = metrics if head is None or by == "head" else metrics[metrics["head"] == head]
    groups = _order(by, m[by].astype(str))
    colors = group_colors(by, groups)
    with matplotlib.rc_context(STYLE):
        fig = _new(max(3.0, 0.45 * len(groups) + 1.2), 2.8)
        ax = fig.add_subplot()
        data = [m.loc[m[by].astype(str) == g, stat].dropna().to_numpy() for g in groups]
        bp = ax.boxplot(data, positions=np.arange(len(groups)), widths=0.6, showfliers=False, patch_artist=True)
        for patch, g in zip(bp["boxes"], groups):
            patch.set(facecolor=colors[g], alpha=0.35, edgecolor=colors[g])
        for med in bp["medians"]:
            med.set(color="black")
        rng = np.random.default_rng(0)  # jitter only, fixed for identical figures
        for i, (g, d) in enumerate(zip(groups, data)):
            ax.scatter(i + rng.uniform(-0.18, 0.18, len(d)), d, s=5, color=colors[g], alpha=0.7, linewidth=0)
        if stat.startswith("k@"):
            ax.axhline(float(stat[2:]), label=f"uniform ({stat} = {float(stat[2:]):g})", **UNIFORM_STYLE)
            if stat == "k@0.8":
                ax.axhline(LEYGUE_POINT[0], color="#444444", linestyle=":", linewidth=1.0, label="0.15 (Leygue et al.)")
            ax.set_ylim(0, 1)
            ax.legend(loc="upper right", frameon=False)
        ax.set_xticks(np.arange(len(groups)), groups, rotation=30 if len(groups) > 4 else 0, ha="right"
                      if len(groups) > 4 else "center")
        ylabel = f"{stat} (fraction of frames)" if stat.startswith("k@") else stat
        ax.set(ylabel=ylabel, xlabel=by, title=title)
    return fig


def enrichment_figure(table: pd.DataFrame, head: str = "mean", value: str = "enrichment",
                      families=None, title: str | None = None, max_rows: int = 60) -> Figure:
    """Horizontal bars of log2 enrichment (or ``value="lift"`` for top-frame composition) per category.

    Bars are coloured by family (legend below). Whiskers: bootstrap CI; grey band: circular-shift
    null interval; dashed line: uniform (= 1); stars: BH-adjusted significance against the shift null.
    ``table``: :func:`explain_ser.enrichment.enrichment` output; ``families`` selects rows.
    """
    from matplotlib.patches import Patch

    t = table[table["head"] == head] if "head" in table else table
    if families is not None:
        t = t[t["family"].isin(list(families))]
    t = t.dropna(subset=[value]).head(max_rows).iloc[::-1]
    fam_colors = family_colors(table["family"]) if "family" in table else {}

    def lg2(col):
        return np.log2(np.clip(t[col].to_numpy(float), 1e-3, None))

    with matplotlib.rc_context(STYLE):
        fig = _new(5.0, max(2.0, 0.17 * len(t) + 1.3))
        ax = fig.add_subplot()
        y = np.arange(len(t))
        v, lo, hi = lg2(value), lg2("ci_low"), lg2("ci_high")
        handles = []
        if {"null_low", "null_high"} <= set(t.columns):
            nl, nh = lg2("null_low"), lg2("null_high")
            ax.barh(y, nh - nl, left=nl, height=0.8, color="#dddddd", zorder=0)
            handles.append(Patch(color="#dddddd", label="shift null (95 %)"))
        fams = list(t["family"]) if "family" in t else ["category"] * len(t)
        ax.barh(y, v, height=0.55, color=[fam_colors.get(f, "#0072B2") for f in fams], alpha=0.9)
        ax.errorbar(v, y, xerr=[np.clip(np.nan_to_num(v - lo), 0, None), np.clip(np.nan_to_num(hi - v), 0, None)], fmt="none", ecolor="black",
                    elinewidth=0.8, capsize=1.5)
        ax.axvline(0, **UNIFORM_STYLE)
        handles.append(matplotlib.lines.Line2D([], [], label="uniform (= 1)", **UNIFORM_STYLE))
        handles += [Patch(color=fam_colors[f], label=f) for f in dict.fromkeys(fams[::-1]) if f in fam_colors]
        marks = t["mark"].fillna("").astype(str).to_numpy() if "mark" in t else [""] * len(t)
        finite = np.concatenate([hi[np.isfinite(hi)], v[np.isfinite(v)], [0.5]])
        xmax = float(np.max(finite))
        for yi, mk in zip(y, marks):
            if mk:
                ax.text(xmax + 0.08, yi, mk, va="center", fontsize=8)
        ax.set_yticks(y, [str(c) for c in t["category"]])
        ax.set_ylim(-0.7, len(t) - 0.3)
        ax.set_xlim(right=xmax + 0.5)
        xl = "log2 top-frame lift (top share / frame share)" if value == "lift" else \
            "log2 enrichment (attention share / frame share)"
        ax.set(xlabel=xl, title=title)
        fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
    return fig


def family_colors(families) -> dict[str, str]:
    """Colour per category family, in order of first appearance."""
    return {f: HEAD_PALETTE[i % len(HEAD_PALETTE)] for i, f in enumerate(dict.fromkeys(map(str, families)))}


def prosody_figure(summary: pd.DataFrame, per_clip: pd.DataFrame | None = None, head: str = "mean",
                   title: str | None = None) -> Figure:
    """Per-clip Spearman rho of attention with each prosody track, mean with CI and shift-null band."""
    s = summary[summary["head"] == head] if len(summary) else summary
    tracks = list(s["track"]) if len(s) else []
    with matplotlib.rc_context(STYLE):
        fig = _new(max(2.6, 0.9 * len(tracks) + 1.0), 2.8)
        ax = fig.add_subplot()
        for i, tr in enumerate(tracks):
            row = s[s["track"] == tr].iloc[0]
            ax.add_patch(matplotlib.patches.Rectangle((i - 0.35, row["null_low"]), 0.7,
                         row["null_high"] - row["null_low"], color="#dddddd", zorder=0,
                         label="shift null (95 %)" if i == 0 else None))
            if per_clip is not None and len(per_clip):
                d = per_clip[(per_clip["head"] == head) & (per_clip["track"] == tr)]["rho"].dropna()
                jit = np.random.default_rng(0).uniform(-0.25, 0.25, len(d))
                ax.scatter(i + jit, d, s=4, color=HEAD_PALETTE[i], alpha=0.4, linewidth=0)
            err = [[row["mean_rho"] - row["ci_low"]], [row["ci_high"] - row["mean_rho"]]]
            ax.errorbar(i, row["mean_rho"], yerr=err, fmt="o", color="black", capsize=3, markersize=4)
            mark = row.get("mark", "")
            if isinstance(mark, str) and mark:
                ax.text(i, row["ci_high"] + 0.05, mark, ha="center", fontsize=8)
        ax.axhline(0, **UNIFORM_STYLE)
        ax.set_xticks(np.arange(len(tracks)), tracks)
        ax.set(ylabel="Spearman rho (attention, track)", ylim=(-1, 1), xlim=(-0.6, len(tracks) - 0.4), title=title)
        if tracks:
            ax.legend(loc="lower right", frameon=False)
    return fig


def confusion_figure(confusion: pd.DataFrame, normalize: bool = True, title: str | None = None) -> Figure:
    """Confusion matrix heat map; ``confusion`` has true labels as index, predictions as columns (counts).

    With ``normalize`` each row is divided by its total (recall on the diagonal) and the cell shows
    the percentage above the count.
    """
    counts, shown = _confusion_shares(confusion, normalize)
    n = len(confusion)
    with matplotlib.rc_context(STYLE):
        fig = _new(0.45 * n + 1.8, 0.45 * n + 1.4)
        ax = fig.add_subplot()
        im = ax.imshow(np.nan_to_num(shown), cmap="Blues", vmin=0, vmax=1 if normalize else None)
        for i in range(n):
            for j in range(confusion.shape[1]):
                txt = _confusion_cell(counts, shown, i, j, normalize, multiline=True)
                dark = np.nan_to_num(shown[i, j]) > (0.6 if normalize else np.nanmax(shown) * 0.6)
                ax.text(j, i, txt, ha="center", va="center", fontsize=6, color="white" if dark else "black")
        ax.set_xticks(range(confusion.shape[1]), [str(c) for c in confusion.columns], rotation=45, ha="right")
        ax.set_yticks(range(n), [str(c) for c in confusion.index])
        ax.set(xlabel="predicted", ylabel="true", title=title)
        fig.colorbar(im, ax=ax, shrink=0.8, label="row %" if normalize else "clips")
    return fig


def _confusion_shares(confusion: pd.DataFrame, normalize: bool) -> tuple[np.ndarray, np.ndarray]:
    """Counts and what a cell shows: the row share, NaN for a row without clips (a class no clip has)."""
    counts = confusion.to_numpy(dtype=float)
    if not normalize:
        return counts, counts
    totals = counts.sum(1, keepdims=True)
    return counts, np.divide(counts, totals, out=np.full_like(counts, np.nan), where=totals > 0)


def _confusion_cell(counts, shown, i, j, normalize: bool, multiline: bool = False) -> str:
    if not normalize:
        return f"{int(counts[i, j])}"
    if not np.isfinite(shown[i, j]):  # no clip of this true class: there is no share to show
        return "–"
    pct, n = f"{100 * shown[i, j]:.0f}", int(counts[i, j])
    return f"{pct}\n({n})" if multiline else f"{pct} % ({n})"


def deletion_figure(curves: pd.DataFrame, value: str = "score", title: str | None = None) -> Figure:
    """Deletion (or insertion) curves: ``value`` against the fraction of frames removed, one line per method.

    ``curves`` columns: ``method``, ``fraction``, ``value`` and optionally ``curve`` (deletion /
    insertion, drawn dashed for insertion), ``ci_low``/``ci_high``.
    """
    kinds = list(dict.fromkeys(curves["curve"])) if "curve" in curves else [None]
    methods = _order("method", curves["method"].astype(str))
    colors = {m: HEAD_PALETTE[i % len(HEAD_PALETTE)] for i, m in enumerate(methods)}
    with matplotlib.rc_context(STYLE):
        fig = _new(3.6, 2.8)
        ax = fig.add_subplot()
        for kind in kinds:
            for m in methods:
                d = curves[curves["method"].astype(str) == m]
                if kind is not None:
                    d = d[d["curve"] == kind]
                d = d.sort_values("fraction")
                if not len(d):
                    continue
                ls = "--" if kind == "insertion" else "-"
                if {"ci_low", "ci_high"} <= set(d.columns):
                    ax.fill_between(d["fraction"], d["ci_low"], d["ci_high"], color=colors[m], alpha=0.15, linewidth=0)
                ax.plot(d["fraction"], d[value], color=colors[m], linestyle=ls,
                        label=m if kind is None else f"{m} ({kind})")
        ax.set(xlabel="fraction of frames removed (most important first)", ylabel=value, xlim=(0, 1), title=title)
        ax.legend(frameon=False)
    return fig


def agreement_figure(agreement: pd.DataFrame, title: str | None = None, top_fraction: float = 0.15) -> Figure:
    """Per-clip agreement of attention with attribution methods: Spearman rho and top-frame Jaccard."""
    methods = _order("method", agreement["method"].astype(str)) if len(agreement) else []
    with matplotlib.rc_context(STYLE):
        fig = _new(5.0, 2.6)
        axes = fig.subplots(1, 2)
        for ax, col, label in ((axes[0], "spearman", "Spearman rho (attention, |attribution|)"),
                               (axes[1], "top_overlap", f"Jaccard of top {100 * top_fraction:.0f} % frames")):
            for i, m in enumerate(methods):
                d = agreement.loc[agreement["method"].astype(str) == m, col].dropna()
                ax.hist(d, bins=np.linspace(-1 if col == "spearman" else 0, 1, 21), alpha=0.5,
                        color=HEAD_PALETTE[i % len(HEAD_PALETTE)], label=m)
            ref = 0.0 if col == "spearman" else top_fraction / (2 - top_fraction)
            ax.axvline(ref, label="chance", **UNIFORM_STYLE)
            ax.set(xlabel=label, ylabel="clips")
        axes[0].legend(frameon=False)
        if title:
            fig.suptitle(title)
    return fig


SUMMARY_STATS = ("k@0.8", "gini", "entropy", "n_eff_frac")
STAT_LABELS = {"k@0.5": "k@0.5 (frames for 50 % of the mass)", "k@0.8": "k@0.8 (frames for 80 % of the mass)",
               "k@0.9": "k@0.9 (frames for 90 % of the mass)", "gini": "Gini (0 = uniform)",
               "entropy": "normalised entropy (1 = uniform)", "n_eff_frac": "effective frames / frames (1 = uniform)"}


def _summary_panels(summary: pd.DataFrame, stats) -> tuple[list[str], list[str]]:
    """Statistics present (in ``stats`` order) and heads (mean first) of a per-head coverage summary."""
    s = summary[summary["grouping"] == "head"] if "grouping" in summary else summary
    present = [st for st in stats if (s["stat"] == st).any()]
    return present, _order("head", s["head"].astype(str))


def coverage_summary_figure(summary: pd.DataFrame, stats=SUMMARY_STATS, title: str | None = None) -> Figure:
    """One panel per concentration statistic: mean per head with its CI, the uniform value dashed.

    ``summary``: :func:`explain_ser.coverage.summarize` output by head (the report's
    ``coverage_summary`` rows with ``grouping == "head"``). k@0.8 also shows Leygue's 0.15.
    """
    s = summary[summary["grouping"] == "head"] if "grouping" in summary else summary
    present, heads = _summary_panels(summary, stats)
    colors = head_colors(heads)
    with matplotlib.rc_context(STYLE):
        fig = _new(max(3.0, 2.1 * len(present)), max(2.4, 0.16 * len(heads) + 1.2))
        axes = np.atleast_1d(fig.subplots(1, max(1, len(present)), sharey=True))
        y = np.arange(len(heads))[::-1]  # mean on top
        for ax, st in zip(axes, present):
            d = s[s["stat"] == st].set_index(s.loc[s["stat"] == st, "head"].astype(str)).reindex(heads)
            m, lo, hi = (d[c].to_numpy(float) for c in ("mean", "ci_low", "ci_high"))
            ax.errorbar(m, y, xerr=[np.nan_to_num(m - lo), np.nan_to_num(hi - m)], fmt="none", ecolor="#777777",
                        elinewidth=0.8, capsize=1.5)
            ax.scatter(m, y, c=[colors[h] for h in heads], s=14, zorder=3)
            ref = float(d["uniform"].dropna().iloc[0]) if "uniform" in d and d["uniform"].notna().any() else None
            if ref is not None:
                ax.axvline(ref, label="uniform", **UNIFORM_STYLE)
            if st == "k@0.8":
                ax.axvline(LEYGUE_POINT[0], color="#444444", linestyle=":", linewidth=1.0, label="Leygue et al.")
            ax.set(xlim=(0, 1.02), xlabel=st)
            ax.set_title(STAT_LABELS.get(st, st).replace(" (", "\n("), fontsize=8)
        axes[0].set_yticks(y, heads)
        axes[0].set_ylim(-0.6, len(heads) - 0.4)
        handles = [matplotlib.lines.Line2D([], [], label="uniform attention", **UNIFORM_STYLE),
                   matplotlib.lines.Line2D([], [], color="#444444", linestyle=":", linewidth=1.0,
                                           label="0.15 (Leygue et al.)")]
        fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
        if title:
            fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------------------------
# plotly (interactive, for the HTML report)


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"


def _layout(fig, title, xlabel, ylabel, **kw):
    fig.update_layout(title=title, template="simple_white", xaxis_title=xlabel, yaxis_title=ylabel,
                      margin=dict(l=60, r=20, t=50, b=50), legend=dict(font=dict(size=11)), **kw)
    return fig


def coverage_plotly(curves: pd.DataFrame | None = None, by: str = "emotion", title: str | None = None,
                    leygue: bool = True, *, clips=None, clip_colors=None, median_k: float | None = None,
                    clip_prefix: str = "this clip: ", reference_label: str = "corpus", height: int = 480,
                    width: int | None = 560):
    """Coverage curves against the uniform diagonal, Leygue's 15 %/80 % point and the 80 % line.

    The one plotly coverage figure: the report, the explorer's corpus view, its clip view and its
    compare view all call this, so the references are drawn the same way everywhere.

    * ``curves``: :func:`explain_ser.coverage.summarize_curves` rows (``by, x, mean, ci_low,
      ci_high``), drawn as mean lines with CI bands in the fixed colours of ``by``.
    * ``clips``: ``{label: weights}`` of single clips (1-D attention of one head, or of one run);
      each is drawn as its exact curve (:func:`explain_ser.coverage.coverage_curve`). Colours come
      from ``clip_colors`` or :func:`head_colors` (``mean`` black); trace names are ``clip_prefix``
      + label (pass ``""`` when the labels already say what they are). With clips present, ``curves`` is
      the background: drawn grey and named ``"<reference_label> <group>"``.
    * ``median_k``: a corpus median k@0.8, marked at (k, 0.8).

    ``width=None`` lets the container size the figure (Streamlit).

    >>> w = np.array([0.7, 0.1, 0.1, 0.1])
    >>> fig = coverage_plotly(clips={"mean": w}, median_k=0.4)
    >>> [d.name for d in fig.data]
    ['this clip: mean', 'uniform', '15 % / 80 % (Leygue et al.)', 'corpus median k@0.8 (0.40)']
    """
    import plotly.graph_objects as go

    from .coverage import coverage_curve

    fig = go.Figure()
    clips = dict(clips or {})
    if curves is not None and len(curves):
        keys = curves[by].astype(str)
        colors = group_colors(by, keys)
        for g in _order(by, keys):
            d = curves[keys == g]
            # against single clips the corpus is context, not the subject: one quiet grey
            color = "#888888" if clips else colors[g]
            name = f"{reference_label} {g}" if clips else g
            fig.add_trace(go.Scatter(x=np.concatenate([d["x"], d["x"][::-1]]),
                                     y=np.concatenate([d["ci_high"], d["ci_low"][::-1]]), fill="toself",
                                     fillcolor=_rgba(color, 0.18), line=dict(width=0), hoverinfo="skip",
                                     showlegend=False, legendgroup=name))
            fig.add_trace(go.Scatter(x=d["x"], y=d["mean"], name=name, legendgroup=name,
                                     line=dict(color=color, width=2),
                                     hovertemplate="%{x:.2f} of frames -> %{y:.3f} mass"))
    if clips:
        colors = dict(head_colors(list(clips)), **(clip_colors or {}))
        for label, w in clips.items():
            x, y = coverage_curve(w)
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=f"{clip_prefix}{label}",
                                     line=dict(color=colors.get(label, "#0072B2"),
                                               width=2.4 if label == "mean" else 1.4),
                                     hovertemplate="%{x:.2f} of frames -> %{y:.3f} mass"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], name="uniform", mode="lines", line=dict(color="#555", dash="dash")))
    if leygue:
        fig.add_trace(go.Scatter(x=[LEYGUE_POINT[0]], y=[LEYGUE_POINT[1]], mode="markers",
                                 name="15 % / 80 % (Leygue et al.)",
                                 marker=dict(symbol="circle-open", size=9, color="#444")))
    if median_k is not None and np.isfinite(median_k):
        fig.add_trace(go.Scatter(x=[median_k], y=[0.8], mode="markers", name=f"corpus median k@0.8 ({median_k:.2f})",
                                 marker=dict(symbol="diamond", size=10, color="#888")))
    fig.add_hline(y=0.8, line=dict(color="#ccc", width=0.8))  # k@0.8 is where a curve crosses this line
    size = dict(height=height) if width is None else dict(height=height, width=width)
    return _layout(fig, title, "fraction of frames (sorted by weight)", "cumulative attention mass",
                   xaxis=dict(range=[0, 1]), yaxis=dict(range=[0, 1.01]), **size)


def k_distribution_plotly(metrics: pd.DataFrame, by: str = "emotion", stat: str = "k@0.8",
                          head: str | None = "mean", title: str | None = None):
    """Interactive version of :func:`k_distribution_figure` (hover shows the clip id)."""
    import plotly.graph_objects as go

    m = metrics if head is None or by == "head" else metrics[metrics["head"] == head]
    groups = _order(by, m[by].astype(str))
    colors = group_colors(by, groups)
    fig = go.Figure()
    for g in groups:
        d = m[m[by].astype(str) == g]
        fig.add_trace(go.Box(y=d[stat], name=g, boxpoints="all", jitter=0.4, pointpos=0, marker=dict(size=3),
                             line=dict(color=colors[g]), text=d["clip_id"].astype(str),
                             hovertemplate="%{text}: %{y:.3f}<extra></extra>"))
    if stat.startswith("k@"):
        fig.add_hline(y=float(stat[2:]), line=dict(color="#555", dash="dash"),
                      annotation_text=f"uniform ({float(stat[2:]):g})")
        if stat == "k@0.8":
            fig.add_hline(y=LEYGUE_POINT[0], line=dict(color="#444", dash="dot"), annotation_text="0.15 (Leygue)")
    return _layout(fig, title, by, f"{stat} (fraction of frames)" if stat.startswith("k@") else stat,
                   showlegend=False, yaxis=dict(range=[0, 1]) if stat.startswith("k@") else {}, height=420)


def enrichment_plotly(table: pd.DataFrame, head: str = "mean", value: str = "enrichment", families=None,
                      title: str | None = None, max_rows: int = 60):
    """Interactive version of :func:`enrichment_figure` (log2 axis; hover shows shares, p and q)."""
    import plotly.graph_objects as go

    t = table[table["head"] == head] if "head" in table else table
    if families is not None:
        t = t[t["family"].isin(list(families))]
    t = t.dropna(subset=[value]).head(max_rows).iloc[::-1]
    lab = [f"{c} [{f}]" for f, c in zip(t["family"], t["category"])]
    v = np.log2(np.clip(t[value].astype(float), 1e-3, None))
    lo = np.log2(np.clip(t["ci_low"].astype(float), 1e-3, None))
    hi = np.log2(np.clip(t["ci_high"].astype(float), 1e-3, None))
    fig = go.Figure()
    if {"null_low", "null_high"} <= set(t.columns):
        nl = np.log2(np.clip(t["null_low"].astype(float), 1e-3, None))
        nh = np.log2(np.clip(t["null_high"].astype(float), 1e-3, None))
        fig.add_trace(go.Bar(y=lab, x=nh - nl, base=nl, orientation="h", marker_color="#dddddd",
                             name="shift null (95 %)", hoverinfo="skip", width=0.8))
    marks = t["mark"].astype(object).where(t["mark"].notna(), "").astype(str) if "mark" in t else [""] * len(t)
    fam_colors = family_colors(table["family"])
    fig.add_trace(go.Bar(
        y=lab, x=v, orientation="h", name=value, width=0.5, marker_color=[fam_colors[f] for f in t["family"]],
        error_x=dict(type="data", symmetric=False, array=np.nan_to_num(hi - v), arrayminus=np.nan_to_num(v - lo)),
        text=list(marks), textposition="outside",
        customdata=np.stack([t[value], t.get("p", np.nan * v), t.get("q", np.nan * v)], 1),
        hovertemplate="%{y}: " + value + " %{customdata[0]:.2f}, p %{customdata[1]:.3g}, q %{customdata[2]:.3g}"
                      "<extra></extra>"))
    fig.add_vline(x=0, line=dict(color="#555", dash="dash"))
    xl = "log2 top-frame lift" if value == "lift" else "log2 enrichment (attention share / frame share)"
    return _layout(fig, title, xl, None, barmode="overlay", height=max(300, 18 * len(t) + 120))


def prosody_plotly(summary: pd.DataFrame, per_clip: pd.DataFrame | None = None, head: str = "mean",
                   title: str | None = None):
    """Interactive version of :func:`prosody_figure`."""
    import plotly.graph_objects as go

    fig = go.Figure()
    s = summary[summary["head"] == head] if len(summary) else summary
    for i, (_, row) in enumerate(s.iterrows()):
        if per_clip is not None and len(per_clip):
            d = per_clip[(per_clip["head"] == head) & (per_clip["track"] == row["track"])]
            fig.add_trace(go.Box(y=d["rho"], name=row["track"], boxpoints="all", jitter=0.4, pointpos=0,
                                 marker=dict(size=3, color=HEAD_PALETTE[i]), text=d["clip_id"].astype(str),
                                 showlegend=False))
        fig.add_shape(type="rect", x0=i - 0.4, x1=i + 0.4, y0=row["null_low"], y1=row["null_high"],
                      fillcolor="#dddddd", line=dict(width=0), layer="below")
        fig.add_trace(go.Scatter(x=[row["track"]], y=[row["mean_rho"]], mode="markers+text",
                                 text=[row.get("mark", "")], textposition="top center", showlegend=False,
                                 marker=dict(color="black", size=8),
                                 error_y=dict(type="data", symmetric=False, array=[row["ci_high"] - row["mean_rho"]],
                                              arrayminus=[row["mean_rho"] - row["ci_low"]])))
    fig.add_hline(y=0, line=dict(color="#555", dash="dash"))
    return _layout(fig, title, "prosody track", "Spearman rho (attention, track)", yaxis=dict(range=[-1, 1]),
                   height=400)


def confusion_plotly(confusion: pd.DataFrame, normalize: bool = True, title: str | None = None):
    """Interactive version of :func:`confusion_figure`."""
    import plotly.graph_objects as go

    counts, shown = _confusion_shares(confusion, normalize)
    text = [[_confusion_cell(counts, shown, i, j, normalize) for j in range(counts.shape[1])]
            for i in range(counts.shape[0])]
    fig = go.Figure(go.Heatmap(z=np.nan_to_num(shown), x=[str(c) for c in confusion.columns],
                               y=[str(c) for c in confusion.index], colorscale="Blues", text=text,
                               texttemplate="%{text}", zmin=0, zmax=1 if normalize else None))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, "predicted", "true", height=120 + 40 * len(confusion), width=200 + 50 * counts.shape[1])


def deletion_plotly(curves: pd.DataFrame, value: str = "score", title: str | None = None):
    """Interactive version of :func:`deletion_figure`."""
    import plotly.graph_objects as go

    fig = go.Figure()
    methods = _order("method", curves["method"].astype(str))
    colors = {m: HEAD_PALETTE[i % len(HEAD_PALETTE)] for i, m in enumerate(methods)}
    kinds = list(dict.fromkeys(curves["curve"])) if "curve" in curves else [None]
    for kind in kinds:
        for m in methods:
            d = curves[curves["method"].astype(str) == m]
            d = (d if kind is None else d[d["curve"] == kind]).sort_values("fraction")
            if len(d):
                fig.add_trace(go.Scatter(x=d["fraction"], y=d[value], name=m if kind is None else f"{m} ({kind})",
                                         line=dict(color=colors[m], dash="dash" if kind == "insertion" else "solid")))
    return _layout(fig, title, "fraction of frames removed (most important first)", value, height=400)


def agreement_plotly(agreement: pd.DataFrame, title: str | None = None):
    """Interactive per-clip agreement of attention with attributions (Spearman rho distribution)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, m in enumerate(_order("method", agreement["method"].astype(str))):
        d = agreement[agreement["method"].astype(str) == m]
        for col in ("spearman", "top_overlap"):
            fig.add_trace(go.Box(y=d[col], name=f"{m}: {col}", boxpoints="all", jitter=0.4, pointpos=0,
                                 marker=dict(size=3, color=HEAD_PALETTE[i % len(HEAD_PALETTE)]),
                                 text=d["clip_id"].astype(str)))
    fig.add_hline(y=0, line=dict(color="#555", dash="dash"))
    return _layout(fig, title, None, "per-clip agreement", showlegend=False, height=400)


def coverage_summary_plotly(summary: pd.DataFrame, stats=SUMMARY_STATS, title: str | None = None):
    """Interactive version of :func:`coverage_summary_figure` (hover shows n clips and the CI)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    s = summary[summary["grouping"] == "head"] if "grouping" in summary else summary
    present, heads = _summary_panels(summary, stats)
    colors = head_colors(heads)
    fig = make_subplots(rows=1, cols=max(1, len(present)), shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=[STAT_LABELS.get(st, st) for st in present])
    for c, st in enumerate(present, start=1):
        d = s[s["stat"] == st].set_index(s.loc[s["stat"] == st, "head"].astype(str)).reindex(heads)
        m = d["mean"].to_numpy(float)
        fig.add_trace(go.Scatter(
            x=m, y=heads, mode="markers", showlegend=False, marker=dict(color=[colors[h] for h in heads], size=8),
            error_x=dict(type="data", symmetric=False, array=np.nan_to_num(d["ci_high"].to_numpy(float) - m),
                         arrayminus=np.nan_to_num(m - d["ci_low"].to_numpy(float)), color="#777", thickness=1),
            customdata=np.stack([d["ci_low"], d["ci_high"], d["n_clips"]], 1) if "n_clips" in d else None,
            hovertemplate="%{y}: %{x:.3f} [%{customdata[0]:.3f}, %{customdata[1]:.3f}], %{customdata[2]} clips"
                          "<extra>" + st + "</extra>"), row=1, col=c)
        ref = d["uniform"].dropna() if "uniform" in d else pd.Series(dtype=float)
        if len(ref):
            fig.add_vline(x=float(ref.iloc[0]), line=dict(color="#555", dash="dash"), row=1, col=c)
        if st == "k@0.8":
            fig.add_vline(x=LEYGUE_POINT[0], line=dict(color="#444", dash="dot"), row=1, col=c)
        fig.update_xaxes(range=[0, 1.02], row=1, col=c)
    fig.update_yaxes(autorange="reversed", row=1, col=1)  # mean on top, heads in natural order below
    fig.update_annotations(font_size=11)
    # the key sits under all panels: an x-axis title would centre on the first panel only
    fig.add_annotation(text="dashed: uniform attention · dotted: 0.15 (Leygue et al.) · bars: 95 % CI",
                       xref="paper", yref="paper", x=0.5, y=0, yshift=-40, showarrow=False, font=dict(size=11))
    return _layout(fig, title, None, None, height=max(260, 22 * len(heads) + 150))


# ---------------------------------------------------------------------------------------------
# one clip: the panel of `explain-ser attribute --plot` and the paper's example figure


def _tier(ax, intervals, label, color):
    """Draw labelled interval boxes (words, phones, vocalizations) on one axis row."""
    ax.set_yticks([])
    ax.set_ylabel(label, rotation=0, ha="right", va="center")
    for iv in intervals:
        if not iv.label or iv.label in ("sil", "sp", "<sil>"):
            continue
        ax.axvspan(iv.start, iv.end, color=color, alpha=0.18, lw=0)
        ax.axvline(iv.start, color=color, lw=0.4)
        ax.text((iv.start + iv.end) / 2, 0.5, iv.label, ha="center", va="center", fontsize=6, clip_on=True)


def clip_panel_figure(res, width: float = 7.2) -> Figure:
    """Waveform, log-mel with mean attention, per-head attention, attributions, tiers and F0 for one
    :class:`explain_ser.api.Attribution`; x axis in seconds on the 20 ms encoder-frame grid."""
    frames = res.frames
    t_mid = (frames["start"].to_numpy() + frames["end"].to_numpy()) / 2
    dur = float(frames["end"].iloc[-1]) if len(frames) else res.clip.duration
    tiers = []
    al = res.alignment
    if al is not None:
        tiers = [(n, getattr(al, a)) for n, a in (("words", "words"), ("phones", "phones"), ("vocal.", "vocalizations"))
                 if getattr(al, a, None)]
    has_f0 = "f0" in frames and np.isfinite(frames["f0"].to_numpy(dtype=float)).any()
    rows = [("wave", 0.7), ("mel", 1.4), ("heads", 1.1)] + ([("attr", 0.9)] if res.attributions else [])
    rows += [(f"tier:{n}", 0.3) for n, _ in tiers] + ([("f0", 0.8)] if has_f0 else [])
    fig = _new(width, 0.9 + sum(h for _, h in rows))
    axes = fig.subplots(len(rows), 1, sharex=True, gridspec_kw={"height_ratios": [h for _, h in rows]})
    axes = np.atleast_1d(axes)
    heads = [h for h in res.attention if h != "mean"]
    colors = head_colors(heads + ["mean"])
    probs = ", ".join(f"{l} {p:.2f}" for l, p in sorted(zip(res.labels, res.probabilities), key=lambda x: -x[1])[:3])
    fig.suptitle(f"{res.clip.clip_id}: predicted {res.predicted} ({probs})", fontsize=9)
    for ax, (kind, _) in zip(axes, rows):
        if kind == "wave":
            x = res.clip.samples
            t = np.arange(len(x)) / res.clip.rate
            step = max(1, len(x) // 8000)
            ax.plot(t[::step], x[::step], color="#444444", lw=0.4)
            ax.set_ylabel("wave")
            ax.set_yticks([])
        elif kind == "mel":
            mel = res.mel
            ax.imshow(mel, origin="lower", aspect="auto", cmap="magma", extent=(0, mel.shape[1] * 0.01, 0, mel.shape[0]))
            ax.set_ylabel("mel bin")
            twin = ax.twinx()
            twin.plot(t_mid, res.attention["mean"], color="#00E5FF", lw=1.0)
            twin.set_ylim(0, max(1e-9, float(np.max(res.attention["mean"]))) * 1.05)
            twin.set_yticks([])
        elif kind == "heads":
            for h in heads:
                ax.plot(t_mid, res.attention[h], color=colors[h], lw=0.8, label=h)
            ax.plot(t_mid, res.attention["mean"], color=colors["mean"], lw=1.2, label="mean")
            ax.axhline(1.0 / max(1, len(frames)), **UNIFORM_STYLE)
            ax.set_ylabel("attention")
            ax.legend(ncol=min(6, len(heads) + 1), loc="upper right", frameon=False, fontsize=6)
        elif kind == "attr":
            for i, (m, v) in enumerate(res.attributions.items()):
                v = np.asarray(v, dtype=float)
                scale = np.max(np.abs(v)) or 1.0
                ax.plot(t_mid, v / scale, lw=0.8, label=m, color=HEAD_PALETTE[(i + 4) % len(HEAD_PALETTE)])
            ax.axhline(0, color="#999999", lw=0.5)
            ax.set_ylabel("attrib.\n(scaled)")
            ax.legend(loc="upper right", frameon=False, fontsize=6, ncol=3)
        elif kind.startswith("tier:"):
            name = kind.split(":", 1)[1]
            _tier(ax, dict(tiers)[name], name, "#0072B2" if name == "words" else "#D55E00" if name == "phones" else "#009E73")
        elif kind == "f0":
            ax.plot(t_mid, frames["f0"].to_numpy(dtype=float), color="#CC79A7", lw=1.0)
            ax.set_ylabel("F0 (Hz)")
    axes[-1].set_xlim(0, dur)
    axes[-1].set_xlabel("time (s)")
    return fig
