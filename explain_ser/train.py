"""Training and cross-validation of :class:`explain_ser.model.SERModel` on cached encoder features.

Features live in memory as one padded float16 tensor (:class:`FeatureSet`), so a fold on tiny.en RAVDESS
features trains in seconds. Training is AdamW (Adam with decoupled weight decay) on cross-entropy (optional
class weights, label smoothing), with early stopping on a validation set that the caller draws from the
TRAINING speakers (:func:`explain_ser.splits.make_folds` does), seeded: the same seed gives the same model.
Standardisation statistics are computed on the training clips only and stored in the model.

>>> rng = np.random.default_rng(0)
>>> arrays = [rng.normal(size=(1, 20, 8)).astype(np.float32) + (i % 2) for i in range(40)]
>>> data = FeatureSet(arrays)
>>> model, hist = fit(data, np.arange(40) % 2, np.arange(30), np.arange(30, 40), labels=["a", "b"],
...                   model_kwargs={"dim": 8, "taps": [0], "pooler": "mean", "hidden": 16},
...                   config=TrainConfig(epochs=20, lr=1e-2, batch_size=8, seed=0))
>>> hist["best_val"]["ua"] >= 0.9
True
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .metrics import classification_metrics, summarize_folds
from .model import SERModel

__all__ = ["TrainConfig", "FeatureSet", "fit", "fit_model", "evaluate", "cross_validate", "set_seed", "with_copies",
           "distill", "CVData", "FoldJob", "run_fold", "run_folds", "combine_folds", "fold_threads", "cv_engine"]


def with_copies(idx, n_clips: int, copies: int) -> np.ndarray:
    """Positions of clips ``idx`` and of their perturbed copies, for a data set that holds ``copies``
    versions of ``n_clips`` clips, originals first.

    >>> with_copies([0, 2], n_clips=3, copies=3).tolist()
    [0, 2, 3, 5, 6, 8]
    """
    idx = np.asarray(idx, dtype=np.int64)
    return np.concatenate([idx + k * n_clips for k in range(copies)])


def _layout(data, y, extra_y=None) -> tuple[int, np.ndarray, np.ndarray]:
    """(copies, labels of every item of ``data``, positions of the extra training items).

    ``data`` holds ``copies`` versions of the ``len(y)`` labelled clips (originals first), then the items
    labelled by ``extra_y``: clips of other corpora that only ever train (never validate or test).

    >>> c, y_all, extra = _layout(range(8), [0, 1, 2], extra_y=[1, 1])
    >>> c, y_all.tolist(), extra.tolist()
    (2, [0, 1, 2, 0, 1, 2, 1, 1], [6, 7])
    """
    y = np.asarray(y, dtype=np.int64)
    extra_y = np.zeros(0, dtype=np.int64) if extra_y is None else np.asarray(extra_y, dtype=np.int64)
    own = len(data) - len(extra_y)
    assert own % len(y) == 0, f"{own} feature items are not a whole number of copies of {len(y)} labelled clips"
    copies = own // len(y)
    return copies, np.concatenate([np.tile(y, copies), extra_y]), np.arange(own, len(data))


@dataclass
class TrainConfig:
    """Optimisation settings (all recorded in checkpoints)."""

    epochs: int = 60  # maximum epochs (exact count when there is no validation set)
    patience: int = 15  # early stopping: epochs without improvement of the validation criterion
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-2
    class_weights: bool = False  # inverse-frequency weights in the loss
    label_smoothing: float = 0.0
    frame_drop: float = 0.0  # training-only augmentation: each real frame hidden from the pooler with this p
    mixup: float = 0.0  # Beta(a, a) mixing of pooled vectors and their targets within a batch (0 = off)
    schedule: str = "constant"  # learning rate over the run: "constant" or "cosine" (to 0 at the last step)
    average_last: int = 0  # average the weights at the end of the last N epochs (fixed-epoch training only)
    select: str = "ua"  # validation criterion: "ua" (ties -> lower loss) or "loss"
    seed: int = 0
    threads: int | None = None
    speed_perturb: tuple = ()  # training copies at these speeds (explain_ser.augment); test clips stay original
    ensemble: int = 1  # members trained with seeds seed, seed+1, ...; their probabilities are averaged
    distill: int = 0  # train this many teachers (seeds seed+1, ...) and fit ONE model to their soft targets
    distill_temperature: float = 2.0  # softens teacher and student logits alike (loss scaled by T^2)
    # -- issue 20 (robustness) --
    augment: tuple = ()  # random training copies (explain_ser.augment: gain, noise, pad, crop); test clips stay original
    # -- end issue 20 --
    # -- issue 19 (attention that localises) --
    attn_entropy: float = 0.0  # weight of the mean normalised attention entropy added to the loss (0 = off)
    # -- end issue 19 --

    def __post_init__(self):
        """Refuse settings that cannot work together, in one line naming the ``explain-ser train`` option."""
        from .errors import InputError

        checks = [
            (self.ensemble < 1, "--ensemble", self.ensemble, "must be at least 1"),
            (self.distill < 0, "--distill", self.distill, "must be 0 (off) or a number of teachers"),
            (self.distill and self.ensemble > 1, "--distill", self.distill,
             "distils into one model; it cannot be combined with --ensemble"),
            (self.attn_entropy < 0, "--attn-entropy", self.attn_entropy, "must be 0 (off) or a positive weight"),
            (self.mixup < 0, "--mixup", self.mixup, "must be 0 (off) or a positive Beta parameter"),
            (self.average_last < 0 or self.average_last > self.epochs, "--average-last", self.average_last,
             f"must lie in 0..--epochs ({self.epochs})"),
        ]
        for bad, option, value, why in checks:
            if bad:
                raise InputError(f"{option} {value}", why)

    def to_dict(self) -> dict:
        return asdict(self)


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators."""
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class FeatureSet:
    """Per-clip arrays [L, T_i, D] held as one zero-padded tensor [N, L, T_max, D] + lengths.

    ``taps`` keeps only those taps (saves memory); the model then sees exactly these taps in this order.
    """

    def __init__(self, arrays, taps=None, dtype=torch.float32):
        assert len(arrays) > 0, "no clips"
        sel = None if taps is None else list(taps)
        first = np.asarray(arrays[0] if sel is None else arrays[0][sel])
        L, D = first.shape[0], first.shape[-1]
        self.lengths = torch.tensor([a.shape[-2] for a in arrays])
        self.x = torch.zeros(len(arrays), L, int(self.lengths.max()), D, dtype=dtype)
        for i, a in enumerate(arrays):
            a = np.asarray(a if sel is None else a[sel])
            assert a.shape[0] == L and a.shape[-1] == D, f"clip {i}: shape {a.shape} != [{L}, T, {D}]"
            self.x[i, :, : a.shape[1]] = torch.from_numpy(np.array(a, dtype=np.float32))
        self.taps = sel

    def __len__(self):
        return len(self.lengths)

    @property
    def n_taps(self) -> int:
        return self.x.shape[1]

    @property
    def dim(self) -> int:
        return self.x.shape[-1]

    def batch(self, idx, taps=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(float32 [b, L, T_b, D], mask [b, T_b]) for clip positions ``idx``, cropped to the longest;
        ``taps``: positions on the tap axis to gather (default all)."""
        idx = torch.as_tensor(np.asarray(idx), dtype=torch.long)
        lens = self.lengths[idx]
        T = int(lens.max())
        if taps is None:
            x = self.x[idx, :, :T]
        else:  # gather only the wanted taps: a batch of all taps is several times larger
            x = self.x[idx[:, None], torch.as_tensor(list(taps), dtype=torch.long)[None, :], :T]
        return x.float(), torch.arange(T)[None, :] < lens[:, None]

    def standardization(self, idx, taps=None) -> tuple[np.ndarray, np.ndarray]:
        """Per-tap mean and std [len(taps), D] over the real frames of clips ``idx`` (float64 sums)."""
        taps = list(range(self.n_taps)) if taps is None else list(taps)
        s = torch.zeros(len(taps), self.dim, dtype=torch.float64)
        ss = torch.zeros_like(s)
        n = 0
        idx = np.asarray(idx)
        for b in range(0, len(idx), 64):
            x, mask = self.batch(idx[b : b + 64], taps)
            x = x.double() * mask[:, None, :, None]
            s += x.sum((0, 2))
            ss += (x * x).sum((0, 2))
            n += int(mask.sum())
        mean = s / n
        std = (ss / n - mean * mean).clamp_min(0).sqrt()
        return mean.float().numpy(), std.float().numpy()


def _model_taps(data: FeatureSet, model_kwargs: dict) -> list[int]:
    """Positions in ``data``'s tap axis of the model's taps."""
    taps = list(model_kwargs["taps"])
    if data.taps is None:
        return taps
    return [data.taps.index(t) for t in taps]


@torch.no_grad()
def evaluate(model: SERModel, data: FeatureSet, idx, y=None, batch_size: int = 64, taps_pos=None):
    """(probabilities [n, C], mean CE loss or None) of ``model`` on clips ``idx`` of ``data``."""
    model.eval()
    probs, loss, idx = [], 0.0, np.asarray(idx)
    for b in range(0, len(idx), batch_size):
        x, mask = data.batch(idx[b : b + batch_size], taps_pos)
        logits = model(x, mask)
        probs.append(torch.softmax(logits, -1).numpy())
        if y is not None:
            loss += float(F.cross_entropy(logits, torch.as_tensor(y[b : b + batch_size]), reduction="sum"))
    p = np.concatenate(probs) if probs else np.zeros((0, len(model.labels)))
    return p, (loss / max(len(idx), 1) if y is not None else None)


def fit(data: FeatureSet, y, train_idx, val_idx=None, *, labels, model_kwargs: dict,
        config: TrainConfig | None = None, verbose: bool = False, soft=None):
    """Train a fresh model on clips ``train_idx`` of ``data`` (integer labels ``y`` for ALL clips).

    With ``val_idx`` (clips of training speakers only — the caller's responsibility), keeps the state of
    the best epoch by ``config.select`` and stops after ``config.patience`` epochs without improvement;
    without it, trains exactly ``config.epochs`` epochs. Returns (model in eval mode, history dict).

    ``soft``: optional target distributions ``[len(data), C]`` (a teacher's, see :func:`distill`); the
    loss is then the cross-entropy to them at ``config.distill_temperature`` instead of to the labels.
    """
    from .threads import torch_threads

    cfg = config or TrainConfig()
    with torch_threads(cfg.threads):
        return _fit(data, y, train_idx, val_idx, labels=labels, model_kwargs=model_kwargs, cfg=cfg, verbose=verbose,
                    soft=soft)


def _fit(data, y, train_idx, val_idx, *, labels, model_kwargs, cfg, verbose, soft=None):
    set_seed(cfg.seed)
    y = np.asarray(y, dtype=np.int64)
    train_idx = np.asarray(train_idx)
    taps_pos = _model_taps(data, model_kwargs)
    kw = dict(model_kwargs)
    kw.setdefault("n_taps", None)
    model = SERModel(labels=labels, **kw)
    mean, std = data.standardization(train_idx, taps_pos)
    model.set_standardization(mean, std)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = _schedule(opt, cfg, steps=cfg.epochs * -(-len(train_idx) // cfg.batch_size))
    weight = None
    if cfg.class_weights:
        counts = np.bincount(y[train_idx], minlength=len(labels)).astype(np.float64)
        weight = torch.tensor(counts.sum() / np.maximum(counts, 1) / len(labels), dtype=torch.float32)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    hist = {"train_loss": [], "val_loss": [], "val_ua": [], "best_epoch": None, "best_val": None}
    best_key, best_state, bad = None, None, 0
    averaged = None
    t0 = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = rng.permutation(train_idx)
        tot = 0.0
        for b in range(0, len(order), cfg.batch_size):
            bi = order[b : b + cfg.batch_size]
            x, mask = data.batch(bi, taps_pos)
            if cfg.frame_drop > 0:
                drop = torch.rand(mask.shape, generator=gen) < cfg.frame_drop
                drop[:, 0] &= mask.sum(1) > 1  # never hide every frame of a clip
                mask = mask & ~drop
                mask[:, 0] |= ~mask.any(1)
            target = torch.as_tensor(y[bi])
            if soft is not None:
                T = cfg.distill_temperature
                loss = F.cross_entropy(model(x, mask) / T, soft[torch.as_tensor(bi)]) * T * T
            elif cfg.mixup > 0:
                loss = _mixup_loss(model, x, mask, target, cfg, weight, rng)
            else:
                loss = F.cross_entropy(model(x, mask), target, weight=weight, label_smoothing=cfg.label_smoothing)
            if cfg.attn_entropy > 0:  # issue 19: pay for diffuse attention (a second pooling pass, only when on)
                loss = loss + cfg.attn_entropy * _attention_entropy(model, x, mask)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            tot += float(loss.detach()) * len(bi)
        hist["train_loss"].append(tot / len(order))
        if val_idx is None or len(val_idx) == 0:
            if cfg.average_last and epoch > cfg.epochs - cfg.average_last:
                averaged = _accumulate(averaged, model)
            continue
        p, vloss = evaluate(model, data, val_idx, y[val_idx], taps_pos=taps_pos)
        m = classification_metrics(y[val_idx], p.argmax(1), labels=range(len(labels)))
        hist["val_loss"].append(vloss)
        hist["val_ua"].append(m["ua"])
        key = (m["ua"], -vloss) if cfg.select == "ua" else (-vloss,)
        if best_key is None or key > best_key:
            best_key, best_state, bad = key, copy.deepcopy(model.state_dict()), 0
            hist["best_epoch"], hist["best_val"] = epoch, {"ua": m["ua"], "wa": m["wa"], "loss": vloss}
        else:
            bad += 1
            if bad >= cfg.patience:
                break
        if verbose:
            print(f"epoch {epoch:3d} train {hist['train_loss'][-1]:.3f} val loss {vloss:.3f} UA {m['ua']:.3f}")
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        hist["best_epoch"] = cfg.epochs
        if averaged is not None:  # only fixed-epoch training accumulates
            n = min(cfg.average_last, cfg.epochs)
            model.load_state_dict({k: v / n if v.is_floating_point() else v for k, v in averaged.items()})
    hist["epochs_run"] = len(hist["train_loss"])
    hist["seconds"] = round(time.perf_counter() - t0, 2)
    return model.eval(), hist


def _attention_entropy(model, x, mask) -> torch.Tensor:
    """Issue 19: mean normalised attention entropy of every pooler row (every member of an ensemble)."""
    from .poolers import attention_entropy

    return torch.stack([attention_entropy(m.pool(x, mask)[1], mask)
                        for m in getattr(model, "members", [model])]).mean()


def _schedule(opt, cfg, steps: int):
    """Per-step learning-rate schedule, or None for a constant rate."""
    import math

    if cfg.schedule == "constant":
        return None
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + math.cos(math.pi * min(i, steps) / steps)))
    raise ValueError(f"unknown schedule {cfg.schedule!r} (constant or cosine)")


def _mixup_loss(model, x, mask, target, cfg, weight, rng):
    """Cross-entropy on convex mixes of pooled vectors (manifold mixup at the pooler output).

    Mixing pooled vectors rather than frames keeps every clip's attention over its own frames, so the
    pooler still learns where to look; only the classifier sees the interpolations.
    """
    lam = float(rng.beta(cfg.mixup, cfg.mixup))
    perm = torch.as_tensor(rng.permutation(len(target)))
    pooled, _ = model.pool(x, mask)
    logits = model.head(lam * pooled + (1 - lam) * pooled[perm])
    ce = lambda t: F.cross_entropy(logits, t, weight=weight, label_smoothing=cfg.label_smoothing)  # noqa: E731
    return lam * ce(target) + (1 - lam) * ce(target[perm])


def _accumulate(total, model):
    """Running sum of the model's floating-point state (buffers such as standardisation stats included)."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if total is None:
        return state
    return {k: total[k] + v if v.is_floating_point() else v for k, v in state.items()}


def fit_model(data: FeatureSet, y, train_idx, val_idx=None, *, labels, model_kwargs: dict,
              config: TrainConfig | None = None):
    """:func:`fit`, or for ``config.ensemble = K > 1`` K fits with seeds ``seed .. seed+K-1`` combined into an
    :class:`explain_ser.model.EnsembleModel`. Returns (model, history); an ensemble's history has the
    members' histories, the median best epoch and the total seconds."""
    from .model import EnsembleModel

    cfg = config or TrainConfig()
    if cfg.distill > 0:
        return distill(data, y, train_idx, val_idx, labels=labels, model_kwargs=model_kwargs, config=cfg)
    if cfg.ensemble <= 1:
        return fit(data, y, train_idx, val_idx, labels=labels, model_kwargs=model_kwargs, config=cfg)
    members, hists = _fit_seeds(data, y, train_idx, val_idx, labels=labels, model_kwargs=model_kwargs, config=cfg,
                                seeds=[cfg.seed + k for k in range(cfg.ensemble)])
    hist = {"members": hists, "best_epoch": int(np.median([h["best_epoch"] for h in hists])),
            "epochs_run": max(h["epochs_run"] for h in hists), "seconds": round(sum(h["seconds"] for h in hists), 2)}
    return EnsembleModel(members).eval(), hist


def _single(cfg: TrainConfig, seed: int) -> TrainConfig:
    """``cfg`` for ONE plain model with ``seed`` (no ensemble, no distillation)."""
    return TrainConfig(**{**cfg.to_dict(), "seed": seed, "ensemble": 1, "distill": 0})


def _fit_seeds(data, y, train_idx, val_idx, *, labels, model_kwargs, config, seeds):
    """(models, histories) of one plain :func:`fit` per seed."""
    fits = [fit(data, y, train_idx, val_idx, labels=labels, model_kwargs=model_kwargs, config=_single(config, s))
            for s in seeds]
    return [m for m, _ in fits], [h for _, h in fits]


def distill(data: FeatureSet, y, train_idx, val_idx=None, *, labels, model_kwargs: dict, config: TrainConfig):
    """Knowledge distillation of a seed ensemble into one model of the same architecture.

    ``config.distill`` teachers (seeds ``seed+1 ..``) are trained as usual; the student (seed ``seed``) then
    learns the teachers' averaged tempered probabilities on the same training clips. The student is what
    is returned, so explanations stay those of ONE pooler (an ensemble's would mix K attention maps) while
    its predictions inherit some of the ensemble's stability across seeds. The student's loss is the
    tempered cross-entropy to those targets only (label smoothing and mixup apply to the teachers).
    """
    from .threads import torch_threads

    cfg = config
    T = cfg.distill_temperature
    teachers, hists = _fit_seeds(data, y, train_idx, val_idx, labels=labels, model_kwargs=model_kwargs, config=cfg,
                                 seeds=[cfg.seed + k for k in range(1, cfg.distill + 1)])
    train_idx = np.asarray(train_idx)
    taps_pos = _model_taps(data, model_kwargs)
    soft = torch.zeros(len(data), len(labels))
    with torch.no_grad(), torch_threads(cfg.threads):
        for b in range(0, len(train_idx), 64):
            bi = train_idx[b : b + 64]
            x, mask = data.batch(bi, taps_pos)
            soft[torch.as_tensor(bi)] = torch.stack([torch.softmax(t(x, mask) / T, -1) for t in teachers]).mean(0)
    student, h = fit(data, y, train_idx, val_idx, labels=labels, model_kwargs=model_kwargs,
                     config=_single(cfg, cfg.seed), soft=soft)
    h = {**h, "teachers": hists, "seconds": round(h["seconds"] + sum(t["seconds"] for t in hists), 2)}
    return student, h


@dataclass
class CVResult:
    """Cross-validation outcome: per-fold rows, out-of-fold predictions, summary mean ± std."""

    labels: list[str]
    folds: list[dict] = field(default_factory=list)
    pred: np.ndarray | None = None  # predicted class index per clip (-1: never in a test fold)
    probs: np.ndarray | None = None
    models: list = field(default_factory=list)

    @property
    def summary(self) -> dict:
        return summarize_folds([f["metrics"] for f in self.folds])

    def pooled_metrics(self, y) -> dict:
        """Metrics over all out-of-fold predictions together."""
        seen = self.pred >= 0
        return classification_metrics(np.asarray(y)[seen], self.pred[seen], labels=range(len(self.labels)))


@dataclass(frozen=True)
class CVData:
    """What every fold of a cross-validation reads: the features, the labels of the original clips and of
    the extra training items (see :func:`cross_validate`). Sent once to each worker, not once per task."""

    data: FeatureSet
    y: np.ndarray
    extra_y: np.ndarray | None = None


@dataclass(frozen=True)
class FoldJob:
    """One task of a cross-validation: train a model with these settings on one fold and test it."""

    fold: object  # explain_ser.splits.Fold
    labels: tuple
    model_kwargs: dict
    config: TrainConfig
    keep_model: bool = False


def fold_threads(cfg: TrainConfig) -> int:
    """Torch intra-op threads a fold runs with: ``cfg.threads``, else 1 — wherever it runs. How many
    threads split a sum changes the last digits of the result, and a Dask worker's torch has one thread
    (the Nanny sets OMP_NUM_THREADS=1), so a fold run here uses the same count as on a worker."""
    return int(cfg.threads) if cfg.threads else 1


def run_fold(job: FoldJob, cv: CVData) -> dict:
    """Train and test one fold: ``{"row": the fold's row of CVResult.folds, "probs": test probabilities
    [n_test, C], "model": the model or None, "seconds": wall time}``. The same result in this process and
    on any worker (seeded by the config, threads by :func:`fold_threads`)."""
    from .threads import torch_threads

    t0 = time.perf_counter()
    f, cfg, labels = job.fold, job.config, list(job.labels)
    y = np.asarray(cv.y, dtype=np.int64)
    # perturbed copies and extra corpora train only: validation and test clips are originals of ``y``
    copies, y_all, extra = _layout(cv.data, y, cv.extra_y)
    train_idx = np.concatenate([with_copies(f.train, len(y), copies), extra])
    with torch_threads(fold_threads(cfg)):
        model, hist = fit_model(cv.data, y_all, train_idx, f.val, labels=labels, model_kwargs=job.model_kwargs,
                                config=cfg)
        p, _ = evaluate(model, cv.data, f.test, taps_pos=_model_taps(cv.data, job.model_kwargs))
    m = classification_metrics(y[f.test], p.argmax(1), labels=range(len(labels)))
    m["recall"] = {labels[int(k)]: v for k, v in m["recall"].items()}
    row = {"fold": f.name, "kind": f.kind, "test_speakers": f.test_speakers, "val_speakers": f.val_speakers,
           "best_epoch": hist["best_epoch"], "epochs_run": hist["epochs_run"], "seconds": hist["seconds"],
           "metrics": m}
    return {"row": row, "probs": p, "model": model if job.keep_model else None,
            "seconds": time.perf_counter() - t0}


def fold_line(out: dict) -> str:
    """One progress line for a finished fold."""
    r, m = out["row"], out["row"]["metrics"]
    return (f"  {r['fold']} test {','.join(r['test_speakers'])}: UA {m['ua']:.3f} WA {m['wa']:.3f} "
            f"F1 {m['macro_f1']:.3f} (epoch {r['best_epoch']}, {r['seconds']:.1f}s)")


def combine_folds(folds, outs: list[dict], n_clips: int, labels) -> CVResult:
    """The :class:`CVResult` of :func:`run_fold` results (in the order of ``folds``)."""
    res = CVResult(labels=list(labels), pred=np.full(n_clips, -1), probs=np.zeros((n_clips, len(labels))))
    for f, out in zip(folds, outs):
        res.pred[f.test] = out["probs"].argmax(1)
        res.probs[f.test] = out["probs"]
        res.folds.append(out["row"])
        if out["model"] is not None:
            res.models.append(out["model"])
    return res


def cross_validate(data: FeatureSet, y, folds, *, labels, model_kwargs: dict, config: TrainConfig | None = None,
                   keep_models: bool = False, progress: bool = False, extra_y=None, client=None) -> CVResult:
    """Train one model per fold (early stopping on the fold's validation speakers) and test it.

    ``y`` labels the original clips; when ``data`` also holds speed-perturbed copies (after the
    originals, see :func:`explain_ser.sweep.load_corpus`), the copies of each fold's training clips
    join its training set. ``extra_y`` labels items after those (clips of other corpora, and their
    copies): they join EVERY fold's training set and are never validated or tested on.

    Each fold is one :func:`run_fold` task: on the workers of a Dask ``client`` (the features sent once
    to each worker; see :func:`explain_ser.engine.map_tasks`), or here, one after the other. Without
    ``client``, the one of an enclosing :func:`cv_engine` block is used. The result is the same either way.
    """
    cfg = config or TrainConfig()
    _layout(data, np.asarray(y), extra_y)  # a bad layout fails here, before any task starts
    jobs = [FoldJob(f, tuple(labels), model_kwargs, cfg, keep_models) for f in folds]
    outs = run_folds(jobs, CVData(data, np.asarray(y, dtype=np.int64), extra_y),
                     client if client is not None else _CV_CLIENT.get(),
                     on_done=(lambda i, out: print(fold_line(out), flush=True)) if progress else None)
    return combine_folds(folds, outs, len(y), labels)


def run_folds(jobs: list[FoldJob], cv: CVData, client=None, on_done=None) -> list[dict]:
    """:func:`run_fold` of every job, as tasks on ``client`` (or here); results in the order of ``jobs``."""
    from .engine import map_tasks

    return map_tasks(run_fold, jobs, client, shared=cv, on_done=on_done)


_CV_CLIENT: contextvars.ContextVar = contextvars.ContextVar("cv_client", default=None)


@contextlib.contextmanager
def cv_engine(client):
    """Inside the block, :func:`cross_validate` calls that are given no client run their folds on
    ``client`` (None: here). For a command whose cross-validation is run by a library function on its
    behalf (:func:`explain_ser.publish.train_checkpoint`), without threading the client through it."""
    token = _CV_CLIENT.set(client)
    try:
        yield client
    finally:
        _CV_CLIENT.reset(token)
