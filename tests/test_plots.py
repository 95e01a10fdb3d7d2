"""Tests for explain_ser.plots: every builder returns a figure from the tables of coverage/enrichment."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from matplotlib.figure import Figure

from explain_ser import coverage, enrichment, plots, report


@pytest.fixture(scope="module")
def tables():
    frames, meta = report.synthetic_corpus(n_speakers=2, clips_per_speaker=4)
    metrics = coverage.clip_metrics(frames, clip_meta=meta)
    curves = coverage.summarize_curves(coverage.coverage_curves(frames, clip_meta=meta), by=("head",), n_boot=20)
    enr, comp = enrichment.enrichment(frames, n_perm=20, n_boot=20, composition=True)
    psum, pclip = enrichment.prosody_correlation(frames, n_perm=20, n_boot=20)
    agr = enrichment.attribution_agreement(frames)
    conf = pd.crosstab(meta["emotion"], meta["predicted"])
    dele = pd.DataFrame({"method": np.repeat(["attention", "random"], 5), "fraction": np.tile(np.linspace(0, 1, 5), 2),
                         "score": np.r_[np.linspace(1, 0, 5), np.linspace(1, 0.5, 5)]})
    return dict(metrics=metrics, curves=curves, enr=enr, comp=comp, psum=psum, pclip=pclip, agr=agr, conf=conf,
                dele=dele)


def test_colours_are_fixed():
    assert plots.emotion_color("ANGER") == plots.emotion_color("angry") == plots.EMOTION_COLORS["angry"]
    assert plots.emotion_color("unheard-of") == plots.emotion_color("unheard-of")
    c = plots.head_colors(["h2", "h10", "h1", "mean"])
    assert c["mean"] == "#000000" and c["h1"] == plots.HEAD_PALETTE[0] and c["h10"] == plots.HEAD_PALETTE[2]
    assert plots.head_colors(["h1", "h0"])["h0"] == plots.head_colors(["h0"])["h0"]


def test_matplotlib_builders(tables, tmp_path):
    t = tables
    figs = [plots.coverage_figure(t["curves"], by="head"), plots.k_distribution_figure(t["metrics"], by="emotion"),
            plots.k_distribution_figure(t["metrics"], by="head", head=None),
            plots.enrichment_figure(t["enr"]), plots.enrichment_figure(t["comp"], value="lift"),
            plots.prosody_figure(t["psum"], t["pclip"]), plots.confusion_figure(t["conf"]),
            plots.deletion_figure(t["dele"]), plots.agreement_figure(t["agr"])]
    for f in figs:
        assert isinstance(f, Figure)
    # the uniform reference is drawn: a dashed diagonal from (0,0) to (1,1)
    ax = figs[0].axes[0]
    assert any(list(l.get_xdata()) == [0, 1] and list(l.get_ydata()) == [0, 1] for l in ax.get_lines())
    plots.save_figure(figs[3], tmp_path / "e.png")
    plots.save_figure(figs[0], tmp_path / "c.pdf")
    assert (tmp_path / "e.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "c.pdf").read_bytes()[:4] == b"%PDF"


def test_plotly_builders(tables):
    t = tables
    figs = [plots.coverage_plotly(t["curves"], by="head"), plots.k_distribution_plotly(t["metrics"]),
            plots.enrichment_plotly(t["enr"]), plots.prosody_plotly(t["psum"], t["pclip"]),
            plots.confusion_plotly(t["conf"]), plots.deletion_plotly(t["dele"]), plots.agreement_plotly(t["agr"])]
    for f in figs:
        assert isinstance(f, go.Figure) and len(f.data) > 0
    names = [d.name for d in figs[0].data]
    assert "uniform" in names and "mean" in names
