"""The coverage report, rendered: tables as CSV/Parquet, report.json, PNG figures and one offline HTML page.

:func:`render_report` takes a :class:`explain_ser.report.ReportData` (from
:func:`explain_ser.report.compute_report`) and writes, each file atomically::

    out_dir/report.html     reader first: key findings, the run and model card as tables, then the sections
    out_dir/report.json     provenance: command, seeds, resampling, versions, model card, corpus, notes
    out_dir/tables/*.csv    every table of the data (and *.parquet, same content)
    out_dir/figures/*.png   the matplotlib version of every figure, for papers and slides

The figures are a list, :data:`FIGURES`: each :class:`FigureSpec` says when it applies, how to
build it for the page (plotly) and for print (matplotlib), and the PNG's name. A figure is added
here and nowhere else. The page inlines plotly.js once and loads nothing from anywhere.

>>> from explain_ser.report import compute_report, synthetic_corpus
>>> import tempfile
>>> frames, meta = synthetic_corpus(n_speakers=2, clips_per_speaker=2)
>>> rep = render_report(compute_report(frames, meta, n_boot=20, n_perm=20), tempfile.mkdtemp())
>>> rep.html.name, "Key findings" in rep.html.read_text(), (rep.out_dir / "figures" / "coverage_summary.png").is_file()
('report.html', True, True)
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from explain_ser import enrichment, plots
from explain_ser.html_parts import FOLD_ROWS, MAX_LIST, MAX_ROWS  # noqa: F401  (re-exported)
from explain_ser.html_parts import caveats as _caveats
from explain_ser.html_parts import escape as _e
from explain_ser.html_parts import kv_html as _kv_html
from explain_ser.html_parts import num as _num
from explain_ser.html_parts import pct as _pct
from explain_ser.html_parts import table_html as _table_html
from explain_ser.html_parts import value_html as _value_html
from explain_ser.jsonio import dumps
from explain_ser.report_data import (MIN_CLUSTERS, Report, ReportData, atomic_path, atomic_write_text,
                                     confusion_for_display, versions, write_table)


def save_png(fig, path) -> Path:
    """Save a matplotlib figure as PNG atomically and release it."""
    with atomic_path(path) as tmp:
        plots.save_figure(fig, tmp, format="png")
    return Path(path)


# ---------------------------------------------------------------------------------------------
# the figures: one entry per figure, in page order within each section


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the report.

    ``title``: its heading in the page (and, slugged, its div id); ``section``: the page section it
    belongs to; ``when(data)``: whether the data has what it needs; ``plotly(data)`` and
    ``matplotlib(data)``: its two builders (matplotlib may be None: page only); ``png``: the PNG name
    without suffix, or a function of the data giving it.
    """

    title: str
    section: str
    when: Callable[[ReportData], bool]
    plotly: Callable[[ReportData], object]
    matplotlib: Callable[[ReportData], object] | None
    png: str | Callable[[ReportData], str] | None

    def png_name(self, data: ReportData) -> str | None:
        return self.png(data) if callable(self.png) else self.png


def _has(*names):
    return lambda d: all(n in d.tables for n in names)


def _curves(d: ReportData, grouping: str) -> pd.DataFrame:
    c = d.tables["coverage_curves"]
    return c[c["grouping"] == grouping]


def _k_by(d: ReportData) -> str:
    return "emotion" if "emotion" in d.tables["clip_metrics"] else "head"


def _families(d: ReportData) -> list[str]:
    return [f for f in enrichment.FAMILIES if f != "phone"]  # phones have their own figure


def _display_confusion(d: ReportData) -> pd.DataFrame:
    return confusion_for_display(d.tables["confusion"].set_index("true").rename_axis(None))


def _has_rows(name, column, value):
    return lambda d: name in d.tables and (d.tables[name][column] == value).any()


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("Confusion matrix", "classification", _has("confusion"),
               lambda d: plots.confusion_plotly(_display_confusion(d), title="Confusion matrix (row %)"),
               lambda d: plots.confusion_figure(_display_confusion(d)), "confusion"),
    FigureSpec("Concentration per head", "coverage", _has_rows("coverage_summary", "grouping", "head"),
               lambda d: plots.coverage_summary_plotly(d.tables["coverage_summary"]),
               lambda d: plots.coverage_summary_figure(d.tables["coverage_summary"]), "coverage_summary"),
    FigureSpec("Coverage curves by emotion (mean over heads)", "coverage",
               _has_rows("coverage_curves", "grouping", "emotion"),
               lambda d: plots.coverage_plotly(_curves(d, "emotion"), by="emotion",
                                               title="Coverage by emotion (mean attention)"),
               lambda d: plots.coverage_figure(_curves(d, "emotion"), by="emotion", title="Coverage by emotion"),
               "coverage_by_emotion"),
    FigureSpec("Coverage curves by head", "coverage", _has_rows("coverage_curves", "grouping", "head"),
               lambda d: plots.coverage_plotly(_curves(d, "head"), by="head", title="Coverage by head"),
               lambda d: plots.coverage_figure(_curves(d, "head"), by="head", title="Coverage by head"),
               "coverage_by_head"),
    FigureSpec("k@0.8 per clip", "coverage", _has("clip_metrics"),
               lambda d: plots.k_distribution_plotly(d.tables["clip_metrics"], by=_k_by(d),
                                                     title="k@0.8 per clip (mean attention)"),
               lambda d: plots.k_distribution_figure(d.tables["clip_metrics"], by=_k_by(d)),
               lambda d: f"k08_by_{_k_by(d)}"),
    FigureSpec("k@0.8 per head", "coverage", _has("clip_metrics"),
               lambda d: plots.k_distribution_plotly(d.tables["clip_metrics"], by="head", head=None,
                                                     title="k@0.8 per head"),
               lambda d: plots.k_distribution_figure(d.tables["clip_metrics"], by="head", head=None), "k08_by_head"),
    FigureSpec("Enrichment (mean attention)", "enrichment", _has("enrichment"),
               lambda d: plots.enrichment_plotly(d.tables["enrichment"], head="mean", families=_families(d),
                                                 title="Attention enrichment (mean attention)"),
               lambda d: plots.enrichment_figure(d.tables["enrichment"], head="mean", families=_families(d),
                                                 title="Attention enrichment"), "enrichment"),
    FigureSpec("Enrichment per phone", "enrichment", _has_rows("enrichment", "family", "phone"),
               lambda d: plots.enrichment_plotly(d.tables["enrichment"], head="mean", families=["phone"],
                                                 title="Attention enrichment per phone"),
               lambda d: plots.enrichment_figure(d.tables["enrichment"], head="mean", families=["phone"],
                                                 title="Enrichment per phone"), "enrichment_phones"),
    FigureSpec("Composition of the top 15 % frames", "enrichment", _has("top_composition"),
               lambda d: plots.enrichment_plotly(d.tables["top_composition"], head="mean", value="lift",
                                                 families=_families(d),
                                                 title="Top-15 % frame composition (lift over frame share)"),
               lambda d: plots.enrichment_figure(d.tables["top_composition"], head="mean", value="lift",
                                                 families=_families(d), title="Top-15 % composition"),
               "top_composition"),
    FigureSpec("Attention vs prosody", "prosody", _has("prosody"),
               lambda d: plots.prosody_plotly(d.tables["prosody"], d.tables.get("prosody_per_clip"),
                                              title="Attention vs prosody"),
               lambda d: plots.prosody_figure(d.tables["prosody"], d.tables.get("prosody_per_clip"),
                                              title="Attention vs prosody"), "prosody"),
    FigureSpec("Attention vs attribution agreement", "faithfulness", _has("agreement"),
               lambda d: plots.agreement_plotly(d.tables["agreement"], title="Attention vs attributions"),
               lambda d: plots.agreement_figure(d.tables["agreement"]), "agreement"),
    FigureSpec("Deletion curves", "faithfulness", _has("deletion"),
               lambda d: plots.deletion_plotly(d.tables["deletion"], title="Deletion / insertion curves"),
               lambda d: plots.deletion_figure(d.tables["deletion"]), "deletion"),
)


# ---------------------------------------------------------------------------------------------
# render


def render_report(
    data: ReportData,
    out_dir: str | os.PathLike,
    *,
    model_card: Mapping | None = None,
    command: str = "",
    corpus: str | Mapping | None = None,
    folds: str | Mapping | pd.DataFrame | None = None,
    title: str = "explain_ser coverage report",
    figures: tuple[FigureSpec, ...] = FIGURES,
) -> Report:
    """Write the tables, report.json, the PNGs of ``figures`` and report.html into ``out_dir``.

    ``model_card`` is shown as tables (labels, encoder, taps and pooler, training data, CV metrics,
    per-class recall); ``corpus`` and ``folds`` as given (``folds`` may be a table, written as
    ``tables/folds.csv``); ``command`` verbatim. Returns a :class:`explain_ser.report.Report`.
    """
    out = Path(out_dir)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    tables = dict(data.tables)
    if isinstance(folds, pd.DataFrame):
        tables = {**{k: v for k, v in tables.items() if k != "clip_meta"}, "folds": folds,
                  **({"clip_meta": tables["clip_meta"]} if "clip_meta" in tables else {})}
    files: list[Path] = []
    for name, df in tables.items():
        files += write_table(df, out / "tables" / name)

    figs: dict[str, tuple[str, object]] = {}  # title -> (section, plotly figure), page order
    pngs: dict[str, Path] = {}
    for spec in figures:
        if not spec.when(data):
            continue
        figs[spec.title] = (spec.section, spec.plotly(data))
        name = spec.png_name(data)
        if spec.matplotlib is not None and name:
            pngs[name] = save_png(spec.matplotlib(data), out / "figures" / f"{name}.png")

    f = data.facts
    provenance = {
        "title": title, "command": command, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": f["seed"], "n_boot": f["n_boot"], "n_perm": f["n_perm"], "resample": f["resample"], "ci": f["ci"],
        "n_clips": f["n_clips"], "n_frames": f["n_frames"], "n_speakers": f.get("n_speakers"),
        "weight_columns": f["weight_columns"], "model_card": dict(model_card or {}),
        "corpus": corpus if not isinstance(corpus, Mapping) else dict(corpus),
        "folds": folds if folds is None or isinstance(folds, str) else
        (dict(folds) if isinstance(folds, Mapping) else "see tables/folds.csv"),
        "findings": data.findings, "notes": data.notes,
        "versions": versions(), "tables": sorted(tables), "figures": sorted(pngs),
    }
    files.append(atomic_write_text(out / "report.json", dumps(provenance)))
    page = _page(title, provenance, data, tables, figs, pngs)
    html_path = atomic_write_text(out / "report.html", page)
    files += list(pngs.values()) + [html_path]
    return Report(out, html_path, tables, files, data)


# ---------------------------------------------------------------------------------------------
# HTML pieces

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
h4{margin:1em 0 .3em}
pre{background:#f5f5f5;padding:.6em;overflow-x:auto;white-space:pre-wrap}
table.data{border-collapse:collapse;font-size:.85em;margin:.5em 0}
table.data td,table.data th{border:1px solid #ddd;padding:2px 6px;text-align:right;vertical-align:top}
table.data th{background:#f0f0f0}table.data td:first-child{text-align:left}
table.kv th{text-align:left;white-space:nowrap}table.kv td,table.kv table.data td{text-align:left}
.note{color:#555;font-size:.9em}.fig{margin:1em 0}nav a{margin-right:1em}
.findings{background:#f4f8fb;border:1px solid #c9dbe8;border-radius:6px;padding:.4em 1.2em;margin:1em 0}
.findings h2{border:none;margin-top:.4em}.findings li{margin:.3em 0}
.caveat{background:#fff8e5;border-left:4px solid #e6ab02;padding:.3em .8em;margin:.6em 0;font-size:.92em}
details{margin:.5em 0}summary{cursor:pointer;color:#0b5394}
"""


def _cv_metrics_html(cv: Mapping) -> str:
    """Cross-validation metrics of a checkpoint: mean ± sd over folds, pooled, per fold, per class."""
    parts = []
    summ, pooled = cv.get("summary") or {}, cv.get("pooled") or {}
    rows = []
    for key, label in (("ua", "UA (balanced accuracy)"), ("wa", "WA (accuracy)"), ("macro_f1", "macro-F1")):
        s = summ.get(key) or {}
        rows.append({"metric": label,
                     "mean ± sd over folds": f"{_pct(s.get('mean'))} ± {100 * s['std']:.1f}" if "std" in s else
                     _pct(s.get("mean")),
                     "pooled out-of-fold": _pct(pooled.get(key))})
    parts.append(pd.DataFrame(rows).to_html(index=False, classes="data", border=0))
    per_fold = cv.get("per_fold") or []
    if per_fold:
        pf = pd.DataFrame([{"fold": f.get("fold"), "test speakers": ", ".join(map(str, f.get("test_speakers", []))),
                            "UA": _pct((f.get("metrics") or {}).get("ua")), "WA": _pct((f.get("metrics") or {}).get("wa")),
                            "macro-F1": _pct((f.get("metrics") or {}).get("macro_f1")),
                            "epochs": f.get("best_epoch", f.get("epochs_run"))} for f in per_fold])
        parts.append(f"<details><summary>per fold ({len(pf)} folds)</summary>"
                     + pf.to_html(index=False, classes="data", border=0) + "</details>")
    recall = pooled.get("recall") or {}
    if recall:
        conf = pooled.get("confusion")
        support = [int(sum(r)) for r in conf] if conf and len(conf) == len(recall) else [None] * len(recall)
        rc = pd.DataFrame({"class": list(recall), "recall (pooled)": [_pct(r) for r in recall.values()],
                           "clips": support})
        parts.append("<h4>Per-class recall (cross-validated)</h4>" + rc.to_html(index=False, classes="data", border=0))
    if cv.get("note"):
        parts.append(f"<p class='note'>{_e(cv['note'])}</p>")
    rest = {k: v for k, v in cv.items() if k not in ("summary", "pooled", "per_fold", "note")}
    return "".join(parts) + (_kv_html(rest) if rest else "")


def _training_html(tr: Mapping) -> str:
    """Training data: corpus, clips, speakers, classes; added corpora; the configuration folded."""
    tr = dict(tr)
    config, extra, counts = tr.pop("config", None), tr.pop("extra", None), tr.pop("label_counts", None)
    parts = [_kv_html(tr)]
    if counts:
        parts.append("<h4>Training clips per class</h4>" + pd.DataFrame([counts]).to_html(
            index=False, classes="data", border=0))
    if extra:
        parts.append("<h4>Added to the training side</h4>" + _value_html(extra))
    if config:
        parts.append(f"<details><summary>training configuration ({len(config)} settings)</summary>"
                     f"{_value_html(config)}</details>")
    return "".join(parts)


def _card_html(card: Mapping) -> str:
    """The model card as tables: model (labels, encoder, taps, pooler ...), CV metrics, training data."""
    if not card:
        return '<p class="note">not given</p>'
    card = dict(card)
    metrics, training = card.pop("metrics", None), card.pop("training", None)
    card.pop("localisation", None)  # shown in its own section
    labels = card.get("labels")
    if isinstance(labels, (list, tuple)):
        card["labels"] = f"{len(labels)} classes: " + ", ".join(map(str, labels))
    parts = ["<h4>Model</h4>" + _kv_html(card)]
    if isinstance(metrics, Mapping) and isinstance(metrics.get("cv"), Mapping):
        parts.append("<h4>Cross-validated metrics (from the checkpoint)</h4>" + _cv_metrics_html(metrics["cv"]))
        rest = {k: v for k, v in metrics.items() if k != "cv"}
        if rest:
            parts.append(_kv_html(rest))
    elif metrics:
        parts.append("<h4>Metrics</h4>" + _value_html(metrics))
    if isinstance(training, Mapping):
        parts.append("<h4>Training data</h4>" + _training_html(training))
    elif training:
        parts.append("<h4>Training data</h4>" + _value_html(training))
    return "".join(parts)


def _localisation_html(card, tables) -> str:
    """The checkpoint's recorded pointing-game result (its recipe scored where the evidence's place is known)
    and, when the manifest gave cues (``cue_start``/``cue_end``), every map of this run scored against them."""
    parts = []
    loc = (card or {}).get("localisation") if isinstance(card, Mapping) else None
    if isinstance(loc, Mapping) and loc.get("text"):
        parts.append(f"<h3>This checkpoint's recipe on the pointing game</h3><p>{_e(loc['text'])}</p>"
                     + (f"<pre>{_e(loc['command'])}</pre>" if loc.get("command") else ""))
    else:
        parts.append('<p class="note">The checkpoint records no pointing-game result (config.json has no '
                     '"localisation"): how well its attention localises evidence is unknown.</p>')
    if "localisation_summary" in tables:
        t = tables["localisation_summary"]
        parts.append("<h3>Maps of this run against the manifest's cues</h3><p>Share of each map's mass on the cue "
                     "(positive part for signed attributions) and the pointing-game hit rate (top frame on the "
                     "cue), over the clips with a cue; <i>chance</i> is a flat map's share.</p>"
                     + _table_html(t[[c for c in ("method", "clips", "mass", "mass_lo", "mass_hi", "hit", "chance")
                                      if c in t]], "localisation per map"))
    else:
        parts.append('<p class="note">The manifest gives no cue times (columns cue_start, cue_end in seconds), so '
                     "this run's maps are not scored against known evidence.</p>")
    return "".join(parts)


def _corpus_html(meta: pd.DataFrame, corpus) -> str:
    parts = []
    if isinstance(corpus, Mapping):
        c = dict(corpus)
        warning = c.pop("warning", None)
        parts.append(_kv_html(c) + _caveats([warning] if warning else []))
    elif corpus:
        parts.append(f"<p>{_e(corpus)}</p>")
    facts = {"clips": len(meta)}
    for c in ("speaker", "fold", "pooler", "layer"):
        if c in meta:
            facts[f"{c}s"] = int(meta[c].nunique())
    for c in ("emotion", "gender"):
        if c in meta:
            facts[c] = ", ".join(f"{k} {v}" for k, v in meta[c].astype(str).value_counts().sort_index().items())
    parts.append(_kv_html(facts))
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# key findings


def _findings_html(data: ReportData) -> str:
    fd, items = data.findings, []
    c = fd.get("classification")
    if c:
        n_cls = len(c.get("classes_present") or [])
        txt = (f"<b>Accuracy</b>: UA {_pct(c['UA'])}, WA {_pct(c['WA'])}, macro-F1 {_pct(c['macro_F1'])} on "
               f"{c['n_clips']} clips" + (f" of the {n_cls} classes present" if n_cls else ""))
        if c.get("over_folds"):
            o = c["over_folds"]
            txt += (f"; over {c['n_folds']} folds UA {_pct(o['UA'][0])} ± {100 * (o['UA'][1] or 0):.1f}, "
                    f"macro-F1 {_pct(o['macro_F1'][0])} ± {100 * (o['macro_F1'][1] or 0):.1f}")
        if c.get("absent_classes"):
            txt += f" (no clip of {_e(', '.join(c['absent_classes']))}: left out)"
        items.append(txt + ".")
    k = fd.get("concentration")
    if k and k.get("median") is not None:
        med = k["median"]
        txt = (f"<b>Concentration</b>: half the clips need at most {_pct(med)} of their frames to hold 80 % of the "
               f"mean attention (median k@0.8 = {med:.2f}, {k['n_clips']} clips), against {k['uniform']:.2f} for "
               f"uniform attention ({med / k['uniform']:.2f} × uniform) and {k['leygue']:.2f} in Leygue et al. "
               f"({med / k['leygue']:.1f} × theirs)")
        if k.get("mean") is not None:
            txt += f"; mean {k['mean']:.2f}, 95 % CI {_num(k['ci_low'], 2)}–{_num(k['ci_high'], 2)}"
        heads = {h: v for h, v in (k.get("heads_median") or {}).items() if v is not None}
        if len(heads) > 1:
            lo, hi = min(heads, key=heads.get), max(heads, key=heads.get)
            txt += f". Single heads: median k@0.8 from {heads[lo]:.2f} ({_e(lo)}) to {heads[hi]:.2f} ({_e(hi)})"
        items.append(txt + ".")
    e = fd.get("enrichment")
    if e:
        tops = "; ".join(f"{_e(t['category'])} ({_e(t['family'])}) × {_num(t['enrichment'], 3)} "
                         f"[{_num(t.get('ci_low'), 3)}, {_num(t.get('ci_high'), 3)}], q = {_num(t.get('q'), 2)}"
                         for t in e["top"])
        if e["significant"]:
            items.append(f"<b>What attention prefers</b> ({e['n_significant']} of {e['n_tested']} categories enriched "
                         f"at q &lt; {e['q_level']:g} against circular shifts; enrichment = attention share / frame "
                         f"share, 95 % CI): {tops}.")
        else:
            items.append(f"<b>What attention prefers</b>: no category is enriched at q &lt; {e['q_level']:g} against "
                         f"circular shifts of the attention ({e['n_tested']} tested)"
                         + (f"; the largest, not significant: {tops}." if tops else "."))
    a = fd.get("aopc")
    if a:
        order = sorted(a, key=lambda r: (r["method"] == "random", -(r["aopc"] or 0)))
        items.append("<b>Faithfulness</b>: deletion AOPC (mean drop of the predicted class's probability as the "
                     "top-ranked frames are removed; higher = the ranking finds what the prediction needs): "
                     + ", ".join(f"{_e(r['method'])} {_num(r['aopc'], 2)}"
                                 + (f" [{_num(r['ci_low'], 2)}, {_num(r['ci_high'], 2)}]" if r.get("ci_low") is not None
                                    else "") for r in order) + ".")
    caveats = [n for sec in ("statistics", "classification", "coverage") for n in data.notes.get(sec, [])]
    return ("<div class='findings' id='findings'><h2>Key findings</h2><ul>"
            + "".join(f"<li>{i}</li>" for i in items) + "</ul>"
            + (("<p><b>Read with care</b></p>" + _caveats(caveats)) if caveats else "") + "</div>")


# ---------------------------------------------------------------------------------------------
# the page


def _page(title, prov, data: ReportData, tables, figs, pngs) -> str:
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    cfg = {"displaylogo": False, "responsive": True}
    meta = tables["clip_meta"]

    def fig_block(name):
        if name not in figs:
            return ""
        div = pio.to_html(figs[name][1], include_plotlyjs=False, full_html=False, config=cfg,
                          div_id="fig-" + "".join(ch if ch.isalnum() else "-" for ch in name.lower()))
        return f"<div class='fig'><h3>{_e(name)}</h3>{div}</div>"

    def section_figs(section, skip=()):
        return "".join(fig_block(n) for n, (s, _) in figs.items() if s == section and n not in skip)

    sections = [("findings", "Key findings"), ("run", "Run"), ("classification", "Classification"),
                ("coverage", "Coverage"), ("enrichment", "Enrichment"), ("prosody", "Prosody"),
                ("faithfulness", "Faithfulness"), ("localisation", "Localisation"), ("files", "Files")]
    present = {"classification": "classification" in tables or any(s == "classification" for s, _ in figs.values()),
               "enrichment": "enrichment" in tables, "prosody": "prosody" in tables,
               "faithfulness": "agreement" in tables or "deletion" in tables}
    nav = "<nav>" + "".join(f"<a href='#{i}'>{t}</a>" for i, t in sections if present.get(i, True)) + "</nav>"
    body = [f"<h1>{_e(title)}</h1>",
            f'<p class="note">generated {_e(prov["created"])} by explain_ser {_e(prov["versions"]["explain_ser"])}; '
            f'{prov["n_clips"]} clips, {prov["n_frames"]} frames of 20 ms'
            + (f', {prov["n_speakers"]} speaker{"s" if prov["n_speakers"] != 1 else ""}' if prov.get("n_speakers")
               else "") + "</p>", nav, _findings_html(data)]

    body += ["<h2 id='run'>Run</h2><p>Exact command:</p>", f"<pre>{_e(prov['command'] or '(not given)')}</pre>",
             "<h3>Model card</h3>", _card_html(prov["model_card"]),
             "<h3>Corpus and folds</h3>", _corpus_html(meta, prov["corpus"])]
    if isinstance(prov["folds"], str) and prov["folds"]:
        body.append(f"<p>folds: {_e(prov['folds'])}</p>")
    elif isinstance(prov["folds"], dict) and prov["folds"]:
        body.append(_kv_html(prov["folds"]))
    if "folds" in tables:
        body.append(_table_html(tables["folds"], "folds"))
    resample = prov["resample"]
    body.append(
        f"<p class='note'>Statistics: confidence intervals are {int(100 * prov['ci'])} % percentile bootstrap "
        f"intervals over {prov['n_boot']} resamples of {_e(resample)}s; enrichment and prosody p-values "
        f"come from {prov['n_perm']} circular shifts of each clip's attention against its alignment "
        f"(two-sided, Benjamini-Hochberg adjusted: * q&lt;0.05, ** q&lt;0.01, *** q&lt;0.001); seed {prov['seed']}. "
        "The uniform-attention reference is drawn in every figure (k@0.8 = 0.8, enrichment = 1, rho = 0).</p>")
    body.append(_caveats(data.notes.get("statistics")))

    if present["classification"]:
        body.append("<h2 id='classification'>Classification</h2>")
        if "classification" in tables:
            body.append("<p>UA is the mean recall over the classes present, WA the plain accuracy; macro-F1 "
                        "averages the F1 of the classes present (as <code>explain-ser evaluate</code>).</p>")
            body.append(_table_html(tables["classification"], "classification per fold"))
        body.append(_caveats(data.notes.get("classification")))
        body.append(section_figs("classification"))

    body.append("<h2 id='coverage'>Coverage: how concentrated is attention?</h2>")
    body.append("<p>k@0.8 is the fraction of a clip's frames that hold 80 % of its attention (uniform: 0.80; "
                "Leygue et al. report 0.15). Gini and normalised entropy measure the same concentration on the "
                "whole curve; the effective number of frames 1/Σw² is shown as a fraction of the clip.</p>")
    body.append(fig_block("Concentration per head"))
    cs = tables["coverage_summary"]
    head_tab = cs[(cs["grouping"] == "head") & cs["stat"].isin(["k@0.8", "gini", "entropy", "n_eff_frac"])]
    body.append(_table_html(head_tab[["head", "stat", "n_clips", "mean", "ci_low", "ci_high", "median", "uniform"]],
                            "the numbers of this chart"))
    body.append(_caveats(data.notes.get("coverage")))
    body.append(section_figs("coverage", skip=("Concentration per head",)))
    if "emotion" in cs:
        emo = cs[(cs["grouping"] == "emotion+head") & (cs["head"] == "mean") & (cs["stat"] == "k@0.8")]
        body.append("<h3>k@0.8 by emotion (mean attention)</h3>")
        emo = emo[["emotion", "n_clips", "n_clusters", "mean", "ci_low", "ci_high"]].copy()
        # one resampled unit: the bootstrap returns the mean as both ends; an empty cell says "no interval"
        emo.loc[emo["n_clusters"] < MIN_CLUSTERS, ["ci_low", "ci_high"]] = np.nan
        body.append(_table_html(emo, "k@0.8 by emotion"))
    if "boundary_summary" in tables:
        b = tables["boundary_summary"]
        body.append("<h3>Attention on the edges of the input</h3><p>Each head's share of attention on the first "
                    "and the last 10 % of the frames the model heard (uniform attention: 10 %). A head far above "
                    "that explains by position — where the input starts or stops — rather than by what was said."
                    "</p>" + _table_html(b[["head", "stat", "n_clips", "mean", "ci_low", "ci_high", "median",
                                            "uniform"]], "attention on the first and last 10 % of the frames"))
    ex = tables["examples"]
    keep = [c for c in ("rank", "clip_id", "speaker", "emotion", "predicted", "n_frames", "k@0.8", "gini", "n_eff")
            if c in ex]
    body.append("<h3>Most and least concentrated clips (mean attention)</h3>"
                + _table_html(ex[keep], "most and least concentrated clips"))

    if present["enrichment"]:
        body.append("<h2 id='enrichment'>Enrichment: what is under the attention?</h2>")
        body.append("<p>Attention share / frame share per category (1 = as uniform attention). Grey: the 95 % "
                    "range under circular shifts of the attention against the alignment.</p>")
        body.append(fig_block("Enrichment (mean attention)"))
        e = tables["enrichment"]
        body.append(_table_html(e[e["head"] == "mean"][["family", "category", "n_frames", "frame_share",
                                                         "attention_share", "enrichment", "ci_low", "ci_high",
                                                         "null_low", "null_high", "p", "q", "mark"]],
                                "enrichment per category (mean attention)", max_rows=80))
        body.append(section_figs("enrichment", skip=("Enrichment (mean attention)",)))
    if present["prosody"]:
        body.append("<h2 id='prosody'>Attention and prosody</h2>")
        body.append(section_figs("prosody"))
        body.append(_table_html(tables["prosody"], "attention vs prosody"))
    if present["faithfulness"]:
        body.append("<h2 id='faithfulness'>Attention, attributions and faithfulness</h2>")
        body.append(fig_block("Attention vs attribution agreement"))
        if "agreement_summary" in tables:
            body.append(_table_html(tables["agreement_summary"][["method", "stat", "n_clips", "mean", "ci_low",
                                                                "ci_high"]], "agreement"))
        if "aopc" in tables:
            body.append("<h3>Deletion AOPC</h3><p>Mean drop of the predicted class's probability over the deletion "
                        "fractions (higher = more faithful; a random order is the floor).</p>"
                        + _table_html(tables["aopc"], "AOPC per method"))
        body.append(section_figs("faithfulness", skip=("Attention vs attribution agreement",)))
    body.append("<h2 id='localisation'>Localisation: does the evidence's place get the weight?</h2>"
                + _localisation_html(prov["model_card"], tables))
    files = "".join(f"<li>tables/{_e(n)}.csv, tables/{_e(n)}.parquet</li>" for n in tables) + "".join(
        f"<li>figures/{_e(p.name)}</li>" for p in pngs.values()) + "<li>report.json (provenance)</li>"
    body.append(f"<h2 id='files'>Files</h2><details><summary>{len(tables)} tables, {len(pngs)} figures"
                f"</summary><ul>{files}</ul></details>")
    body.append("<h3>Versions</h3>" + _kv_html(prov["versions"]))
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{_e(title)}</title>"
            f"<style>{_CSS}</style><script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
            + "\n".join(b for b in body if b) + "</body></html>\n")
