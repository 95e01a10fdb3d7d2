"""The pointing game run: train poolers on a cue corpus, and score every explanation of the held-out clips.

:func:`run_pointing_game` trains poolers through the normal cross-validation path (speaker-independent folds,
the training options of ``explain-ser train``) and scores every map of the fold models' held-out cue clips
(:func:`explain_ser.pointing.score_map`): attention per head, attributions on the features, optionally deep IG
through the encoder, all on the frames the model saw (with a trimming input rule those start ``first_frame``
frames into the clip, and the cue moves back by as much). :func:`score_models` does the same for the fold
models of an emotion run shown a cue corpus. Metrics and manifests: :mod:`explain_ser.pointing`.

>>> import torch
>>> from explain_ser.model import SERModel
>>> m = SERModel(dim=4, n_classes=2, taps=[0], n_taps=1, pooler="qkv", pooler_hparams={"n_heads": 1}).eval()
>>> sorted(clip_maps(m, np.zeros((1, 6, 4), np.float32), 0, methods=()))
['attention:h0']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .jsonio import dumps
from .pointing import SIGNED_METHODS, format_table, score_map, summarize
from .timegrid import FRAME_SECONDS

__all__ = ["clip_maps", "first_frame", "run_pointing_game", "fold_explainers", "score_models"]


def clip_maps(model, features, target: int, methods=("ig", "saliency", "occlusion"), deep: bool = False) -> dict:
    """``{method: frame scores [T]}`` on the model's frames, through the per-clip stage
    :func:`explain_ser.pipeline.maps`: every attention head (``attention:<head>``), their mean
    (``attention:mean``; left out for one head, where it is the head), the attributions of ``target`` by
    ``methods`` and, with ``deep`` (``features`` must then be a :class:`~explain_ser.pipeline.ModelInput`),
    IG through the encoder onto the log-mel as ``deep_ig`` — on the prepared input, the frames the model saw."""
    from .pipeline import maps

    mp = maps(model, features, methods=tuple(methods), target=target, deep=deep)
    out = {f"attention:{k}": np.asarray(v) for k, v in mp.attention.items()}
    if len(mp.attention) == 2:  # one head: its mean is itself
        out.pop("attention:mean")
    for k, v in mp.attributions.items():
        out["deep_ig" if k == "ig_mel" else k] = np.asarray(v)
    return out


def first_frame(path, rule) -> int:
    """The clip frame the model's first frame is (0 without an input rule that trims the start)."""
    if rule.is_identity:
        return 0
    from .audio import load_audio
    from .inputs import prepare

    return int(prepare(load_audio(path), rule).first_frame)


def run_pointing_game(corpus, folds, model_kwargs: dict, config, out=None, methods=("ig", "saliency", "occlusion"),
                      deep: bool = False, source: str = "tiny.en", window: str = "trim", command: str | None = None,
                      progress: bool = True, n_boot: int = 2000) -> dict:
    """Cross-validate on a cue corpus and score every explanation method on the held-out clips.

    ``corpus`` is an :class:`explain_ser.sweep.Corpus` whose manifest went through :func:`read_cue_manifest`.
    Returns a dict with ``detection`` (accuracy over all held-out clips and on cue clips, speaker-bootstrap
    CIs), ``table`` (rows of :func:`summarize`) and ``per_clip`` (a DataFrame, one row per cue clip x method);
    with ``out`` writes ``pointing.csv``, ``pointing_clips.csv``, ``pointing.json`` and ``pointing.png``.
    """
    import time

    from .stats import bootstrap_ci
    from .train import cross_validate

    t0 = time.perf_counter()
    df = corpus.manifest
    res = cross_validate(corpus.data, corpus.y, folds, labels=corpus.labels, model_kwargs=model_kwargs,
                         config=config, keep_models=True, progress=progress)
    t_train = time.perf_counter() - t0
    from .inputs import InputRule

    rule = InputRule.from_config(corpus.encoder.get("input"))
    encoder = None
    if deep:
        from .encoder import Encoder

        encoder = Encoder(source, window=window, input_rule=rule)
    taps_pos = None if corpus.data.taps is None else [corpus.data.taps.index(t) for t in model_kwargs["taps"]]
    rows = []
    for f, model in zip(folds, res.models):
        for i in f.test:
            if not np.isfinite(df.at[i, "cue_start"]):
                continue
            n = int(corpus.data.lengths[i])
            x = corpus.data.x[i, :, :n] if taps_pos is None else corpus.data.x[i, taps_pos, :n]
            feats = x.float().numpy()
            target = int(corpus.y[i])
            # the maps cover the frames the model saw: with an input rule that trims the ends they start
            # first_frame frames into the clip, so the cue (clip time) moves back by as much
            if deep:  # stage 1 once: the prepared input, its mel and its features (deep IG needs all three)
                from .pipeline import model_input

                inp = model_input(df.at[i, "path"], rule, encoder, mel=True)
                maps = clip_maps(model, inp, target, methods, deep=True)
                shift = inp.first_frame * FRAME_SECONDS
            else:  # the cached features of the corpus are the model's input already
                maps = clip_maps(model, feats, target, methods)
                shift = first_frame(df.at[i, "path"], rule) * FRAME_SECONDS
            for name, m in maps.items():
                rows.append({"clip_id": df.at[i, "clip_id"], "speaker": str(df.at[i, "speaker"]), "fold": f.name,
                             "label": corpus.labels[target], "predicted": corpus.labels[int(res.pred[i])],
                             "method": name, "shift_s": shift,
                             **score_map(m, float(df.at[i, "cue_start"]) - shift, float(df.at[i, "cue_end"]) - shift,
                                         signed=name in SIGNED_METHODS)})
    per_clip = pd.DataFrame(rows)
    if per_clip.empty:
        raise InputError(corpus.path, "no held-out clip has a cue")
    table = summarize(per_clip, n_boot=n_boot)
    seen = res.pred >= 0
    correct = (res.pred == corpus.y).astype(np.float64)
    spk = df["speaker"].astype(str).to_numpy()
    has_cue = np.isfinite(df["cue_start"].to_numpy(dtype=np.float64))
    det = {}
    for name, sel in (("all", seen), ("cue", seen & has_cue), ("no_cue", seen & ~has_cue)):
        if sel.any():
            m, lo, hi = bootstrap_ci(correct[sel], clusters=spk[sel], n_boot=n_boot)
            det[name] = {"accuracy": float(m), "lo": float(lo), "hi": float(hi), "clips": int(sel.sum())}
    result = {
        "format": "explain_ser.pointing/1",
        "command": command,
        "manifest": str(corpus.path),
        "labels": corpus.labels,
        "model": {k: v for k, v in model_kwargs.items()},
        "training": config.to_dict(),
        "folds": [{"name": f.name, "test": f.test_speakers, "val": f.val_speakers, "best_epoch": r["best_epoch"]}
                  for f, r in zip(folds, res.folds)],
        "cv": res.summary,
        "detection": det,
        "frame_rule": "frame i covers [0.02 i, 0.02 (i+1)) s; inside = overlaps [cue_start, cue_end)",
        "bootstrap": {"clusters": "speaker", "n_boot": n_boot, "seed": 0, "ci": 0.95},
        "seconds": {"train": round(t_train, 1), "explain": round(time.perf_counter() - t0 - t_train, 1)},
        "table": table.to_dict(orient="records"),
    }
    if out is not None:
        _write_outputs(Path(out), result, table, per_clip)
    result["per_clip"] = per_clip
    return result


def fold_explainers(run_dir, encoder=None, store=None) -> dict[str, object]:
    """``{speaker: Explainer}``: for every test speaker of an ``explain-ser train --save-fold-models`` run, the
    fold model that never heard that speaker (its config records the fold's test speakers)."""
    from .api import Explainer
    from .checkpoint import Checkpoint

    run = Path(run_dir)
    dirs = sorted(d for d in (run / "folds").glob("*") if (d / "config.json").is_file())
    if not dirs:
        raise InputError(run, "has no fold models (folds/<fold>/config.json): train with --save-fold-models")
    out: dict[str, object] = {}
    for d in dirs:
        ck = Checkpoint.load(d)
        ex = Explainer(ck, encoder=encoder, store=store)
        encoder = encoder or ex.encoder  # one Whisper for every fold
        for spk in (ck.config.get("fold") or {}).get("test", []):
            out[str(spk)] = ex
    return out


def score_models(manifest: pd.DataFrame, run_dir, methods=("ig",), n_boot: int = 2000, out=None,
                 command: str | None = None, progress: bool = True) -> dict:
    """The pointing game for models that were trained on something else (the emotion model's fold models)
    and are shown a cue corpus (e.g. a splice of an emotional utterance into neutral speech).

    Each clip goes through the one per-clip path (:meth:`explain_ser.api.Explainer.attribute`, so the
    checkpoint's input rule applies) with the fold model that never heard its speaker. Reported per method:
    the share of the map's mass on the cue and the top-frame hit, over the cue clips **the model labels as
    the spliced class** (``recognised``; the map explains the predicted class) and over all cue clips, plus
    how often the prediction is the clip's label. Speaker-bootstrap CIs.
    """
    import time

    from tqdm.auto import tqdm

    from .stats import bootstrap_ci

    t0 = time.perf_counter()
    models = fold_explainers(run_dir)
    df = manifest[np.isfinite(manifest["cue_start"].to_numpy(dtype=np.float64))].reset_index(drop=True)
    missing = sorted(set(df["speaker"].astype(str)) - set(models))
    if missing:
        raise InputError(run_dir, f"no fold model held out speakers {missing[:5]}: every clip must be scored by a "
                                  "model that never heard its speaker")
    rows, correct, spk = [], [], []
    for _, r in tqdm(list(df.iterrows()), desc="pointing (fold models)", unit="clip", disable=not progress):
        ex = models[str(r["speaker"])]
        label = str(r["emotion"])
        res = ex.attribute(r["path"], methods=tuple(methods), align=False, prosody=False,
                           tagger="rules")  # maps only: no tags (the trained tagger would run for nothing)
        ok = res.predicted == label
        correct.append(float(ok))
        spk.append(str(r["speaker"]))
        maps = {"attention:mean": res.attention["mean"], **dict(res.attributions)}
        for name, m in maps.items():
            rows.append({"clip_id": r.get("clip_id", r["path"]), "speaker": str(r["speaker"]), "label": label,
                         "predicted": res.predicted, "recognised": bool(ok), "method": name,
                         **score_map(np.asarray(m), float(r["cue_start"]), float(r["cue_end"]),
                                     signed=name in SIGNED_METHODS)})
    per_clip = pd.DataFrame(rows)
    m, lo, hi = bootstrap_ci(np.array(correct), clusters=np.array(spk), n_boot=n_boot)
    rec = per_clip[per_clip["recognised"]]
    tables = {"recognised": summarize(rec, n_boot=n_boot) if len(rec) else pd.DataFrame(),
              "all": summarize(per_clip, n_boot=n_boot)}
    result = {"format": "explain_ser.pointing-score/1", "command": command, "run": str(run_dir),
              "manifest": str(manifest.attrs.get("path", "")), "clips": int(len(df)),
              "recognised": {"accuracy": float(m), "lo": float(lo), "hi": float(hi)},
              "frame_rule": "frame i covers [0.02 i, 0.02 (i+1)) s; inside = overlaps [cue_start, cue_end)",
              "bootstrap": {"clusters": "speaker", "n_boot": n_boot, "seed": 0, "ci": 0.95},
              "seconds": round(time.perf_counter() - t0, 1),
              "table": {k: v.to_dict(orient="records") for k, v in tables.items()}}
    if out is not None:
        from .atomic import write_path, write_text

        o = Path(out)
        o.mkdir(parents=True, exist_ok=True)
        write_text(o / "pointing_score.json", dumps(result) + "\n")
        write_path(o / "pointing_score_clips.csv", lambda tmp: per_clip.to_csv(tmp, index=False), suffix=".csv")
    result["per_clip"] = per_clip
    return result


def _write_outputs(out: Path, result: dict, table: pd.DataFrame, per_clip: pd.DataFrame) -> None:
    from .atomic import write_path, write_text
    from .pointing_view import pointing_figure

    out.mkdir(parents=True, exist_ok=True)
    write_path(out / "pointing.csv", lambda p: table.to_csv(p, index=False), suffix=".csv")
    write_path(out / "pointing_clips.csv", lambda p: per_clip.to_csv(p, index=False), suffix=".csv")
    write_text(out / "pointing.json", dumps(result) + "\n")
    write_text(out / "pointing.md", format_table(result) + "\n")
    write_path(out / "pointing.png", lambda p: pointing_figure(result, table).savefig(p, dpi=120, bbox_inches="tight"),
               suffix=".png")
