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


def test_one_coverage_builder_for_corpus_and_clips(tables):
    """The explorer's clip and compare views use the report's coverage builder: corpus curves become a grey
    background, each clip's exact curve is drawn in its head colour, the corpus median k@0.8 is marked."""
    from explain_ser import coverage

    corpus = tables["curves"][tables["curves"]["head"] == "mean"]
    w = {"mean": np.array([0.5, 0.3, 0.1, 0.1]), "h0": np.array([0.97, 0.01, 0.01, 0.01])}
    fig = plots.coverage_plotly(corpus, by="head", clips=w, median_k=0.42, width=None)
    by_name = {d.name: d for d in fig.data if d.name}
    assert {"corpus mean", "this clip: mean", "this clip: h0", "uniform", "15 % / 80 % (Leygue et al.)",
            "corpus median k@0.8 (0.42)"} <= set(by_name)
    assert by_name["corpus mean"].line.color == "#888888" and by_name["this clip: mean"].line.color == "#000000"
    x, y = coverage.coverage_curve(w["h0"])
    assert list(by_name["this clip: h0"].x) == list(x) and list(by_name["this clip: h0"].y) == list(y)
    assert fig.layout.width is None
    # compare view: labels as given, colours chosen by the caller
    cmp = plots.coverage_plotly(clips={"A: h0": w["h0"], "B: h0": w["mean"]}, clip_prefix="",
                                clip_colors={"A: h0": "#111111", "B: h0": "#222222"})
    assert [d.name for d in cmp.data][:2] == ["A: h0", "B: h0"] and cmp.data[1].line.color == "#222222"
    # without clips the corpus curves keep their own colours (the report's figure)
    own = plots.coverage_plotly(tables["curves"], by="head")
    assert {d.name: d.line.color for d in own.data if d.name}["mean"] == "#000000"


def test_confusion_without_clips_of_a_class_shows_no_nan(tables):
    conf = pd.DataFrame([[3, 1, 0], [0, 0, 0], [0, 2, 4]], index=["a", "b", "c"], columns=["a", "b", "c"])
    fig = plots.confusion_plotly(conf)
    text = [t for row in fig.data[0].text for t in row]
    assert "nan" not in " ".join(text) and fig.data[0].text[1] == ["–", "–", "–"]
    assert fig.data[0].text[0][0] == "75 % (3)"
    mfig = plots.confusion_figure(conf)
    assert not any("nan" in t.get_text() for t in mfig.axes[0].texts)


def test_coverage_summary_chart(tables):
    summary = coverage.summarize(tables["metrics"], by=("head",), n_boot=20).assign(grouping="head")
    fig = plots.coverage_summary_plotly(summary)
    assert len(fig.data) == len(plots.SUMMARY_STATS)  # one panel per statistic
    k = fig.data[0]
    want = summary[summary["stat"] == "k@0.8"].set_index("head")["mean"]
    assert list(k.y) == ["mean", "h0", "h1"] and np.allclose(k.x, want.loc[["mean", "h0", "h1"]])
    assert isinstance(plots.coverage_summary_figure(summary), Figure)
