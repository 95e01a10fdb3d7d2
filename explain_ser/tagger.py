"""A frame-level vocalization tagger over the cached Whisper taps, trained from an events table.

The emotion model's encoder pass already gives every tap of every 20 ms frame (:mod:`explain_ser.features`);
Whisper's encoder features are strong audio-event features (cf. Whisper-AT), so a tagger needs only a
small head on them. :class:`TaggerNet` standardises each tap, mixes the taps with learned softmax weights,
projects to ``hidden`` units and runs two 1-D convolutions over time (kernel 5, dilations 1 and 2: 260 ms
of context) to one softmax over ``none`` + the tags, per frame. It decides over speech too: words are not
excluded by force (laughter over speech exists).

**Events table** (:func:`read_events`): a CSV with ``path, start, end, tag`` (seconds; one row per event;
paths relative to the table's folder). A row with an empty tag (and empty times) lists a clip with no
events: negatives. Optional ``speaker`` or ``source`` columns group clips for cross-validation (speaker
first; else source; else each clip is its own group). Any tag set works.

**Events from frame probabilities** (:func:`decode`): each frame's probabilities are smoothed over 3
frames; a frame belongs to the tag whose probability is furthest above its own threshold (ratio p/θ ≥ 1),
else to none; runs of a tag closer than ``merge_gap`` are joined and runs shorter than ``min_dur`` dropped.
An event's confidence is its tag's mean probability over the run. The per-class thresholds θ are chosen on
validation data (:func:`choose_thresholds`), never on the data they are scored on.

**Scores** (:func:`event_metrics`): DCASE-style event-based precision / recall / F1 per class: a detection
matches a true event of the same tag in the same clip when their onsets differ by at most the collar
(200 ms); optionally the offsets must also agree within ``max(collar, offset_ratio x true duration)``
(sed-eval's rule). Matching is one-to-one (maximum bipartite matching per clip and tag). Frame-level
precision / recall / F1 and average precision per class are in :func:`frame_metrics`.

**Training** (:func:`train_tagger`, ``explain-ser train-tagger``): group-independent folds (speakers or
sources held out); in each fold validation groups are drawn from the training groups to choose thresholds;
the fold model's events on its test groups are scored. Then one model is trained on every clip and its
thresholds are chosen on the pooled out-of-fold probabilities. The directory holds ``model.safetensors``,
``config.json``, ``MODEL_CARD.md`` and ``cv_events.csv`` (every out-of-fold detection).

>>> truth = [{"clip": "a", "start": 1.0, "end": 1.5, "tag": "laugh"}]
>>> found = [{"clip": "a", "start": 1.15, "end": 1.9, "tag": "laugh"}]
>>> event_metrics(truth, found, ["laugh"])["per_class"]["laugh"]["f1"]
1.0
>>> event_metrics(truth, [{**found[0], "start": 1.25}], ["laugh"])["per_class"]["laugh"]["f1"]  # 250 ms late
0.0
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from .align.base import Interval
from .errors import InputError
from .timegrid import FRAME_SECONDS, frame_bounds

__all__ = ["Events", "read_events", "event_metrics", "frame_metrics", "frame_labels", "decode", "TaggerNet",
           "choose_thresholds", "train_tagger", "Tagger", "load_tagger", "tag_clip", "apply_tagger", "resolve_tagger",
           "available_taggers", "evaluate_tagger", "TAGGER_DIR", "FORMAT", "COLLAR"]

FORMAT = "explain_ser.tagger/1"
TAGGER_DIR = Path(__file__).parent / "checkpoints" / "taggers"
COLLAR = 0.2  # s: DCASE's onset collar
NONE = "none"
GRID = np.round(np.arange(0.1, 0.951, 0.05), 2)  # candidate thresholds


# ---- the events table ----------------------------------------------------------------------------------------

@dataclass
class Events:
    """A checked events table: ``clips`` (path, clip, group; one row per clip) and ``events``
    (clip, start, end, tag; one row per event), ``tags`` (sorted), where it came from and the grouping column."""

    clips: pd.DataFrame
    events: pd.DataFrame
    tags: list[str]
    source: str = ""
    group_by: str = "clip"
    extra: pd.DataFrame = field(default_factory=pd.DataFrame)  # the table's other columns, one row per clip

    def events_of(self, clip: str) -> list[Interval]:
        e = self.events[self.events["clip"] == clip]
        return [Interval(float(s), float(t), str(g)) for s, t, g in zip(e["start"], e["end"], e["tag"])]


def read_events(path, check_files: bool = True) -> Events:
    """Read and check an events table; one-line :class:`InputError` naming the file on any problem.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "a.wav").write_bytes(b""); _ = (d / "b.wav").write_bytes(b"")
    >>> _ = (d / "ev.csv").write_text("path,start,end,tag,speaker\\na.wav,0.5,0.9,laugh,s1\\nb.wav,,,,s2\\n")
    >>> ev = read_events(d / "ev.csv")
    >>> ev.tags, len(ev.clips), ev.group_by, ev.events[["start", "end", "tag"]].values.tolist()
    (['laugh'], 2, 'speaker', [[0.5, 0.9, 'laugh']])
    """
    from .corpora import read_csv_table

    p = Path(path)
    df = read_csv_table(p, "events table")
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in ("path", "start", "end", "tag") if c not in df.columns]
    if missing:
        raise InputError(p, f"events table has no {', '.join(repr(c) for c in missing)} column"
                            f"{'s' if len(missing) > 1 else ''} (needs path, start, end, tag)")
    if df.empty:
        raise InputError(p, "events table has no rows")
    for c in ("path", "start", "end", "tag"):
        df[c] = df[c].astype(str).str.strip()
    line = lambda i: int(i) + 2  # noqa: E731  (CSV line of a row: header is line 1)
    if (df["path"] == "").any():
        raise InputError(p, f"line {line(np.argmax(df['path'].to_numpy() == ''))}: empty path")
    tagged = df["tag"] != ""
    for c in ("start", "end"):
        blank = tagged & (df[c] == "")
        if blank.any():
            raise InputError(p, f"line {line(np.argmax(blank.to_numpy()))}: an event needs {c}")
    times = ~tagged & ((df["start"] != "") | (df["end"] != ""))
    if times.any():
        raise InputError(p, f"line {line(np.argmax(times.to_numpy()))}: times without a tag (an empty tag lists a "
                            "clip with no events, and needs empty start and end)")
    num = {}
    for c in ("start", "end"):
        v = pd.to_numeric(df[c].where(tagged), errors="coerce")
        bad = tagged & (~np.isfinite(v.to_numpy(dtype=float, na_value=np.nan)))
        if bad.any():
            i = int(np.argmax(bad.to_numpy()))
            raise InputError(p, f"line {line(i)}: {c} {df[c].iloc[i]!r} is not a number")
        num[c] = v
    neg = tagged & (num["start"] < 0)
    if neg.any():
        raise InputError(p, f"line {line(np.argmax(neg.to_numpy()))}: start is negative")
    back = tagged & ~(num["end"] > num["start"])
    if back.any():
        i = int(np.argmax(back.to_numpy()))
        raise InputError(p, f"line {line(i)}: end {df['end'].iloc[i]} is not after start {df['start'].iloc[i]}")
    if not tagged.any():
        raise InputError(p, "events table has no events (every tag is empty)")
    if NONE in set(df.loc[tagged, "tag"]):
        raise InputError(p, f"{NONE!r} is reserved for frames without an event; leave the tag empty instead")
    written = df["path"].tolist()
    full = [x if Path(x).is_absolute() else str(p.parent / x) for x in written]
    df["path"] = full
    if check_files:
        for i, x in enumerate(full):
            if not Path(x).is_file():
                raise InputError(p, f"line {line(i)}: unknown path {written[i]!r} (no such file)")
    group_by = next((c for c in ("speaker", "source") if c in df.columns and (df[c].str.strip() != "").all()), "clip")
    first = df.drop_duplicates("path", keep="first").reset_index(drop=True)
    clips = pd.DataFrame({"path": first["path"], "clip": first["path"],
                          "group": first[group_by].str.strip() if group_by != "clip" else first["path"]})
    if group_by != "clip":
        g = df.groupby("path")[group_by].nunique()
        if (g > 1).any():
            raise InputError(p, f"clip {g.index[np.argmax(g.to_numpy() > 1)]!r} has more than one {group_by}")
    ev = pd.DataFrame({"clip": df.loc[tagged, "path"], "start": num["start"][tagged].astype(float),
                       "end": num["end"][tagged].astype(float), "tag": df.loc[tagged, "tag"]})
    ev = ev.sort_values(["clip", "start", "end"], kind="stable").reset_index(drop=True)
    extra = first.drop(columns=[c for c in ("start", "end", "tag", "path") if c in first.columns])
    return Events(clips=clips, events=ev, tags=sorted(set(ev["tag"])), source=str(p), group_by=group_by,
                  extra=extra)


# ---- metrics -------------------------------------------------------------------------------------------------

def _rows(x) -> pd.DataFrame:
    df = pd.DataFrame(list(x) if not isinstance(x, pd.DataFrame) else x)
    if df.empty:
        return pd.DataFrame({"clip": pd.Series(dtype=str), "start": pd.Series(dtype=float),
                             "end": pd.Series(dtype=float), "tag": pd.Series(dtype=str)})
    return df


def _max_matching(ok: np.ndarray) -> int:
    """Size of a maximum matching in the bipartite graph ``ok[i, j]`` (Kuhn's augmenting paths)."""
    match_j = [-1] * ok.shape[1]

    def augment(i, seen):
        for j in np.flatnonzero(ok[i]):
            if j not in seen:
                seen.add(j)
                if match_j[j] < 0 or augment(match_j[j], seen):
                    match_j[j] = i
                    return True
        return False

    return sum(augment(i, set()) for i in range(ok.shape[0]))


def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / (tp + fn) if tp + fn else float("nan")
    f = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f}


def event_metrics(truth, found, tags, collar: float = COLLAR, offset_ratio: float | None = None) -> dict:
    """DCASE-style event-based scores per tag: ``{"per_class": {tag: {tp, fp, fn, precision, recall, f1}},
    "micro": {...}, "macro_f1": mean F1 over tags with true events}``.

    ``truth`` / ``found``: rows (dicts or a DataFrame) with ``clip, start, end, tag``. A detection matches a
    true event of the same clip and tag when ``|onset difference| <= collar`` and, with ``offset_ratio``,
    ``|offset difference| <= max(collar, offset_ratio x true duration)``; one-to-one. Detections of tags not
    in ``tags`` are ignored (``other`` from the rule-based tagger is never a hit).

    >>> t = [{"clip": "a", "start": 0.0, "end": 1.0, "tag": "x"}, {"clip": "a", "start": 0.3, "end": 1.0, "tag": "x"}]
    >>> f = [{"clip": "a", "start": 0.15, "end": 1.0, "tag": "x"}]   # within 200 ms of both onsets: one hit
    >>> m = event_metrics(t, f, ["x"])["per_class"]["x"]; (m["tp"], m["fp"], m["fn"])
    (1, 0, 1)
    """
    T, F = _rows(truth), _rows(found)
    per = {}
    for tag in tags:
        t = T[T["tag"] == tag]
        f = F[F["tag"] == tag]
        tp = 0
        for clip in set(t["clip"]) & set(f["clip"]):
            a, b = t[t["clip"] == clip], f[f["clip"] == clip]
            ts, te = a["start"].to_numpy(float)[:, None], a["end"].to_numpy(float)[:, None]
            fs, fe = b["start"].to_numpy(float)[None, :], b["end"].to_numpy(float)[None, :]
            ok = np.abs(ts - fs) <= collar + 1e-9
            if offset_ratio is not None:
                ok &= np.abs(te - fe) <= np.maximum(collar, offset_ratio * (te - ts)) + 1e-9
            tp += _max_matching(ok)
        per[tag] = _prf(tp, len(f) - tp, len(t) - tp)
    tot = [sum(per[t][k] for t in tags) for k in ("tp", "fp", "fn")]
    f1s = [per[t]["f1"] for t in tags if per[t]["tp"] + per[t]["fn"] > 0]
    return {"per_class": per, "micro": _prf(*tot), "macro_f1": float(np.mean(f1s)) if f1s else float("nan"),
            "collar": collar, "offset_ratio": offset_ratio}


def frame_labels(events: list[Interval], n_frames: int, tags) -> np.ndarray:
    """Class index per 20 ms frame (0 = none, i + 1 = ``tags[i]``): the event covering most of the frame.

    >>> frame_labels([Interval(0.015, 0.05, "b")], 4, ["a", "b"]).tolist()   # frame 0: 5 ms event, 15 ms none
    [0, 2, 2, 0]
    """
    from .frames import assign_units

    evs = sorted((e for e in events if e.label in tags), key=lambda e: (e.start, e.end))
    idx = assign_units(evs, n_frames)
    code = np.array([list(tags).index(e.label) + 1 for e in evs] + [0], dtype=np.int64)
    return code[idx]


def frame_metrics(true: np.ndarray, pred: np.ndarray, tags, probs: np.ndarray | None = None) -> dict:
    """Frame-level precision / recall / F1 per tag (and average precision when ``probs [n, 1 + tags]`` are
    given) from class indices per frame (0 = none).

    >>> m = frame_metrics(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 1]), ["a"])
    >>> m["a"]["precision"], m["a"]["recall"]
    (0.5, 0.5)
    """
    out = {}
    for i, tag in enumerate(tags, start=1):
        t, p = true == i, pred == i
        m = _prf(int((t & p).sum()), int((~t & p).sum()), int((t & ~p).sum()))
        if probs is not None and t.any() and (~t).any():
            from sklearn.metrics import average_precision_score

            m["ap"] = float(average_precision_score(t, probs[:, i]))
        out[tag] = m
    return out


# ---- decoding ------------------------------------------------------------------------------------------------

def _smooth(p: np.ndarray, k: int = 3) -> np.ndarray:
    if k <= 1 or len(p) < 2:
        return p
    pad = np.pad(p, ((k // 2, k // 2), (0, 0)), mode="edge")
    c = np.cumsum(np.vstack([np.zeros((1, p.shape[1])), pad]), axis=0)
    return (c[k:] - c[:-k]) / k


def decode(probs: np.ndarray, tags, thresholds, min_dur: float = 0.06, merge_gap: float = 0.1,
           smooth: int = 3) -> list[Interval]:
    """Events from per-frame probabilities ``[T, 1 + len(tags)]`` (column 0: none); see the module text.

    >>> p = np.zeros((10, 2)); p[:, 0] = 1; p[2:6] = [0.2, 0.8]
    >>> [(e.label, e.start, e.end, e.confidence) for e in decode(p, ["laugh"], {"laugh": 0.5}, smooth=1)]
    [('laugh', 0.04, 0.12, 0.8)]
    """
    tags = list(tags)
    if len(probs) == 0:
        return []
    ps = _smooth(np.asarray(probs, dtype=np.float64), smooth)
    thr = np.array([float(thresholds[t]) for t in tags])
    ratio = ps[:, 1:] / thr
    lab = np.where(ratio.max(1) >= 1.0, ratio.argmax(1) + 1, 0)
    gap = int(round(merge_gap / FRAME_SECONDS))
    runs = _label_runs(lab)
    # join runs of one tag separated by a short gap of none (laughter's silent half-periods)
    merged: list[list[int]] = []
    for c, a, b in runs:
        if c == 0:
            continue
        if merged and merged[-1][0] == c and a - merged[-1][2] <= gap and not (lab[merged[-1][2]:a] > 0).any():
            merged[-1][2] = b
        else:
            merged.append([c, a, b])
    start, end = frame_bounds(len(lab))
    out = []
    for c, a, b in merged:
        if (b - a) * FRAME_SECONDS < min_dur - 1e-9:
            continue
        conf = float(np.mean(np.asarray(probs)[a:b, c]))
        out.append(Interval(float(start[a]), float(end[b - 1]), tags[c - 1], round(conf, 3)))
    return out


def _label_runs(lab: np.ndarray) -> list[tuple[int, int, int]]:
    if len(lab) == 0:
        return []
    cut = np.flatnonzero(np.diff(lab)) + 1
    starts = np.concatenate([[0], cut])
    ends = np.concatenate([cut, [len(lab)]])
    return [(int(lab[a]), int(a), int(b)) for a, b in zip(starts, ends)]


def _events_rows(clip: str, evs: list[Interval]) -> list[dict]:
    return [{"clip": clip, "start": e.start, "end": e.end, "tag": e.label, "confidence": e.confidence} for e in evs]


def choose_thresholds(probs: list[np.ndarray], truth: list[list[Interval]], tags, min_dur: float = 0.06,
                      merge_gap: float = 0.1, rounds: int = 2) -> dict:
    """Per-tag thresholds maximising each tag's event F1 on these (validation) clips, by coordinate ascent
    over a grid (0.10 … 0.95); a tag without true events keeps 0.5. Ties go to the threshold nearest 0.5."""
    tags = list(tags)
    thr = {t: 0.5 for t in tags}
    true_rows = [r for i, evs in enumerate(truth) for r in _events_rows(str(i), evs)]
    present = {r["tag"] for r in true_rows}
    for _ in range(rounds):
        for tag in tags:
            if tag not in present:
                continue
            best, best_key = thr[tag], None
            for g in GRID:
                trial = {**thr, tag: float(g)}
                found = [r for i, p in enumerate(probs)
                         for r in _events_rows(str(i), decode(p, tags, trial, min_dur, merge_gap))]
                f1 = event_metrics(true_rows, found, [tag])["per_class"][tag]["f1"]
                key = (np.nan_to_num(f1, nan=0.0), -abs(g - 0.5))
                if best_key is None or key > best_key:
                    best, best_key = float(g), key
            thr[tag] = best
    return thr


# ---- the model -----------------------------------------------------------------------------------------------

class TaggerNet(nn.Module):
    """Per-frame logits ``[B, T, 1 + n_tags]`` from taps ``[B, n_taps, T, D]`` (see the module text).

    >>> net = TaggerNet(n_taps=5, dim=16, n_tags=3, hidden=8)
    >>> net(torch.zeros(2, 5, 7, 16)).shape
    torch.Size([2, 7, 4])
    """

    def __init__(self, n_taps: int, dim: int, n_tags: int, hidden: int = 64, dropout: float = 0.1):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_taps, dim))
        self.register_buffer("std", torch.ones(n_taps, dim))
        self.tap_logits = nn.Parameter(torch.zeros(n_taps))
        self.drop = nn.Dropout(dropout)
        self.proj = nn.Linear(dim, hidden)
        self.conv1 = nn.Conv1d(hidden, hidden, 5, padding=2)
        self.conv2 = nn.Conv1d(hidden, hidden, 5, padding=4, dilation=2)
        self.out = nn.Linear(hidden, n_tags + 1)

    def tap_weights(self) -> torch.Tensor:
        return torch.softmax(self.tap_logits, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean[None, :, None]) / (self.std[None, :, None] + 1e-5)
        x = torch.einsum("l,bltd->btd", self.tap_weights(), x)
        h = torch.nn.functional.gelu(self.proj(self.drop(x))).transpose(1, 2)
        h = h + torch.nn.functional.gelu(self.conv1(h))  # residual: the frame's own evidence is kept
        h = h + torch.nn.functional.gelu(self.conv2(h))
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
    net = TaggerNet(L, D, n_tags, hidden=cfg["hidden"], dropout=cfg["dropout"])
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

def _group_folds(groups: np.ndarray, n_folds: int, seed: int) -> list[np.ndarray]:
    """Test groups of each fold: the sorted groups shuffled (seeded) and dealt round-robin."""
    uniq = np.array(sorted(set(groups)))
    if len(uniq) < 3:
        raise InputError("events", f"cross-validation needs at least 3 groups (speakers or sources), found {len(uniq)}")
    k = min(n_folds, len(uniq))
    perm = np.random.default_rng(seed).permutation(uniq)
    return [perm[i::k] for i in range(k)]


# ---- training ------------------------------------------------------------------------------------------------

DEFAULTS = {"hidden": 32, "dropout": 0.1, "lr": 3e-3, "weight_decay": 1e-2, "epochs": 20, "batch": 16,
            "min_dur": 0.06, "merge_gap": 0.1}


def _load_features(events: Events, encoder, store, progress: bool):
    """Features (every tap, float16) and 20 ms frame counts of every clip, checking events lie inside it."""
    from tqdm.auto import tqdm

    from .audio import load_audio

    feats, clips = [], []
    rows = list(events.clips.itertuples(index=False))
    for b in tqdm(range(0, len(rows), 16), desc="tagger features", unit="batch", disable=not progress):
        chunk = [load_audio(r.path) for r in rows[b : b + 16]]
        for r, c in zip(rows[b : b + 16], chunk):
            e = events.events[events.events["clip"] == r.clip]
            if len(e) and float(e["end"].max()) > c.duration + FRAME_SECONDS:
                raise InputError(events.source, f"{r.path}: event ends at {float(e['end'].max()):.3f} s, after the "
                                                f"clip's end ({c.duration:.3f} s)")
        arrs = store.get_many(chunk, encoder) if store is not None else encoder.encode_batch(chunk)
        feats += [np.asarray(a, dtype=np.float16) for a in arrs]
        clips += chunk
    return feats, clips


def _scores(events: Events, idx, probs, thresholds, tags, cfg) -> tuple[dict, list[dict]]:
    """Event and frame scores of clips ``idx`` given their probabilities."""
    truth, found, t_lab, p_lab, pr = [], [], [], [], []
    for i, p in zip(idx, probs):
        cid = events.clips["clip"].iloc[i]
        tr = events.events_of(cid)
        truth += _events_rows(cid, tr)
        ev = decode(p, tags, thresholds, cfg["min_dur"], cfg["merge_gap"])
        found += _events_rows(cid, ev)
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
    ``cfg`` overrides :data:`DEFAULTS` (hidden, dropout, lr, weight_decay, epochs, batch, min_dur, merge_gap).
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
    ev = read_events(events_path)
    tags = ev.tags
    enc = encoder if encoder is not None else Encoder(encoder_source, window)
    store = store if store is not None else FeatureStore()
    feats, clips = _load_features(ev, enc, store, progress)
    labels = [frame_labels(ev.events_of(cid), f.shape[1], tags) for cid, f in zip(ev.clips["clip"], feats)]
    groups = ev.clips["group"].to_numpy()
    folds = _group_folds(groups, n_folds, seed)
    oof: list = [None] * len(feats)
    fold_info, found_all = [], []
    from tqdm.auto import tqdm

    for k, test_groups in enumerate(tqdm(folds, desc="tagger folds", disable=not progress)):
        test = np.flatnonzero(np.isin(groups, test_groups))
        rest = sorted(set(groups) - set(test_groups))
        n_v = max(1, int(round(n_val * len(rest))))
        val_groups = list(np.random.default_rng(seed + 1 + k).choice(rest, size=n_v, replace=False))
        val = np.flatnonzero(np.isin(groups, val_groups))
        train = np.flatnonzero(~np.isin(groups, list(test_groups) + val_groups))
        net = _fit(feats, labels, train, len(tags), cfg, seed + k)
        pv = _predict(net, feats, val)
        thr = choose_thresholds(pv, [ev.events_of(ev.clips["clip"].iloc[i]) for i in val], tags,
                                cfg["min_dur"], cfg["merge_gap"])
        pt = _predict(net, feats, test)
        for i, p in zip(test, pt):
            oof[i] = p
        m, found = _scores(ev, test, pt, thr, tags, cfg)
        found_all += [{**r, "fold": k} for r in found]
        fold_info.append({"fold": k, "test_groups": sorted(map(str, test_groups)), "val_groups": sorted(map(str, val_groups)),
                          "n_test_clips": int(len(test)), "thresholds": thr,
                          "event_f1": {t: m["per_class"][t]["f1"] for t in tags}})
    # CV scores: every clip scored by the fold model that never saw its group, with that fold's thresholds
    truth_rows = [r for cid in ev.clips["clip"] for r in _events_rows(cid, ev.events_of(cid))]
    cv = event_metrics(truth_rows, found_all, tags)
    t_lab = np.concatenate(labels)
    p_lab = np.concatenate([frame_labels([Interval(r["start"], r["end"], r["tag"]) for r in found_all
                                          if r["clip"] == cid], len(p), tags)
                            for cid, p in zip(ev.clips["clip"], oof)])
    cv["frames"] = frame_metrics(t_lab, p_lab, tags, np.concatenate(oof))
    cv["n_true"] = {t: int((ev.events["tag"] == t).sum()) for t in tags}
    cv_strict = event_metrics(truth_rows, found_all, tags, offset_ratio=0.5)
    # the final model: every clip; thresholds chosen on the pooled out-of-fold probabilities
    final_thr = choose_thresholds(oof, [ev.events_of(c) for c in ev.clips["clip"]], tags, cfg["min_dur"], cfg["merge_gap"])
    net = _fit(feats, labels, np.arange(len(feats)), len(tags), cfg, seed)
    final_out = Path(out)
    # the whole directory at once: built beside, then renamed into place (no half-written tagger)
    final_out.parent.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(dir=final_out.parent, prefix=f".{final_out.name}."))
    os.chmod(out, 0o755)  # mkdtemp's 0700 would make the tagger private to its author
    try:
        from safetensors.torch import save_file

        from . import __version__

        state = {k: v.detach().float().contiguous() for k, v in net.state_dict().items()}
        write_path(out / "model.safetensors", lambda tmp: save_file(state, str(tmp), metadata={"format": FORMAT}),
                   suffix=".safetensors")
        config = {
            "format": FORMAT, "explain_ser_version": __version__, "tags": tags,
            "encoder": {"source": enc.source, "weights_hash": enc.weights_hash, "dim": enc.dim, "n_taps": enc.n_taps,
                        "window": enc.window},
            "model": {"hidden": cfg["hidden"], "dropout": cfg["dropout"],
                      "tap_weights": [round(float(w), 4) for w in net.tap_weights().detach()]},
            "decode": {"thresholds": final_thr, "min_dur": cfg["min_dur"], "merge_gap": cfg["merge_gap"], "smooth": 3},
            "training": {"events": str(events_path), "n_clips": len(feats), "n_clips_without_events":
                         int(len(feats) - ev.events["clip"].nunique()), "n_events": cv["n_true"],
                         "group_by": ev.group_by, "n_groups": int(len(set(groups))), "seed": seed,
                         **{k: cfg[k] for k in ("lr", "weight_decay", "epochs", "batch")},
                         "hours": round(sum(c.duration for c in clips) / 3600, 3)},
            "cv": {"n_folds": len(folds), "n_val": n_val, "folds": fold_info, "collar": COLLAR, "event": cv,
                   "event_onset_offset": cv_strict},
            "note": note, "command": command,
        }
        write_text(out / "config.json", json.dumps(config, indent=2, default=_json) + "\n")
        cv_rows = pd.DataFrame(found_all, columns=["clip", "start", "end", "tag", "confidence", "fold"])
        # clips as the events table names them (relative to its folder), not as this machine resolved them
        base = Path(events_path).resolve().parent
        cv_rows["clip"] = [os.path.relpath(c, base) if Path(c).resolve().is_relative_to(base) else c
                           for c in cv_rows["clip"]]
        write_path(out / "cv_events.csv", lambda tmp: cv_rows.to_csv(tmp, index=False))
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


def _json(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if np.isnan(o) else float(o)
    raise TypeError(type(o).__name__)


def _pct(x) -> str:
    return "–" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{100 * x:.1f}"


def metrics_table(m: dict, tags) -> str:
    """Markdown table of per-class event and frame scores (percent)."""
    lines = ["| tag | true events | event P | event R | event F1 | frame F1 | frame AP |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for t in tags:
        e, f = m["per_class"][t], m.get("frames", {}).get(t, {})
        lines.append(f"| {t} | {m.get('n_true', {}).get(t, e['tp'] + e['fn'])} | {_pct(e['precision'])} | "
                     f"{_pct(e['recall'])} | {_pct(e['f1'])} | {_pct(f.get('f1'))} | {_pct(f.get('ap'))} |")
    mi = m["micro"]
    lines.append(f"| all (micro) | {mi['tp'] + mi['fn']} | {_pct(mi['precision'])} | {_pct(mi['recall'])} | "
                 f"{_pct(mi['f1'])} | | |")
    return "\n".join(lines)


def model_card(config: dict, name: str) -> str:
    """MODEL_CARD.md text of a tagger from its config."""
    tr, cv, enc = config["training"], config["cv"], config["encoder"]
    tags = config["tags"]
    thr = ", ".join(f"{t} {v:.2f}" for t, v in config["decode"]["thresholds"].items())
    folds = "; ".join(f"fold{f['fold']}: test {', '.join(f['test_groups'])}" for f in cv["folds"])
    parts = [
        f"# {name}", "",
        "Frame-level vocalization tagger over frozen Whisper encoder features: per-tap standardisation, a learned "
        f"softmax mix of the {enc['n_taps']} taps (weights {config['model']['tap_weights']}), Linear({config['model']['hidden']}), "
        "two residual 1-D convolutions over time (kernel 5, dilations 1, 2), softmax over "
        f"none + {', '.join(tags)} per 20 ms frame.", "",
        f"- Encoder: `{enc['source']}` (weights sha256 `{enc['weights_hash']}`), window mode `{enc['window']}`; the "
        "tagger reads the same cached taps as the emotion model.",
        f"- Training data: `{tr['events']}`: {tr['n_clips']} clips ({tr['hours']} h), {tr['n_clips_without_events']} "
        f"without events; events {', '.join(f'{t} {n}' for t, n in tr['n_events'].items())}; {tr['n_groups']} "
        f"groups by `{tr['group_by']}`.",
        f"- Training: AdamW lr {tr['lr']}, weight decay {tr['weight_decay']}, batch {tr['batch']}, {tr['epochs']} "
        f"epochs, seed {tr['seed']}; cross-entropy weighted by the square root of each class's rarity.",
        f"- Events: smoothed probabilities over 3 frames, per-class thresholds ({thr}; chosen on the pooled "
        f"out-of-fold probabilities), runs joined across gaps ≤ {config['decode']['merge_gap']} s, "
        f"runs shorter than {config['decode']['min_dur']} s dropped.", "",
    ]
    if config.get("note"):
        parts += ["## What it is, and what it is not", "", config["note"], ""]
    parts += [
        f"## Cross-validated scores ({cv['n_folds']} folds, held-out {tr['group_by']}s)", "",
        f"Event-based (DCASE-style, onset collar {int(1000 * cv['collar'])} ms, one-to-one) and frame-level "
        "scores, in %, of every clip by the fold model that never saw its group; each fold's thresholds were chosen "
        "on validation groups drawn from its training groups.", "",
        metrics_table(cv["event"], tags), "",
        f"With offsets also required (within max(200 ms, 50 % of the event)): micro F1 "
        f"{_pct(cv['event_onset_offset']['micro']['f1'])}.", "",
        f"Folds: {folds}. Every out-of-fold detection is in `cv_events.csv`.", "",
        "The shipped model is a retrain on every clip and has no held-out score of its own.", "",
        "## Reproduce", "", "```", config.get("command") or "explain-ser train-tagger EVENTS --out DIR", "```", "",
        f"explain_ser {config.get('explain_ser_version', '')}.", "",
    ]
    return "\n".join(parts)


# ---- a trained tagger ----------------------------------------------------------------------------------------

def available_taggers() -> list[str]:
    """Names of the taggers shipped with explain_ser."""
    from .checkpoint import shipped_names

    return shipped_names(TAGGER_DIR)


def resolve_tagger(name_or_path) -> Path:
    """Directory of a tagger: a directory with config.json, or a shipped name."""
    from .checkpoint import resolve_dir

    return resolve_dir(name_or_path, TAGGER_DIR, "tagger")


class Tagger:
    """A trained tagger (config read once, weights loaded).

    >>> tg = Tagger.load("demo-synthetic-tiny.en")                      # doctest: +SKIP
    >>> [(e.label, e.start, e.end) for e in tg.tag("examples/laugh_breath.wav")]   # doctest: +SKIP
    [('laugh', 2.24, 3.1), ('breath', 3.36, 3.76)]
    """

    def __init__(self, config: dict, net: TaggerNet, directory: Path | None = None):
        self.config = config
        self.net = net.eval()
        self.directory = directory
        self.tags = list(config["tags"])
        self._encoder = None
        raw = json.dumps(config, sort_keys=True).encode() + b"".join(
            v.numpy().tobytes() for _, v in sorted(net.state_dict().items()))
        #: content hash (config + weights): the annotation cache key includes it
        self.identity = hashlib.sha256(raw).hexdigest()[:16]

    @classmethod
    def load(cls, name_or_path) -> "Tagger":
        from safetensors.torch import load_file

        from .checkpoint import read_json_config

        d = resolve_tagger(name_or_path)
        config = read_json_config(d, FORMAT, "tagger")
        enc = config["encoder"]
        net = TaggerNet(int(enc["n_taps"]), int(enc["dim"]), len(config["tags"]), hidden=int(config["model"]["hidden"]))
        try:
            state = load_file(str(d / "model.safetensors"))
            net.load_state_dict(state)
        except Exception as e:  # safetensors and torch raise their own types
            raise InputError(d / "model.safetensors", f"unreadable or mismatched tagger weights ({e})") from None
        return cls(config, net, d)

    @property
    def name(self) -> str:
        return self.directory.name if self.directory else "in-memory"

    def fits(self, encoder) -> bool:
        """True when ``encoder`` gives the features this tagger was trained on."""
        want = self.config["encoder"]
        return (getattr(encoder, "weights_hash", None) in (want["weights_hash"], "in-memory")
                and encoder.window == want["window"] and encoder.dim == want["dim"] and encoder.n_taps == want["n_taps"])

    def encoder(self):
        """The encoder this tagger was trained on (loaded once)."""
        if self._encoder is None:
            from .encoder import Encoder

            self._encoder = Encoder(self.config["encoder"]["source"], self.config["encoder"]["window"])
        return self._encoder

    def features(self, clip, encoder=None, store=None) -> np.ndarray:
        """Every tap of ``clip`` as recorded (no input rule), through ``store`` when given."""
        enc = encoder if encoder is not None and self.fits(encoder) else self.encoder()
        if store is not None:
            return np.asarray(store.get(clip, enc), dtype=np.float32)
        return enc.encode(clip)

    @torch.no_grad()
    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Per-frame probabilities ``[T, 1 + n_tags]`` (column 0: none) from taps ``[n_taps, T, D]``."""
        f = np.asarray(features, dtype=np.float32)
        want = (self.config["encoder"]["n_taps"], self.config["encoder"]["dim"])
        if f.ndim != 3 or (f.shape[0], f.shape[2]) != tuple(want):
            raise InputError("tagger", f"features of shape {f.shape} do not fit (want [{want[0]}, T, {want[1]}])")
        from .threads import single_thread

        with single_thread():  # a small head: torch's thread pool costs more than it gains (explain_ser.threads)
            return torch.softmax(self.net(torch.from_numpy(f)[None]), -1)[0].numpy()

    def events(self, probs: np.ndarray) -> list[Interval]:
        d = self.config["decode"]
        return decode(probs, self.tags, d["thresholds"], d["min_dur"], d["merge_gap"], d.get("smooth", 3))

    def tag(self, clip, encoder=None, store=None, features=None) -> list[Interval]:
        """Events of one clip (a :class:`~explain_ser.audio.Clip` or a path), label = tag, confidence = the
        tag's mean probability over the event."""
        from .audio import Clip, load_audio

        if not isinstance(clip, Clip):
            clip = load_audio(clip)
        f = features if features is not None else self.features(clip, encoder, store)
        return self.events(self.probabilities(f))


_LOADED: dict[str, Tagger] = {}


def load_tagger(name_or_path) -> Tagger:
    """A :class:`Tagger` by name or directory, loaded once per process."""
    if isinstance(name_or_path, Tagger):
        return name_or_path
    key = str(resolve_tagger(name_or_path).resolve())
    if key not in _LOADED:
        _LOADED[key] = Tagger.load(key)
    return _LOADED[key]


def tag_clip(clip, tagger, encoder=None, store=None, features=None) -> list[Interval]:
    """Vocalization events of ``clip`` by ``tagger`` (a name, directory or :class:`Tagger`): the call for
    callers outside the per-clip path (the timeline's utterances). ``features``: the clip's taps under the
    tagger's encoder when the caller has them (no second encoder pass)."""
    return load_tagger(tagger).tag(clip, encoder=encoder, store=store, features=features)


def apply_tagger(alignment, clip, tagger, encoder=None, store=None, features=None):
    """Give ``alignment`` (an :class:`~explain_ser.align.base.Alignment` made with ``vocalizations=False``, or
    None: no words) the tagger's vocalization tier: transcript tokens kept and sharpened by the tagger's events
    (:func:`~explain_ser.align.vocalizations.merge_with_tokens`), everything else from the tagger. Returns the
    alignment (a words-free one when None was given). For ``align``-like callers:

    >>> a = align_clip(clip, text, vocalizations=False)                    # doctest: +SKIP
    >>> a = apply_tagger(a, clip, "demo-synthetic-tiny.en")                # doctest: +SKIP
    """
    from .align.base import Alignment
    from .align.vocalizations import merge_with_tokens

    found = tag_clip(clip, tagger, encoder=encoder, store=store, features=features)
    if alignment is None:  # no words, but the tagger needs none
        alignment = Alignment(words=[], backend="none", duration=clip.duration, clip_id=clip.clip_id)
    alignment.notes = [n for n in alignment.notes if not n.startswith("no vocalization tags")]
    alignment.vocalizations = merge_with_tokens(alignment.vocalizations, found)
    return alignment.check()


def evaluate_tagger(tagger, events_path, store=None, progress: bool = True) -> dict:
    """Event and frame scores of a trained tagger (its own thresholds) on another events table."""
    from .features import FeatureStore

    tg = load_tagger(tagger)
    ev = read_events(events_path)
    missing = set(ev.tags) - set(tg.tags)
    feats, _ = _load_features(ev, tg.encoder(), store if store is not None else FeatureStore(), progress)
    probs = [tg.probabilities(f) for f in feats]
    d = tg.config["decode"]
    m, found = _scores(ev, range(len(feats)), probs, d["thresholds"], tg.tags, d)
    m["unknown_tags"] = sorted(missing)
    return {"metrics": m, "found": found}
