"""Figure builders: data in, figure out. Matplotlib for print (PNG/PDF), plotly for the HTML report.

Each ``*_figure`` returns a :class:`matplotlib.figure.Figure` (built without pyplot, so no global
state and no display needed); each ``*_plotly`` returns a :class:`plotly.graph_objects.Figure` (they live in
:mod:`explain_ser.plots_plotly` and are re-exported here; the shared colours and style in
:mod:`explain_ser.figure_style`).
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

import matplotlib

matplotlib.use("Agg", force=False)  # builders never need a display

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .figure_style import (EMOTION_COLORS, HEAD_PALETTE, LEYGUE_POINT, STAT_LABELS, STYLE,  # noqa: E402,F401
                           SUMMARY_STATS, UNIFORM_STYLE, confusion_cell, confusion_shares, emotion_color,
                           family_colors, group_colors, head_colors, new_figure, ordered, save_figure,
                           summary_panels)
from .plots_plotly import (agreement_plotly, confusion_plotly, coverage_plotly,  # noqa: E402,F401  (one import for both)
                           coverage_summary_plotly, deletion_plotly, enrichment_plotly, k_distribution_plotly,
                           prosody_plotly)

_new = new_figure  # the old private name, still used by analyses/: use figure_style.new_figure

# ---------------------------------------------------------------------------------------------
# matplotlib


def coverage_figure(curves: pd.DataFrame, by: str = "emotion", title: str | None = None,
                    leygue: bool = True, ax=None) -> Figure:
    """Mean coverage curve per group with its CI band, the uniform diagonal and Leygue's 15 %/80 % point.

    ``curves``: :func:`explain_ser.coverage.summarize_curves` output (``by, x, mean, ci_low, ci_high``).
    """
    with matplotlib.rc_context(STYLE):
        fig = ax.figure if ax is not None else new_figure(3.6, 3.2)
        ax = ax or fig.add_subplot()
        colors = group_colors(by, curves[by].astype(str))
        for g in ordered(by, curves[by].astype(str)):
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
    groups = ordered(by, m[by].astype(str))
    colors = group_colors(by, groups)
    with matplotlib.rc_context(STYLE):
        fig = new_figure(max(3.0, 0.45 * len(groups) + 1.2), 2.8)
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
        fig = new_figure(5.0, max(2.0, 0.17 * len(t) + 1.3))
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


def prosody_figure(summary: pd.DataFrame, per_clip: pd.DataFrame | None = None, head: str = "mean",
                   title: str | None = None) -> Figure:
    """Per-clip Spearman rho of attention with each prosody track, mean with CI and shift-null band."""
    s = summary[summary["head"] == head] if len(summary) else summary
    tracks = list(s["track"]) if len(s) else []
    with matplotlib.rc_context(STYLE):
        fig = new_figure(max(2.6, 0.9 * len(tracks) + 1.0), 2.8)
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
    counts, shown = confusion_shares(confusion, normalize)
    n = len(confusion)
    with matplotlib.rc_context(STYLE):
        fig = new_figure(0.45 * n + 1.8, 0.45 * n + 1.4)
        ax = fig.add_subplot()
        im = ax.imshow(np.nan_to_num(shown), cmap="Blues", vmin=0, vmax=1 if normalize else None)
        for i in range(n):
            for j in range(confusion.shape[1]):
                txt = confusion_cell(counts, shown, i, j, normalize, multiline=True)
                dark = np.nan_to_num(shown[i, j]) > (0.6 if normalize else np.nanmax(shown) * 0.6)
                ax.text(j, i, txt, ha="center", va="center", fontsize=6, color="white" if dark else "black")
        ax.set_xticks(range(confusion.shape[1]), [str(c) for c in confusion.columns], rotation=45, ha="right")
        ax.set_yticks(range(n), [str(c) for c in confusion.index])
        ax.set(xlabel="predicted", ylabel="true", title=title)
        fig.colorbar(im, ax=ax, shrink=0.8, label="row %" if normalize else "clips")
    return fig


def deletion_figure(curves: pd.DataFrame, value: str = "score", title: str | None = None) -> Figure:
    """Deletion (or insertion) curves: ``value`` against the fraction of frames removed, one line per method.

    ``curves`` columns: ``method``, ``fraction``, ``value`` and optionally ``curve`` (deletion /
    insertion, drawn dashed for insertion), ``ci_low``/``ci_high``.
    """
    kinds = list(dict.fromkeys(curves["curve"])) if "curve" in curves else [None]
    methods = ordered("method", curves["method"].astype(str))
    colors = {m: HEAD_PALETTE[i % len(HEAD_PALETTE)] for i, m in enumerate(methods)}
    with matplotlib.rc_context(STYLE):
        fig = new_figure(3.6, 2.8)
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
    methods = ordered("method", agreement["method"].astype(str)) if len(agreement) else []
    with matplotlib.rc_context(STYLE):
        fig = new_figure(5.0, 2.6)
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


def coverage_summary_figure(summary: pd.DataFrame, stats=SUMMARY_STATS, title: str | None = None) -> Figure:
    """One panel per concentration statistic: mean per head with its CI, the uniform value dashed.

    ``summary``: :func:`explain_ser.coverage.summarize` output by head (the report's
    ``coverage_summary`` rows with ``grouping == "head"``). k@0.8 also shows Leygue's 0.15.
    """
    s = summary[summary["grouping"] == "head"] if "grouping" in summary else summary
    present, heads = summary_panels(summary, stats)
    colors = head_colors(heads)
    with matplotlib.rc_context(STYLE):
        fig = new_figure(max(3.0, 2.1 * len(present)), max(2.4, 0.16 * len(heads) + 1.2))
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
    fig = new_figure(width, 0.9 + sum(h for _, h in rows))
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


def save_clip_panel(res, out_dir):
    """Write ``<clip>.png`` (:func:`clip_panel_figure`) into ``out_dir`` atomically; returns its path
    (``explain-ser attribute --plot``)."""
    from pathlib import Path

    from .atomic import safe_stem

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{safe_stem(res.clip.clip_id or 'clip')}.png"
    save_figure(clip_panel_figure(res), png)
    return png
