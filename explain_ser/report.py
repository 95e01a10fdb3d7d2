"""The coverage report: one self-contained offline HTML page, CSV + Parquet tables and PNG figures.

:func:`write_report` takes what a batch run produced (FrameTables and clip metadata) and writes::

    out_dir/report.html     one file, plotly.js inlined once, no remote resource of any kind
    out_dir/report.json     provenance: command, seeds, resampling counts, versions, model card, corpus
    out_dir/tables/*.csv    every number shown (and *.parquet, same content)
    out_dir/figures/*.png   matplotlib versions of the figures, for papers and slides

Every file is written to a temporary name in its directory and moved into place with
:func:`os.replace`, so an interrupted run never leaves a half-written report behind.

Inputs (column names are the contract with :mod:`explain_ser.frames`):

* ``frames``: one FrameTable or a list of them (concatenated): ``clip_id, frame, att_mean, att_<head>...``
  and, when available, ``attr_<method>``, ``phone``, ``phone_class``, ``stress``, ``hyper``,
  ``vocalization``, ``f0``, ``intensity``, ``hnr``, ``voiced``. Missing annotation columns only remove
  the analyses that need them.
* ``clip_meta``: one row per clip: ``clip_id`` and any of ``speaker, gender, emotion, predicted, fold,
  pooler, layer`` (``probabilities`` and other columns are carried into the tables untouched).
  With ``speaker`` present, confidence intervals resample speakers (cluster bootstrap).
* ``deletion``: optional long table ``method, fraction, score`` (+ ``curve`` = deletion/insertion,
  + ``clip_id`` to have the mean and its CI computed here).
* ``confusion``: optional counts matrix (index true, columns predicted); otherwise computed from
  ``clip_meta.emotion`` and ``clip_meta.predicted`` when both exist.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from explain_ser import coverage, enrichment, plots, stats
from explain_ser.atomic import temporary_beside

DEFAULT_N_BOOT = stats.DEFAULT_N_BOOT  # one bootstrap default for every statistic
DEFAULT_N_PERM = 1000


# ---------------------------------------------------------------------------------------------
# atomic file writing


def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; on success move it onto ``path`` (``os.replace``)."""
    return temporary_beside(path, suffix=".tmp" + Path(path).suffix)


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_table(df: pd.DataFrame, stem: str | os.PathLike, parquet: bool = True) -> list[Path]:
    """Write ``stem.csv`` (and ``stem.parquet``) atomically; object columns that Parquet cannot hold are
    stored as strings there. Returns the paths written."""
    stem = Path(stem)
    out = []
    with atomic_path(stem.with_suffix(".csv")) as tmp:
        df.to_csv(tmp, index=False)
    out.append(stem.with_suffix(".csv"))
    if parquet:
        with atomic_path(stem.with_suffix(".parquet")) as tmp:
            try:
                df.to_parquet(tmp, index=False)
            except Exception:  # mixed-type object columns (lists, dicts): store their text
                obj = {c: df[c].map(lambda v: None if v is None else str(v)) for c in df.columns
                       if df[c].dtype == object}
                df.assign(**obj).to_parquet(tmp, index=False)
        out.append(stem.with_suffix(".parquet"))
    return out


def save_png(fig, path) -> Path:
    """Save a matplotlib figure as PNG atomically and release it."""
    with atomic_path(path) as tmp:
        plots.save_figure(fig, tmp, format="png")
    return Path(path)


# ---------------------------------------------------------------------------------------------
# the report


@dataclass
class Report:
    """What :func:`write_report` wrote and the tables it computed (all also on disk)."""

    out_dir: Path
    html: Path
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def _concat_frames(frames) -> pd.DataFrame:
    if isinstance(frames, pd.DataFrame):
        return frames
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        raise ValueError("no frame tables given")
    return pd.concat(frames, ignore_index=True)


def classification_summary(clip_meta: pd.DataFrame) -> pd.DataFrame:
    """UA (balanced accuracy), WA (accuracy) and macro-F1, overall and per ``fold`` when present."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    m = clip_meta.dropna(subset=["emotion", "predicted"])
    rows = []
    parts = [("all", m)] + ([(f, g) for f, g in m.groupby("fold", sort=True)] if "fold" in m else [])
    for name, g in parts:
        y, p = g["emotion"].astype(str), g["predicted"].astype(str)
        rows.append({"fold": str(name), "n_clips": len(g), "UA": balanced_accuracy_score(y, p),
                     "WA": accuracy_score(y, p), "macro_F1": f1_score(y, p, average="macro")})
    out = pd.DataFrame(rows)
    if "fold" in m and m["fold"].nunique() > 1:
        folds = out[out["fold"] != "all"]
        out = pd.concat([out, pd.DataFrame([{"fold": "mean over folds", "n_clips": int(folds["n_clips"].sum()),
                                            **{k: folds[k].mean() for k in ("UA", "WA", "macro_F1")}},
                                           {"fold": "sd over folds", "n_clips": int(folds["n_clips"].sum()),
                                            **{k: folds[k].std(ddof=1) for k in ("UA", "WA", "macro_F1")}}])],
                        ignore_index=True)
    return out


def _confusion_from_meta(clip_meta: pd.DataFrame) -> pd.DataFrame | None:
    if not {"emotion", "predicted"} <= set(clip_meta.columns):
        return None
    m = clip_meta.dropna(subset=["emotion", "predicted"])
    labels = sorted(set(m["emotion"].astype(str)) | set(m["predicted"].astype(str)), key=plots._natural)
    return pd.crosstab(m["emotion"].astype(str), m["predicted"].astype(str)).reindex(
        index=labels, columns=labels, fill_value=0)


def _deletion_summary(deletion: pd.DataFrame, n_boot: int, seed: int) -> pd.DataFrame:
    """Mean deletion curve per method (and curve kind) with a bootstrap CI over clips, if per clip."""
    value = "score" if "score" in deletion else [c for c in deletion.columns if c not in
                                                ("method", "fraction", "curve", "clip_id")][0]
    if "clip_id" not in deletion:
        return deletion.rename(columns={value: "score"})
    keys = ["method", "fraction"] + (["curve"] if "curve" in deletion else [])
    rows = []
    for key, g in deletion.groupby(keys, sort=True):
        mean, lo, hi = stats.bootstrap_ci(g[value].to_numpy(float), n_boot=n_boot, seed=seed)
        rows.append({**dict(zip(keys, key)), "score": float(mean), "ci_low": float(lo), "ci_high": float(hi),
                     "n_clips": len(g)})
    return pd.DataFrame(rows)


def _versions() -> dict[str, str]:
    import matplotlib
    import plotly
    import scipy

    from explain_ser import __version__

    return {"explain_ser": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "pandas": pd.__version__, "matplotlib": matplotlib.__version__,
            "plotly": plotly.__version__}


def write_report(
    frames: pd.DataFrame | Sequence[pd.DataFrame],
    clip_meta: pd.DataFrame,
    out_dir: str | os.PathLike,
    *,
    model_card: Mapping | None = None,
    command: str = "",
    corpus: str | Mapping | None = None,
    folds: str | Mapping | pd.DataFrame | None = None,
    deletion: pd.DataFrame | None = None,
    confusion: pd.DataFrame | None = None,
    cluster: str | None = "auto",
    n_boot: int = DEFAULT_N_BOOT,
    n_perm: int = DEFAULT_N_PERM,
    seed: int = 0,
    n_examples: int = 5,
    title: str = "explain_ser coverage report",
    prosody_heads: Sequence[str] = ("att_mean",),
) -> Report:
    """Compute the coverage, enrichment and prosody statistics of a corpus and write the report.

    ``cluster``: ``"auto"`` resamples speakers when ``clip_meta`` has a ``speaker`` column, clips
    otherwise; ``None`` forces clips; any other column name is used as the cluster. ``n_boot``,
    ``n_perm`` and ``seed`` are recorded in every table and in ``report.json``. ``model_card``,
    ``corpus`` and ``folds`` are shown as given (``folds`` may also be a table); ``command`` is the
    exact command line that produced the run. See the module docstring for the inputs' columns.
    Returns a :class:`Report` with the output paths and the computed tables.
    """
    out = Path(out_dir)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    fr = _concat_frames(frames)
    heads = [c for c in fr.columns if c.startswith("att_") and c != "att_mean"]
    if "att_mean" not in fr:
        if not heads:
            raise ValueError("frames have no att_* attention columns")
        fr = fr.assign(att_mean=fr[heads].mean(axis=1))  # the mean over heads, as frames.py defines it
    meta = clip_meta.copy()
    if "clip_id" not in meta or "clip_id" not in fr:
        raise ValueError("frames and clip_meta both need a clip_id column")
    if cluster == "auto":
        cluster = "speaker" if "speaker" in meta and meta["speaker"].notna().all() else None
    common = dict(n_boot=n_boot, seed=seed)
    tables: dict[str, pd.DataFrame] = {}
    figs: dict[str, object] = {}  # name -> plotly figure, in page order
    pngs: dict[str, Path] = {}

    # --- coverage ---------------------------------------------------------------------------
    cols = coverage.weight_columns(fr)
    metrics = coverage.clip_metrics(fr, cols, clip_meta=meta)
    tables["clip_metrics"] = metrics
    groupings = [("head",)] + [(g, "head") for g in ("emotion", "gender", "pooler", "layer", "speaker")
                               if g in metrics and metrics[g].nunique(dropna=True) >= 1]
    summ = []
    for by in groupings:
        part = coverage.summarize(metrics, by=by, cluster=cluster if "speaker" not in by else None, **common)
        summ.append(part.assign(grouping="+".join(by)))
    cs = pd.concat(summ, ignore_index=True)
    lead = ["grouping"] + [g for g in ("head", "emotion", "gender", "pooler", "layer", "speaker") if g in cs]
    tables["coverage_summary"] = cs[lead + [c for c in cs.columns if c not in lead]]
    curves = coverage.coverage_curves(fr, cols, grid=101, clip_meta=meta)
    curve_tabs = [coverage.summarize_curves(curves, by=("head",), cluster=cluster, **common).assign(grouping="head")]
    if "emotion" in curves.index:
        sub = curves.index["head"] == "mean"
        cm = coverage.CurveSet(curves.index[sub].reset_index(drop=True), curves.grid, curves.values[sub.to_numpy()])
        curve_tabs.append(coverage.summarize_curves(cm, by=("emotion",), cluster=cluster, **common)
                          .assign(head="mean", grouping="emotion"))
    tables["coverage_curves"] = pd.concat(curve_tabs, ignore_index=True)
    tables["examples"] = coverage.extreme_clips(metrics, head="mean", n=n_examples)

    ch = tables["coverage_curves"]
    by_head = ch[ch["grouping"] == "head"]
    figs["Coverage curves by head"] = plots.coverage_plotly(by_head, by="head", title="Coverage by head")
    pngs["coverage_by_head"] = save_png(plots.coverage_figure(by_head, by="head", title="Coverage by head"),
                                        out / "figures" / "coverage_by_head.png")
    if (ch["grouping"] == "emotion").any():
        by_emo = ch[ch["grouping"] == "emotion"]
        figs["Coverage curves by emotion (mean over heads)"] = plots.coverage_plotly(
            by_emo, by="emotion", title="Coverage by emotion (mean attention)")
        pngs["coverage_by_emotion"] = save_png(plots.coverage_figure(by_emo, by="emotion", title="Coverage by emotion"),
                                               out / "figures" / "coverage_by_emotion.png")
    kby = "emotion" if "emotion" in metrics else "head"
    figs["k@0.8 per clip"] = plots.k_distribution_plotly(metrics, by=kby, title="k@0.8 per clip (mean attention)")
    pngs["k08_by_" + kby] = save_png(plots.k_distribution_figure(metrics, by=kby),
                                     out / "figures" / f"k08_by_{kby}.png")
    figs["k@0.8 per head"] = plots.k_distribution_plotly(metrics, by="head", head=None, title="k@0.8 per head")
    pngs["k08_by_head"] = save_png(plots.k_distribution_figure(metrics, by="head", head=None),
                                   out / "figures" / "k08_by_head.png")

    # --- enrichment -------------------------------------------------------------------------
    labels, _ = enrichment.categories(fr)
    if len(labels):
        enr, comp = enrichment.enrichment(fr, columns=cols, clip_meta=meta, cluster=cluster, n_perm=n_perm,
                                          composition=True, **common)
        tables["enrichment"], tables["top_composition"] = enr, comp
        groups = [f for f in enrichment.FAMILIES if f != "phone"]
        figs["Enrichment (mean attention)"] = plots.enrichment_plotly(
            enr, head="mean", families=groups, title="Attention enrichment (mean attention)")
        pngs["enrichment"] = save_png(plots.enrichment_figure(enr, head="mean", families=groups,
                                                              title="Attention enrichment"),
                                      out / "figures" / "enrichment.png")
        if (enr["family"] == "phone").any():
            figs["Enrichment per phone"] = plots.enrichment_plotly(enr, head="mean", families=["phone"],
                                                                   title="Attention enrichment per phone")
            pngs["enrichment_phones"] = save_png(plots.enrichment_figure(
                enr, head="mean", families=["phone"], title="Enrichment per phone"),
                out / "figures" / "enrichment_phones.png")
        figs["Composition of the top 15 % frames"] = plots.enrichment_plotly(
            comp, head="mean", value="lift", families=groups,
            title="Top-15 % frame composition (lift over frame share)")
        pngs["top_composition"] = save_png(plots.enrichment_figure(comp, head="mean", value="lift", families=groups,
                                                                   title="Top-15 % composition"),
                                           out / "figures" / "top_composition.png")
    pros_cols = [c for c in prosody_heads if c in fr]
    if pros_cols and any(t in fr for t in ("f0", "intensity", "hnr")):
        psum, pclip = enrichment.prosody_correlation(fr, columns=pros_cols, clip_meta=meta, cluster=cluster,
                                                     n_perm=n_perm, **common)
        if len(psum):
            tables["prosody"], tables["prosody_per_clip"] = psum, pclip
            figs["Attention vs prosody"] = plots.prosody_plotly(psum, pclip, title="Attention vs prosody")
            pngs["prosody"] = save_png(plots.prosody_figure(psum, pclip, title="Attention vs prosody"),
                                       out / "figures" / "prosody.png")

    # --- attributions, deletion, classification -----------------------------------------------
    if any(c.startswith("attr_") for c in fr.columns) and "att_mean" in fr:
        agr = coverage.attach_meta(enrichment.attribution_agreement(fr), meta)
        tables["agreement"] = agr
        tables["agreement_summary"] = coverage.summarize(
            agr, by=("method",), statistics=("spearman", "top_overlap"), cluster=cluster, **common)
        figs["Attention vs attribution agreement"] = plots.agreement_plotly(agr, title="Attention vs attributions")
        pngs["agreement"] = save_png(plots.agreement_figure(agr), out / "figures" / "agreement.png")
    if deletion is not None and len(deletion):
        dele = _deletion_summary(deletion, n_boot, seed)
        tables["deletion"] = dele
        figs["Deletion curves"] = plots.deletion_plotly(dele, title="Deletion / insertion curves")
        pngs["deletion"] = save_png(plots.deletion_figure(dele), out / "figures" / "deletion.png")
    conf = confusion if confusion is not None else _confusion_from_meta(meta)
    if conf is not None and conf.size:
        tables["confusion"] = conf.rename_axis("true").reset_index()
        figs["Confusion matrix"] = plots.confusion_plotly(conf, title="Confusion matrix (row %)")
        pngs["confusion"] = save_png(plots.confusion_figure(conf), out / "figures" / "confusion.png")
    if {"emotion", "predicted"} <= set(meta.columns):
        tables["classification"] = classification_summary(meta)
    if isinstance(folds, pd.DataFrame):
        tables["folds"] = folds
    tables["clip_meta"] = meta

    # --- write ----------------------------------------------------------------------------
    files = []
    for name, df in tables.items():
        files += write_table(df, out / "tables" / name)
    provenance = {
        "title": title, "command": command, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": seed, "n_boot": n_boot, "n_perm": n_perm, "resample": cluster or "clip", "ci": stats.DEFAULT_CI,
        "n_clips": int(metrics["clip_id"].nunique()), "n_frames": len(fr), "weight_columns": cols,
        "model_card": dict(model_card or {}), "corpus": corpus if not isinstance(corpus, Mapping) else dict(corpus),
        "folds": folds if folds is None or isinstance(folds, str) else
        (dict(folds) if isinstance(folds, Mapping) else "see tables/folds.csv"),
        "versions": _versions(), "tables": sorted(tables), "figures": sorted(pngs),
    }
    files.append(atomic_write_text(out / "report.json", json.dumps(provenance, indent=2, default=str)))
    page = _html(title, provenance, tables, figs, pngs, meta, cluster)
    html_path = atomic_write_text(out / "report.html", page)
    files += list(pngs.values()) + [html_path]
    return Report(out, html_path, tables, files)


# ---------------------------------------------------------------------------------------------
# HTML

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
pre{background:#f5f5f5;padding:.6em;overflow-x:auto;white-space:pre-wrap}
table.data{border-collapse:collapse;font-size:.85em;margin:.5em 0}
table.data td,table.data th{border:1px solid #ddd;padding:2px 6px;text-align:right}
table.data th{background:#f0f0f0}table.data td:first-child{text-align:left}
.note{color:#555;font-size:.9em}.fig{margin:1em 0}nav a{margin-right:1em}
"""


def _e(x) -> str:
    return html.escape(str(x))


def _table_html(df: pd.DataFrame, max_rows: int = 60) -> str:
    d = df.head(max_rows)
    txt = d.to_html(index=False, classes="data", border=0, float_format=lambda v: f"{v:.3g}", na_rep="",
                    escape=True)
    more = f'<p class="note">first {max_rows} of {len(df)} rows; all in the CSV.</p>' if len(df) > max_rows else ""
    return txt + more


def _kv_html(d: Mapping) -> str:
    def show(v):
        return json.dumps(v, default=str) if isinstance(v, (dict, list)) else v

    rows = "".join(f"<tr><th>{_e(k)}</th><td style='text-align:left'>{_e(show(v))}</td></tr>" for k, v in d.items())
    return f'<table class="data">{rows}</table>' if rows else '<p class="note">not given</p>'


def _corpus_html(meta: pd.DataFrame, corpus) -> str:
    parts = []
    if isinstance(corpus, Mapping):
        parts.append(_kv_html(corpus))
    elif corpus:
        parts.append(f"<p>{_e(corpus)}</p>")
    facts = {"clips": len(meta)}
    for c in ("speaker", "fold", "pooler", "layer"):
        if c in meta:
            facts[f"{c}s" if c != "speaker" else "speakers"] = int(meta[c].nunique())
    parts.append(_kv_html(facts))
    for c in ("emotion", "gender"):
        if c in meta:
            parts.append(f"<p><b>{_e(c)}</b>: " + ", ".join(
                f"{_e(k)} {v}" for k, v in meta[c].astype(str).value_counts().sort_index().items()) + "</p>")
    return "".join(parts)


def _html(title, prov, tables, figs, pngs, meta, cluster) -> str:
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    cfg = {"displaylogo": False, "responsive": True}
    body = [f"<h1>{_e(title)}</h1>",
            f'<p class="note">generated {_e(prov["created"])} by explain_ser {_e(prov["versions"]["explain_ser"])}; '
            f'{prov["n_clips"]} clips, {prov["n_frames"]} frames of 20 ms</p>',
            "<h2 id='run'>Run</h2><p>Exact command:</p>", f"<pre>{_e(prov['command'] or '(not given)')}</pre>",
            "<h3>Model card</h3>", _kv_html(prov["model_card"]),
            "<h3>Corpus and folds</h3>", _corpus_html(meta, prov["corpus"])]
    if isinstance(prov["folds"], (str, dict)) and prov["folds"]:
        folds_html = f"<p>folds: {_e(prov['folds'])}</p>"
        body.append(_kv_html(prov["folds"]) if isinstance(prov["folds"], dict) else folds_html)
    if "folds" in tables:
        body.append(_table_html(tables["folds"]))
    body.append(
        f"<p class='note'>Statistics: confidence intervals are {int(100 * prov['ci'])} % percentile bootstrap "
        f"intervals over {prov['n_boot']} resamples of {_e(prov['resample'])}s; enrichment and prosody p-values "
        f"come from {prov['n_perm']} circular shifts of each clip's attention against its alignment "
        f"(two-sided, Benjamini-Hochberg adjusted: * q&lt;0.05, ** q&lt;0.01, *** q&lt;0.001); seed {prov['seed']}. "
        "The uniform-attention reference is drawn in every figure (k@0.8 = 0.8, enrichment = 1, rho = 0).</p>")

    def fig_block(name):
        if name not in figs:
            return ""
        div = pio.to_html(figs[name], include_plotlyjs=False, full_html=False, config=cfg,
                          div_id="fig-" + "".join(ch if ch.isalnum() else "-" for ch in name.lower()))
        return f"<div class='fig'><h3>{_e(name)}</h3>{div}</div>"

    if "classification" in tables or "Confusion matrix" in figs:
        body.append("<h2 id='classification'>Classification</h2>")
        if "classification" in tables:
            body.append(_table_html(tables["classification"]))
        body.append(fig_block("Confusion matrix"))
    body.append("<h2 id='coverage'>Coverage: how concentrated is attention?</h2>")
    cs = tables["coverage_summary"]
    head_tab = cs[(cs["grouping"] == "head") & cs["stat"].isin(["k@0.8", "gini", "entropy", "n_eff_frac"])]
    body.append("<p>k@0.8 is the fraction of a clip's frames that hold 80 % of its attention (uniform: 0.80; "
                "Leygue et al. report 0.15).</p>")
    body.append(_table_html(head_tab[["head", "stat", "n_clips", "mean", "ci_low", "ci_high", "median", "uniform"]]))
    for name in ("Coverage curves by emotion (mean over heads)", "Coverage curves by head", "k@0.8 per clip",
                 "k@0.8 per head"):
        body.append(fig_block(name))
    if "emotion" in cs:
        emo = cs[(cs["grouping"] == "emotion+head") & (cs["head"] == "mean") & (cs["stat"] == "k@0.8")]
        body.append("<h3>k@0.8 by emotion (mean attention)</h3>")
        body.append(_table_html(emo[["emotion", "n_clips", "n_clusters", "mean", "ci_low", "ci_high"]]))
    ex = tables["examples"]
    keep = [c for c in ("rank", "clip_id", "speaker", "emotion", "predicted", "n_frames", "k@0.8", "gini", "n_eff")
            if c in ex]
    body.append("<h3>Most and least concentrated clips (mean attention)</h3>" + _table_html(ex[keep]))
    if "enrichment" in tables:
        body.append("<h2 id='enrichment'>Enrichment: what is under the attention?</h2>")
        body.append("<p>Attention share / frame share per category (1 = as uniform attention). Grey: the 95 % "
                    "range under circular shifts of the attention against the alignment.</p>")
        body.append(fig_block("Enrichment (mean attention)"))
        e = tables["enrichment"]
        body.append(_table_html(e[e["head"] == "mean"][["family", "category", "n_frames", "frame_share",
                                                         "attention_share", "enrichment", "ci_low", "ci_high",
                                                         "null_low", "null_high", "p", "q", "mark"]], max_rows=80))
        body.append(fig_block("Enrichment per phone"))
        body.append(fig_block("Composition of the top 15 % frames"))
    if "prosody" in tables:
        body.append("<h2 id='prosody'>Attention and prosody</h2>")
        body.append(fig_block("Attention vs prosody"))
        body.append(_table_html(tables["prosody"]))
    if "agreement" in tables or "deletion" in tables:
        body.append("<h2 id='faithfulness'>Attention, attributions and faithfulness</h2>")
        body.append(fig_block("Attention vs attribution agreement"))
        if "agreement_summary" in tables:
            body.append(_table_html(tables["agreement_summary"][["method", "stat", "n_clips", "mean", "ci_low",
                                                                "ci_high"]]))
        body.append(fig_block("Deletion curves"))
    body.append("<h2 id='files'>Files</h2><ul>" + "".join(
        f"<li>tables/{_e(n)}.csv, tables/{_e(n)}.parquet</li>" for n in tables) + "".join(
        f"<li>figures/{_e(p.name)}</li>" for p in pngs.values()) + "<li>report.json (provenance)</li></ul>")
    body.append("<h3>Versions</h3>" + _kv_html(prov["versions"]))
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{_e(title)}</title>"
            f"<style>{_CSS}</style><script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
            + "\n".join(body) + "</body></html>\n")


# ---------------------------------------------------------------------------------------------
# a synthetic corpus, for smoke tests, docs and benchmarks of the statistics


_PHONES = {"vowel": ["AA", "IY", "UW", "EH", "AH"], "stop": ["P", "T", "K", "B", "D"], "fricative": ["S", "F", "Z"],
           "nasal": ["M", "N"], "liquid": ["L", "R"], "glide": ["W", "Y"]}
_VOICED = {"vowel", "nasal", "liquid", "glide"}


def synthetic_corpus(n_speakers: int = 4, clips_per_speaker: int = 6, n_heads: int = 2, effect: float = 1.0,
                     seed: int = 0, emotions=("neutral", "happy", "sad", "angry")) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small made-up corpus ``(frames, clip_meta)`` with every FrameTable column filled.

    Attention is a softmax over smooth noise plus ``effect`` on vowels and ``2 * effect`` on laughs, so
    ``effect=0`` has no planted preference. Nothing here is speech; it only exercises the statistics.

    >>> frames, meta = synthetic_corpus(n_speakers=2, clips_per_speaker=2)
    >>> sorted(meta.columns)[:3], bool(np.allclose(frames.groupby("clip_id")["att_mean"].sum(), 1))
    (['clip_id', 'emotion', 'fold'], True)
    """
    rng = np.random.default_rng(seed)
    frames, meta = [], []
    for s in range(n_speakers):
        for c in range(clips_per_speaker):
            cid = f"spk{s:02d}_{c:03d}"
            t = int(rng.integers(80, 200))
            cls, ph, stress = [], [], []
            while len(cls) < t:
                n = int(rng.integers(3, 9))
                if len(cls) == 0 or len(cls) + n >= t or rng.random() < 0.08:
                    k, p, st = "silence", "sil", np.nan
                else:
                    k = rng.choice(list(_PHONES))
                    p = str(rng.choice(_PHONES[k]))
                    st = float(rng.integers(0, 2)) if k == "vowel" else np.nan
                cls += [k] * n
                ph += [p] * n
                stress += [st] * n
            cls, ph, stress = np.array(cls[:t], dtype=object), np.array(ph[:t], dtype=object), np.array(stress[:t])
            voc = np.full(t, "", dtype=object)
            if rng.random() < 0.5:
                a = int(rng.integers(0, t - 10))
                voc[a:a + 8] = "laugh"
                cls[a:a + 8], ph[a:a + 8] = "spoken-noise", "spn"
            voiced = np.isin(cls, list(_VOICED))
            smooth = np.convolve(rng.normal(size=t + 20), np.ones(10) / 10, "same")[10:10 + t]
            f0 = np.where(voiced, 180 + 60 * s / max(1, n_speakers) + 40 * smooth + rng.normal(0, 5, t), np.nan)
            intensity = 65 + 6 * smooth + rng.normal(0, 1, t) - 20 * (cls == "silence")
            row = {"clip_id": cid, "frame": np.arange(t), "start": np.arange(t) * 0.02,
                   "end": (np.arange(t) + 1) * 0.02, "word": np.where(cls == "silence", "", "w"), "phone": ph,
                   "phone_class": cls, "stress": stress, "hyper": rng.normal(size=t), "vocalization": voc,
                   "f0": f0, "intensity": intensity, "hnr": 10 + 5 * smooth, "voiced": voiced}
            heads = []
            for h in range(n_heads):
                noise = np.convolve(rng.normal(size=t + 10), np.ones(5) / 5, "same")[5:5 + t] * 3
                score = noise + effect * (cls == "vowel") + 2 * effect * (voc == "laugh") * (h == 0)
                w = np.exp(score - score.max())
                heads.append(w / w.sum())
                row[f"att_h{h}"] = heads[-1]
            row["att_mean"] = np.mean(heads, 0)
            row["attr_ig"] = row["att_mean"] * rng.normal(1, 0.5, t)
            frames.append(pd.DataFrame(row))
            emo = emotions[c % len(emotions)]
            meta.append({"clip_id": cid, "speaker": f"spk{s:02d}", "gender": "F" if s % 2 else "M", "emotion": emo,
                         "predicted": emo if rng.random() < 0.7 else str(rng.choice(emotions)),
                         "fold": s % 2, "pooler": "mhaap", "layer": 6})
    return pd.concat(frames, ignore_index=True), pd.DataFrame(meta)
