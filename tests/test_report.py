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
