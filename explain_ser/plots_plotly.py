"""Interactive (plotly) figures of the report and the explorer: data in, figure out, the house style of
:mod:`explain_ser.figure_style`. Each ``*_plotly`` returns a :class:`plotly.graph_objects.Figure`; its
matplotlib twin for print is in :mod:`explain_ser.plots` (which also re-exports these).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .figure_style import (HEAD_PALETTE, LEYGUE_POINT, STAT_LABELS, SUMMARY_STATS, confusion_cell,  # noqa: F401
                           confusion_shares, family_colors, group_colors, head_colors, ordered, summary_panels)

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
        for g in ordered(by, keys):
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
    groups = ordered(by, m[by].astype(str))
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

    counts, shown = confusion_shares(confusion, normalize)
    text = [[confusion_cell(counts, shown, i, j, normalize) for j in range(counts.shape[1])]
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
    methods = ordered("method", curves["method"].astype(str))
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
    for i, m in enumerate(ordered("method", agreement["method"].astype(str))):
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
    present, heads = summary_panels(summary, stats)
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
