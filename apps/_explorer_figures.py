"""Plotly figures of the explorer's clip and compare views: drawing only, every number comes from the
library (:class:`explain_ser.api.Attribution`, :mod:`explain_ser.coverage`, report tables).

Colours come from :mod:`explain_ser.plots` so the explorer agrees with the report and the paper figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explain_ser import plots
from explain_ser.ordering import natural_key
from explain_ser.timegrid import FRAME_SECONDS, HOP_LENGTH, SAMPLE_RATE
from explain_ser.timeline_view import step_line

MEL_SECONDS = HOP_LENGTH / SAMPLE_RATE  # 10 ms per log-mel column
TIER_COLORS = {"word": "#4C72B0", "phone": "#8C8C8C", "vocalization": "#C44E52"}


def _frame_centres(n: int) -> np.ndarray:
    return (np.arange(n) + 0.5) * FRAME_SECONDS


def clip_figure(res, heads: list[str], methods: list[str] | None = None, tiers=("word", "phone", "vocalization"),
                prosody: bool = True, height: int = 760, title: str | None = None) -> go.Figure:
    """Log-mel spectrogram with per-head attention over it, attribution track, tiers and F0/intensity.

    One shared, zoomable time axis. ``heads`` lists attention heads to draw (``mean`` in black).
    """
    n = int(res.clip.n_frames)
    t = _frame_centres(n)
    methods = [m for m in (methods if methods is not None else list(res.attributions)) if m in res.attributions]
    al = res.alignment
    tier_data = {"word": al.words if al else [], "phone": al.phones if al else [],
                 "vocalization": al.vocalizations if al else []}
    tiers = [k for k in tiers if tier_data.get(k)]
    rows = [("spec", 0.50)]
    if methods:
        rows.append(("attr", 0.15))
    if tiers:
        rows.append(("tiers", 0.06 * len(tiers) + 0.04))
    has_pros = prosody and "f0" in res.frames and "intensity" in res.frames
    if has_pros:
        rows.append(("pros", 0.17))
    heights = [h for _, h in rows]
    total = sum(heights)
    specs = [[{"secondary_y": name in ("spec", "pros")}] for name, _ in rows]
    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=True, vertical_spacing=0.025,
                        row_heights=[h / total for h in heights], specs=specs)
    row_of = {name: i + 1 for i, (name, _) in enumerate(rows)}

    # log-mel: Whisper's mel has 10 ms columns; the encoder sees 2 columns per 20 ms frame
    if res.mel is not None:
        mel = np.asarray(res.mel)[:, : 2 * n]
        tm = (np.arange(mel.shape[1]) + 0.5) * MEL_SECONDS
        fig.add_trace(go.Heatmap(z=mel, x=tm, y=np.arange(mel.shape[0]), colorscale="Greys",
                                 showscale=False, hovertemplate="%{x:.2f} s, mel bin %{y}<extra></extra>",
                                 name="log-mel"), row=1, col=1, secondary_y=False)
    colors = plots.head_colors(list(res.attention))
    for h in heads:
        if h not in res.attention:
            continue
        w = np.asarray(res.attention[h], dtype=float)
        fig.add_trace(go.Scatter(x=t, y=w, mode="lines", name=f"attention {h}", legendgroup=f"att-{h}",
                                 line=dict(color=colors.get(h, "#0072B2"), width=2.4 if h == "mean" else 1.4),
                                 hovertemplate=f"{h}: " + "%{y:.4f} at %{x:.2f} s<extra></extra>"),
                      row=1, col=1, secondary_y=True)
    fig.add_trace(go.Scatter(x=[t[0] if n else 0, t[-1] if n else 0], y=[1 / max(n, 1)] * 2, mode="lines",
                             name="uniform (1/T)", line=dict(color="#555", dash="dash", width=1)),
                  row=1, col=1, secondary_y=True)
    fig.update_yaxes(title_text="mel bin", row=1, col=1, secondary_y=False, showgrid=False)
    fig.update_yaxes(title_text="attention", row=1, col=1, secondary_y=True, rangemode="tozero", showgrid=False)

    if methods:
        r = row_of["attr"]
        for i, m in enumerate(methods):
            a = np.asarray(res.attributions[m], dtype=float)
            scale = np.nanmax(np.abs(a)) or 1.0
            fig.add_trace(go.Scatter(x=t, y=a / scale, mode="lines", name=f"attribution {m}",
                                     line=dict(color=plots.HEAD_PALETTE[(i + 6) % len(plots.HEAD_PALETTE)], width=1.3),
                                     customdata=a, hovertemplate=f"{m}: " + "%{customdata:.3g}<extra></extra>"),
                          row=r, col=1)
        fig.add_hline(y=0, line=dict(color="#999", width=0.8), row=r, col=1)
        fig.update_yaxes(title_text="attribution<br>(/ max |.|)", range=[-1.05, 1.05], row=r, col=1)

    if tiers:
        r = row_of["tiers"]
        for k in tiers:
            iv = tier_data[k]
            fig.add_trace(go.Bar(
                y=[k] * len(iv), x=[max(x.end - x.start, 1e-3) for x in iv], base=[x.start for x in iv],
                orientation="h", text=[x.label for x in iv], textposition="inside", insidetextanchor="middle",
                textfont=dict(size=10, color="white"), marker=dict(color=TIER_COLORS[k], line=dict(color="white", width=1)),
                name=f"{k}s", showlegend=False, customdata=[[x.start, x.end] for x in iv],
                hovertemplate="%{text}: %{customdata[0]:.2f}-%{customdata[1]:.2f} s<extra>" + k + "</extra>"),
                row=r, col=1)
        fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(tiers)), row=r, col=1)
        fig.update_layout(barmode="overlay")

    if has_pros:
        r = row_of["pros"]
        f0 = res.frames["f0"].to_numpy(dtype=float)
        inten = res.frames["intensity"].to_numpy(dtype=float)
        tt = res.frames["start"].to_numpy(dtype=float) + FRAME_SECONDS / 2
        fig.add_trace(go.Scatter(x=tt, y=f0, mode="lines", name="F0 (Hz)", connectgaps=False,
                                 line=dict(color="#2ca02c", width=1.5)), row=r, col=1, secondary_y=False)
        fig.add_trace(go.Scatter(x=tt, y=inten, mode="lines", name="intensity (dB)",
                                 line=dict(color="#9467bd", width=1, dash="dot")), row=r, col=1, secondary_y=True)
        fig.update_yaxes(title_text="F0 (Hz)", row=r, col=1, secondary_y=False)
        fig.update_yaxes(title_text="dB", row=r, col=1, secondary_y=True, showgrid=False)

    fig.update_xaxes(title_text="time (s)", row=len(rows), col=1)
    fig.update_xaxes(range=[0, res.clip.duration])
    fig.update_layout(template="simple_white", height=height, margin=dict(l=60, r=60, t=40 if title else 20, b=40),
                      title=title, legend=dict(orientation="h", yanchor="bottom", y=1.01, x=0, font=dict(size=11)),
                      hovermode="x")
    return fig


def probability_figure(labels, probabilities, height: int = 260) -> go.Figure:
    """Horizontal bars of the class probabilities, emotion colours, most likely on top."""
    p = np.asarray(probabilities, dtype=float)
    order = np.argsort(p)
    lab = [str(labels[i]) for i in order]
    fig = go.Figure(go.Bar(x=p[order], y=lab, orientation="h", marker_color=[plots.emotion_color(x) for x in lab],
                           text=[f"{v:.0%}" for v in p[order]], textposition="outside",
                           hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    fig.update_layout(template="simple_white", height=height, margin=dict(l=10, r=30, t=10, b=30),
                      xaxis=dict(range=[0, 1.1], title="probability"))
    return fig


def attention_overlay_figure(series: list[tuple[str, object, str]], height: int = 300) -> go.Figure:
    """Attention over time of several (label, Attribution, head) on one axis (the compare view)."""
    fig = go.Figure()
    for i, (label, res, head) in enumerate(series):
        w = np.asarray(res.attention[head], dtype=float)
        fig.add_trace(go.Scatter(x=_frame_centres(len(w)), y=w, mode="lines", name=label,
                                 line=dict(color=plots.HEAD_PALETTE[i % len(plots.HEAD_PALETTE)], width=1.6)))
    if series:
        n = len(series[0][1].attention[series[0][2]])
        fig.add_hline(y=1 / max(n, 1), line=dict(color="#555", dash="dash", width=1), annotation_text="uniform")
    fig.update_layout(template="simple_white", height=height, margin=dict(l=50, r=10, t=10, b=40),
                      xaxis_title="time (s)", yaxis_title="attention", legend=dict(orientation="h", y=1.1))
    return fig


def k_strip_figure(metrics: pd.DataFrame, by: str = "emotion", stat: str = "k@0.8", height: int = 380) -> go.Figure:
    """Per-clip ``stat`` (mean head) as selectable points, one column per group; customdata = clip id.

    The report's own box plot (:func:`explain_ser.plots.k_distribution_plotly`) is shown beside it;
    this one exists so that clicking or lasso-selecting a point can open that clip.
    """
    m = metrics[metrics["head"].astype(str) == "mean"].dropna(subset=[stat])
    # missing labels become a group of their own: pandas 3's astype(str) would keep them NaN, unmatched
    label = (m[by].astype(object).where(m[by].notna(), "").astype(str).replace("", "(none)") if by in m
             else pd.Series("all", index=m.index))
    groups = sorted(label.unique(), key=natural_key)
    colors = plots.group_colors(by, groups)
    fig = go.Figure()
    rng = np.random.default_rng(0)  # jitter only
    for gi, g in enumerate(groups):
        d = m[label == g]
        fig.add_trace(go.Scatter(x=gi + rng.uniform(-0.25, 0.25, len(d)), y=d[stat], mode="markers", name=g,
                                 marker=dict(size=8, color=colors.get(g, "#0072B2"), line=dict(width=0.5, color="white")),
                                 customdata=d["clip_id"].astype(str), text=d["clip_id"].astype(str),
                                 hovertemplate="%{customdata}: " + stat + " %{y:.3f}<extra></extra>"))
    fig.add_hline(y=0.8, line=dict(color="#555", dash="dash"), annotation_text="uniform (0.8)")
    fig.add_hline(y=plots.LEYGUE_POINT[0], line=dict(color="#444", dash="dot"), annotation_text="0.15 (Leygue)")
    fig.update_layout(template="simple_white", height=height, margin=dict(l=50, r=10, t=10, b=40),
                      # a fixed range: autorange around jittered points can cut off the last group's tick
                      xaxis=dict(tickmode="array", tickvals=list(range(len(groups))), ticktext=groups, title=by,
                                 range=[-0.5, len(groups) - 0.5]),
                      yaxis=dict(range=[0, 1], title=f"{stat} per clip (mean head)"), showlegend=False,
                      dragmode="select", clickmode="event+select")
    return fig


def recording_figure(segments: pd.DataFrame, heat: np.ndarray, heads: list[str], step: float, labels,
                     duration: float, selected: int | None = None, height: int = 620) -> go.Figure:
    """A recording's timeline: attention of every head on top (relative to uniform, per ``step`` s), each
    utterance as a bar in its emotion's colour whose height is the model's confidence, and every class's
    probability per utterance. Each bar has a numbered marker on top; box- or lasso-selecting it selects the
    bar too (plotly selects a bar by its top centre); ``customdata`` holds the utterance's row number.
    """
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, row_heights=[0.3, 0.38, 0.32], vertical_spacing=0.07,
                        subplot_titles=("attention / uniform (1 = the utterance's average frame)",
                                        "emotion per utterance (height: confidence); box-select a bar's marker to open it",
                                        "class probabilities per utterance"))
    if heat.size and heads:
        z = np.where(np.isfinite(heat), np.round(heat, 3), None).tolist()
        fig.add_trace(go.Heatmap(z=z, x=(np.arange(heat.shape[1]) + 0.5) * step, y=heads, zmin=0, zmax=4,
                                 colorscale="Viridis", colorbar=dict(title="att /<br>uniform", len=0.3, y=0.86),
                                 hovertemplate="%{y} %{x:.1f} s: %{z:.2f}<extra></extra>", name="attention"),
                      row=1, col=1)
        fig.update_yaxes(autorange="reversed", row=1, col=1)
    starts, ends = segments["start"].to_numpy(float), segments["end"].to_numpy(float)
    text = segments["text"].astype(str) if "text" in segments else pd.Series("", index=segments.index)
    for c in list(labels) + sorted(set(segments["emotion"]) - set(labels)):
        m = (segments["emotion"] == c).to_numpy()
        if not m.any():
            continue
        idx = np.flatnonzero(m)
        hover = [f"#{i + 1} {starts[i]:.2f}-{ends[i]:.2f} s: {c} {segments['confidence'].iloc[i]:.2f}"
                 + (f"<br>{text.iloc[i]}" if text.iloc[i] else "") for i in idx]
        # plain lists: the selection hands customdata back to the app as given
        fig.add_trace(go.Bar(x=((starts[m] + ends[m]) / 2).tolist(), y=segments["confidence"].to_numpy(float)[m].tolist(),
                             width=(ends[m] - starts[m]).tolist(), marker=dict(color=plots.emotion_color(c),
                                                                               line=dict(color="white", width=1)),
                             name=c, legendgroup=c, customdata=idx.tolist(), hovertext=hover, hoverinfo="text",
                             selectedpoints=None if selected is None else [int(k) for k in np.flatnonzero(idx == selected)]),
                      row=2, col=1)
    # one numbered marker on top of each bar: what to box-select (a bar is selected by its top centre)
    fig.add_trace(go.Scatter(x=((starts + ends) / 2).tolist(), y=segments["confidence"].to_numpy(float).tolist(),
                             # numbers only while they can be read (an hour has hundreds of utterances)
                             mode="markers+text" if len(segments) <= 60 else "markers",
                             text=[f"#{i + 1}" for i in range(len(segments))],
                             textposition="top center", textfont=dict(size=10, color="#444"),
                             marker=dict(size=11, color="white", line=dict(color="#444", width=1.5)),
                             customdata=list(range(len(segments))), name="utterance", showlegend=False,
                             hoverinfo="skip", selectedpoints=None if selected is None else [int(selected)]),
                  row=2, col=1)
    fig.update_yaxes(title_text="confidence", range=[0, 1.1], row=2, col=1)
    for c in labels:
        col = f"prob_{c}"
        if col not in segments or not len(segments):
            continue
        xs, ys = step_line(starts, ends, segments[col])
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=plots.emotion_color(c), width=2), name=c,
                                 legendgroup=c, showlegend=False, hovertemplate=f"{c} %{{y:.2f}}<extra></extra>"),
                      row=3, col=1)
    fig.update_yaxes(title_text="probability", range=[0, 1.02], row=3, col=1)
    fig.update_xaxes(range=[0, duration])
    fig.update_xaxes(title_text="time in the recording (s)", row=3, col=1)
    fig.update_layout(template="simple_white", height=height, bargap=0, margin=dict(l=60, r=20, t=50, b=40),
                      legend=dict(orientation="h", yanchor="bottom", y=1.06, x=0, font=dict(size=11)),
                      dragmode="select", clickmode="event+select", hovermode="closest")
    fig.update_annotations(font=dict(size=12), x=0, xanchor="left")
    return fig
