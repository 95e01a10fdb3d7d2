"""Publishing a checkpoint: cross-validate, retrain on everything, save it with its folds, predictions and card.

:func:`train_checkpoint` is ``explain-ser train``'s recipe on top of :mod:`explain_ser.train` (which only
trains); :func:`write_model_card` renders MODEL_CARD.md from the saved config (read through
:func:`explain_ser.checkpoint.read_config`). The training data's language is recorded in the config so that
every later explanation aligns words in the right language (:mod:`explain_ser.language`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .train import TrainConfig, _layout, cross_validate, fit_model, with_copies

CORPUS_LICENSES = {
    "ravdess": "CC BY-NC-SA 4.0 (RAVDESS, Livingstone & Russo 2018): non-commercial use, attribution, share alike; "
               "this model is an adaptation trained on it and carries the same license",
    "emodb": "EmoDB (Burkhardt et al. 2005): no formal license on the original site (freely available for research); "
             "audEERING's redistribution declares CC0-1.0. Cite the paper",
}


def train_checkpoint(corpus, folds, model_kwargs: dict, config: TrainConfig, out_dir, *, final: str = "retrain",
                     name: str | None = None, command: str | None = None, progress: bool = True,
                     save_folds: bool = False) -> dict:
    """Cross-validate on ``folds``, then train the shipped model and save it (with folds.csv and MODEL_CARD.md).

    ``save_folds``: also save every fold's model as a checkpoint in ``out_dir/folds/<fold>/`` (issue 20: held-out
    scoring of new conditions, ``explain-ser robustness --cv-run``).

    ``final="retrain"``: a model on ALL clips for the median early-stopping epoch of the folds (no test data
    involved in choosing anything else); ``final="none"``: only the cross-validation is run, nothing saved.
    ``corpus`` is an :class:`explain_ser.sweep.Corpus`. Returns the checkpoint config dict.
    """
    from pathlib import Path

    from .atomic import write_path
    from .checkpoint import CORPUS_LANGUAGES, save_checkpoint
    from .corpora import corpus_name as corpus_name_of
    from .splits import fold_table

    extra_y = corpus.extra_y
    if final == "only":  # issue 28: the recipe's CV was run elsewhere (e.g. on the lockbox's dev actors)
        res = None
        epochs = config.epochs
    else:
        res = cross_validate(corpus.data, corpus.y, folds, labels=corpus.labels, model_kwargs=model_kwargs,
                             config=config, progress=progress, extra_y=extra_y, keep_models=save_folds)
        summary, pooled = res.summary, res.pooled_metrics(corpus.y)
        pooled["recall"] = {corpus.labels[int(k)]: v for k, v in pooled["recall"].items()}
        epochs = int(np.median([f["best_epoch"] for f in res.folds]))
    df = corpus.manifest
    corpus_name = corpus_name_of(corpus.path)
    info = {
        "name": name,
        "training": {"manifest": str(corpus.path), "corpus": corpus_name, "n_clips": int(len(df)),
                     **_language_of(df, corpus_name, CORPUS_LANGUAGES),
                     "speakers": sorted(df["speaker"].astype(str).unique().tolist()),
                     "label_counts": {lab: int((corpus.y == i).sum()) for i, lab in enumerate(corpus.labels)},
                     "final": final, "final_epochs": epochs, "config": config.to_dict(),
                     "license": CORPUS_LICENSES.get(corpus_name.lower(), "see the corpus' own license"),
                     **({"extra": [{**x, **_language_of(None, x["corpus"], CORPUS_LANGUAGES),
                                    "license": CORPUS_LICENSES.get(x["corpus"].lower(),
                                                                         "see the corpus' own license")}
                                   for x in corpus.extra_info]} if corpus.extra_info else {})},
        "folds": {"kind": folds[0].kind, "speaker_independent": folds[0].speaker_independent,
                  "folds": [{"name": f.name, "test": f.test_speakers, "val": f.val_speakers} for f in folds]},
        "seeds": {"train": config.seed, "folds": config.seed,
                  **({"members": list(range(config.seed, config.seed + config.ensemble))} if config.ensemble > 1 else {})},
        "metrics": {"cv": None} if res is None else {"cv": {"summary": summary, "pooled": pooled, "per_fold": res.folds,
                           "note": ("mean ± std over speaker-independent test folds; " +
                                    ("early stopping on validation speakers drawn from each fold's training speakers"
                                     if len(folds[0].val) else
                                     f"a fixed {config.epochs} epochs on all of each fold's training speakers "
                                     "(no validation speakers)"))
                                   if folds[0].speaker_independent else
                                   "RANDOM speaker-dependent folds: not comparable with speaker-independent results"}},
        "command": command,
    }
    if save_folds and out_dir is not None:  # issue 20
        _save_fold_models(Path(out_dir), res, folds, corpus, info)
    if final == "none":
        if out_dir is not None:
            _write_cv_predictions(Path(out_dir), df, folds, corpus.labels, corpus.y, res.probs)
        return info
    copies, y_all, extra = _layout(corpus.data, corpus.y, extra_y)
    all_idx = np.concatenate([with_copies(np.arange(len(corpus.y)), len(corpus.y), copies), extra])
    final_cfg = TrainConfig(**{**config.to_dict(), "epochs": epochs})
    model, hist = fit_model(corpus.data, y_all, all_idx, None, labels=corpus.labels,
                            model_kwargs=model_kwargs, config=final_cfg)
    out = Path(out_dir)
    save_checkpoint(model, out, corpus.encoder, **info)
    if res is not None:
        write_path(out / "folds.csv", lambda tmp: fold_table(df, folds).to_csv(tmp, index=False), suffix=".csv")
        _write_cv_predictions(out, df, folds, corpus.labels, corpus.y, res.probs)
    write_model_card(out)
    if progress:
        print(f"final model: {epochs} epochs on all {len(all_idx)} clips ({hist['seconds']:.0f} s) -> {out}")
    return info


# -- issue 20 (robustness): the fold models, so conditions the training never saw can be scored held out --
def _input_txt(e: dict) -> str:
    from .inputs import InputRule

    return InputRule.from_config(e.get("input")).describe()


def _langs(t: dict) -> list[str]:
    out = [t.get("language")] + [x.get("language") for x in t.get("extra", [])]
    return list(dict.fromkeys(x for x in out if x))


def _cv_md(cv: dict | None, folds: dict, stop_txt: str, fold_txt: str) -> str:
    """The card's cross-validation section (or why there is none: ``train --final-only``)."""
    if not cv:
        return ("## Cross-validated accuracy\n\nNone in this directory: trained with `--final-only` (the recipe's "
                "cross-validation was run separately; see the lockbox section and RESULTS.md).\n\n")
    s = cv["summary"]
    pct = lambda k: f"{100 * s[k]['mean']:.1f} ± {100 * s[k]['std']:.1f}"  # noqa: E731
    rows = "\n".join(f"| {k} | {100 * v:.1f} |" for k, v in cv["pooled"]["recall"].items())
    kind = "speaker-independent" if folds["speaker_independent"] else "RANDOM, speaker-DEPENDENT"
    return f"""## Cross-validated accuracy ({folds['kind']}, {kind}; kind: plain CV)

| metric | mean ± std over {len(folds['folds'])} folds (%) |
| --- | --- |
| UA (balanced accuracy) | {pct('ua')} |
| WA (accuracy) | {pct('wa')} |
| macro-F1 | {pct('macro_f1')} |

Per-class recall over all out-of-fold predictions (%):

| class | recall |
| --- | --- |
{rows}

These numbers are from the fold models (each trained without its test speakers, {stop_txt});
the shipped model is a retrain on every speaker and has no held-out score of
its own. Folds: {fold_txt}. The fold assignment is in `folds.csv`.

"""


def _lockbox_md(lb: dict | None) -> str:
    """The card's lockbox result (issue 28), from ``config["lockbox"]``: the recipe trained on the lockbox's
    dev actors, scored once on its locked actors."""
    if not lb:
        return ""
    return (f"## Accuracy on new speakers (kind: lockbox)\n\n{lb['text']}\n\n"
            + (f"```\n{lb['command']}\n```\n\n" if lb.get("command") else ""))


def _robustness_md(r: dict | None) -> str:
    """The card's robustness table, from ``config["robustness"]`` (rows of ``explain-ser robustness``)."""
    if not r:
        return ""
    rows = "\n".join(f"| {x['condition']} | {100 * x['ua']:.1f} [{100 * x['ua_lo']:.1f}, {100 * x['ua_hi']:.1f}] | "
                     + ("–" if x["condition"] == "none" else f"{-100 * x['drop'] + 0.0:+.1f}".replace("-0.0", "0.0"))
                     + " |"
                     for x in r["rows"])
    return (f"## Robustness ({r['what']})\n\n| condition | UA % [95 % CI] | change from clean (points) |\n"
            f"| --- | --- | --- |\n{rows}\n\n```\n{r['command']}\n```\n\n")


def _localisation_md(loc: dict | None) -> str:
    """The card's pointing-game result, from ``config["localisation"]``."""
    if not loc:
        return ""
    cmd = f"```\n{loc['command']}\n```\n\n" if loc.get("command") else ""
    return f"## Localisation (pointing game)\n\n{loc['text']}\n\n{cmd}"


def _language_of(df, corpus_name: str, known: dict) -> dict:
    """``{"language": code}`` of a training manifest: its ``language`` column (the most common value), else
    the corpus reader's language; empty when neither says."""
    if df is not None and "language" in df.columns:
        vals = df["language"].dropna().astype(str).str.strip()
        vals = vals[vals != ""]
        if len(vals):
            return {"language": str(vals.value_counts().index[0]).lower()}
    lang = known.get(str(corpus_name).lower())
    return {"language": lang} if lang else {}


def _save_fold_models(out: "Path", res, folds, corpus, info: dict) -> None:
    """``out/folds/<fold>/``: each fold's model as a checkpoint of its own (config.json + weights), whose
    config names its test and training speakers. The out-of-fold predictions say which clips each one may
    score; ``explain-ser robustness --cv-run out`` does exactly that."""
    from .checkpoint import save_checkpoint

    for f, model, row in zip(folds, res.models, res.folds):
        speakers = sorted(set(corpus.manifest["speaker"].astype(str)) - set(f.test_speakers))
        save_checkpoint(model, out / "folds" / f.name, corpus.encoder,
                        name=f"{info.get('name') or out.name} {f.name}",
                        training={**info["training"], "speakers": speakers, "final": f"fold model ({f.name})"},
                        fold={"name": f.name, "test": f.test_speakers, "val": f.val_speakers, "metrics": row},
                        seeds=info["seeds"], command=info.get("command"))
# -- end issue 20 --


def _write_cv_predictions(out: "Path", manifest, folds, labels, y, probs) -> None:
    """``cv_predictions.csv``: every clip's out-of-fold probabilities (:mod:`explain_ser.oof`), so runs over the
    same folds can be combined later (``explain-ser cv-ensemble``) without retraining."""
    from .atomic import write_path
    from .oof import FILENAME, predictions_frame

    frame = predictions_frame(manifest, folds, labels, y, probs)
    write_path(out / FILENAME, lambda tmp: frame.to_csv(tmp, index=False), suffix=".csv")


def write_model_card(directory) -> None:
    """MODEL_CARD.md generated from a checkpoint's config.json."""
    import json
    from pathlib import Path

    from .checkpoint import read_config

    d = Path(directory)
    c = read_config(d)
    m, e, t = c["model"], c["encoder"], c["training"]
    cv = c["metrics"].get("cv")
    taps = m["taps"]
    tap_txt = (f"tap {taps[0]}" if len(taps) == 1 else f"learned softmax-weighted sum of taps {taps}")
    folds = c["folds"]
    fold_txt = "; ".join(f"{f['name']}: test {', '.join(f['test'])} (val {', '.join(f['val'])})"
                         for f in folds["folds"])
    note = f"\n{c['note']}\n" if c.get("note") else ""
    has_val = any(f["val"] for f in folds["folds"])
    speeds = t["config"].get("speed_perturb") or ()
    aug_txt = (f"; speed perturbation: each training clip also played at {', '.join(f'{x:g}x' for x in speeds)} "
               "(pitch and tempo together; test clips original)" if speeds else "")
    cfg = t["config"]
    extra = [f"mixup alpha {cfg['mixup']}" if cfg.get("mixup") else "",
             f"{cfg['schedule']} learning-rate schedule" if cfg.get("schedule", "constant") != "constant" else "",
             f"weights averaged over the ends of the last {cfg['average_last']} epochs" if cfg.get("average_last") else "",
             f"distilled from {cfg['distill']} teachers (seeds {c['seeds']['train'] + 1}..{c['seeds']['train'] + cfg['distill']},"
             f" temperature {cfg.get('distill_temperature', 2.0)})" if cfg.get("distill") else "",
             "class-weighted loss" if cfg.get("class_weights") else "",
             f"random training copies ({', '.join(cfg['augment'])}; explain_ser.augment)" if cfg.get("augment") else ""]
    aug_txt += "".join(f"; {x}" for x in extra if x)
    epochs_txt = ("the recipe's fixed epoch count; no cross-validation in this run" if not cv else
                  "the median early-stopping epoch of the cross-validation folds" if has_val else
                  "the fixed epoch count of the cross-validation folds, which had no validation speakers")
    stop_txt = ("early stopping on validation speakers from the training side" if has_val else
                f"a fixed {t['config']['epochs']} epochs on all of the fold's training speakers")
    k = int(m.get("members", 1) or 1)
    ens_txt = (f"\n\nAn ensemble of {k} such models (seeds {', '.join(map(str, c['seeds'].get('members', [])))}) whose "
               f"class probabilities are averaged; the attention export holds every member's heads (`m0.h0` ...)."
               if k > 1 else "")
    extra_txt = "".join(
        f"\n- Additional training data (on the training side of every fold and in the final model; never tested on): "
        f"{x['corpus']}, {x['n_clips']} clips of {len(x['speakers'])} speakers, emotions mapped "
        f"{', '.join(f'{a} -> {b}' for a, b in x['mapping'].items())}"
        + (f"; left out (no matching class): {', '.join(f'{a} ({n} clips)' for a, n in x['left_out'].items())}"
           if x["left_out"] else "") + "."
        for x in t.get("extra", []))
    extra_lic = "".join(f" {x['corpus']}: {x['license']}." for x in t.get("extra", []))
    text = f"""# {c.get('name') or d.name}
{note}
Speech emotion recognition head over frozen Whisper encoder features: {tap_txt} -> `{m['pooler']}` pooler
{json.dumps(m['pooler_hparams'])} -> Linear({m['hidden']}) -> ReLU -> Dropout({m['dropout']}) -> Linear({len(m['labels'])}).{ens_txt}

- Encoder: `{e['source']}` (weights sha256 `{e['weights_hash']}`), dim {e['dim']}, {e['n_taps']} taps,
  window mode `{e['window']}` (the checkpoint refuses any other encoder or window mode).
- Input: {_input_txt(e)}.
- Labels: {', '.join(m['labels'])}; language of the training speech: {', '.join(_langs(t)) or 'not recorded'}.
- Training data: {t['corpus']} ({t['n_clips']} clips, {len(t['speakers'])} speakers: {', '.join(t['speakers'])}).{extra_txt}
- License: {t['license']}.{extra_lic}
- Training: AdamW lr {t['config']['lr']}, weight decay {t['config']['weight_decay']}, batch {t['config']['batch_size']},
  label smoothing {t['config']['label_smoothing']}, frame drop {t['config']['frame_drop']}, seed {c['seeds']['train']}{aug_txt};
  final model trained on ALL clips for {t['final_epochs']} epochs ({epochs_txt}). Feature standardisation statistics from the training clips are stored in the weights.

{_cv_md(cv, folds, stop_txt, fold_txt)}{_lockbox_md(c.get('lockbox'))}{_robustness_md(c.get('robustness'))}{_localisation_md(c.get('localisation'))}## Reproduce

```
{c.get('command') or '(command not recorded)'}
```

explain_ser {c['explain_ser_version']}.
"""
    from .atomic import write_text

    write_text(d / "MODEL_CARD.md", text)


# -- issue 19/20: a checkpoint carries the scores of its recipe where the answer is known --
def robustness_entry(record: dict, command: str) -> dict:
    """``config["robustness"]`` from an ``explain-ser robustness --cv-run`` record (robustness.json)."""
    rows = [{"condition": r["condition"], "ua": r["ua"], "ua_lo": r["ua_lo"], "ua_hi": r["ua_hi"],
             "drop": r.get("ua_drop", 0.0), "drop_lo": r.get("ua_drop_lo", 0.0), "drop_hi": r.get("ua_drop_hi", 0.0),
             "rho_mean": r.get("rho_mean", 1.0)} for r in record["table"]]
    what = (f"held-out fold models, {record['n_clips']} clips of {record['n_speakers']} speakers (each scored by the "
            "fold model that never heard its speaker), speaker-bootstrap 95 % CIs")
    return {"what": what, "rows": rows, "command": command}


BENCHMARK_TEXT = {
    "join": "Join benchmark ({n} clips: a whole neutral and a whole emotional utterance of one speaker, both orders; "
            "the cue is the emotional utterance, {chance:.1f} % of the frames)",
    "splice": "Splice benchmark ({n} clips: a stretch of one emotion's speech spliced into the same speaker's neutral "
              "speech, the cue {chance:.1f} % of the frames)",
}


def localisation_entry(result: dict, kind: str, command: str) -> dict:
    """``config["localisation"]`` from a ``pointing-game score`` result (pointing_score.json): how often the
    fold models name the planted emotion, and where they do, how much of each map lies on it."""
    rec = {r["method"]: r for r in result["table"].get("recognised", [])}
    r = result["recognised"]
    att, ig = rec.get("attention:mean"), rec.get("ig")
    head = BENCHMARK_TEXT.get(kind, "Cue benchmark ({n} clips, the cue {chance:.1f} % of the frames)").format(
        n=result["clips"], chance=100 * (att or {}).get("chance", float("nan")))
    text = (f"{head}, scored with the held-out fold models: the planted emotion is predicted for "
            f"{100 * r['accuracy']:.1f} % [{100 * r['lo']:.1f}, {100 * r['hi']:.1f}] of the clips")
    if att:
        text += (f"; where it is, the mean attention puts {100 * att['mass']:.1f} % [{100 * att['mass_lo']:.1f}, "
                 f"{100 * att['mass_hi']:.1f}] of its mass on the cue (uniform {100 * att['chance']:.1f} %), "
                 f"top frame on it in {100 * att['hit']:.0f} %")
    if ig:
        text += f"; IG {100 * ig['mass']:.1f} % of its positive mass"
    return {"text": text + ".", "command": command, "benchmark": kind, "recognised": r, "table": result["table"]}


def pooler_localisation_entry(result: dict, command: str) -> dict:
    """``config["localisation"]`` for a checkpoint without fold models: the ``pointing-game run`` result
    (pointing.json) of a one-head pooler of the same kind and attention normaliser on the synthetic
    vocalization benchmark: what this pooler's attention does where the evidence's place is known."""
    rows = {r["method"]: r for r in result["table"]}
    att = rows.get("attention:mean") or next(r for m, r in rows.items() if m.startswith("attention:"))
    det = result["detection"]["all"]
    m = result["model"]
    hp = m.get("pooler_hparams", {})
    what = f"{m['pooler']}, {hp.get('normalizer', 'softmax')} attention"
    text = (f"Not scored with this checkpoint's own fold models. Its pooler ({what}), one head at tap "
            f"{','.join(map(str, m['taps']))}, trained on the synthetic vocalization benchmark ({det['clips']} "
            f"RAVDESS clips, held-out speakers): detection {100 * det['accuracy']:.1f} %, "
            f"{100 * att['mass']:.1f} % [{100 * att['mass_lo']:.1f}, {100 * att['mass_hi']:.1f}] of the attention "
            f"on the cue (chance {100 * att['chance']:.1f} %), top frame on it in {100 * att['hit']:.0f} %.")
    return {"text": text, "command": command, "benchmark": "vocalization (pooler)", "detection": det,
            "table": result["table"]}


def record_evaluation(directory, **entries) -> None:
    """Write ``entries`` (``robustness=...``, ``localisation=...``) into a checkpoint's config.json and
    re-render its MODEL_CARD.md, both atomically."""
    import json
    from pathlib import Path

    from .atomic import write_text
    from .checkpoint import read_config

    d = Path(directory)
    c = read_config(d)
    c.update(entries)
    write_text(d / "config.json", json.dumps(c, indent=2) + "\n")
    if (d / "MODEL_CARD.md").exists() or "metrics" in c:
        write_model_card(d)
