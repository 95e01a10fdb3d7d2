"""Perturbation benchmark: how accuracy and attention move when every clip is changed the same way.

For each condition (:mod:`explain_ser.perturb` specs; ``none`` is always scored first) every clip of a
manifest is perturbed with a seed of its own (the run's seed, the condition and the clip id), goes through
the normal feature path (:meth:`explain_ser.api.Explainer.features`, so perturbed features are cached like
any other) and is scored by the model that is allowed to score it: one checkpoint for every clip, or, with
a cross-validation run trained with ``--save-fold-models``, the fold model that never heard the clip's
speaker (held-out numbers; the clean condition then reproduces the run's ``cv_predictions.csv``).

Per condition: UA, WA and macro-F1 with 95 % speaker-bootstrap CIs (speakers resampled; one resampling
matrix for every condition, so the drop from clean is a paired difference with its own CI), the share of
clips whose prediction changed, and how far the explanation moved: Spearman's rank correlation between
the clean and the perturbed clip's attention, per head and of the mean over heads, on the frames the two
have in common. Frame ``i`` of the clean clip (centre at sample ``320 i + 160``) is heard at perturbed
sample ``c / tempo + offset`` (:class:`explain_ser.perturb.Perturbed`); the perturbed attention is read
there, linearly interpolated between frame centres. For padding (``offset`` a multiple of 320 samples,
tempo 1) that is exactly the original clip's frames inside the padded one; for speed changes it compares
the same moments of the utterance (a 1.1x clip has 1/1.1 as many frames, so neighbouring clean frames
share interpolated values); frames that fall outside the perturbed clip are left out. When the feature
path changes a clip's time axis (a checkpoint whose input rule trims silence) the frames no longer map
one to one and the correlation is recorded as missing (counted in the JSON), never guessed.

Speech for babble and speech-shaped noise comes from other clips of the same manifest, never the clip's
own speaker: a seeded pool of up to ``POOL_SIZE`` clips.

>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 3, 60); spk = np.repeat(np.arange(6), 10)
>>> m = bootstrap_metrics(y, y, spk, 3, n_boot=200)
>>> m["ua"], m["ua_lo"], m["ua_hi"]
(1.0, 1.0, 1.0)
>>> from explain_ser.perturb import Perturbed
>>> clean_idx, pos = common_frames(Perturbed(np.zeros(32000 + 640), offset=320), 100, 102)
>>> clean_idx[:3].tolist(), pos[:3].tolist()
([0, 1, 2], [1.0, 2.0, 3.0])
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .perturb import Condition, Perturbed, clip_rng, perturb

__all__ = ["DEFAULT_CONDITIONS", "parse_conditions", "common_frames", "attention_agreement", "bootstrap_metrics",
           "Scorer", "checkpoint_scorer", "cv_run_scorer", "run_benchmark", "summarize", "RobustnessResult"]

DEFAULT_CONDITIONS = ("gain:-30", "gain:-20", "gain:-10", "gain:10", "noise:white:30", "noise:white:20",
                      "noise:white:10", "noise:babble:20", "pad:silence:2", "pad:noise:-55:2", "mp3:32", "opus:16",
                      "speed:0.9", "speed:1.1", "reverb:0.3", "reverb:0.8")
CLEAN = "none"
POOL_SIZE = 32  # clips kept in memory as babble / speech-shaped-noise sources


def parse_conditions(specs) -> list[Condition]:
    """Condition specs (strings, comma-separated allowed) -> parsed conditions, ``none`` first, no repeats.

    >>> [c.text for c in parse_conditions(["gain:-20,mp3:32", "gain:-20"])]
    ['none', 'gain:-20', 'mp3:32']
    """
    if specs is None:
        specs = DEFAULT_CONDITIONS
    if isinstance(specs, str):
        specs = [specs]
    texts = [t.strip() for s in specs for t in str(s).split(",") if t.strip()]
    out, seen = [Condition.parse(CLEAN)], {CLEAN}
    for t in texts:
        c = Condition.parse(t)
        if c.text not in seen:
            out.append(c)
            seen.add(c.text)
    return out


# ---- comparing attention maps across a perturbation ----------------------------------------------------------

def common_frames(p: Perturbed, n_clean: int, n_pert: int) -> tuple[np.ndarray, np.ndarray]:
    """(clean frame indices, their positions on the perturbed frame axis, fractional) for the clean frames
    whose moment lies inside the perturbed clip (see the module docstring)."""
    from .timegrid import SAMPLES_PER_FRAME as S

    centre = np.arange(n_clean) * S + S / 2
    pos = (centre / p.tempo + p.offset - S / 2) / S
    keep = (pos >= -0.5) & (pos < n_pert - 0.5)  # the moment lies inside one of the perturbed clip's frames
    return np.flatnonzero(keep), np.clip(pos[keep], 0, max(n_pert - 1, 0))


def attention_agreement(clean: dict, pert: dict, p: Perturbed, n_clean: int, n_pert: int, seen=None) -> dict:
    """Spearman's rho between clean and perturbed attention, per head (same keys, ``mean`` included), on the
    common frames (and, with ``seen``, only the clean clip's frames its model saw: frames an input rule
    trimmed hold zero in both maps and would agree by construction); NaN where fewer than 3 frames are
    shared or a map is constant."""
    from scipy.stats import spearmanr

    idx, pos = common_frames(p, n_clean, n_pert)
    if seen is not None:
        keep = np.asarray(seen, dtype=bool)[idx]
        idx, pos = idx[keep], pos[keep]
    out = {}
    for head, w in clean.items():
        if head not in pert or len(idx) < 3:
            out[head] = float("nan")
            continue
        a = np.asarray(w, dtype=np.float64)[idx]
        b = np.interp(pos, np.arange(n_pert), np.asarray(pert[head], dtype=np.float64))
        if np.ptp(a) == 0 or np.ptp(b) == 0:
            out[head] = float("nan")
            continue
        out[head] = float(spearmanr(a, b).statistic)
    return out


# ---- metrics with speaker-bootstrap CIs ------------------------------------------------------------------------

def _speaker_counts(y_true, y_pred, speakers, n_labels):
    """Per speaker and class: support, true positives, predictions ([S, C] each)."""
    _, codes = np.unique(np.asarray(speakers).astype(str), return_inverse=True)
    S = int(codes.max()) + 1 if len(codes) else 0
    sup, tp, pred = (np.zeros((S, n_labels)) for _ in range(3))
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    np.add.at(sup, (codes, y_true), 1)
    np.add.at(pred, (codes, y_pred), 1)
    np.add.at(tp, (codes[y_true == y_pred], y_true[y_true == y_pred]), 1)
    return sup, tp, pred


def _replicates(sup, tp, pred, m) -> dict[str, np.ndarray]:
    """UA, WA, macro-F1 under each row of the resampling matrix ``m`` [B, S] (the metrics.py definitions:
    classes absent from a replicate's truth are left out of UA and macro-F1)."""
    s, t, p = m @ sup, m @ tp, m @ pred
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        present = s > 0
        recall = np.where(present, t / s, np.nan)
        f1 = np.where(present, 2 * t / (p + s), np.nan)
        return {"ua": np.nanmean(recall, 1), "wa": t.sum(1) / s.sum(1), "macro_f1": np.nanmean(f1, 1)}


def bootstrap_metrics(y_true, y_pred, speakers, n_labels: int, n_boot: int = 2000, seed: int = 0, ci: float = 0.95,
                      ref_pred=None) -> dict:
    """UA, WA, macro-F1 (:func:`explain_ser.metrics.classification_metrics`) with speaker-bootstrap percentile
    CIs (``<key>_lo``, ``<key>_hi``); with ``ref_pred`` (the clean predictions of the same clips) also the
    paired drop ``<key>_drop`` = reference minus this, and its CI from the same resamples."""
    from .metrics import classification_metrics
    from .stats import seeded_resample_counts

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    point = classification_metrics(y_true, y_pred, labels=range(n_labels))
    sup, tp, pred = _speaker_counts(y_true, y_pred, speakers, n_labels)
    m = seeded_resample_counts(sup.shape[0], int(n_boot), int(seed))
    reps = _replicates(sup, tp, pred, m)
    a = (1 - ci) / 2
    out = {}
    for k in ("ua", "wa", "macro_f1"):
        out[k] = float(point[k])
        out[f"{k}_lo"], out[f"{k}_hi"] = (float(v) for v in np.nanquantile(reps[k], [a, 1 - a]))
    if ref_pred is not None:
        ref = classification_metrics(y_true, np.asarray(ref_pred), labels=range(n_labels))
        rsup, rtp, rpred = _speaker_counts(y_true, ref_pred, speakers, n_labels)
        rreps = _replicates(rsup, rtp, rpred, m)
        for k in ("ua", "wa", "macro_f1"):
            out[f"{k}_drop"] = float(ref[k] - point[k])
            out[f"{k}_drop_lo"], out[f"{k}_drop_hi"] = (float(v) for v in np.nanquantile(rreps[k] - reps[k], [a, 1 - a]))
    return out


# ---- who scores which clip --------------------------------------------------------------------------------------

@dataclass
class Scorer:
    """The explainers (checkpoints) and, per manifest row, which one scores it and its fold name."""

    explainers: list
    assign: np.ndarray  # index into ``explainers`` per clip
    fold: np.ndarray  # fold name per clip ('' for a single checkpoint)
    labels: list
    source: dict  # what was evaluated: {"checkpoint": ...} or {"cv_run": ...}
    reference: np.ndarray | None = None  # the run's own out-of-fold probabilities (cv runs), for the clean check


def _explainer(checkpoint, encoder=None, store=None):
    from .api import Explainer

    return Explainer(checkpoint, encoder=encoder, store=store) if encoder is not None else Explainer(checkpoint, store=store)


def checkpoint_scorer(checkpoint, manifest: pd.DataFrame, store=None) -> Scorer:
    """One checkpoint scores every clip."""
    ex = _explainer(checkpoint, store=store)
    n = len(manifest)
    return Scorer([ex], np.zeros(n, dtype=np.int64), np.full(n, "", dtype=object), list(ex.labels),
                  {"checkpoint": str(checkpoint)})


def cv_run_scorer(run_dir, manifest: pd.DataFrame, store=None) -> Scorer:
    """Each clip scored by the fold model that held it out, from a ``explain-ser train --save-fold-models`` run
    (``cv_predictions.csv`` says which fold tested which clip; ``folds/<fold>/`` holds the models)."""
    from .oof import read_predictions

    run = Path(run_dir)
    oof = read_predictions(run)
    fold_of = dict(zip(oof["clip_id"].astype(str), oof["fold"].astype(str)))
    ids = manifest["clip_id"].astype(str).tolist()
    missing = [c for c in ids if c not in fold_of]
    if missing:
        raise InputError(run, f"{len(missing)} clips of the manifest are not in its out-of-fold predictions "
                              f"(e.g. {missing[0]}): evaluate the manifest it was trained on, or a subset of it")
    folds = [fold_of[c] for c in ids]
    names = list(dict.fromkeys(oof["fold"].astype(str)))
    explainers, encoder = [], None
    for name in names:
        d = run / "folds" / name
        if not (d / "config.json").is_file():
            raise InputError(run, f"has no fold model folds/{name}/ (train with --save-fold-models)")
        ex = _explainer(d, encoder=encoder, store=store)
        encoder = encoder or ex.encoder
        explainers.append(ex)
    labels = list(explainers[0].labels)
    if any(list(e.labels) != labels for e in explainers):
        raise InputError(run, "fold models disagree on the labels")
    pcols = [f"p_{lab}" for lab in labels]
    ref = oof.set_index("clip_id").loc[ids, pcols].to_numpy(dtype=np.float64)
    return Scorer(explainers, np.array([names.index(f) for f in folds]), np.array(folds, dtype=object), labels,
                  {"cv_run": str(run)}, ref)


# ---- the benchmark ---------------------------------------------------------------------------------------------

@dataclass
class RobustnessResult:
    """Per-clip rows (every condition), the per-condition table, and the run's record (JSON)."""

    predictions: pd.DataFrame
    table: pd.DataFrame
    record: dict = field(default_factory=dict)


def _source_pool(manifest: pd.DataFrame, seed: int, size: int = POOL_SIZE):
    """(samples, speaker) of a seeded sample of clips, spread over speakers, for babble and SSN."""
    from .audio import load_audio

    rng = np.random.default_rng([seed, 7])
    order = rng.permutation(len(manifest))
    spk = manifest["speaker"].astype(str).to_numpy() if "speaker" in manifest.columns else np.array([""] * len(manifest))
    chosen, per = [], {}
    cap = max(1, size // max(1, len(set(spk))))  # round-robin-ish: at most `cap` clips of one speaker
    for i in order:
        if per.get(spk[i], 0) < cap:
            chosen.append(int(i))
            per[spk[i]] = per.get(spk[i], 0) + 1
        if len(chosen) >= size:
            break
    return [(load_audio(manifest["path"].iloc[i]).samples, spk[i]) for i in chosen]


def run_benchmark(manifest: pd.DataFrame, scorer: Scorer, conditions, seed: int = 0, progress: bool = True,
                  n_boot: int = 2000) -> RobustnessResult:
    """Score every clip of ``manifest`` (with ``path``, ``clip_id``, ``emotion``; ``speaker`` for the CIs)
    under every condition; return the per-clip rows, the table and the record."""
    from tqdm.auto import tqdm

    from .audio import Clip, load_audio
    from .pipeline import maps

    conds = parse_conditions([c.text if isinstance(c, Condition) else c for c in conditions])
    labels = scorer.labels
    unknown = sorted(set(manifest["emotion"].astype(str)) - set(labels))
    if unknown:
        raise InputError("manifest", f"emotions {unknown} are not among the checkpoint's labels {labels}")
    if any(c.needs_sources for c in conds):
        pool = _source_pool(manifest, seed)
    speakers = manifest["speaker"].astype(str).to_numpy() if "speaker" in manifest.columns else manifest[
        "clip_id"].astype(str).to_numpy()
    timing = {c.text: {"perturb": 0.0, "features": 0.0, "model": 0.0} for c in conds}
    stores = {id(e.store): e.store for e in scorer.explainers if getattr(e, "store", None) is not None}
    cache = {c.text: {"hits": 0, "misses": 0} for c in conds}
    clipped = {c.text: 0 for c in conds}
    unmapped = {c.text: 0 for c in conds}
    rows = []
    t_all = time.perf_counter()
    for i in tqdm(range(len(manifest)), desc="robustness", unit="clip", disable=not progress):
        row = manifest.iloc[i]
        ex = scorer.explainers[int(scorer.assign[i])]
        clip = load_audio(row["path"])
        cid = str(row["clip_id"])
        clean = None
        for c in conds:
            t0 = time.perf_counter()
            rng = clip_rng(seed, c.text, cid)
            sources = [s for s, sp in pool if sp != speakers[i]] if c.needs_sources else None
            p = perturb(clip.samples, clip.rate, c, rng, sources=sources, name=str(row["path"]))
            pclip = clip if c.text == CLEAN else Clip(samples=p.samples, rate=clip.rate, clip_id=f"{cid}@{c.text}")
            t1 = time.perf_counter()
            before = {k: (s.hits, s.misses) for k, s in stores.items()}
            inp = ex.model_input(pclip)  # stage 1 of the per-clip path: input rule, features through the cache
            for k, s in stores.items():
                cache[c.text]["hits"] += s.hits - before[k][0]
                cache[c.text]["misses"] += s.misses - before[k][1]
            t2 = time.perf_counter()
            mp = maps(ex.model, inp, methods=())  # stage 2: prediction and attention only
            probs, att = mp.probabilities, mp.attention
            t3 = time.perf_counter()
            tm = timing[c.text]
            tm["perturb"] += t1 - t0
            tm["features"] += t2 - t1
            tm["model"] += t3 - t2
            clipped[c.text] += p.clipped
            n_feat, first = inp.n_frames, inp.first_frame
            # the model's frames on the clip's own grid (a checkpoint's input rule may trim the ends), so that
            # clean and perturbed maps are compared at the same moments
            grid = inp.on_clip_grid(att)
            rec = {"condition": c.text, "clip_id": cid, "speaker": speakers[i], "fold": scorer.fold[i],
                   "emotion": str(row["emotion"]), "predicted": labels[int(np.argmax(probs))],
                   **{f"p_{lab}": round(float(v), 6) for lab, v in zip(labels, probs)}, "n_frames": n_feat}
            if clean is None:
                clean = (grid, pclip.n_frames, inp.seen())
                rho = {h: 1.0 for h in att}
            elif first + n_feat <= pclip.n_frames:
                rho = attention_agreement(clean[0], grid, p, clean[1], pclip.n_frames, seen=clean[2])
            else:
                unmapped[c.text] += 1
                rho = {h: float("nan") for h in att}
            rec.update({f"rho_{h}": round(v, 6) if np.isfinite(v) else np.nan for h, v in rho.items()})
            rows.append(rec)
    seconds = time.perf_counter() - t_all
    pred = pd.DataFrame(rows)
    table, extra = summarize(pred, labels, n_boot=n_boot, seed=seed)
    n = len(manifest)
    per_clip = {k: {s: round(v / max(n, 1), 5) for s, v in t.items()} for k, t in timing.items()}
    clean_cost = sum(per_clip[CLEAN].values())
    record = {
        **scorer.source, "n_clips": n, "n_speakers": int(len(set(speakers))), "labels": labels, "seed": seed,
        "n_boot": n_boot, "conditions": [c.text for c in conds], "table": table.to_dict("records"), **extra,
        "clipped_samples": clipped, "attention_unmapped_clips": unmapped,
        "timing": {"seconds_total": round(seconds, 1), "seconds_per_clip": per_clip, "cache": cache,
                   "mean_seconds_per_clip_per_perturbed_condition": round(
                       float(np.mean([sum(per_clip[c.text].values()) for c in conds if c.text != CLEAN]))
                       if len(conds) > 1 else 0.0, 5),
                   "clean_seconds_per_clip": round(clean_cost, 5)},
        "notes": {"snr": "whole-clip power (explain_ser.perturb)", "attention": "Spearman rho, clean vs perturbed, "
                  "on the clean clip's frames mapped into the perturbed one (explain_ser.robustness)",
                  "ci": f"95 % percentile bootstrap over speakers ({n_boot} resamples, seed {seed}); the drop is "
                        "paired (the same resamples for clean and perturbed)"},
    }
    if scorer.reference is not None:
        cl = pred[pred["condition"] == CLEAN][[f"p_{lab}" for lab in labels]].to_numpy(dtype=np.float64)
        record["clean_vs_cv_predictions_max_abs_diff"] = round(float(np.abs(cl - scorer.reference).max()), 6)
    return RobustnessResult(pred, table, record)


def summarize(pred: pd.DataFrame, labels, n_boot: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """The per-condition table from per-clip rows (clean first), and the per-head / per-fold details."""
    from .oof import fold_scores
    from .stats import bootstrap_ci

    lab_idx = {lab: i for i, lab in enumerate(labels)}
    clean = pred[pred["condition"] == CLEAN].set_index("clip_id")
    heads = [c[4:] for c in pred.columns if c.startswith("rho_")]
    rows, per_head, per_fold = [], {}, {}
    for cond, g in pred.groupby("condition", sort=False):
        ref = clean.loc[g["clip_id"], "predicted"].map(lab_idx).to_numpy()
        y = g["emotion"].map(lab_idx).to_numpy()
        yp = g["predicted"].map(lab_idx).to_numpy()
        m = bootstrap_metrics(y, yp, g["speaker"].to_numpy(), len(labels), n_boot=n_boot, seed=seed, ref_pred=ref)
        rho = g["rho_mean"].to_numpy(dtype=np.float64) if "rho_mean" in g else np.full(len(g), np.nan)
        r_est, r_lo, r_hi = (bootstrap_ci(rho, clusters=g["speaker"].to_numpy(), n_boot=n_boot, seed=seed)
                             if np.isfinite(rho).any() else (np.nan, np.nan, np.nan))
        head_cols = [f"rho_{h}" for h in heads if h != "mean"]
        per_head[cond] = {h: _nanmean(g[f"rho_{h}"]) for h in heads}
        row = {"condition": cond, "n": len(g), **{k: round(v, 4) for k, v in m.items()},
               "flip_rate": round(float((yp != ref).mean()), 4),
               "rho_mean": round(float(r_est), 4), "rho_mean_lo": round(float(r_lo), 4),
               "rho_mean_hi": round(float(r_hi), 4),
               "rho_heads": round(_nanmean(g[head_cols].to_numpy(dtype=np.float64).ravel()), 4) if head_cols else np.nan}
        if (g["fold"].astype(str) != "").all():
            fs = fold_scores(g)
            per_fold[cond] = fs.round(4).to_dict("records")
            row["ua_folds_mean"] = round(float(fs["ua"].mean()), 4)
            row["ua_folds_std"] = round(float(fs["ua"].std(ddof=1)) if len(fs) > 1 else 0.0, 4)
        rows.append(row)
    return pd.DataFrame(rows), {"rho_per_head": per_head, **({"per_fold": per_fold} if per_fold else {})}


def _nanmean(v) -> float:
    v = np.asarray(v, dtype=np.float64)
    return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")


# ---- output -------------------------------------------------------------------------------------------------------

def format_table(table: pd.DataFrame) -> str:
    """The table as aligned text (percent, CIs in brackets)."""
    pct = lambda v: f"{100 * v:5.1f}"  # noqa: E731
    folds = "ua_folds_mean" in table.columns
    lines = [f"{'condition':<18} {'UA [95% CI]':>20} {'drop [95% CI]':>21} {'WA':>6} {'F1':>6} {'flip':>5} "
             f"{'rho mean [95% CI]':>22} {'rho heads':>9}" + (f" {'UA folds':>13}" if folds else "")]
    for r in table.to_dict("records"):
        lines.append(f"{r['condition']:<18} {pct(r['ua'])} [{pct(r['ua_lo'])},{pct(r['ua_hi'])}] "
                     f"{pct(r['ua_drop'])} [{pct(r['ua_drop_lo'])},{pct(r['ua_drop_hi'])}] {pct(r['wa'])} "
                     f"{pct(r['macro_f1'])} {pct(r['flip_rate'])} {r['rho_mean']:8.3f} [{r['rho_mean_lo']:.3f},"
                     f"{r['rho_mean_hi']:.3f}] {r['rho_heads']:9.3f}"
                     + (f" {pct(r['ua_folds_mean'])} ± {100 * r['ua_folds_std']:4.1f}" if folds else ""))
    return "\n".join(lines)
