"""Shared machinery of the figure scripts: where results live, and how they are (re)computed.

Every script reads small CSV results under ``analyses/results/`` when they exist and computes them
otherwise (which needs ../shared/corpora). ``python analyses/run_all.py`` runs every script; each
figure is written as vector PDF and PNG into ``figures/``.

Held-out attention statistics: for a corpus and a model configuration, :func:`heldout_run` trains one
model per speaker-independent fold (the same folds, seeds and settings as the shipped checkpoint's
cross-validation), and explains each clip with the fold model that never heard its speaker. The
report written there is therefore a held-out evaluation, unlike a report of the shipped checkpoint on
its own training corpus.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "analyses" / "results"
FIGURES = ROOT / "figures"
SHARED = Path(os.environ.get("EXPLAIN_SER_SHARED", ROOT.parent / "shared"))
CORPORA = {"ravdess": SHARED / "corpora" / "ravdess" / "manifest.csv",
           "emodb": SHARED / "corpora" / "emodb" / "manifest.csv"}
CHECKPOINTS = {"ravdess": "ravdess-tiny.en", "emodb": "emodb-tiny.en"}


def fold_probabilities(out: Path, tag: str, n_folds: int) -> list:
    """The stored test probabilities ``P_<tag>_fold<i>.npy`` of ``dev_levers.py run`` (one line and exit when
    one is missing)."""
    import numpy as np

    files = [Path(out) / f"P_{tag}_fold{i}.npy" for i in range(n_folds)]
    missing = [f for f in files if not f.is_file()]
    if missing:
        sys.exit(f"{missing[0]} is missing: run TAG={tag} python analyses/dev_levers.py run first")
    return [np.load(f) for f in files]


def dev_split(manifest=None):
    """The lockbox's DEV actors and the issue 28 studies' folds: ``(df, labels, y, folds)``, the manifest rows of
    the 12 dev actors, their sorted emotion names, each clip's label index, and ``train --lockbox dev --folds
    speakers --k 3``'s four folds (no validation speakers). No locked actor is read."""
    import numpy as np

    from explain_ser.corpora import load_manifest_or_dir
    from explain_ser.splits import lockbox_subset, make_folds

    df = lockbox_subset(load_manifest_or_dir(manifest or need_corpus("ravdess")).reset_index(drop=True), "dev")
    labels = sorted(df["emotion"].unique())
    y = np.array([labels.index(e) for e in df["emotion"]])
    return df, labels, y, make_folds(df, "speakers", k=3, n_val=0, seed=0)


def need_corpus(corpus: str) -> Path:
    path = CORPORA[corpus]
    if not path.is_file():
        sys.exit(f"{path} is missing: this result must be computed from the corpus (see analyses/README.md)")
    return path


def save(fig, name: str) -> list[Path]:
    """Write ``figures/<name>.pdf`` and ``.png`` (house style)."""
    from explain_ser.plots import save_figure

    FIGURES.mkdir(exist_ok=True)
    out = []
    for ext in ("pdf", "png"):
        p = FIGURES / f"{name}.{ext}"
        tmp = p.with_suffix(f".tmp.{ext}")
        save_figure(fig, tmp, format=ext)
        os.replace(tmp, p)
        out.append(p)
    print("wrote", ", ".join(str(p.relative_to(ROOT)) for p in out))
    return out


def table(out: Path, name: str):
    """A table of a held-out run: ``tables/<name>.csv``, or its gzipped copy as committed."""
    import pandas as pd

    plain, gz = out / "tables" / f"{name}.csv", out / "tables" / f"{name}.csv.gz"
    return pd.read_csv(plain if plain.is_file() else gz, keep_default_na=False if name == "enrichment" else True)


def shipped_config(corpus: str) -> dict:
    from explain_ser.checkpoint import read_config

    return read_config(CHECKPOINTS[corpus])


# The held-out analyses use one fixed recipe, whatever the shipped checkpoints use today, so that the
# committed results stay reproducible when a default changes: tap 2, early stopping on two validation
# speakers per fold, no augmentation (the recipe of the first shipped checkpoints).
HELDOUT_TAPS = [2]
HELDOUT_TRAIN = {"epochs": 40, "patience": 8, "batch_size": 32, "lr": 0.001, "weight_decay": 0.01,
                 "class_weights": False, "label_smoothing": 0.1, "frame_drop": 0.0, "select": "ua", "seed": 0,
                 "threads": 1}


def heldout_run(corpus: str, pooler: str | None = None, tap=None, full: bool = True, tag: str | None = None,
                aligner: str | None = None, prosody: bool = True) -> Path:
    """Held-out FrameTables + report for ``corpus``: the shipped checkpoint's pooler (or ``pooler``)
    and head on tap :data:`HELDOUT_TAPS` (or ``tap``), trained with :data:`HELDOUT_TRAIN`. Cached in
    ``analyses/results/heldout_<corpus>_<tag>``.

    ``full``: IG + occlusion + deletion curves; otherwise attention only (coverage statistics).
    ``aligner``/``prosody``: the annotation (default: Kaldi for EmoDB, else auto; ``"none"`` for runs that need
    only the vocalization tags, which the default tagger finds without words).
    Returns the report directory.
    """
    import numpy as np

    cfg = shipped_config(corpus)
    # one pooler per fold even when the shipped checkpoint is an ensemble: its heads are what is analysed
    model_kw = {k: v for k, v in cfg["model"].items() if k not in ("labels", "members")}
    if pooler is not None:
        from explain_ser.sweep import pooler_spec

        name, hp = pooler_spec(pooler)
        model_kw.update(pooler=name, pooler_hparams=hp)
    tap = HELDOUT_TAPS if tap is None else tap
    model_kw["taps"] = [int(tap)] if not isinstance(tap, (list, tuple)) else list(tap)
    tag = tag or (pooler or model_kw["pooler"]) + "_tap" + "-".join(map(str, model_kw["taps"]))
    out = RESULTS / f"heldout_{corpus}_{tag}"
    if (out / "report.json").is_file():
        if full and not any((out / "tables" / n).is_file() for n in ("deletion.csv", "deletion.csv.gz")):
            sys.exit(f"{out} holds an attention-only run; delete it to recompute with attributions")
        return out
    from explain_ser.api import Explainer
    from explain_ser.batch import run_corpus
    from explain_ser.checkpoint import Checkpoint
    from explain_ser.encoder import Encoder
    from explain_ser.report import write_report
    from explain_ser.sweep import default_folds, load_corpus
    from explain_ser.train import TrainConfig, cross_validate

    t0 = time.perf_counter()
    enc_cfg = cfg["encoder"]
    data = load_corpus(need_corpus(corpus), source=enc_cfg["source"], window=enc_cfg["window"],
                       taps=model_kw["taps"], labels=cfg["model"]["labels"], progress=False)
    folds = default_folds(data.manifest)
    # one torch thread: these tensors are small, and the thread pool only adds synchronisation (explain_ser.threads)
    train_cfg = TrainConfig(**HELDOUT_TRAIN)
    res = cross_validate(data.data, data.y, folds, labels=data.labels, model_kwargs=model_kw, config=train_cfg,
                         keep_models=True)
    encoder = Encoder(enc_cfg["source"], window=enc_cfg["window"])
    frames, metas, dels = [], [], []
    import pandas as pd

    for fold, model in zip(folds, res.models):
        train_spk = sorted(set(data.manifest["speaker"].iloc[fold.train].astype(str)))
        # the fold model is explained in memory, by the same per-clip path as a shipped checkpoint
        ck = Checkpoint.from_model(model, data.encoder, name=f"{corpus}-{fold.name}",
                                   training={"corpus": corpus, "speakers": train_spk, "config": train_cfg.to_dict()})
        ex = Explainer(ck, encoder=encoder)
        test = data.manifest.iloc[fold.test].copy()
        test["fold"] = fold.name
        f, m, dl = run_corpus(test, ex, out, methods=("ig", "occlusion") if full else (), deletion=full,
                              aligner=aligner or ("kaldi" if corpus == "emodb" else "auto"), prosody=prosody,
                              progress=False)
        frames.append(f)
        metas.append(m)
        if len(dl):
            dels.append(dl)
    frames, meta = pd.concat(frames, ignore_index=True), pd.concat(metas, ignore_index=True)
    card = {"evaluation": "held out: each clip explained by the fold model that did not train on its speaker",
            "pooler": model_kw["pooler"], "pooler_hparams": model_kw.get("pooler_hparams"), "taps": model_kw["taps"],
            "encoder": enc_cfg["source"], "window": enc_cfg["window"], "train_config": train_cfg.to_dict(),
            "cv_ua_mean": res.summary["ua"]["mean"], "cv_ua_std": res.summary["ua"]["std"]}
    write_report(frames, meta, out, model_card=card, command=f"python analyses/_common.py {corpus} {tag}",
                 corpus={"name": corpus, "manifest": str(CORPORA[corpus]), "clips": int(len(meta))},
                 folds={"kind": folds[0].kind, "folds": [{"name": f.name, "test": f.test_speakers} for f in folds]},
                 deletion=pd.concat(dels, ignore_index=True) if dels else None)
    heads = [c for c in frames.columns if c.startswith("att_") and c != "att_mean"]
    g = frames.groupby("clip_id", sort=False)[heads]
    ratio = (g.max() / g.min().clip(lower=1e-30)).reset_index().melt(id_vars="clip_id", var_name="head", value_name="ratio")
    ratio.to_csv(out / "tables" / "weight_ratio.csv.gz", index=False)
    # the per-clip metrics are the big table: commit-sized gzip beside the report's plain CSV
    pd.read_csv(out / "tables" / "clip_metrics.csv").to_csv(out / "tables" / "clip_metrics.csv.gz", index=False)
    # the per-clip work files and fold models are large and reproducible: keep only the report
    import shutil

    shutil.rmtree(out / "clips", ignore_errors=True)
    shutil.rmtree(out / "fold_models", ignore_errors=True)
    (out / "timing.json").write_text(json.dumps({"seconds": round(time.perf_counter() - t0, 1)}) + "\n")
    print(f"held-out run {corpus}/{tag}: UA {100 * np.mean([f['metrics']['ua'] for f in res.folds]):.1f} "
          f"in {time.perf_counter() - t0:.0f} s -> {out}")
    return out


if __name__ == "__main__":
    heldout_run(sys.argv[1], pooler=sys.argv[2] if len(sys.argv) > 2 else None)
