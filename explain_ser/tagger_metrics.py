"""Scoring and decoding of vocalization tags: event and frame metrics, events from frame probabilities,
thresholds, the confusion of categories and the reliability of confidences.

**Events from frame probabilities.** :func:`decode_spans` (taggers' default since issue 27) decides
*vocalization or none* first, on ``1 - P(none)`` with hysteresis, and then gives each event ONE category, the
tag with the largest summed probability over the event; its detection threshold and hysteresis ratio are
chosen on validation data (:func:`choose_spans`). :func:`decode` (older taggers) labels frame by frame: a
frame belongs to the tag whose smoothed probability is furthest above its own threshold (ratio p/θ ≥ 1), else
to none, so one sound can come out as fragments of different tags; its per-class thresholds θ are chosen by
:func:`choose_thresholds`. Both join runs closer than ``merge_gap`` and drop runs shorter than ``min_dur``;
an event's confidence is its tag's mean probability over the run; :func:`decode_with` applies a tagger's
settings. Settings are never chosen on the data they are scored on.

**Scores** (:func:`event_metrics`): DCASE-style event-based precision / recall / F1 per class: a detection
matches a true event of the same tag in the same clip when their onsets differ by at most the collar
(200 ms); optionally the offsets must also agree within ``max(collar, offset_ratio x true duration)``
(sed-eval's rule). Matching is one-to-one (maximum bipartite matching per clip and tag). Frame-level
precision / recall / F1 and average precision per class are in :func:`frame_metrics`.

>>> truth = [{"clip": "a", "start": 1.0, "end": 1.5, "tag": "laugh"}]
>>> found = [{"clip": "a", "start": 1.15, "end": 1.9, "tag": "laugh"}]
>>> event_metrics(truth, found, ["laugh"])["per_class"]["laugh"]["f1"]
1.0
>>> event_metrics(truth, [{**found[0], "start": 1.25}], ["laugh"])["per_class"]["laugh"]["f1"]  # 250 ms late
0.0
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .align.base import Interval
from .timegrid import FRAME_SECONDS, frame_bounds

__all__ = ["event_metrics", "frame_metrics", "frame_labels", "decode", "decode_spans", "decode_with", "choose_spans",
           "choose_thresholds", "events_rows", "matched",
           "confusion", "by_duration", "fit_calibration", "calibrate", "reliability", "ece", "CALIBRATION_SPLIT",
           "COLLAR", "GRID"]

COLLAR = 0.2  # s: DCASE's onset collar
GRID = np.round(np.arange(0.1, 0.951, 0.05), 2)  # candidate thresholds


# ---- metrics -------------------------------------------------------------------------------------------------

def _rows(x) -> pd.DataFrame:
    df = pd.DataFrame(list(x) if not isinstance(x, pd.DataFrame) else x)
    if df.empty:
        return pd.DataFrame({"clip": pd.Series(dtype=str), "start": pd.Series(dtype=float),
                             "end": pd.Series(dtype=float), "tag": pd.Series(dtype=str)})
    return df


def _max_matching(ok: np.ndarray) -> int:
    """Size of a maximum matching in the bipartite graph ``ok[i, j]`` (Kuhn's augmenting paths)."""
    return sum(j >= 0 for j in _matching(ok))


def _matching(ok: np.ndarray) -> list[int]:
    """A maximum matching of the bipartite graph ``ok[i, j]``: for each column j its row, or -1.

    >>> _matching(np.array([[True, True], [True, False]]))
    [1, 0]
    """
    match_j = [-1] * ok.shape[1]

    def augment(i, seen):
        for j in np.flatnonzero(ok[i]):
            if j not in seen:
                seen.add(j)
                if match_j[j] < 0 or augment(match_j[j], seen):
                    match_j[j] = i
                    return True
        return False

    for i in range(ok.shape[0]):
        augment(i, set())
    return match_j


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


def decode_spans(probs: np.ndarray, tags, detect: float = 0.5, hold: float = 0.5, min_dur: float = 0.06,
                 merge_gap: float = 0.3, smooth: int = 5, gates: dict | None = None) -> list[Interval]:
    """Events from per-frame probabilities ``[T, 1 + len(tags)]``: *vocalization or none* first, then ONE
    category per event.

    The vocalization score of a frame is ``1 - P(none)`` (moving average over ``smooth`` frames). A run of
    frames scoring at least ``hold x detect`` is an event when some frame in it reaches ``detect``
    (hysteresis: the onset is found where the sound starts, not where it becomes sure); runs closer than
    ``merge_gap`` are joined, runs shorter than ``min_dur`` dropped. The event's category is the tag with the
    largest summed probability over the whole run, so one sound is never split into fragments of different
    categories; its confidence is that tag's mean probability over the run. ``gates``: per-tag minimum
    confidence (events of a tag under it are dropped).

    >>> p = np.zeros((12, 3)); p[:, 0] = 1
    >>> p[2:9] = [[.6, .3, .1], [.2, .5, .3], [.1, .3, .6], [.1, .5, .4], [.2, .6, .2], [.3, .5, .2], [.6, .3, .1]]
    >>> [(e.label, e.start, e.end, e.confidence) for e in decode_spans(p, ["cough", "breath"], 0.7, 0.5, smooth=1)]
    [('cough', 0.04, 0.18, 0.429)]
    """
    tags = list(tags)
    probs = np.asarray(probs, dtype=np.float64)
    if len(probs) == 0:
        return []
    score = 1.0 - _smooth(probs, smooth)[:, 0]
    lab = (score >= hold * detect).astype(np.int64)
    runs = [(a, b) for c, a, b in _label_runs(lab) if c and (score[a:b] >= detect - 1e-12).any()]
    gap = int(round(merge_gap / FRAME_SECONDS))
    merged: list[list[int]] = []
    for a, b in runs:
        if merged and a - merged[-1][1] <= gap:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    start, end = frame_bounds(len(probs))
    out = []
    for a, b in merged:
        if (b - a) * FRAME_SECONDS < min_dur - 1e-9:
            continue
        seg = probs[a:b, 1:]
        c = int(np.argmax(seg.sum(0)))
        conf = float(seg[:, c].mean())
        if gates and conf < float(gates.get(tags[c], 0.0)):
            continue
        out.append(Interval(float(start[a]), float(end[b - 1]), tags[c], round(conf, 3)))
    return out


def decode_with(probs: np.ndarray, tags, d: dict) -> list[Interval]:
    """Events by a tagger's ``decode`` settings: ``mode`` "spans" (:func:`decode_spans`: ``detect``, ``hold``,
    ``gates``) or "classes" (:func:`decode`, per-class ``thresholds``; taggers trained before spans existed),
    with ``min_dur``, ``merge_gap`` and ``smooth``."""
    if d.get("mode", "classes") == "spans":
        return decode_spans(probs, tags, d["detect"], d["hold"], d["min_dur"], d["merge_gap"], d.get("smooth", 5),
                            d.get("gates"))
    return decode(probs, tags, d["thresholds"], d["min_dur"], d["merge_gap"], d.get("smooth", 3))


DETECT_GRID = np.round(np.arange(0.2, 0.951, 0.05), 2)  # candidate detection thresholds of decode_spans
HOLD_GRID = (0.4, 0.6, 0.8, 1.0)                         # candidate hysteresis ratios


def choose_spans(probs: list[np.ndarray], truth: list[list[Interval]], tags, min_dur: float = 0.06,
                 merge_gap: float = 0.3, smooth: int = 5) -> dict:
    """``{"detect", "hold"}`` of :func:`decode_spans` maximising the mean event F1 over the tags with true
    events on these (validation) clips; ties go to the smaller detection threshold and the larger ratio."""
    tags = list(tags)
    true_rows = [r for i, evs in enumerate(truth) for r in events_rows(str(i), evs)]
    present = sorted({r["tag"] for r in true_rows} & set(tags))
    best, best_key = {"detect": 0.5, "hold": 0.5}, None
    for hold in HOLD_GRID:
        for det in DETECT_GRID:
            found = [r for i, p in enumerate(probs)
                     for r in events_rows(str(i), decode_spans(p, tags, float(det), hold, min_dur, merge_gap, smooth))]
            m = event_metrics(true_rows, found, present)
            key = (np.nan_to_num(m["macro_f1"], nan=0.0), -det, hold)
            if best_key is None or key > best_key:
                best, best_key = {"detect": float(det), "hold": float(hold)}, key
    return best


def _label_runs(lab: np.ndarray) -> list[tuple[int, int, int]]:
    if len(lab) == 0:
        return []
    cut = np.flatnonzero(np.diff(lab)) + 1
    starts = np.concatenate([[0], cut])
    ends = np.concatenate([cut, [len(lab)]])
    return [(int(lab[a]), int(a), int(b)) for a, b in zip(starts, ends)]


def events_rows(clip: str, evs: list[Interval]) -> list[dict]:
    return [{"clip": clip, "start": e.start, "end": e.end, "tag": e.label, "confidence": e.confidence} for e in evs]


def choose_thresholds(probs: list[np.ndarray], truth: list[list[Interval]], tags, min_dur: float = 0.06,
                      merge_gap: float = 0.1, rounds: int = 2, smooth: int = 3) -> dict:
    """Per-tag thresholds maximising each tag's event F1 on these (validation) clips, by coordinate ascent
    over a grid (0.10 … 0.95); a tag without true events keeps 0.5. Ties go to the threshold nearest 0.5."""
    tags = list(tags)
    thr = {t: 0.5 for t in tags}
    true_rows = [r for i, evs in enumerate(truth) for r in events_rows(str(i), evs)]
    present = {r["tag"] for r in true_rows}
    for _ in range(rounds):
        for tag in tags:
            if tag not in present:
                continue
            best, best_key = thr[tag], None
            for g in GRID:
                trial = {**thr, tag: float(g)}
                found = [r for i, p in enumerate(probs)
                         for r in events_rows(str(i), decode(p, tags, trial, min_dur, merge_gap, smooth))]
                f1 = event_metrics(true_rows, found, [tag])["per_class"][tag]["f1"]
                key = (np.nan_to_num(f1, nan=0.0), -abs(g - 0.5))
                if best_key is None or key > best_key:
                    best, best_key = float(g), key
            thr[tag] = best
    return thr


# ---- which detections were right, the confusion of categories, the reliability of confidences -----------------

def matched(truth, found, tags, collar: float = COLLAR) -> np.ndarray:
    """Boolean per ``found`` row: matched one-to-one to a true event of its clip and tag (onset within the
    collar), as :func:`event_metrics` counts it; detections of other tags are never matched.

    >>> t = [{"clip": "a", "start": 1.0, "end": 1.5, "tag": "x"}]
    >>> matched(t, [{**t[0], "start": 1.1}, {**t[0], "start": 1.15}, {**t[0], "tag": "y"}], ["x", "y"]).tolist()
    [True, False, False]
    """
    T, F = _rows(truth), _rows(found).reset_index(drop=True)
    out = np.zeros(len(F), dtype=bool)
    for tag in tags:
        for clip in set(T.loc[T["tag"] == tag, "clip"]) & set(F.loc[F["tag"] == tag, "clip"]):
            a = T[(T["tag"] == tag) & (T["clip"] == clip)]
            b = F[(F["tag"] == tag) & (F["clip"] == clip)]
            ok = np.abs(a["start"].to_numpy(float)[:, None] - b["start"].to_numpy(float)[None, :]) <= collar + 1e-9
            match_j = _matching(ok)
            out[b.index.to_numpy()[[j for j in range(ok.shape[1]) if match_j[j] >= 0]]] = True
    return out


def _overlapping_most(T: pd.DataFrame, F: pd.DataFrame) -> list[int | None]:
    """Per true row of ``T``: the index (in ``F``) of the detection of its clip that overlaps it most, or None."""
    out: list[int | None] = [None] * len(T)
    for clip, a in T.groupby("clip"):
        b = F[F["clip"] == clip]
        for k, r in zip(a.index, a.itertuples()):
            ov = np.minimum(b["end"].to_numpy(float), r.end) - np.maximum(b["start"].to_numpy(float), r.start)
            if len(ov) and ov.max() > 0:
                out[T.index.get_loc(k)] = b.index[int(np.argmax(ov))]
    return out


def confusion(truth, found, tags) -> pd.DataFrame:
    """Counts of true category (rows; ``none`` = a detection that overlaps no true event) against the category
    of the detection overlapping it most (columns; ``missed`` = no detection overlaps it). The diagonal over a
    row's total is the share of that category's events named right.

    >>> t = [{"clip": "a", "start": 0.0, "end": 1.0, "tag": "cough"}, {"clip": "a", "start": 3.0, "end": 4.0, "tag": "breath"}]
    >>> f = [{"clip": "a", "start": 0.2, "end": 0.9, "tag": "breath"}, {"clip": "a", "start": 6.0, "end": 6.5, "tag": "cough"}]
    >>> confusion(t, f, ["breath", "cough"]).loc[["breath", "cough", "none"], ["breath", "cough", "missed"]].values.tolist()
    [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    """
    T, F = _rows(truth).reset_index(drop=True), _rows(found).reset_index(drop=True)
    cols = list(tags) + ["missed"]
    m = pd.DataFrame(0, index=list(tags) + ["none"], columns=cols)
    used = np.zeros(len(F), dtype=bool)
    for r, j in zip(T.itertuples(), _overlapping_most(T, F)):
        if r.tag not in m.index:
            continue
        if j is None:
            m.loc[r.tag, "missed"] += 1
            continue
        used[j] = True
        m.loc[r.tag, F["tag"].iloc[j] if F["tag"].iloc[j] in tags else "missed"] += 1
    for r, u in zip(F.itertuples(), used):
        if not u and r.tag in tags:
            hit = T[(T["clip"] == r.clip) & (np.minimum(T["end"], r.end) > np.maximum(T["start"], r.start))] if len(T) else T
            if not len(hit):
                m.loc["none", r.tag] += 1
    return m


DURATION_EDGES = (0.0, 0.6, 1.0, 2.0, float("inf"))  # s: "short" ends at 0.6 s, about a single cough or a sniff


def by_duration(truth, found, tags, edges=DURATION_EDGES, collar: float = COLLAR) -> list[dict]:
    """Per tag and bin of the TRUE event's duration: ``{tag, lo, hi, n, found, named}`` (``hi`` None: open bin):
    how many true events, how many a detection of their tag matched (onset within the collar, one-to-one: event
    recall), and how many the detection overlapping them most named right (as :func:`confusion` counts).

    >>> t = [{"clip": "a", "start": 0.0, "end": 0.3, "tag": "x"}, {"clip": "a", "start": 2.0, "end": 4.0, "tag": "x"}]
    >>> f = [{"clip": "a", "start": 0.0, "end": 0.3, "tag": "y"}, {"clip": "a", "start": 2.1, "end": 4.0, "tag": "x"}]
    >>> rows = by_duration(t, f, ["x", "y"], edges=(0, 1, 9))
    >>> [(r["lo"], r["n"], r["found"], r["named"]) for r in rows if r["tag"] == "x"]
    [(0, 1, 0, 0), (1, 1, 1, 1)]
    """
    T, F = _rows(truth).reset_index(drop=True), _rows(found).reset_index(drop=True)
    # the matching is symmetric: with the roles swapped, matched() marks the true events a detection took
    hit = matched(found, truth, tags, collar) if len(T) else np.zeros(0, dtype=bool)
    most = _overlapping_most(T, F)
    named = np.array([j is not None and F["tag"].iloc[j] == t for j, t in zip(most, T["tag"])], dtype=bool)
    dur = T["end"].to_numpy(float) - T["start"].to_numpy(float)
    rows = []
    for tag in tags:
        for lo, hi in zip(edges[:-1], edges[1:]):
            sel = (T["tag"].to_numpy() == tag) & (dur >= lo) & (dur < hi)
            rows.append({"tag": tag, "lo": lo, "hi": None if np.isinf(hi) else hi, "n": int(sel.sum()),
                         "found": int(hit[sel].sum()), "named": int(named[sel].sum())})
    return rows


#: s: calibration maps apart for detections shorter / not shorter than this. Short sounds are named right far less
#: often at the same raw confidence (vocal-tiny.en out of fold: detections under 0.6 s stated 0.76 and were right 0.71,
#: short breaths 0.69 against 0.54), so one map for all durations leaves them over-confident.
CALIBRATION_SPLIT = DURATION_EDGES[1]
MIN_PER_MAP = 20  # detections a duration's own map needs (else it shares the pooled map)


def _isotonic_map(x: np.ndarray, y: np.ndarray, n_max: int) -> dict:
    from sklearn.isotonic import IsotonicRegression

    if len(x) < 2 or len(set(y)) < 2:
        return {"x": [0.0, 1.0], "y": [float(y.mean()) if len(y) else 0.5] * 2}
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, y)
    xs = np.unique(np.quantile(x, np.linspace(0, 1, n_max)))
    return {"x": [round(float(v), 4) for v in xs], "y": [round(float(v), 4) for v in iso.predict(xs)]}


def fit_calibration(confidence, correct, n_max: int = 24, durations=None, split: float | None = None) -> dict:
    """A monotone map from a detection's raw confidence to the share of such detections that were right:
    isotonic regression (scikit-learn), stored as at most ``n_max`` knots ``{"x": [...], "y": [...]}`` for
    :func:`calibrate`. With ``durations`` (s) and ``split``: two maps, ``{"split", "short", "long"}``, for
    detections shorter / not shorter than ``split`` (a side with fewer than ``MIN_PER_MAP`` detections or only
    one outcome gets the map of all of them).

    >>> c = fit_calibration([0.2, 0.4, 0.6, 0.8], [0, 0, 1, 1])
    >>> calibrate(c, [0.1, 0.9]).tolist()
    [0.0, 1.0]
    >>> right = [1] * 38 + [0] * 2 + [1, 0] * 20   # stated 0.9 throughout; the short half is right half the time
    >>> c2 = fit_calibration([0.9] * 80, right, durations=[2.0] * 40 + [0.3] * 40, split=0.6)
    >>> calibrate(c2, [0.9, 0.9], durations=[2.0, 0.3]).tolist()
    [0.95, 0.5]
    """
    x = np.asarray(confidence, dtype=np.float64)
    y = np.asarray(correct, dtype=np.float64)
    pooled = _isotonic_map(x, y, n_max)
    if split is None:
        return pooled
    short = np.asarray(durations, dtype=np.float64) < split
    maps = {}
    for name, side in (("short", short), ("long", ~short)):
        ok = side.sum() >= MIN_PER_MAP and len(set(y[side])) == 2
        maps[name] = _isotonic_map(x[side], y[side], n_max) if ok else pooled
    return {"split": float(split), **maps}


def calibrate(calibration: dict | None, confidence, durations=None) -> np.ndarray:
    """Calibrated confidence by the knots of :func:`fit_calibration` (linear between them); a map fitted per
    duration needs each detection's ``durations`` (s). Unchanged when ``calibration`` is None."""
    c = np.asarray(confidence, dtype=np.float64)
    if not calibration:
        return c
    if "split" not in calibration:
        return np.interp(c, calibration["x"], calibration["y"])
    if durations is None:
        raise ValueError("this calibration has a map per duration: pass the detections' durations")
    short = np.asarray(durations, dtype=np.float64) < calibration["split"]
    out = np.interp(c, calibration["long"]["x"], calibration["long"]["y"])
    out[short] = np.interp(c[short], calibration["short"]["x"], calibration["short"]["y"])
    return out


def reliability(confidence, correct, bins=(0.0, 0.5, 0.7, 0.8, 0.9, 1.0)) -> list[dict]:
    """Rows ``{lo, hi, n, confidence, precision}`` per confidence bin: mean stated confidence against the
    share right; with their gap weighted by ``n``, the expected calibration error (:func:`ece`).

    >>> reliability([0.95, 0.95, 0.6], [1, 0, 1], bins=(0, 0.8, 1))[1]["precision"]
    0.5
    """
    c, y = np.asarray(confidence, float), np.asarray(correct, float)
    rows = []
    for lo, hi in zip(bins[:-1], bins[1:]):
        sel = (c >= lo) & ((c < hi) if hi < bins[-1] else (c <= hi))
        rows.append({"lo": lo, "hi": hi, "n": int(sel.sum()),
                     "confidence": float(c[sel].mean()) if sel.any() else float("nan"),
                     "precision": float(y[sel].mean()) if sel.any() else float("nan")})
    return rows


def ece(rows: list[dict]) -> float:
    """Expected calibration error of :func:`reliability` rows: mean |confidence - precision| weighted by n."""
    n = sum(r["n"] for r in rows)
    return float(sum(r["n"] * abs(r["confidence"] - r["precision"]) for r in rows if r["n"]) / n) if n else float("nan")
