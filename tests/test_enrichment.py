"""Tests for explain_ser.enrichment: categories, the circular-shift null, prosody, agreement."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kstest, spearmanr

from explain_ser import enrichment


def _corpus(rng, n_clips=12, t=60, effect=0.0, segment=6):
    """Clips with random vowel/stop segments; attention = softmax(smooth circular noise + effect * vowel)."""
    rows = []
    for c in range(n_clips):
        lab = np.repeat(rng.integers(0, 2, size=t // segment + 1), segment)[:t]
        noise = rng.normal(size=t)
        kernel = np.zeros(t)
        kernel[:5] = 1 / 5
        smooth = np.real(np.fft.ifft(np.fft.fft(noise) * np.fft.fft(kernel))) * 2  # circularly stationary
        score = smooth + effect * lab
        w = np.exp(score - score.max())
        rows.append(pd.DataFrame({"clip_id": f"c{c}", "frame": np.arange(t), "att_mean": w / w.sum(),
                                  "phone_class": np.where(lab == 1, "vowel", "stop")}))
    return pd.concat(rows, ignore_index=True)


def test_shift_table_matches_brute_force():
    rng = np.random.default_rng(0)
    w, x = rng.random((9, 2)), rng.random((9, 3)) > 0.5
    c = enrichment._shift_table(w, x)
    for s in range(9):
        brute = np.roll(w, s, axis=0).T @ x.astype(float)  # w[(t - s) mod T]
        np.testing.assert_allclose(c[s], brute, atol=1e-12)


def test_uniform_attention_is_not_enriched():
    frames = _corpus(np.random.default_rng(1))
    frames["att_mean"] = frames.groupby("clip_id")["att_mean"].transform(lambda v: 1.0 / len(v))
    tab = enrichment.enrichment(frames, families=("phone_class",), n_perm=99, n_boot=100)
    np.testing.assert_allclose(tab["enrichment"], 1.0)
    np.testing.assert_allclose(tab["null_mean"], 1.0)
    assert (tab["p"] == 1.0).all() and (tab["uniform"] == 1.0).all()


def test_null_p_values_are_uniform_without_effect():
    rng = np.random.default_rng(2)
    ps = []
    for rep in range(150):
        tab = enrichment.enrichment(_corpus(rng, n_clips=6, t=40), families=("phone_class",), n_perm=99,
                                    n_boot=10, seed=rep, min_frames=1)
        ps.append(tab.set_index("category").loc["vowel", "p"])
    ps = np.array(ps)
    assert kstest(ps, "uniform").pvalue > 0.01
    assert 0.0 <= (ps <= 0.05).mean() <= 0.12


def test_planted_effect_is_found():
    frames = _corpus(np.random.default_rng(3), effect=1.5)
    meta = pd.DataFrame({"clip_id": [f"c{i}" for i in range(12)], "speaker": [f"s{i % 4}" for i in range(12)]})
    tab, comp = enrichment.enrichment(frames, clip_meta=meta, cluster="speaker", families=("phone_class",),
                                      n_perm=199, n_boot=200, composition=True)
    v = tab.set_index("category").loc["vowel"]
    assert v["enrichment"] > 1.3 and v["ci_low"] > 1 and v["q"] < 0.05 and v["mark"].startswith("*")
    assert v["null_low"] < 1 < v["null_high"] and v["resample"] == "speaker"
    assert tab.set_index("category").loc["stop", "enrichment"] < 1
    cv = comp.set_index("category").loc["vowel"]
    assert cv["lift"] > 1.2 and cv["p"] < 0.05
    with pytest.raises(ValueError):
        enrichment.enrichment(frames, cluster="speaker", n_perm=9, n_boot=9)  # needs clip_meta


def test_categories_from_annotations():
    t = 40
    frames = pd.DataFrame({
        "clip_id": "a", "frame": np.arange(t),
        "phone": ["AA1"] * 10 + ["IY0"] * 10 + ["S"] * 10 + ["sil"] * 10,
        "phone_class": ["vowel"] * 20 + ["fricative"] * 10 + ["silence"] * 10,
        "vocalization": [""] * 30 + ["laugh"] * 5 + [None] * 5,
        "voiced": [True] * 20 + [False] * 20,
        "f0": np.r_[np.linspace(100, 200, 20), np.full(20, np.nan)],
        "intensity": np.linspace(50, 70, t),
        "hyper": np.r_[np.full(10, 2.0), np.zeros(30)],
    })
    labels, x = enrichment.categories(frames, min_frames=1)
    got = {(f, c): int(x[:, i].sum()) for i, (f, c) in enumerate(labels.itertuples(index=False))}
    assert got[("phone", "AA")] == 10 and got[("phone", "IY")] == 10  # stress digits stripped
    assert got[("stress", "stressed vowel")] == 10 and got[("stress", "unstressed vowel")] == 10
    assert got[("vocalization", "laugh")] == 5 and got[("vocalization", "any vocalization")] == 5
    assert got[("voicing", "unvoiced")] == 20
    assert got[("f0", "f0 Q4 (high)")] == 5 and sum(got[("f0", k)] for k in
                                                   ("f0 Q1 (low)", "f0 Q2", "f0 Q3", "f0 Q4 (high)")) == 20
    assert got[("intensity", "intensity Q1 (low)")] == 10
    assert got[("hyper", "hyperarticulated")] == 10
    labels, _ = enrichment.categories(frames, min_frames=11)
    assert "AA" not in set(labels["category"])


def test_prosody_correlation_planted_and_exact():
    rng = np.random.default_rng(4)
    rows = []
    for c in range(10):
        t = 50
        f0 = 150 + 30 * np.sin(np.linspace(0, 3, t) + c) + rng.normal(0, 3, t)
        f0[rng.random(t) < 0.2] = np.nan
        w = np.exp(np.nan_to_num(f0, nan=150) / 20)
        rows.append(pd.DataFrame({"clip_id": f"c{c}", "frame": np.arange(t), "att_mean": w / w.sum(), "f0": f0,
                                  "intensity": rng.normal(60, 3, t)}))
    frames = pd.concat(rows, ignore_index=True)
    summ, per_clip = enrichment.prosody_correlation(frames, n_perm=199, n_boot=200)
    s = summ.set_index("track")
    assert s.loc["f0", "mean_rho"] > 0.9 and s.loc["f0", "p"] < 0.05
    assert abs(s.loc["intensity", "mean_rho"]) < 0.3
    one = frames[frames["clip_id"] == "c0"].dropna(subset=["f0"])
    expected = spearmanr(one["att_mean"], one["f0"]).statistic
    got = per_clip[(per_clip["clip_id"] == "c0") & (per_clip["track"] == "f0")]["rho"].iloc[0]
    assert got == pytest.approx(expected)


def test_attribution_agreement():
    rng = np.random.default_rng(5)
    w = rng.random(40)
    frames = pd.DataFrame({"clip_id": "a", "frame": np.arange(40), "att_mean": w / w.sum(), "attr_ig": -3 * w,
                           "attr_occlusion": rng.random(40)})
    agr = enrichment.attribution_agreement(frames).set_index("method")
    assert agr.loc["ig", "spearman"] == pytest.approx(1.0) and agr.loc["ig", "top_overlap"] == pytest.approx(1.0)
    assert abs(agr.loc["occlusion", "spearman"]) < 0.5
