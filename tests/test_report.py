"""End-to-end test of explain_ser.report on a tiny synthetic corpus: files, figures, no remote resource."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from explain_ser import report


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep")
    frames, meta = report.synthetic_corpus(n_speakers=3, clips_per_speaker=4, effect=1.5)
    dele = pd.DataFrame([{"method": m, "curve": "deletion", "fraction": f, "clip_id": c,
                          "score": 1 - f * (1.5 if m == "attention" else 1)}
                         for m in ("attention", "random") for f in np.linspace(0, 0.6, 4) for c in meta["clip_id"]])
    cmd = "explain-ser report manifest.csv --checkpoint toy --out 'x' <&>"
    rep = report.write_report([g for _, g in frames.groupby("clip_id")], meta, out,
                              model_card={"name": "toy", "pooler": "mhaap", "layer": 6}, command=cmd,
                              corpus={"name": "synthetic", "clips": len(meta)}, folds="2 speaker folds",
                              deletion=dele, n_boot=50, n_perm=50, seed=7)
    return rep, out, cmd


def test_report_files(written):
    rep, out, _ = written
    for name in ("clip_metrics", "coverage_summary", "coverage_curves", "enrichment", "top_composition", "prosody",
                 "agreement", "deletion", "confusion", "classification", "examples"):
        assert (out / "tables" / f"{name}.csv").exists() and (out / "tables" / f"{name}.parquet").exists()
    for name in ("coverage_by_head", "coverage_by_emotion", "k08_by_emotion", "enrichment", "prosody", "confusion",
                 "deletion", "agreement"):
        assert (out / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    prov = json.loads((out / "report.json").read_text())
    assert prov["seed"] == 7 and prov["n_perm"] == 50 and prov["resample"] == "speaker"
    assert prov["model_card"]["pooler"] == "mhaap"
    assert not list(out.rglob("*.tmp*"))  # atomic writes leave no temporaries
    enr = pd.read_parquet(out / "tables" / "enrichment.parquet")
    assert {"enrichment", "ci_low", "null_low", "p", "q", "seed"} <= set(enr.columns)
    assert len(pd.read_csv(out / "tables" / "clip_metrics.csv")) == 12 * 3  # clips x (mean + 2 heads)


def test_html_is_self_contained(written):
    rep, out, cmd = written
    page = rep.html.read_text(encoding="utf-8")
    assert page.count('class="plotly-graph-div"') >= 8
    assert "Plotly.newPlot" in page and len(page) > 1_000_000  # plotly.js is inlined
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)
    assert not re.search(r"<link[^>]*href\s*=\s*[\"']?(https?:)?//", page, re.I)
    assert not re.search(r"<(img|iframe|source|audio|video)[^>]*src\s*=\s*[\"']?(https?:)?//", page, re.I)
    assert not re.search(r"url\(\s*[\"']?(https?:)?//", page, re.I)
    assert "cdn.plot.ly" not in page.split("</script>", 1)[1]  # nothing after the inlined library
    assert "explain-ser report manifest.csv --checkpoint toy --out &#x27;x&#x27; &lt;&amp;&gt;" in page
    for text in ("Model card", "mhaap", "Corpus and folds", "2 speaker folds", "k@0.8", "Most and least"):
        assert text in page


def test_rewrite_same_dir(written, tmp_path):
    rep, out, _ = written
    frames, meta = report.synthetic_corpus(n_speakers=2, clips_per_speaker=2, seed=3)
    frames = frames.drop(columns=["attr_ig", "f0", "intensity", "hnr", "phone", "phone_class", "stress", "hyper",
                                  "vocalization", "voiced"])
    meta = meta.drop(columns=["predicted", "speaker"])
    rep2 = report.write_report(frames, meta, tmp_path, n_boot=20, n_perm=20)
    assert "enrichment" not in rep2.tables and "confusion" not in rep2.tables
    assert rep2.tables["coverage_summary"]["resample"].eq("clip").all()
    assert rep2.html.exists()


# --- compute apart from render (issue 14 item 5) -------------------------------------------------

FILES_BEFORE = {  # every file write_report wrote before the split: tests, the explorer and analyses/ read them
    "tables": ("clip_metrics", "coverage_summary", "coverage_curves", "examples", "enrichment", "top_composition",
               "prosody", "prosody_per_clip", "agreement", "agreement_summary", "deletion", "confusion",
               "classification", "clip_meta"),
    "figures": ("coverage_by_head", "coverage_by_emotion", "k08_by_emotion", "k08_by_head", "enrichment",
                "enrichment_phones", "top_composition", "prosody", "agreement", "deletion", "confusion"),
}


def test_every_file_of_before_is_written(written):
    rep, out, _ = written
    for name in FILES_BEFORE["tables"]:
        assert (out / "tables" / f"{name}.csv").is_file() and (out / "tables" / f"{name}.parquet").is_file(), name
    for name in FILES_BEFORE["figures"]:
        assert (out / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
    assert (out / "report.json").is_file() and rep.html == out / "report.html"
    assert {p.relative_to(out).as_posix() for p in rep.files} == {
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}  # Report.files lists them all


def test_compute_writes_nothing_and_render_writes_the_same(tmp_path, monkeypatch):
    from explain_ser.report_html import render_report

    frames, meta = report.synthetic_corpus(n_speakers=2, clips_per_speaker=3, seed=5)
    monkeypatch.chdir(tmp_path)
    data = report.compute_report(frames, meta, n_boot=20, n_perm=20, seed=1)
    assert not list(tmp_path.rglob("*"))  # no file, no folder
    assert {"clip_metrics", "coverage_summary", "enrichment", "classification", "clip_meta"} <= set(data.tables)
    assert data.facts["resample"] == "speaker" and data.facts["n_clips"] == 6
    assert {"classification", "concentration", "enrichment"} <= set(data.findings)
    json.dumps(data.findings)  # JSON-safe: it goes into report.json

    rendered = render_report(data, tmp_path / "a")  # write_report is this call after compute_report
    assert rendered.data is data and not list(tmp_path.rglob("*.tmp*"))
    for name, table in data.tables.items():
        assert (tmp_path / "a" / "tables" / f"{name}.parquet").is_file(), name
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a/tables/coverage_summary.parquet"),
                                  data.tables["coverage_summary"], check_dtype=False)
    pngs = {p.stem for p in (tmp_path / "a" / "figures").glob("*.png")}
    assert set(FILES_BEFORE["figures"]) - {"deletion"} <= pngs and "coverage_summary" in pngs  # no deletion given


def test_key_findings_come_first(written):
    rep, out, _ = written
    page = rep.html.read_text(encoding="utf-8")
    box = page[page.index("id='findings'"):page.index("<h2 id='run'>")]
    assert page.index("Key findings") < page.index("Model card")
    f = rep.data.findings
    for text in ("UA", "macro-F1", "median k@0.8", "uniform", "Leygue", "AOPC", "attention", "random"):
        assert text in box, text
    assert f"{f['concentration']['median']:.2f}" in box
    top = f["enrichment"]["top"][0]
    assert top["category"] in box and f["enrichment"]["significant"] == (top["q"] < 0.05)
    aopc = {r["method"]: r["aopc"] for r in f["aopc"]}
    assert aopc["attention"] > aopc["random"]  # the planted effect: deletion by attention bites faster
    assert (out / "tables" / "aopc.csv").is_file()


def test_aopc_is_the_faithfulness_definition():
    from explain_ser.explain.faithfulness import aopc

    rng = np.random.default_rng(0)
    d = pd.DataFrame([{"clip_id": c, "method": m, "curve": k, "fraction": f, "score": rng.random()}
                      for c in "abc" for m in ("attention", "random") for k in ("deletion", "insertion")
                      for f in (0.0, 0.3, 0.6)])
    mine = report.aopc_summary(d, n_boot=20).set_index("method")["aopc"]
    ref = aopc(d).groupby("method")["aopc"].mean()
    pd.testing.assert_series_equal(mine.sort_index(), ref.sort_index(), check_names=False)


@pytest.fixture(scope="module")
def one_speaker(tmp_path_factory):
    """One speaker; the model knows 'calm' and 'fearful' but no clip is either; two clips predicted calm."""
    out = tmp_path_factory.mktemp("one")
    frames, meta = report.synthetic_corpus(n_speakers=1, clips_per_speaker=8, seed=2)
    meta["predicted"] = meta["emotion"]
    meta.loc[[0, 1], "predicted"] = "calm"
    card = {"checkpoint": "toy", "labels": ["angry", "calm", "fearful", "happy", "neutral", "sad"],
            "metrics": {"cv": {"summary": {"ua": {"mean": 0.7, "std": 0.05}, "wa": {"mean": 0.72, "std": 0.04},
                                           "macro_f1": {"mean": 0.69, "std": 0.05}},
                               "pooled": {"ua": 0.7, "recall": {"angry": 0.9, "calm": 0.5}}}},
            "training": {"corpus": "toy", "speakers": ["s1", "s2"], "config": {"lr": 0.001, "epochs": 6},
                         "label_counts": {"angry": 10, "calm": 12}}}
    rep = report.write_report(frames, meta, out, model_card=card, n_boot=50, n_perm=20)
    return rep, meta


def test_one_speaker_says_why_there_is_no_speaker_ci(one_speaker):
    rep, _ = one_speaker
    page = rep.html.read_text(encoding="utf-8")
    assert "Too few speakers for a speaker-bootstrap CI" in page
    assert json.loads((rep.out_dir / "report.json").read_text())["resample"] == "clip"
    cs = rep.tables["coverage_summary"]
    k = cs[(cs["grouping"] == "head") & (cs["head"] == "mean") & (cs["stat"] == "k@0.8")].iloc[0]
    assert k["resample"] == "clip" and k["ci_low"] < k["mean"] < k["ci_high"]  # an interval, not the mean twice


def test_absent_classes_are_named_not_nan(one_speaker):
    from explain_ser.metrics import classification_metrics

    rep, meta = one_speaker
    page = rep.html.read_text(encoding="utf-8")
    assert "nan %" not in page and "nan&nbsp;%" not in page
    note = re.search(r"(\d+) classes with no clip here: ([^.]+)\.", page)
    assert note and set(note.group(2).split(", ")) == {"calm", "fearful"}  # neutral, happy, sad, angry have clips
    assert "clips predicted as calm still count as errors" in page
    want = classification_metrics(meta["emotion"], meta["predicted"], sorted(set(meta["emotion"]) | {"calm"}))
    row = rep.tables["classification"].iloc[0]
    assert row["macro_F1"] == pytest.approx(want["macro_f1"]) and row["UA"] == pytest.approx(want["ua"])
    assert row["n_classes"] == meta["emotion"].nunique()
    # the table keeps the full matrix; the figure shows only rows of classes with clips
    assert "calm" in set(rep.tables["confusion"]["true"])
    fig = page[page.index('id="fig-confusion-matrix"'):]
    fig = fig[:fig.index("</script>")]
    assert re.search(r'"y":\[[^\]]*\]', fig) and '"calm"' not in re.search(r'"y":\[[^\]]*\]', fig).group(0)


def test_model_card_is_tables_and_long_tables_fold(one_speaker, written):
    rep, _ = one_speaker
    page = rep.html.read_text(encoding="utf-8")
    card = page[page.index("<h3>Model card</h3>"):page.index("<h3>Corpus and folds</h3>")]
    assert "{" not in card and "[" not in card  # no JSON paragraphs
    for text in ("Cross-validated metrics", "70.0 % ± 5.0", "Per-class recall", "Training data",
                 "training configuration (2 settings)", "6 classes: angry, calm"):
        assert text in card, text
    page = written[0].html.read_text(encoding="utf-8")
    folded = re.findall(r"<details><summary>([^<]*)\((\d+) rows\)</summary>", page)
    assert any(s.startswith("enrichment per category") for s, _ in folded)
    assert all(int(n) > 15 for _, n in folded)
    tables = re.split(r"<table", page)[1:]
    cls = page[page.index("<h2 id='classification'>"):page.index("<h2 id='coverage'>")]
    assert "<details>" not in cls.split("Confusion matrix")[0]  # a short table stays open
    assert len(tables) > 5


def test_localisation_scores_the_maps_against_manifest_cues(tmp_path):
    """Clips whose manifest gives a cue: the laugh stretch planted in head 0's scores. Head 0 must put far more
    of its mass there than chance and than head 1 (which does not prefer laughs); the page says so, and shows
    the checkpoint's recorded pointing-game result."""
    frames, meta = report.synthetic_corpus(n_speakers=3, clips_per_speaker=6, effect=3.0, seed=4)
    cue = {}
    for cid, g in frames.groupby("clip_id"):
        laugh = g.loc[g["vocalization"] == "laugh", "frame"]
        if len(laugh):
            cue[cid] = (0.02 * laugh.min(), 0.02 * (laugh.max() + 1))
    assert len(cue) >= 4
    meta = meta.assign(cue_start=meta["clip_id"].map(lambda c: cue.get(c, (np.nan,))[0]),
                       cue_end=meta["clip_id"].map(lambda c: cue.get(c, (np.nan, np.nan))[1]))
    data = report.compute_report(frames, meta, n_boot=200, n_perm=50)
    loc = data.tables["localisation_summary"].set_index("method")
    assert int(loc.loc["attention:h0", "clips"]) == len(cue)
    assert loc.loc["attention:h0", "mass"] > 3 * loc.loc["attention:h0", "chance"]
    assert loc.loc["attention:h0", "mass"] > loc.loc["attention:h1", "mass"] + 0.2
    card = {"labels": ["a", "b"], "localisation": {"text": "pointing game: 97 % on the cue", "command": "explain-ser x"}}
    rep = report.write_report(frames, meta, tmp_path / "r", model_card=card, n_boot=200, n_perm=50)
    html = rep.html.read_text()
    assert "id='localisation'" in html and "pointing game: 97 % on the cue" in html
    assert "Maps of this run against the manifest" in html
    no_cue = report.write_report(*report.synthetic_corpus(n_speakers=2, clips_per_speaker=2), tmp_path / "n",
                                 n_boot=50, n_perm=20).html.read_text()
    assert "gives no cue times" in no_cue and "records no pointing-game result" in no_cue
