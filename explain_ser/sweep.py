"""Corpus features for training, and the tap x pooler cross-validation sweep.

:func:`load_corpus` reads a manifest (or corpus directory), gets every clip's features from the cache
(encoding the misses) and returns what training needs; :func:`sweep` cross-validates every (tap, pooler)
pair with identical training settings and returns one row per pair (mean ± std over folds), the table that
``explain-ser sweep`` writes as CSV and the figure scripts read ("do intermediate layers beat the last?").
Each (pair, fold) is one task on the Dask engine (:mod:`explain_ser.engine`; ``explain-ser sweep --jobs N``
or ``--scheduler``), or runs in this process without a client; the table is the same either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .errors import InputError
from .splits import make_folds
from .train import CVData, FeatureSet, FoldJob, TrainConfig, combine_folds, run_folds

__all__ = ["Corpus", "load_corpus", "sweep", "DEFAULT_POOLER_HPARAMS", "parse_taps"]

# Hyper-parameters per pooler used by the sweep and the CLI unless overridden (issue 19: defaults whose one-head
# attention points at a planted cue). MH-AAP normalises with 1.5-entmax: frames far below the best get exactly
# zero weight (pointing game: 52 % of the mass on the cue, softmax 30 %); QKV gets the same from additive scores
# with softmax (below). Dot-product softmax QKV put 42 % there: --score dot gives the dense maps of earlier
# checkpoints, which record no score or normalizer and so still rebuild as they were trained.
DEFAULT_NORMALIZER = "entmax15"
DEFAULT_POOLER_HPARAMS = {
    "mean": {},
    "mhaap": {"n_heads": 4, "normalizer": DEFAULT_NORMALIZER},
    # QKV scores frames additively, v.tanh(Wx), with softmax: on the one-head vocalization game it localises like
    # entmax (97.9 % of the mass on the cue vs 97.6 %), and with the emotion recipe it kept CV UA where dot-product
    # scores lost 1.1 points to the join copies (RESULTS.md sections 1, 6, 10). Additive + entmax localised worse
    # (65.9 %), so the two choices go together.
    "qkv": {"n_heads": 4, "query": "learned", "score": "additive", "normalizer": "softmax"},
    "qkv-tanh": {"n_heads": 4, "query": "learned", "tanh_bound": True},  # the public code's softmax, as it was
    "qkv-stats": {"n_heads": 4, "query": "learned", "stats": True, "normalizer": DEFAULT_NORMALIZER},
    # MQMHA keeps softmax: with 1.5-entmax its one-head pointing game fell to 91 % detection (softmax 99.7 %,
    # its attention already 98 % on the cue for one of its two queries); RESULTS.md section 6
    "mqmha": {"n_heads": 4, "n_queries": 2, "hidden": 64},
    "transformer": {"n_heads": 4, "d_model": 128, "dropout": 0.1},
}


def pooler_spec(name: str) -> tuple[str, dict]:
    """('qkv', {..., 'tanh_bound': True}) for the sweep name 'qkv-tanh', etc."""
    if name not in DEFAULT_POOLER_HPARAMS:
        raise InputError(name, f"unknown pooler (choose from {', '.join(DEFAULT_POOLER_HPARAMS)})")
    return name.split("-")[0], dict(DEFAULT_POOLER_HPARAMS[name])


@dataclass
class Corpus:
    """A manifest with its features in memory and integer labels."""

    manifest: pd.DataFrame
    data: FeatureSet
    y: np.ndarray
    labels: list[str]
    encoder: dict  # source, weights_hash, dim, n_taps, window
    path: str
    speeds: tuple = ()  # speed factors of the perturbed copies held after the originals in ``data``
    extra_y: np.ndarray | None = None  # labels of the extra corpora's items, held last in ``data`` (train only)
    extra_info: list = field(default_factory=list)  # per extra corpus: manifest, clips, speakers, emotion mapping
    augment: tuple = ()  # issue 20: kinds of the random training copies held after the speed copies


def parse_taps(spec: str, n_taps: int) -> list[int]:
    """'2' -> [2]; '1,2,3' -> [1, 2, 3]; '1-3' -> [1, 2, 3]; 'all' -> every tap; negative counts from the end.

    >>> parse_taps("-1", 5), parse_taps("1-3", 5), parse_taps("all", 3)
    ([4], [1, 2, 3], [0, 1, 2])
    """
    spec = str(spec).strip()
    if spec == "all":
        return list(range(n_taps))
    try:
        if "-" in spec[1:]:
            a, b = spec.split("-", 1) if not spec.startswith("-") else (None, None)
            taps = list(range(int(a), int(b) + 1))
        else:
            taps = [int(t) for t in spec.split(",")]
    except (TypeError, ValueError):
        raise InputError(spec, "taps must look like 2, 1,2,3, 1-3 or all") from None
    taps = [t + n_taps if t < 0 else t for t in taps]
    if not taps or any(not 0 <= t < n_taps for t in taps):
        raise InputError(spec, f"taps outside 0..{n_taps - 1}")
    return taps


def load_corpus(manifest, source: str = "tiny.en", window: str = "trim", taps=None, cache=None,
                labels=None, progress: bool = True, speeds=(), extra=(), extra_map=None, augment=(),
                augment_seed: int = 0, input_rule=None, lockbox: str | None = None) -> Corpus:
    """Manifest + features (only ``taps`` kept in memory: a list or a :func:`parse_taps` spec; None = all)
    + labels for training.

    ``speeds``: speed-perturbation factors (:mod:`explain_ser.augment`); clip ``i`` played at
    ``speeds[k]`` is item ``(k + 1) * n_clips + i`` of ``data`` (the originals come first). The
    features are held as float16, exactly as cached.

    ``extra``: manifests of other corpora whose clips join the TRAINING side of every fold (and the
    final model) but are never tested on; their emotions are mapped onto this corpus' labels
    (:func:`explain_ser.labels.map_labels`, ``extra_map`` for explicit choices such as
    ``{"boredom": "calm"}``) and clips of emotions without a class are left out. They get the same
    speed perturbation and are held after all of this corpus' items, labelled by ``Corpus.extra_y``.

    ``input_rule``: how every clip (and copy) is prepared before the encoder (:mod:`explain_ser.inputs`);
    recorded in the checkpoint's encoder section when it changes anything.

    ``lockbox``: "dev" keeps only the lockbox's development speakers (:func:`explain_ser.splits.lockbox_subset`).

    ``augment``: kinds of random training copies (:func:`explain_ser.augment.parse_augment`), one copy per
    kind and clip, drawn with ``augment_seed``; held after the speed copies, train-only like them.
    """
    from .corpora import load_manifest_or_dir
    from .encoder import Encoder
    from .features import FeatureStore, features_for_manifest

    df = load_manifest_or_dir(manifest).reset_index(drop=True)
    if lockbox:  # only the lockbox's dev (or locked) speakers (explain_ser.splits.lockbox_subset)
        from .splits import lockbox_subset

        df = lockbox_subset(df, lockbox, name=str(manifest))
    if "emotion" not in df.columns or df["emotion"].isna().any():
        raise InputError(manifest, "every clip needs an 'emotion' label for training")
    enc = Encoder(source, window=window, input_rule=input_rule)
    store = FeatureStore(cache)
    arrays = features_for_manifest(df, enc, store, progress=progress)  # memory-mapped
    labels = list(labels) if labels is not None else sorted(df["emotion"].astype(str).unique())
    unknown = set(df["emotion"].astype(str)) - set(labels)
    if unknown:
        raise InputError(manifest, f"emotions {sorted(unknown)} are not among the labels {labels}")
    y = np.array([labels.index(e) for e in df["emotion"].astype(str)])
    info = {"source": enc.source, "weights_hash": enc.weights_hash, "dim": enc.dim, "n_taps": enc.n_taps,
            "window": enc.window, **({} if enc.input_rule.is_identity else {"input": enc.input_rule.to_config()})}
    if isinstance(taps, str):
        taps = sorted(set(parse_taps(taps, enc.n_taps)))
    speeds = tuple(speeds or ())
    augment = tuple(augment or ())
    arrays = _with_perturbed(arrays, df, enc, store, speeds, progress, augment, augment_seed,
                             df["emotion"].astype(str).tolist())
    extra_y, extra_info = [], []
    for src in extra or ():
        edf, ey, meta = _extra_corpus(src, df, manifest, labels, extra_map)
        arrays += _with_perturbed(features_for_manifest(edf, enc, store, progress=progress), edf, enc, store,
                                  speeds, progress, augment, augment_seed, [labels[i] for i in ey])
        extra_y.append(np.tile(ey, 1 + len(speeds) + len(augment)))
        extra_info.append(meta)
    data = FeatureSet(arrays, taps=taps, dtype=torch.float16)
    return Corpus(df, data, y, labels, info, str(manifest), speeds,
                  np.concatenate(extra_y) if extra_y else None, extra_info, augment)


def _with_perturbed(arrays, df, enc, store, speeds, progress, augment=(), augment_seed=0, emotions=None) -> list:
    """``arrays`` followed by the features of every clip of ``df`` played at each of ``speeds``, then of
    its random ``augment`` copies (in that order). ``emotions``: the clips' labels (join copies pair each
    clip with a neutral utterance of its speaker)."""
    if not speeds and not augment:
        return list(arrays)
    from .augment import join_partners, perturbed_features

    partners = None
    if "join" in augment:
        spk = df["speaker"].astype(str).tolist() if "speaker" in df.columns else [""] * len(df)
        partners = join_partners(spk, emotions, seed=augment_seed)
    extra = perturbed_features(df["path"], enc, store, speeds, progress=progress, augment=augment, seed=augment_seed,
                               partners=partners)
    return list(arrays) + [a for key in extra for a in extra[key]]  # dict order: speeds, then augment kinds


def _extra_corpus(src, df: pd.DataFrame, manifest, labels, extra_map):
    """(clips of ``src`` whose emotion maps onto ``labels``, their label indices, a record for the checkpoint)."""
    from .corpora import corpus_name, load_manifest_or_dir
    from .labels import canonical, map_labels

    edf = load_manifest_or_dir(src).reset_index(drop=True)
    if "emotion" not in edf.columns or edf["emotion"].isna().any():
        raise InputError(src, "every clip of an extra training corpus needs an 'emotion' label")
    shared = {str(Path(p).resolve()) for p in edf["path"]} & {str(Path(p).resolve()) for p in df["path"]}
    if shared:  # the same recordings on both sides would leak test speakers into training
        raise InputError(src, f"shares {len(shared)} clips with {manifest}; extra training data must be other "
                              "recordings")
    names = edf["emotion"].astype(str)
    mapped = map_labels(names, labels, extra_map)
    keep = np.array([m is not None for m in mapped])
    if not keep.any():
        raise InputError(src, f"none of its emotions {sorted(set(names))} maps onto the labels {labels}")
    mapping = {n: m for n, m in sorted(set(zip(names, mapped))) if m is not None}
    dropped = names[~keep].value_counts().sort_index()
    meta = {"manifest": str(src), "corpus": corpus_name(src), "n_clips": int(keep.sum()),
            "speakers": sorted(edf.loc[keep, "speaker"].astype(str).unique().tolist())
            if "speaker" in edf.columns else [],
            "mapping": mapping, "explicit": {canonical(k): v for k, v in (extra_map or {}).items()},
            "left_out": {k: int(v) for k, v in dropped.items()}}
    edf = edf[keep].reset_index(drop=True)
    return edf, np.array([labels.index(m) for m in mapped if m is not None], dtype=np.int64), meta


def sweep(corpus: Corpus, folds, taps, poolers, config: TrainConfig, model_kwargs: dict | None = None,
          progress: bool = True, on_row=None, client=None) -> pd.DataFrame:
    """Cross-validate every tap (int, or a list for a weighted sum) x pooler name; one row per pair, in
    that order.

    Every (configuration, fold) is one :func:`explain_ser.train.run_fold` task — on the workers of a Dask
    ``client`` (the corpus' features sent once to each worker) or here — and a configuration's row is
    made from its folds' results by :func:`explain_ser.train.combine_folds`, the code
    :func:`~explain_ser.train.cross_validate` uses, so the rows do not depend on where the folds ran
    (``seconds``, the folds' summed wall time, aside). ``on_row(row)`` is called as each configuration's
    last fold finishes (not necessarily in table order).
    """
    configs = []
    for tap in taps:
        tap_list = list(tap) if isinstance(tap, (list, tuple)) else [int(tap)]
        for name in poolers:
            pooler, hp = pooler_spec(name)
            configs.append((tap_list, name, {"dim": corpus.encoder["dim"], "taps": tap_list,
                                             "n_taps": corpus.encoder["n_taps"], "pooler": pooler,
                                             "pooler_hparams": hp, **(model_kwargs or {})}))
    n = len(folds)
    jobs = [FoldJob(f, tuple(corpus.labels), kw, config) for _, _, kw in configs for f in folds]
    outs: list = [None] * len(jobs)
    rows: list = [None] * len(configs)

    def done(i, out):
        outs[i] = out
        c = i // n
        if any(o is None for o in outs[c * n : (c + 1) * n]):
            return
        tap_list, name, _ = configs[c]
        rows[c] = _row(corpus, folds, config, tap_list, name, outs[c * n : (c + 1) * n])
        if on_row:
            on_row(rows[c])
        if progress:
            r = rows[c]
            print(f"tap {r['tap']:>6} {name:12s} UA {100 * r['ua_mean']:.1f} ± {100 * r['ua_std']:.1f}  "
                  f"WA {100 * r['wa_mean']:.1f}  F1 {100 * r['macro_f1_mean']:.1f}  ({r['seconds']:.0f} s)", flush=True)

    run_folds(jobs, CVData(corpus.data, np.asarray(corpus.y, dtype=np.int64), corpus.extra_y), client, on_done=done)
    return pd.DataFrame(rows)


def _row(corpus: Corpus, folds, config: TrainConfig, tap_list, name: str, outs: list[dict]) -> dict:
    """One configuration's row of the sweep table, from its folds' :func:`~explain_ser.train.run_fold` results."""
    res = combine_folds(folds, outs, len(corpus.y), corpus.labels)
    s, pooled = res.summary, res.pooled_metrics(corpus.y)
    return {"tap": ",".join(map(str, tap_list)), "pooler": name, "n_folds": len(folds), "fold_kind": folds[0].kind,
            **{f"{k}_{stat}": s[k][stat] for k in ("ua", "wa", "macro_f1") for stat in ("mean", "std")},
            "ua_pooled": round(pooled["ua"], 4),
            "best_epoch_median": float(np.median([f["best_epoch"] for f in res.folds])),
            "seconds": round(sum(o["seconds"] for o in outs), 1), "seed": config.seed,
            "encoder": corpus.encoder["source"], "window": corpus.encoder["window"]}


def default_folds(df: pd.DataFrame, scheme: str | None = None, k: int | None = None, seed: int = 0, n_val: int = 2):
    """Speaker-independent folds: leave-k-out (k = 3 for <= 18 speakers, else speakers // 6) or LOSO
    for corpora of at most 12 speakers; ``scheme="random"`` only when asked."""
    n_spk = df["speaker"].nunique() if "speaker" in df.columns else 0
    if scheme is None:
        scheme = "loso" if n_spk <= 12 else "speakers"
    if k is None:
        k = 3 if n_spk <= 18 else max(1, n_spk // 6)
    return make_folds(df, scheme, k=k, seed=seed, n_val=n_val)
