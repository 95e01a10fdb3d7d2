"""Training a frame-level vocalization tagger over the cached Whisper taps (``explain-ser train-tagger``).

The emotion model's encoder pass already gives every tap of every 20 ms frame (:mod:`explain_ser.features`);
Whisper's encoder features are strong audio-event features (cf. Whisper-AT), so a tagger needs only a
small head on them. :class:`TaggerNet` standardises each tap, projects the taps of each frame to ``hidden``
units (``mix="concat"``: one linear map of all taps side by side; ``"softmax"``, the taggers before this option: one
learned weight per tap, then a linear map of the mixed tap) and runs ``layers`` residual 1-D convolutions over time (kernel 5, dilations
1, 2, 4, ...: two give 260 ms of context, four 1.22 s) to one softmax over ``none`` + the tags, per frame. It
decides over speech too: words are not excluded by force (laughter over speech exists).

**Training** (:func:`train_tagger`, ``explain-ser train-tagger``): group-independent folds (speakers or
sources held out); in each fold validation groups are drawn from the training groups to choose the decoding
settings (:func:`choose_decode`: the detection threshold and hysteresis of
:func:`~explain_ser.tagger_metrics.decode_spans`, or per-class thresholds); the fold model's events on its
test groups are scored. Then one model is trained on every clip and its settings are chosen on the pooled
out-of-fold probabilities. The directory holds ``model.safetensors``,
``config.json``, ``MODEL_CARD.md`` (written by :mod:`explain_ser.tagger_card`) and ``cv_events.csv`` (every
out-of-fold detection).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from .align.base import Interval
from .errors import InputError
from .jsonio import dumps
from .tagger_events import Events, read_events
from .tagger_metrics import (COLLAR, choose_spans, choose_thresholds, decode_with, event_metrics, events_rows, frame_labels,
                             frame_metrics, matched)
from .tagger_segments import PREFIX as CATEGORY_PREFIX
from .tagger_segments import fit_category
from .timegrid import FRAME_SECONDS

__all__ = ["TaggerNet", "train_tagger", "load_features", "score_clips", "choose_decode", "DEFAULTS", "DECODERS", "MIXES",
           "FORMAT"]

FORMAT = "explain_ser.tagger/1"


# ---- the model -----------------------------------------------------------------------------------------------

class TaggerNet(nn.Module):
    """Per-frame logits ``[B, T, 1 + n_tags]`` from taps ``[B, n_taps, T, D]`` (see the module text).

    >>> net = TaggerNet(n_taps=5, dim=16, n_tags=3, hidden=8)
    >>> net(torch.zeros(2, 5, 7, 16)).shape, net.proj.in_features
    (torch.Size([2, 7, 4]), 80)
    >>> TaggerNet(n_taps=5, dim=16, n_tags=3, hidden=8, mix="softmax").proj.in_features
    16
    """

    def __init__(self, n_taps: int, dim: int, n_tags: int, hidden: int = 64, dropout: float = 0.1, layers: int = 2,
                 mix: str = "concat"):
        super().__init__()
        if mix not in MIXES:
            raise ValueError(f"unknown tap mix {mix!r} (choose from {', '.join(MIXES)})")
        self.mix = mix
        self.register_buffer("mean", torch.zeros(n_taps, dim))
        self.register_buffer("std", torch.ones(n_taps, dim))
        if mix == "softmax":
            self.tap_logits = nn.Parameter(torch.zeros(n_taps))
        self.drop = nn.Dropout(dropout)
        # concat: the taps side by side, so a unit can weigh a tap's dimension against another tap's (breath under
        # speech is told apart by how the layers disagree); one weight per tap cannot
        self.proj = nn.Linear(dim * (n_taps if mix == "concat" else 1), hidden)
        self.layers = int(layers)
        # conv1, conv2, ... with dilations 1, 2, 4, ...: layer i adds 4 x 2**i frames of context (named one by
        # one so the weights of two-layer taggers load unchanged)
        for i in range(self.layers):
            setattr(self, f"conv{i + 1}", nn.Conv1d(hidden, hidden, 5, padding=2 * 2 ** i, dilation=2 ** i))
        self.out = nn.Linear(hidden, n_tags + 1)

    def tap_weights(self) -> torch.Tensor | None:
        """The softmax mix's weight per tap (None for ``concat``, whose weights are inside ``proj``)."""
        return torch.softmax(self.tap_logits, 0) if self.mix == "softmax" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean[None, :, None]) / (self.std[None, :, None] + 1e-5)
        if self.mix == "softmax":
            x = torch.einsum("l,bltd->btd", self.tap_weights(), x)
        else:
            x = x.permute(0, 2, 1, 3).flatten(2)  # [B, L, T, D] -> [B, T, L*D]
        h = torch.nn.functional.gelu(self.proj(self.drop(x))).transpose(1, 2)
        for i in range(self.layers):  # residual: the frame's own evidence is kept
            h = h + torch.nn.functional.gelu(getattr(self, f"conv{i + 1}")(h))
        return self.out(h.transpose(1, 2))


def _batch(feats: list[np.ndarray], labels: list[np.ndarray] | None, idx) -> tuple:
    T = max(feats[i].shape[1] for i in idx)
    L, D = feats[idx[0]].shape[0], feats[idx[0]].shape[2]
    x = torch.zeros(len(idx), L, T, D)
    y = torch.full((len(idx), T), -100, dtype=torch.long)  # -100: padding, ignored by the loss
    for k, i in enumerate(idx):
        n = feats[i].shape[1]
        x[k, :, :n] = torch.from_numpy(np.asarray(feats[i], dtype=np.float32))
        if labels is not None:
            y[k, :n] = torch.from_numpy(labels[i])
    return x, y


def _fit(feats, labels, idx, n_tags: int, cfg: dict, seed: int) -> TaggerNet:
    from .train import set_seed

    set_seed(seed)
    L, _, D = feats[idx[0]].shape
    net = TaggerNet(L, D, n_tags, hidden=cfg["hidden"], dropout=cfg["dropout"], layers=cfg.get("layers", 2),
                    mix=cfg.get("mix", "concat"))
    s = torch.zeros(L, D, dtype=torch.float64)
    ss, n = torch.zeros_like(s), 0
    for i in idx:
        a = torch.from_numpy(np.asarray(feats[i], dtype=np.float64))
        s += a.sum(1)
        ss += (a * a).sum(1)
        n += a.shape[1]
    mean = s / n
    net.mean.copy_(mean.float())
    net.std.copy_((ss / n - mean * mean).clamp_min(1e-8).sqrt().float())
    counts = np.bincount(np.concatenate([labels[i] for i in idx]), minlength=n_tags + 1).astype(float)
    # rare tags weigh more, by the square root of their rarity: full inverse frequency over-detects
    w = np.sqrt(counts.sum() / np.maximum(counts, 1.0))
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor(w / w.mean(), dtype=torch.float32), ignore_index=-100)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    rng = np.random.default_rng(seed)
    idx = np.asarray(idx)
    for _ in range(cfg["epochs"]):
        net.train()
        order = rng.permutation(idx)
        for b in range(0, len(order), cfg["batch"]):
            x, y = _batch(feats, labels, order[b : b + cfg["batch"]])
            loss = loss_fn(net(x).reshape(-1, n_tags + 1), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


@torch.no_grad()
def _predict(net: TaggerNet, feats, idx, batch: int = 16) -> list[np.ndarray]:
    net.eval()
    out = []
    for b in range(0, len(idx), batch):
        part = list(idx[b : b + batch])
        x, _ = _batch(feats, None, part)
        p = torch.softmax(net(x), -1).numpy()
        out += [p[k, : feats[i].shape[1]] for k, i in enumerate(part)]
    return out


# ---- folds ---------------------------------------------------------------------------------------------------

def group_folds(groups: np.ndarray, n_folds: int, n_val: float, seed: int) -> list:
    """Group-independent folds (:func:`explain_ser.splits.make_folds` over the groups, shuffled and seeded):
    about ``n_folds`` folds of ``len(groups) // n_folds`` test groups each, and in each fold a share ``n_val``
    (at least one) of the training groups held back as validation groups (they choose the thresholds).

    >>> [(f.test_speakers, f.val_speakers) for f in group_folds(np.array(list("aabbccdd")), 2, 0.2, seed=0)]
    [(['a', 'c'], ['d']), (['b', 'd'], ['c'])]
    """
    from .splits import make_folds

    uniq = sorted(set(map(str, groups)))
    if len(uniq) < 3:
        raise InputError("events", f"cross-validation needs at least 3 groups (speakers or sources), found {len(uniq)}")
    k = max(1, len(uniq) // max(1, n_folds))
    if k >= len(uniq):
        k = len(uniq) - 1
    n_v = max(1, int(round(n_val * (len(uniq) - k))))
    return make_folds(pd.DataFrame({"speaker": np.asarray(groups).astype(str)}), "speakers", k=k,
                      n_val=min(n_v, len(uniq) - k - 1), seed=seed, shuffle_speakers=True)


# ---- training ------------------------------------------------------------------------------------------------

DEFAULTS = {"hidden": 32, "dropout": 0.1, "lr": 3e-3, "weight_decay": 1e-2, "epochs": 20, "batch": 16, "layers": 2,
            "min_dur": 0.06, "merge_gap": 0.1, "smooth": 3, "decoder": "spans", "category": "segments",
            "category_c": 0.01, "mix": "concat"}
CATEGORIES = ("segments", "frames")
MIXES = ("concat", "softmax")
DECODERS = ("spans", "classes")


def load_features(events: Events, encoder, store, progress: bool):
    """Features (every tap, float16) and 20 ms frame counts of every clip, checking events lie inside it."""
    from tqdm.auto import tqdm

    from .audio import load_audio
    from .features import prepared_features

    feats, clips = [], []
    rows = list(events.clips.itertuples(index=False))
    for b in tqdm(range(0, len(rows), 16), desc="tagger features", unit="batch", disable=not progress):
        chunk = [load_audio(r.path) for r in rows[b : b + 16]]
        for r, c in zip(rows[b : b + 16], chunk):
            e = events.events[events.events["clip"] == r.clip]
            if len(e) and float(e["end"].max()) > c.duration + FRAME_SECONDS:
                raise InputError(events.source, f"{r.path}: event ends at {float(e['end'].max()):.3f} s, after the "
                                                f"clip's end ({c.duration:.3f} s)")
        arrs = prepared_features(chunk, encoder, store)  # the tagger hears clips as recorded: no input rule
        feats += [np.asarray(a, dtype=np.float16) for a in arrs]
        clips += chunk
    return feats, clips


def choose_decode(probs, truth, tags, cfg: dict) -> dict:
    """A tagger's ``decode`` settings (:func:`explain_ser.tagger_metrics.decode_with`) chosen on these
    (validation) clips: ``decoder`` "spans" chooses the detection threshold and hysteresis ratio of
    :func:`~explain_ser.tagger_metrics.decode_spans`, "classes" per-class thresholds."""
    d = {"mode": cfg["decoder"], "min_dur": cfg["min_dur"], "merge_gap": cfg["merge_gap"], "smooth": cfg["smooth"]}
    if cfg["decoder"] == "spans":
        return {**d, **choose_spans(probs, truth, tags, cfg["min_dur"], cfg["merge_gap"], cfg["smooth"])}
    return {**d, "thresholds": choose_thresholds(probs, truth, tags, cfg["min_dur"], cfg["merge_gap"],
                                                 smooth=cfg["smooth"])}


def score_clips(events: Events, idx, probs, dec: dict, tags, head: dict | None = None,
                feats=None) -> tuple[dict, list[dict]]:
    """Event and frame scores of clips ``idx`` given their probabilities and ``decode`` settings ``dec``;
    with a category ``head`` (:mod:`explain_ser.tagger_segments`) events are named by it from ``feats``
    (every clip's taps, indexed like the table)."""
    from .tagger_segments import name_events

    truth, found, t_lab, p_lab, pr = [], [], [], [], []
    for i, p in zip(idx, probs):
        cid = events.clips["clip"].iloc[i]
        tr = events.events_of(cid)
        truth += events_rows(cid, tr)
        ev = decode_with(p, tags, dec)
        if head is not None:
            ev = name_events(head, feats[i], ev, tags, p)
        found += events_rows(cid, ev)
        t_lab.append(frame_labels(tr, len(p), tags))
        p_lab.append(frame_labels(ev, len(p), tags))
        pr.append(p)
    m = event_metrics(truth, found, tags)
    m["frames"] = frame_metrics(np.concatenate(t_lab), np.concatenate(p_lab), tags, np.concatenate(pr))
    m["n_true"] = {t: int(sum(r["tag"] == t for r in truth)) for t in tags}
    return m, found


def train_tagger(events_path, out, encoder_source: str = "tiny.en", window: str = "trim", n_folds: int = 5,
                 n_val: float = 0.2, seed: int = 0, store=None, encoder=None, progress: bool = True,
                 note: str = "", command: str = "", **cfg) -> dict:
    """Cross-validate and train a tagger from an events table; write it to ``out``; return its config.

    ``n_val``: share of each fold's training groups held back to choose thresholds (at least one group).
    ``cfg`` overrides :data:`DEFAULTS` (hidden, dropout, lr, weight_decay, epochs, batch, layers, min_dur,
    merge_gap, smooth: frames of the moving average over the probabilities before thresholds, decoder: "spans"
    or "classes", see :func:`choose_decode`; mix: "concat" or "softmax", see :class:`TaggerNet`).
    ``note``: a paragraph for the model card (what the data is, what the tagger is not for).
    """
    from .threads import single_thread

    # the head's tensors are small: one thread avoids torch's pool synchronisation, which on a busy machine
    # costs far more than the work (explain_ser.threads); results do not depend on it
    with single_thread():
        return _train(events_path, out, encoder_source, window, n_folds, n_val, seed, store, encoder, progress,
                      note, command, cfg)


def _train(events_path, out, encoder_source, window, n_folds, n_val, seed, store, encoder, progress, note,
           command, cfg) -> dict:
    from .atomic import write_path, write_text
    from .encoder import Encoder
    from .features import FeatureStore

    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        raise InputError(sorted(unknown)[0], "unknown tagger option")
    dest = Path(out)
    if dest.exists() and (not dest.is_dir() or (any(dest.iterdir()) and not (dest / "config.json").is_file())):
        raise InputError(dest, "exists and is neither empty nor a tagger directory; choose a new --out")
    cfg = {**DEFAULTS, **cfg}
    if cfg["decoder"] not in DECODERS:
        raise InputError(f"--decoder {cfg['decoder']}", f"unknown decoder (choose from {', '.join(DECODERS)})")
    if cfg["mix"] not in MIXES:
        raise InputError(f"--mix {cfg['mix']}", f"unknown tap mix (choose from {', '.join(MIXES)})")
    if cfg["category"] not in CATEGORIES:
        raise InputError(f"--category {cfg['category']}", f"unknown category rule (choose from {', '.join(CATEGORIES)})")
    ev = read_events(events_path)
    tags = ev.tags
    enc = encoder if encoder is not None else Encoder(encoder_source, window)
    store = store if store is not None else FeatureStore()
    feats, clips = load_features(ev, enc, store, progress)
    labels = [frame_labels(ev.events_of(cid), f.shape[1], tags) for cid, f in zip(ev.clips["clip"], feats)]
    groups = ev.clips["group"].to_numpy()
    truth = [ev.events_of(c) for c in ev.clips["clip"]]
    folds = group_folds(groups, n_folds, n_val, seed)
    oof: list = [None] * len(feats)
    fold_info, found_all = [], []
    from tqdm.auto import tqdm

    for k, fold in enumerate(tqdm(folds, desc="tagger folds", disable=not progress)):
        test, val, train = fold.test, fold.val, fold.train
        test_groups, val_groups = fold.test_speakers, fold.val_speakers
        net = _fit(feats, labels, train, len(tags), cfg, seed + k)
        pv = _predict(net, feats, val)
        thr = choose_decode(pv, [ev.events_of(ev.clips["clip"].iloc[i]) for i in val], tags, cfg)
        pt = _predict(net, feats, test)
        for i, p in zip(test, pt):
            oof[i] = p
        # the category head: fitted on the true events of every clip but the test groups'
        head = (fit_category(feats, truth, np.setdiff1d(np.arange(len(feats)), test), tags, cfg["category_c"], seed + k)
                if cfg["category"] == "segments" else None)
        m, found = score_clips(ev, test, pt, thr, tags, head, feats)
        found_all += [{**r, "fold": k} for r in found]
        fold_info.append({"fold": k, "test_groups": sorted(map(str, test_groups)), "val_groups": sorted(map(str, val_groups)),
                          "n_test_clips": int(len(test)), "decode": thr,
                          "event_f1": {t: m["per_class"][t]["f1"] for t in tags}})
    # CV scores: every clip scored by the fold model that never saw its group, with that fold's thresholds
    truth_rows = [r for cid in ev.clips["clip"] for r in events_rows(cid, ev.events_of(cid))]
    cv = event_metrics(truth_rows, found_all, tags)
    t_lab = np.concatenate(labels)
    p_lab = np.concatenate([frame_labels([Interval(r["start"], r["end"], r["tag"]) for r in found_all
                                          if r["clip"] == cid], len(p), tags)
                            for cid, p in zip(ev.clips["clip"], oof)])
    cv["frames"] = frame_metrics(t_lab, p_lab, tags, np.concatenate(oof))
    cv["n_true"] = {t: int((ev.events["tag"] == t).sum()) for t in tags}
    cv_strict = event_metrics(truth_rows, found_all, tags, offset_ratio=0.5)
    held_out = _held_out_extras(truth_rows, found_all, tags, len(folds))
    # the final model: every clip; thresholds chosen on the pooled out-of-fold probabilities
    final_dec = choose_decode(oof, [ev.events_of(c) for c in ev.clips["clip"]], tags, cfg)
    net = _fit(feats, labels, np.arange(len(feats)), len(tags), cfg, seed)
    head = fit_category(feats, truth, np.arange(len(feats)), tags, cfg["category_c"], seed) \
        if cfg["category"] == "segments" else None
    final_out = Path(out)
    # the whole directory at once: built beside, then renamed into place (no half-written tagger)
    final_out.parent.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(dir=final_out.parent, prefix=f".{final_out.name}."))
    os.chmod(out, 0o755)  # mkdtemp's 0700 would make the tagger private to its author
    try:
        from safetensors.torch import save_file

        from . import __version__

        state = {k: v.detach().float().contiguous() for k, v in net.state_dict().items()}
        if head is not None:  # the category head's arrays beside the frame head's (explain_ser.tagger_segments)
            state.update({f"{CATEGORY_PREFIX}{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in head.items()})
        write_path(out / "model.safetensors", lambda tmp: save_file(state, str(tmp), metadata={"format": FORMAT}),
                   suffix=".safetensors")
        config = {
            "format": FORMAT, "explain_ser_version": __version__, "tags": tags,
            "encoder": {"source": enc.source, "weights_hash": enc.weights_hash, "dim": enc.dim, "n_taps": enc.n_taps,
                        "window": enc.window},
            "model": {"hidden": cfg["hidden"], "dropout": cfg["dropout"], "layers": cfg["layers"],
                      "category": cfg["category"], "category_c": cfg["category_c"],
                      "mix": cfg["mix"],
                      **({"tap_weights": [round(float(w), 4) for w in net.tap_weights().detach()]}
                         if cfg["mix"] == "softmax" else {})},
            "decode": {**final_dec, "calibration": held_out.pop("calibration")},
            "training": {"events": str(events_path), "n_clips": len(feats), "n_clips_without_events":
                         int(len(feats) - ev.events["clip"].nunique()), "n_events": cv["n_true"],
                         "group_by": ev.group_by, "n_groups": int(len(set(groups))), "seed": seed,
                         **{k: cfg[k] for k in ("lr", "weight_decay", "epochs", "batch")},
                         "hours": round(sum(c.duration for c in clips) / 3600, 3)},
            "cv": {"n_folds": len(folds), "n_val": n_val, "folds": fold_info, "collar": COLLAR, "event": cv,
                   "event_onset_offset": cv_strict, **held_out},
            "sounds": _sound_kinds(events_path, tags),
            "note": note, "command": command,
        }
        write_text(out / "config.json", dumps(config) + "\n")
        cv_rows = pd.DataFrame(found_all, columns=["clip", "start", "end", "tag", "confidence", "fold"])
        cv_rows["calibrated"] = held_out_calibrated(found_all, truth_rows, tags, len(folds))
        cv_rows["right"] = matched(truth_rows, found_all, tags)
        # clips as the events table names them (relative to its folder), not as this machine resolved them
        base = Path(events_path).resolve().parent
        cv_rows["clip"] = [os.path.relpath(c, base) if Path(c).resolve().is_relative_to(base) else c
                           for c in cv_rows["clip"]]
        write_path(out / "cv_events.csv", lambda tmp: cv_rows.to_csv(tmp, index=False))
        from .tagger_card import model_card

        write_text(out / "MODEL_CARD.md", model_card(config, final_out.name))
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    old = None
    if final_out.exists():
        old = final_out.with_name(f".{final_out.name}.old-{os.getpid()}")
        os.replace(final_out, old)
    os.replace(out, final_out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return config


def held_out_calibrated(found: list[dict], truth: list[dict], tags, n_folds: int) -> np.ndarray:
    """Each out-of-fold detection's confidence calibrated by a map fitted on the OTHER folds' detections
    (cross-fitting: the reliability of a calibration is never measured on the detections it was fitted on)."""
    from .tagger_metrics import CALIBRATION_SPLIT, calibrate, fit_calibration

    right = matched(truth, found, tags).astype(float)
    conf = np.array([r["confidence"] for r in found], dtype=float)
    dur = np.array([r["end"] - r["start"] for r in found], dtype=float)
    fold = np.array([r["fold"] for r in found])
    out = conf.copy()
    for k in range(n_folds):
        sel = fold == k
        if sel.any():
            cal = fit_calibration(conf[~sel], right[~sel], durations=dur[~sel], split=CALIBRATION_SPLIT)
            out[sel] = calibrate(cal, conf[sel], durations=dur[sel])
    return out


def _held_out_extras(truth: list[dict], found: list[dict], tags, n_folds: int) -> dict:
    """The confusion of categories and the reliability of confidences of the out-of-fold detections, and the
    calibration map (fitted on all of them) the shipped model's confidences go through."""
    from .tagger_metrics import CALIBRATION_SPLIT, by_duration, confusion, ece, fit_calibration, reliability

    right = matched(truth, found, tags)
    conf = np.array([r["confidence"] for r in found], dtype=float)
    dur = np.array([r["end"] - r["start"] for r in found], dtype=float)
    cal = held_out_calibrated(found, truth, tags, n_folds)
    raw_rel, cal_rel = reliability(conf, right), reliability(cal, right)
    short = dur < CALIBRATION_SPLIT
    by_length = {name: {"n": int(sel.sum()), "ece_raw": ece(reliability(conf[sel], right[sel])),
                        "ece_calibrated": ece(reliability(cal[sel], right[sel]))}
                 for name, sel in (("short", short), ("long", ~short))}
    cm = confusion(truth, found, tags)
    return {"confusion": {r: {c: int(v) for c, v in row.items()} for r, row in cm.iterrows()},
            "by_duration": by_duration(truth, found, tags),
            "reliability": {"raw": raw_rel, "calibrated": cal_rel, "ece_raw": ece(raw_rel), "ece_calibrated": ece(cal_rel),
                            "split": CALIBRATION_SPLIT, "by_length": by_length,
                            "detections": int(len(found)), "cross_fitted": True},
            "calibration": fit_calibration(conf, right, durations=dur, split=CALIBRATION_SPLIT)}


def _sound_kinds(events_path, tags) -> dict:
    """``{"kinds": {tag: "real" | "synthetic" | "real and synthetic"}, "attribution": [...]}`` from a planted
    table's ``kind`` / ``attribution`` columns (tags of a table without them: ``unknown``)."""
    raw = pd.read_csv(events_path, dtype=str, keep_default_na=False)
    kinds = {}
    for t in tags:
        k = sorted(set(raw.loc[raw["tag"] == t, "kind"])) if "kind" in raw.columns else []
        k = [x for x in k if x]
        kinds[t] = " and ".join(k) if k else "unknown"
    att = sorted({a for a in raw.get("attribution", pd.Series(dtype=str)) if a})
    return {"kinds": kinds, "attribution": att}
