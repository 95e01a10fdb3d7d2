"""The timeline's views: the static figure and the self-contained HTML page of one recording
(:mod:`explain_ser.timeline` computes the segments and the attention heat, then calls these).

>>> import numpy as np, pandas as pd
>>> seg = pd.DataFrame({"start": [0.5], "end": [2.0], "emotion": ["sad"], "confidence": [0.8], "prob_sad": [0.8]})
>>> len(timeline_figure(seg, np.ones((1, 30)), ["mean"], ["sad"], 3.0).axes) >= 3
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .html_parts import escape as _e

__all__ = ["timeline_figure", "timeline_html", "step_line"]

HTML_MAX_BINS = 3000  # the page's heatmap is coarsened to this many columns (an hour: 1.2 s each)
HTML_MAX_ROWS = 400  # segments listed on the page; the CSV has them all


def step_line(starts, ends, values) -> tuple[list, list]:
    """One flat stroke per utterance (``None`` breaks the line between them), as plotly draws a per-utterance value.

    >>> step_line([0.0, 2.0], [1.0, 3.0], [0.5, 0.25])
    ([0.0, 1.0, None, 2.0, 3.0, None], [0.5, 0.5, None, 0.25, 0.25, None])
    """
    xs, ys = [], []
    for s, e, v in zip(starts, ends, values):
        xs += [s, e, None]
        ys += [v, v, None]
    return xs, ys


def _coarsen(heat: np.ndarray, max_bins: int) -> tuple[np.ndarray, int]:
    n = heat.shape[1] if heat.ndim == 2 else 0
    f = max(1, -(-n // max_bins))
    if f == 1 or n == 0:
        return heat, 1
    pad = (-n) % f
    h = np.pad(heat, ((0, 0), (0, pad)), constant_values=np.nan).reshape(heat.shape[0], -1, f)
    with np.errstate(invalid="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore", RuntimeWarning)  # all-NaN bins (pauses) stay NaN
        return np.nanmean(h, axis=2), f


def timeline_figure(segments: pd.DataFrame, heat: np.ndarray, heads: list[str], labels, duration: float,
                    title: str = "", bin_seconds: float = 0.1):
    """Matplotlib figure: emotion bands (and speakers), class probabilities, per-head attention over time.

    ``heat``: ``[heads, bins]`` of attention relative to uniform per ``bin_seconds`` (NaN in pauses).
    """
    import matplotlib
    from matplotlib.figure import Figure

    from .figure_style import STYLE, emotion_color, head_colors

    has_spk = "speaker" in segments and len(segments)
    with matplotlib.rc_context(STYLE):
        ratios = [0.5] + ([0.35] if has_spk else []) + [1.3, 1.4]
        fig = Figure(figsize=(12, 1.2 + 1.4 * sum(ratios)), layout="constrained")
        axes = fig.subplots(len(ratios), 1, sharex=True, gridspec_kw={"height_ratios": ratios})
        ax_e, *rest = axes
        ax_s = rest.pop(0) if has_spk else None
        ax_p, ax_a = rest
        starts, ends = segments["start"].to_numpy(float), segments["end"].to_numpy(float)
        for c in labels:
            m = (segments["emotion"] == c).to_numpy()
            if m.any():
                ax_e.broken_barh(list(zip(starts[m], ends[m] - starts[m])), (0, 1), color=emotion_color(c), label=c)
        ax_e.set(yticks=[], ylim=(0, 1), title=title or None)
        ax_e.set_ylabel("emotion", rotation=0, ha="right", va="center")
        if len(segments):
            ax_e.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=7)
        if ax_s is not None:
            names = sorted(segments["speaker"].astype(str).unique())
            pal = head_colors(names)
            for i, name in enumerate(names):
                m = (segments["speaker"].astype(str) == name).to_numpy()
                ax_s.broken_barh(list(zip(starts[m], ends[m] - starts[m])), (i, 0.8), color=pal.get(name, "#777"))
            ax_s.set(yticks=np.arange(len(names)) + 0.4, yticklabels=names, ylim=(0, len(names)))
            ax_s.set_ylabel("speaker", rotation=0, ha="right", va="center")
        for c in labels:
            if f"prob_{c}" in segments and len(segments):
                ax_p.hlines(segments[f"prob_{c}"], starts, ends, color=emotion_color(c), linewidth=1.6, label=c)
        ax_p.set(ylim=(0, 1.02), ylabel="probability")
        h, f = _coarsen(heat, 4000)
        if h.size:
            im = ax_a.imshow(np.ma.masked_invalid(h), aspect="auto", interpolation="nearest", cmap="viridis",
                             vmin=0, vmax=4, extent=(0, h.shape[1] * f * bin_seconds, len(heads), 0))
            ax_a.set(yticks=np.arange(len(heads)) + 0.5, yticklabels=heads)
            fig.colorbar(im, ax=ax_a, label="attention / uniform", fraction=0.02, pad=0.01)
        ax_a.set(xlim=(0, duration), xlabel="time in the recording (s)")
        ax_a.set_ylabel("head", rotation=0, ha="right", va="center")
    return fig


_CSS = ("body{font-family:system-ui,sans-serif;max-width:1400px;margin:1em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}"
        "th{background:#f3f3f3}.note{color:#666;font-size:13px}td.l{text-align:left}")


def _table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in df.columns)
    body = []
    for _, r in df.iterrows():
        cells = []
        for c in df.columns:
            v = r[c]
            txt = f"{v:.3f}" if isinstance(v, float) and np.isfinite(v) else ("" if isinstance(v, float) else v)
            cells.append(f"<td class='l'>{_e(txt)}</td>" if isinstance(v, str) else f"<td>{_e(txt)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _languages_line(segments: pd.DataFrame, summary: dict) -> str:
    """The page's sentence on the utterances' languages (how they were decided, and each one's share)."""
    shares = summary.get("language_share_of_speech") or {}
    if not shares:
        return ""
    sources = sorted(set(segments["language_source"].astype(str))) if "language_source" in segments else []
    how = {"identified": "identified from each utterance's audio by Whisper", "option": "given (--language)",
           "checkpoint": "assumed: the checkpoint's (no multilingual Whisper installed)",
           "default": "assumed (no multilingual Whisper installed)", "manifest": "given"}
    said = "; ".join(how.get(s, s) for s in sources if s)
    text = ", ".join(f"{c} {100 * v:.0f}%" for c, v in shares.items())
    return f"<p>Share of the speech time per language ({_e(said)}): {_e(text)}</p>"


def timeline_html(segments: pd.DataFrame, heat: np.ndarray, heads: list[str], labels, duration: float,
                  summary: dict, speakers: pd.DataFrame | None = None, title: str = "",
                  command: str | None = None, bin_seconds: float = 0.1) -> str:
    """One self-contained page (plotly.js inlined, nothing fetched): the interactive timeline and tables."""
    import plotly.graph_objects as go
    import plotly.io as pio
    from plotly.offline import get_plotlyjs
    from plotly.subplots import make_subplots

    from .figure_style import emotion_color

    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, row_heights=[0.15, 0.4, 0.45], vertical_spacing=0.04)
    starts, ends = segments["start"].to_numpy(float), segments["end"].to_numpy(float)
    for c in labels:
        m = (segments["emotion"] == c).to_numpy()
        if not m.any():
            continue
        g = segments[m]
        hover = [f"{s:.2f}-{e:.2f} s: {c} {p:.2f}" + (f" ({k})" if k else "") + (f" [{lg}]" if lg else "")
                 for s, e, p, k, lg in zip(g["start"], g["end"], g["confidence"],
                                           g["speaker"] if "speaker" in g else [""] * len(g),
                                           g["language"].astype(str) if "language" in g else [""] * len(g))]
        fig.add_trace(go.Bar(x=(starts[m] + ends[m]) / 2, y=np.ones(int(m.sum())), width=ends[m] - starts[m],
                             marker_color=emotion_color(c), name=c, legendgroup=c, hovertext=hover,
                             hoverinfo="text"), row=1, col=1)
    for c in labels:
        col = f"prob_{c}"
        if col not in segments or not len(segments):
            continue
        xs, ys = step_line(starts, ends, segments[col])
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": emotion_color(c), "width": 2}, name=c,
                                 legendgroup=c, showlegend=False, hovertemplate=f"{c} %{{y:.2f}}<extra></extra>"),
                      row=2, col=1)
    h, f = _coarsen(heat, HTML_MAX_BINS)
    if h.size:
        step = f * bin_seconds
        z = np.where(np.isfinite(h), np.round(h, 3), None).tolist()
        fig.add_trace(go.Heatmap(z=z, x=(np.arange(h.shape[1]) + 0.5) * step, y=heads, zmin=0, zmax=4,
                                 colorscale="Viridis", colorbar={"title": "att / uniform", "len": 0.45, "y": 0.22},
                                 hovertemplate="%{y} %{x:.1f} s: %{z:.2f}<extra></extra>"), row=3, col=1)
    fig.update_layout(height=640, bargap=0, margin={"l": 60, "r": 20, "t": 30, "b": 40}, template="plotly_white",
                      legend={"orientation": "h", "y": 1.06})
    fig.update_yaxes(visible=False, row=1, col=1)
    fig.update_yaxes(title_text="probability", range=[0, 1.02], row=2, col=1)
    fig.update_yaxes(title_text="head", row=3, col=1)
    fig.update_xaxes(range=[0, duration], row=3, col=1, title_text="time in the recording (s)")
    div = pio.to_html(fig, include_plotlyjs=False, full_html=False, config={"displaylogo": False, "responsive": True},
                      div_id="timeline")
    shares = ", ".join(f"{c} {100 * v:.0f}%" for c, v in sorted(summary["emotion_share_of_speech"].items(),
                                                                  key=lambda kv: -kv[1]) if v > 0)
    body = [f"<h1>{_e(title)}</h1>",
            f"<p>{summary['duration_s']:.1f} s recorded, {summary['speech_s']:.1f} s of speech in "
            f"{summary['n_segments']} utterances ({_e(summary['segmentation']['vad'])} VAD); checkpoint "
            f"{_e(summary['checkpoint'])}.</p>",
            f"<p>Share of the speech time per predicted emotion: {_e(shares or 'no speech found')}</p>",
            _languages_line(segments, summary),
            div,
            "<p class='note'>Top: each utterance coloured by its predicted emotion. Middle: the probability of every "
            "class per utterance. Bottom: each attention head's weight relative to uniform (1 = the utterance's "
            f"average frame), averaged per {bin_seconds * f:.1f} s; blank where nobody speaks.</p>"]
    if command:
        body.insert(1, f"<pre class='note'>{_e(command)}</pre>")
    if speakers is not None and len(speakers):
        body += ["<h2>Speakers</h2>", _table(speakers)]
    shown = segments.head(HTML_MAX_ROWS)
    more = f" (first {HTML_MAX_ROWS} of {len(segments)}; all in {summary['files']['segments']})" \
        if len(segments) > HTML_MAX_ROWS else ""
    body += [f"<h2>Utterances{_e(more)}</h2>", _table(shown)]
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>" + _e(title) + "</title>"
            f"<style>{_CSS}</style><script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
            + "\n".join(body) + "</body></html>\n")
