"""Tests for explain_ser.coverage: the maths on hand-made weights, FrameTable plumbing, summaries."""

import numpy as np
import pandas as pd
import pytest

from explain_ser import coverage


@pytest.mark.parametrize("t", [5, 10, 137])
def test_uniform_gives_k_equal_p(t):
    ps = [p for p in (0.1, 0.25, 0.5, 0.8, 0.9, 1.0) if p >= 1 / t]
    m = coverage.concentration(np.full(t, 1.0 / t), ps=ps)
    for p in ps:
        assert m[coverage.k_name(p)] == pytest.approx(p, abs=1e-12)
    assert m["gini"] == pytest.approx(0.0, abs=1e-12)
    assert m["entropy"] == pytest.approx(1.0)
    assert m["n_eff"] == pytest.approx(t) and m["n_eff_frac"] == pytest.approx(1.0)


@pytest.mark.parametrize("t", [1, 4, 50])
def test_one_hot_gives_one_frame(t):
    w = np.zeros(t)
    w[t // 2] = 1.0
    m = coverage.concentration(w, ps=(0.01, 0.5, 0.8, 1.0))
    for p in (0.01, 0.5, 0.8, 1.0):
        assert m[coverage.k_name(p)] == pytest.approx(1.0 / t)
    assert m["gini"] == pytest.approx(1 - 1 / t)
    assert m["n_eff"] == pytest.approx(1.0)


def test_interpolation_counts_last_frame_fractionally():
    w = np.array([0.2, 0.5, 0.3])  # sorted: 0.5, 0.3, 0.2 -> y = 0.5, 0.8, 1.0
    k = {p: float(coverage.k_at(w, p)) for p in (0.25, 0.5, 0.65, 0.8, 0.9, 1.0)}
    assert k[0.25] == pytest.approx(1 / 3)  # inside the first frame: never less than one frame
    assert k[0.5] == pytest.approx(1 / 3)
    assert k[0.65] == pytest.approx(1.5 / 3)  # half of the second frame's 0.3
    assert k[0.8] == pytest.approx(2 / 3)
    assert k[0.9] == pytest.approx(2.5 / 3)
    assert k[1.0] == pytest.approx(1.0)
    # k@p lies on the plotted curve between whole frames
    x = np.array([k[0.65], k[0.9]])
    np.testing.assert_allclose(coverage.curve_on_grid(w, x), [0.65, 0.9])


def test_invariances_and_padding():
    rng = np.random.default_rng(0)
    w = rng.gamma(0.5, size=30)
    a = coverage.concentration(w)
    b = coverage.concentration(7.0 * w[::-1])  # scale and order do not matter
    padded = np.concatenate([w, np.full(12, np.nan)])
    c = coverage.concentration(np.stack([padded, np.concatenate([np.ones(42)])]))
    for key in a:
        assert a[key] == pytest.approx(b[key])
        assert c[key][0] == pytest.approx(a[key])
    assert c["k@0.8"][1] == pytest.approx(0.8)


def test_gini_matches_mean_absolute_difference():
    rng = np.random.default_rng(1)
    w = rng.exponential(size=40)
    w /= w.sum()
    mad = np.abs(w[:, None] - w[None, :]).sum() / (2 * len(w) * w.sum())
    assert coverage.concentration(w)["gini"] == pytest.approx(mad)


def test_bad_input():
    with pytest.raises(ValueError):
        coverage.concentration([0.5, -0.1, 0.6])
    with pytest.raises(ValueError):
        coverage.concentration([0.5, 0.5], ps=(0.0,))
    assert np.isnan(coverage.concentration([0.0, 0.0])["k@0.8"])
    assert np.isnan(coverage.concentration([1.0])["entropy"])


def test_curve_on_grid_matches_exact_points():
    w = np.array([0.1, 0.4, 0.2, 0.3])
    x, y = coverage.coverage_curve(w)
    np.testing.assert_allclose(coverage.curve_on_grid(w, x), y)
    g = coverage.curve_on_grid(np.stack([w, np.full(4, 0.25)]), 11)
    assert g.shape == (2, 11) and (np.diff(g, axis=1) >= 0).all()
    np.testing.assert_allclose(g[1], np.linspace(0, 1, 11))
    assert g[0, 0] == 0 and g[0, -1] == pytest.approx(1)


def _table():
    rows = []
    for c, t in (("a", 10), ("b", 4)):
        w = np.full(t, 1.0 / t)
        one = np.eye(t)[0]
        rows.append(pd.DataFrame({"clip_id": c, "frame": np.arange(t)[::-1], "att_mean": w, "att_h0": one,
                                  "att_h1": w, "attr_ig": -one}))
    return pd.concat(rows, ignore_index=True)


def test_clip_metrics_on_frame_table():
    meta = pd.DataFrame({"clip_id": ["a", "b"], "speaker": ["s1", "s2"], "emotion": ["sad", "happy"]})
    m = coverage.clip_metrics(_table(), columns=coverage.weight_columns(_table(), attributions=True), clip_meta=meta)
    assert set(m["head"]) == {"mean", "h0", "h1", "attr_ig"}
    row = m.set_index(["clip_id", "head"])
    assert row.loc[("a", "mean"), "k@0.8"] == pytest.approx(0.8)
    assert row.loc[("b", "h0"), "k@0.8"] == pytest.approx(0.25)
    assert row.loc[("b", "attr_ig"), "k@0.8"] == pytest.approx(0.25)  # signed attributions: absolute value
    assert row.loc[("a", "h0"), "emotion"] == "sad" and row.loc[("a", "h0"), "n_frames"] == 10


def test_summarize_and_curves():
    rng = np.random.default_rng(2)
    rows, meta = [], []
    for i in range(30):
        t = int(rng.integers(20, 60))
        w = rng.dirichlet(np.full(t, 0.3))
        rows.append(pd.DataFrame({"clip_id": f"c{i}", "frame": np.arange(t), "att_mean": w, "att_h0": w}))
        meta.append({"clip_id": f"c{i}", "speaker": f"s{i % 5}", "emotion": ["sad", "angry"][i % 2]})
    frames, meta = pd.concat(rows), pd.DataFrame(meta)
    m = coverage.clip_metrics(frames, clip_meta=meta)
    s = coverage.summarize(m, by=("emotion", "head"), cluster="speaker", n_boot=200)
    r = s[(s["stat"] == "k@0.8") & (s["head"] == "mean") & (s["emotion"] == "sad")].iloc[0]
    assert r["n_clips"] == 15 and r["n_clusters"] == 5 and r["uniform"] == 0.8
    assert r["ci_low"] <= r["mean"] <= r["ci_high"]
    assert {"seed", "n_boot", "resample"} <= set(s.columns) and (s["resample"] == "speaker").all()
    curves = coverage.coverage_curves(frames, clip_meta=meta)
    assert curves.values.shape == (60, 101)
    cs = coverage.summarize_curves(curves, by=("head",), n_boot=100)
    assert len(cs) == 2 * 101 and (cs["ci_low"] <= cs["mean"] + 1e-12).all()
    np.testing.assert_allclose(cs["uniform"], np.tile(np.linspace(0, 1, 101), 2))
    ex = coverage.extreme_clips(m, n=3)
    assert list(ex["rank"]) == ["most concentrated"] * 3 + ["least concentrated"] * 3
    assert ex["k@0.8"].iloc[0] <= ex["k@0.8"].iloc[-1]


def test_boundary_mass_is_read_on_the_frames_the_model_heard():
    """Issue 28: a head on the last frames the model heard scores 1.0 there, whatever trimmed silence follows;
    uniform attention scores the uniform share at both ends."""
    from explain_ser.coverage import boundary_mass, boundary_table

    w = np.r_[np.zeros(18), 0.5, 0.5, np.zeros(10)]  # 20 heard frames, then 10 trimmed ones
    f = pd.DataFrame({"clip_id": "a", "frame": range(30), "att_h0": w, "att_h1": np.r_[np.full(20, 0.05), np.zeros(10)],
                      "model_input": [True] * 20 + [False] * 10})
    t = boundary_table(f).set_index("head")
    assert t.loc["h0", "boundary_last"] == pytest.approx(1.0) and t.loc["h0", "boundary_first"] == 0.0
    assert t.loc["h1", "boundary_last"] == pytest.approx(0.1) == t.loc["h1", "boundary_uniform"]
    assert t.loc["h0", "n_frames_seen"] == 20
    # without the model_input column every frame counts: the same head is then not on the edge at all
    assert boundary_table(f.drop(columns="model_input")).set_index("head").loc["h0", "boundary_last"] == 0.0
    assert boundary_mass([1.0, 1.0, 1.0])["uniform"] == pytest.approx(1 / 3)


def test_attribute_prints_each_heads_boundary_mass_and_flags_the_edge_heads(capsys):
    from explain_ser.commands.attribute import print_summary

    s = {"clip": "c.wav", "duration_s": 1.0, "n_frames": 50, "predicted": "sad", "probabilities": {"sad": 1.0},
         "frames_for_80pct": {"h0": 0.1, "mean": 0.5}, "top_segments": [], "alignment": None,
         "boundary": {"fraction": 0.1, "uniform": 0.1, "heads": {"h0": {"first": 0.0, "last": 0.57},
                                                                 "mean": {"first": 0.05, "last": 0.12}}}}
    print_summary(s)
    out = " ".join(capsys.readouterr().out.split())
    assert "first/last 10% of the model's frames (uniform = 10%): h0 0%/57%*, mean 5%/12%" in out
    assert "* over 20%" in out
