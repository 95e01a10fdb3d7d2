"""The coverage report, computed: tables, headline findings and notes from FrameTables and clip metadata.

Two steps, so that the numbers can be had without writing anything and the page can be redrawn
without recomputing them:

* :func:`compute_report` turns what a batch run produced (FrameTables, clip metadata, deletion
  curves) into a :class:`ReportData`: every table, the provenance facts (seed, resampling counts,
  what the intervals resample), the key findings a reader wants first, and notes where a statistic
  is degenerate (one speaker: a speaker bootstrap cannot vary; classes no clip has). No files.
* :func:`explain_ser.report_html.render_report` writes it::

      out_dir/report.html     one file, plotly.js inlined once, no remote resource of any kind
      out_dir/report.json     provenance: command, seeds, resampling counts, versions, model card, corpus
      out_dir/tables/*.csv    every number shown (and *.parquet, same content)
      out_dir/figures/*.png   matplotlib versions of the figures, for papers and slides

:func:`write_report` does both in one call. Every file is written to a temporary name in its
directory and moved into place with :func:`os.replace`, so an interrupted run never leaves a
half-written report behind.

Inputs (column names are the contract with :mod:`explain_ser.frames`):

* ``frames``: one FrameTable or a list of them (concatenated): ``clip_id, frame, att_mean, att_<head>...``
  and, when available, ``attr_<method>``, ``phone``, ``phone_class``, ``stress``, ``hyper``,
  ``vocalization``, ``f0``, ``intensity``, ``hnr``, ``voiced``. Missing annotation columns only remove
  the analyses that need them.
* ``clip_meta``: one row per clip: ``clip_id`` and any of ``speaker, gender, emotion, predicted, fold,
  pooler, layer`` (``probabilities`` and other columns are carried into the tables untouched).
  With ``speaker`` present, confidence intervals resample speakers (cluster bootstrap) — unless there
  are fewer than :data:`MIN_CLUSTERS` of them, when they resample clips and the report says so.
* ``deletion``: optional long table ``method, fraction, score`` (+ ``curve`` = deletion/insertion,
  + ``clip_id`` to have the mean and its CI computed here).
* ``confusion``: optional counts matrix (index true, columns predicted); otherwise computed from
  ``clip_meta.emotion`` and ``clip_meta.predicted`` when both exist.

Classification is scored by :func:`explain_ser.metrics.classification_metrics`, as ``explain-ser
evaluate`` scores it: a class that no clip has as its true label (a class of the model absent from
these clips, or one only ever predicted) has no recall, so it is left out of UA *and* macro-F1 and
named in a note; its row is left out of the confusion matrix shown (the ``confusion`` table keeps
it). Scikit-learn's plain ``f1_score(average="macro")`` would count such a class as F1 = 0.

>>> frames, meta = synthetic_corpus(n_speakers=1, clips_per_speaker=4)
>>> data = compute_report(frames, meta, n_boot=20, n_perm=20)
>>> data.facts["resample"], "too few speakers" in " ".join(data.notes["statistics"]).lower()
('clip', True)
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from explain_ser import coverage, enrichment, stats
from explain_ser.ordering import natural_key
from explain_ser.report_data import (DEFAULT_N_BOOT, DEFAULT_N_PERM, FEW_CLUSTERS, MIN_CLUSTERS, Q_LEVEL,  # noqa: F401
                                     TOP_FINDINGS, Report, ReportData, atomic_path, atomic_write_text,
                                     confusion_for_display, write_table)



# ---------------------------------------------------------------------------------------------
# pieces


def _concat_frames(frames) -> pd.DataFrame:
    if isinstance(frames, pd.DataFrame):
        return frames
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        raise ValueError("no frame tables given")
    return pd.concat(frames, ignore_index=True)


def _labelled(clip_meta: pd.DataFrame) -> pd.DataFrame:
    m = clip_meta.dropna(subset=["emotion", "predicted"])
    return m.assign(emotion=m["emotion"].astype(str), predicted=m["predicted"].astype(str))


def classification_summary(clip_meta: pd.DataFrame) -> pd.DataFrame:
    """UA (balanced accuracy), WA (accuracy) and macro-F1, overall and per ``fold`` when present.

    Scored by :func:`explain_ser.metrics.classification_metrics` over the classes that occur as true
    labels of the part scored (``n_classes``): a class only ever predicted has no recall and is left
    out of UA and macro-F1, as ``explain-ser evaluate`` leaves it out.

    >>> meta = pd.DataFrame({"emotion": ["a", "a", "b", "b"], "predicted": ["a", "c", "b", "b"]})
    >>> classification_summary(meta)[["n_classes", "UA", "WA", "macro_F1"]].round(3).values.tolist()
    [[2.0, 0.75, 0.75, 0.833]]
    """
    from explain_ser.metrics import classification_metrics

    m = _labelled(clip_meta)
    rows = []
    parts = [("all", m)] + ([(f, g) for f, g in m.groupby("fold", sort=True)] if "fold" in m else [])
    for name, g in parts:
        labels = sorted(set(g["emotion"]) | set(g["predicted"]), key=natural_key)
        r = classification_metrics(g["emotion"].to_numpy(), g["predicted"].to_numpy(), labels)
        rows.append({"fold": str(name), "n_clips": len(g), "n_classes": int(g["emotion"].nunique()),
                     "UA": r["ua"], "WA": r["wa"], "macro_F1": r["macro_f1"]})
    out = pd.DataFrame(rows)
    if "fold" in m and m["fold"].nunique() > 1:
        folds = out[out["fold"] != "all"]
        n = int(folds["n_clips"].sum())
        out = pd.concat([out, pd.DataFrame([
            {"fold": "mean over folds", "n_clips": n, **{k: folds[k].mean() for k in ("UA", "WA", "macro_F1")}},
            {"fold": "sd over folds", "n_clips": n, **{k: folds[k].std(ddof=1) for k in ("UA", "WA", "macro_F1")}}])],
            ignore_index=True)
    return out


def _confusion_from_meta(clip_meta: pd.DataFrame) -> pd.DataFrame | None:
    if not {"emotion", "predicted"} <= set(clip_meta.columns):
        return None
    m = _labelled(clip_meta)
    labels = sorted(set(m["emotion"]) | set(m["predicted"]), key=natural_key)
    return pd.crosstab(m["emotion"], m["predicted"]).reindex(index=labels, columns=labels, fill_value=0)


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


def aopc_summary(deletion: pd.DataFrame, clip_meta: pd.DataFrame | None = None, cluster: str | None = None,
                 n_boot: int = DEFAULT_N_BOOT, seed: int = 0) -> pd.DataFrame:
    """AOPC per method: the mean drop ``score(0) - score(f)`` over a deletion curve's fractions (the
    definition of :func:`explain_ser.explain.faithfulness.aopc`), per clip, then its mean and bootstrap
    CI over clips (or ``cluster`` groups of ``clip_meta``). Without ``clip_id`` the mean curve's
    AOPC, no CI. Higher = the ranking finds the frames the prediction needs.

    >>> d = pd.DataFrame({"method": ["a"] * 3, "fraction": [0, .5, .9], "score": [1., .5, .2], "clip_id": "c"})
    >>> aopc_summary(d, n_boot=10)[["method", "aopc", "n_clips"]].round(4).values.tolist()
    [['a', 0.4333, 1]]
    """
    d = deletion[deletion["curve"] == "deletion"] if "curve" in deletion else deletion
    keys = ["clip_id", "method"] if "clip_id" in d else ["method"]
    d = d.sort_values(keys + ["fraction"], kind="stable")
    first = d.groupby(keys, sort=False)["score"].transform("first")
    per = (first - d["score"]).groupby([d[k] for k in keys], sort=True).mean().rename("aopc").reset_index()
    if "clip_id" not in per:
        return per.assign(ci_low=np.nan, ci_high=np.nan, n_clips=np.nan, resample="none")
    if cluster and clip_meta is not None and cluster in clip_meta:
        per = per.merge(clip_meta[["clip_id", cluster]].drop_duplicates("clip_id"), on="clip_id", how="left")
    rows = []
    for method, g in per.groupby("method", sort=True):
        cl = g[cluster].to_numpy() if cluster in g else None
        mean, lo, hi = stats.bootstrap_ci(g["aopc"].to_numpy(float), clusters=cl, n_boot=n_boot, seed=seed)
        rows.append({"method": method, "aopc": float(mean), "ci_low": float(lo), "ci_high": float(hi),
                     "n_clips": len(g), "resample": cluster if cl is not None else "clip"})
    return pd.DataFrame(rows)


def _finite(x) -> float | None:
    """A JSON-safe float: NaN/inf -> None."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


# ---------------------------------------------------------------------------------------------
# resampling unit and degenerate statistics


def _resampling(meta: pd.DataFrame, cluster: str | None, data: ReportData) -> str | None:
    """The cluster column the intervals resample (None = clips), with a note when that is degenerate."""
    asked = cluster
    if cluster == "auto":
        cluster = "speaker" if "speaker" in meta and meta["speaker"].notna().all() else None
    if cluster is not None and cluster not in meta:
        raise ValueError(f"cluster column {cluster!r} is not in clip_meta")
    n = int(meta[cluster].nunique()) if cluster else None
    data.facts["n_clusters"] = n
    if cluster and n < MIN_CLUSTERS:
        who = ", ".join(map(str, meta[cluster].dropna().unique()[:3]))
        data.note("statistics", f"Too few {cluster}s for a {cluster}-bootstrap CI: all {len(meta)} clips come from "
                                f"{n} {cluster} ({who}), and resampling one {cluster} returns the mean itself. "
                                f"Intervals resample clips instead: they describe these clips, not other {cluster}s.")
        return None
    if cluster and n < FEW_CLUSTERS:
        data.note("statistics", f"Only {n} {cluster}s: a {cluster}-bootstrap has at most {math.comb(2 * n - 1, n)} "
                                f"distinct resamples, so its intervals are coarse.")
    if cluster is None and asked == "auto" and "speaker" not in meta:
        data.note("statistics", "No speaker column: intervals resample clips, which overstates precision when "
                                "clips share a speaker.")
    return cluster


def _one_unit_groups(summary: pd.DataFrame, by: str) -> list[str]:
    """Groups of a summary that rest on one resampled unit (one speaker, or one clip): their bootstrap
    "interval" is the mean itself."""
    s = summary[summary["n_clusters"] < MIN_CLUSTERS]
    return sorted(s[by].astype(str).unique(), key=natural_key) if by in s else []


# ---------------------------------------------------------------------------------------------
# compute


def compute_report(
    frames: pd.DataFrame | Sequence[pd.DataFrame],
    clip_meta: pd.DataFrame,
    *,
    deletion: pd.DataFrame | None = None,
    confusion: pd.DataFrame | None = None,
    cluster: str | None = "auto",
    labels: Sequence[str] | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    n_perm: int = DEFAULT_N_PERM,
    seed: int = 0,
    n_examples: int = 5,
    prosody_heads: Sequence[str] = ("att_mean",),
) -> ReportData:
    """Compute the coverage, enrichment, prosody, faithfulness and classification tables of a corpus.

    ``cluster``: ``"auto"`` resamples speakers when ``clip_meta`` has a ``speaker`` column, clips
    otherwise; ``None`` forces clips; any other column name is used as the cluster. Fewer than
    :data:`MIN_CLUSTERS` clusters fall back to clips, with a note. ``labels``: the model's classes,
    to name the ones no clip has. ``n_boot``, ``n_perm`` and ``seed`` are recorded in every table.
    See the module docstring for the inputs' columns. Writes nothing.
    """
    fr = _concat_frames(frames)
    heads = [c for c in fr.columns if c.startswith("att_") and c != "att_mean"]
    if "att_mean" not in fr:
        if not heads:
            raise ValueError("frames have no att_* attention columns")
        fr = fr.assign(att_mean=fr[heads].mean(axis=1))  # the mean over heads, as frames.py defines it
    meta = clip_meta.copy()
    if "clip_id" not in meta or "clip_id" not in fr:
        raise ValueError("frames and clip_meta both need a clip_id column")
    tables: dict[str, pd.DataFrame] = {}
    data = ReportData(tables, facts={"seed": seed, "n_boot": n_boot, "n_perm": n_perm, "ci": stats.DEFAULT_CI})
    cluster = _resampling(meta, cluster, data)
    common = dict(n_boot=n_boot, seed=seed)

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
    if "emotion" in cs:
        thin = _one_unit_groups(cs[cs["grouping"] == "emotion+head"], "emotion")
        if thin:
            unit = cluster or "clip"
            one = len(thin) == 1
            data.note("coverage", f"{', '.join(thin)}: {'this emotion rests' if one else 'these emotions rest'} on one "
                                  f"{unit}, so {'its' if one else 'their'} bootstrap interval would be the mean itself; "
                                  "the page leaves it blank.")
    curves = coverage.coverage_curves(fr, cols, grid=101, clip_meta=meta)
    curve_tabs = [coverage.summarize_curves(curves, by=("head",), cluster=cluster, **common).assign(grouping="head")]
    if "emotion" in curves.index:
        sub = curves.index["head"] == "mean"
        cm = coverage.CurveSet(curves.index[sub].reset_index(drop=True), curves.grid, curves.values[sub.to_numpy()])
        curve_tabs.append(coverage.summarize_curves(cm, by=("emotion",), cluster=cluster, **common)
                          .assign(head="mean", grouping="emotion"))
    tables["coverage_curves"] = pd.concat(curve_tabs, ignore_index=True)
    tables["examples"] = coverage.extreme_clips(metrics, head="mean", n=n_examples)
    # issue 28: a head whose mass sits on the first or last 10 % of the model's frames explains by position
    bnd = coverage.boundary_table(fr, cols, clip_meta=meta)
    if len(bnd):
        tables["boundary"] = bnd
        tables["boundary_summary"] = coverage.summarize(bnd, by=("head",), statistics=("boundary_first",
                                                                                         "boundary_last"),
                                                        cluster=cluster, **common)

    # --- enrichment and prosody ----------------------------------------------------------------
    cat_labels, _ = enrichment.categories(fr)
    if len(cat_labels):
        enr, comp = enrichment.enrichment(fr, columns=cols, clip_meta=meta, cluster=cluster, n_perm=n_perm,
                                          composition=True, **common)
        tables["enrichment"], tables["top_composition"] = enr, comp
    pros_cols = [c for c in prosody_heads if c in fr]
    if pros_cols and any(t in fr for t in ("f0", "intensity", "hnr")):
        psum, pclip = enrichment.prosody_correlation(fr, columns=pros_cols, clip_meta=meta, cluster=cluster,
                                                     n_perm=n_perm, **common)
        if len(psum):
            tables["prosody"], tables["prosody_per_clip"] = psum, pclip

    # --- attributions, deletion, classification -----------------------------------------------
    if any(c.startswith("attr_") for c in fr.columns) and "att_mean" in fr:
        agr = coverage.attach_meta(enrichment.attribution_agreement(fr), meta)
        tables["agreement"] = agr
        tables["agreement_summary"] = coverage.summarize(
            agr, by=("method",), statistics=("spearman", "top_overlap"), cluster=cluster, **common)
    # --- localisation: clips whose manifest gives a cue (cue_start/cue_end) score every map against it ---
    from .pointing import frames_localisation, summarize as summarize_localisation

    loc = frames_localisation(fr, meta)
    if len(loc):
        tables["localisation"] = loc
        tables["localisation_summary"] = summarize_localisation(loc, n_boot=n_boot, seed=seed)
    if deletion is not None and len(deletion):
        tables["deletion"] = _deletion_summary(deletion, n_boot, seed)
        tables["aopc"] = aopc_summary(deletion, meta, cluster, **common)
    conf = confusion if confusion is not None else _confusion_from_meta(meta)
    if conf is not None and conf.size:
        tables["confusion"] = conf.rename_axis("true").reset_index()
        _absent_classes(conf, labels, data)
    if {"emotion", "predicted"} <= set(meta.columns):
        tables["classification"] = classification_summary(meta)
    tables["clip_meta"] = meta

    data.facts.update({
        "resample": cluster or "clip", "n_clips": int(metrics["clip_id"].nunique()), "n_frames": len(fr),
        "n_speakers": int(meta["speaker"].nunique()) if "speaker" in meta else None, "weight_columns": cols})
    data.findings = key_findings(data)
    return data


def _absent_classes(conf: pd.DataFrame, labels, data: ReportData) -> None:
    """Record the classes with true clips, and name the classes of the model or the matrix that have none."""
    support = conf.sum(axis=1)
    present = [str(c) for c in conf.index[support > 0]]
    known = list(dict.fromkeys([str(c) for c in (labels or [])] + [str(c) for c in conf.index]
                               + [str(c) for c in conf.columns]))
    absent = [c for c in known if c not in set(present)]
    data.facts["classes_present"], data.facts["absent_classes"] = present, absent
    if absent:
        predicted = [c for c in absent if c in conf.columns and conf[c].sum() > 0]
        text = (f"{len(absent)} class{'es' if len(absent) > 1 else ''} with no clip here: {', '.join(absent)}. "
                f"{'They are' if len(absent) > 1 else 'It is'} left out of UA and macro-F1 (scored over the "
                f"{len(present)} classes present) and out of the confusion matrix's rows")
        if predicted:
            text += f"; clips predicted as {', '.join(predicted)} still count as errors (a column of the matrix)"
        data.note("classification", text + ".")


def key_findings(data: ReportData) -> dict:
    """The numbers a reader wants first, from the tables of ``data`` (JSON-safe; absent parts omitted).

    ``classification``: UA/WA/macro-F1 over the classes present, n clips, the classes; ``concentration``:
    median and mean (with CI) k@0.8 of the mean attention against uniform (0.8) and Leygue et al.
    (0.15), and each head's median; ``enrichment``: the top categories enriched at q < 0.05 under the
    mean attention (or the strongest ones, flagged not significant); ``aopc``: deletion AOPC per method.
    """
    t, out = data.tables, {}
    if "classification" in t:
        c = t["classification"]
        row = c[c["fold"] == "all"].iloc[0]
        out["classification"] = {"n_clips": int(row["n_clips"]), "UA": _finite(row["UA"]), "WA": _finite(row["WA"]),
                                 "macro_F1": _finite(row["macro_F1"]),
                                 "classes_present": data.facts.get("classes_present", []),
                                 "absent_classes": data.facts.get("absent_classes", [])}
        over = c[c["fold"].isin(["mean over folds", "sd over folds"])].set_index("fold")
        if len(over) == 2:
            out["classification"]["over_folds"] = {
                k: [_finite(over.loc["mean over folds", k]), _finite(over.loc["sd over folds", k])]
                for k in ("UA", "WA", "macro_F1")}
            out["classification"]["n_folds"] = int((~c["fold"].isin(["all", "mean over folds", "sd over folds"])).sum())
    m = t["clip_metrics"]
    k = coverage.k_name(coverage.HEADLINE_P)
    mean_k = m.loc[m["head"] == "mean", k].dropna()
    cs = t["coverage_summary"]
    row = cs[(cs["grouping"] == "head") & (cs["head"] == "mean") & (cs["stat"] == k)]
    heads = {str(h): _finite(g.median()) for h, g in m[m["head"] != "mean"].groupby("head")[k]}
    out["concentration"] = {
        "stat": k, "n_clips": len(mean_k), "median": _finite(mean_k.median()),
        "mean": _finite(row["mean"].iloc[0]) if len(row) else None,
        "ci_low": _finite(row["ci_low"].iloc[0]) if len(row) else None,
        "ci_high": _finite(row["ci_high"].iloc[0]) if len(row) else None,
        "uniform": coverage.HEADLINE_P, "leygue": coverage.LEYGUE_POINT[0],
        "heads_median": dict(sorted(heads.items(), key=lambda kv: natural_key(kv[0])))}
    if "boundary_summary" in t:
        b = t["boundary_summary"]
        out["boundary"] = {"fraction": coverage.BOUNDARY_FRACTION, "heads": {
            str(h): {str(r["stat"]).replace("boundary_", ""): [_finite(r["mean"]), _finite(r["ci_low"]),
                                                                _finite(r["ci_high"])] for _, r in g.iterrows()}
            for h, g in b.groupby("head", sort=False)}}
    if "enrichment" in t:
        e = t["enrichment"]
        e = e[(e["head"] == "mean") & e["enrichment"].notna()]
        sig = e[(e["q"] < Q_LEVEL) & (e["enrichment"] > 1)].sort_values("enrichment", ascending=False, kind="stable")
        top = sig if len(sig) else e[e["enrichment"] > 1].sort_values("enrichment", ascending=False, kind="stable")
        keep = ["family", "category", "enrichment", "ci_low", "ci_high", "q", "n_frames"]
        out["enrichment"] = {
            "n_tested": int(e["q"].notna().sum()), "n_significant": int(len(sig)), "q_level": Q_LEVEL,
            "significant": bool(len(sig)),
            "top": [{c: (_finite(r[c]) if c not in ("family", "category") else str(r[c])) for c in keep if c in r}
                    for _, r in top.head(TOP_FINDINGS).iterrows()]}
    if "aopc" in t:
        out["aopc"] = [{"method": str(r["method"]), "aopc": _finite(r["aopc"]), "ci_low": _finite(r["ci_low"]),
                        "ci_high": _finite(r["ci_high"])} for _, r in t["aopc"].iterrows()]
    return out


# ---------------------------------------------------------------------------------------------
# one call


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
    """:func:`compute_report` then :func:`explain_ser.report_html.render_report`, in one call.

    ``model_card``, ``corpus`` and ``folds`` are shown as given (``folds`` may also be a table);
    ``command`` is the exact command line that produced the run; the card's ``labels`` (when a list)
    name the model's classes that no clip has. Returns a :class:`Report` with the output paths and
    the computed tables.
    """
    from explain_ser.report_html import render_report

    card_labels = (model_card or {}).get("labels")
    data = compute_report(frames, clip_meta, deletion=deletion, confusion=confusion, cluster=cluster,
                          labels=card_labels if isinstance(card_labels, (list, tuple)) else None,
                          n_boot=n_boot, n_perm=n_perm, seed=seed, n_examples=n_examples, prosody_heads=prosody_heads)
    return render_report(data, out_dir, model_card=model_card, command=command, corpus=corpus, folds=folds,
                         title=title)


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
