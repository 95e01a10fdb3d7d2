"""The FrameTable: one row per 20 ms Whisper encoder frame of one clip, everything joined.

Columns, in order (those whose source was not given are left out, except the
label columns, which are always there so that tables concatenate):

=================  ==========================================================
``clip_id``        the clip
``frame``          encoder frame index ``i``; covers ``[start, end)``
``start``, ``end`` seconds, from :func:`explain_ser.timegrid.frame_bounds`
``att_<head>``     attention weight of each head; ``att_mean`` their mean
``attr_<method>``  attribution score per method (captum, gradients ...)
``language``       the clip's language as decided (:mod:`explain_ser.language`; the same on every row of a
                   clip, an utterance's own in a timeline); ``language_source`` how (option, manifest,
                   identified, checkpoint, default); ``language_p`` Whisper's probability when identified
``word``           the word over the frame (``""`` in pauses); ``word_index`` its position
``phone``          the phone label as the aligner wrote it (ARPAbet with stress or IPA)
``phone_class``    :func:`explain_ser.align.phones.phone_class`; ``"silence"`` in pauses
``stress``         lexical stress of a vowel (0/1/2), ``<NA>`` otherwise
``vocalization``   non-linguistic tag over the frame (laugh, breath, [laughter] ...) or ``""``
``vocalization_conf`` its confidence (1.0 for transcript tokens)
``f0`` ...         prosody: f0, voiced, intensity, hnr, jitter, shimmer (see :mod:`explain_ser.prosody`)
=================  ==========================================================

**Frames that straddle a boundary** take the unit that covers the largest part of the
frame; the uncovered part (a pause) competes as "no unit", so a frame that is 12 ms
pause and 8 ms word gets ``word == ""``. Ties go to the earlier unit, and a unit
beats a pause of equal length (10 ms word + 10 ms pause -> the word).

>>> import numpy as np
>>> from explain_ser.align.base import Alignment, Interval
>>> al = Alignment([Interval(0.012, 0.05, "hi")], [Interval(0.012, 0.03, "HH"), Interval(0.03, 0.05, "AY1")],
...                duration=0.08)
>>> t = build_frame_table("c1", 4, attention={"h0": np.array([.1, .6, .2, .1])}, alignment=al)
>>> t.word.tolist(), t.phone.tolist(), t.phone_class.tolist()
(['', 'hi', 'hi', ''], ['', 'HH', 'AY1', ''], ['silence', 'fricative', 'vowel', 'silence'])
>>> t.stress.tolist(), t.att_mean.tolist()
([<NA>, <NA>, 1, <NA>], [0.1, 0.6, 0.2, 0.1])
>>> t = build_frame_table("c1", 2, language={"language": "de", "source": "identified", "probability": 0.93})
>>> t[["language", "language_source", "language_p"]].values.tolist()
[['de', 'identified', 0.93], ['de', 'identified', 0.93]]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from explain_ser.timegrid import frame_bounds

PROSODY_COLUMNS = ("f0", "voiced", "intensity", "hnr", "jitter", "shimmer")
LANGUAGE_COLUMNS = ("language", "language_source", "language_p")


def assign_units(intervals, n_frames: int) -> np.ndarray:
    """Index of the interval covering most of each frame, -1 where a pause covers more.

    ``intervals`` are non-overlapping objects with ``start``/``end`` in seconds.

    >>> from explain_ser.align.base import Interval
    >>> assign_units([Interval(0.0, 0.012, "a"), Interval(0.012, 0.048, "b")], 3).tolist()
    [0, 1, -1]
    """
    start, end = frame_bounds(n_frames)
    best = np.full(n_frames, -1, dtype=np.int64)
    best_ov = np.zeros(n_frames)
    covered = np.zeros(n_frames)
    if n_frames == 0:
        return best
    for k, iv in enumerate(intervals):
        lo = max(0, int(np.searchsorted(end, iv.start, side="right")))
        hi = min(n_frames, int(np.searchsorted(start, iv.end, side="left")))
        if hi <= lo:
            continue
        ov = np.minimum(end[lo:hi], iv.end) - np.maximum(start[lo:hi], iv.start)
        ov = np.clip(ov, 0, None)
        covered[lo:hi] += ov
        win = ov > best_ov[lo:hi] + 1e-9  # strictly more: ties stay with the earlier unit
        best[lo:hi][win] = k
        best_ov[lo:hi][win] = ov[win]
    pause = (end - start) - covered
    best[pause > best_ov + 1e-9] = -1
    return best


def _labels(intervals, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    idx = assign_units(intervals, n_frames)
    labels = np.array([iv.label for iv in intervals] + [""], dtype=object)
    return labels[idx], idx  # idx -1 picks the trailing ""


def build_frame_table(clip_id: str, n_frames: int, attention=None, attributions=None,
                      alignment=None, prosody=None, language: dict | None = None):
    """Join attention, attributions, alignment and prosody onto the encoder-frame grid.

    ``attention``: ``{head_name: [n_frames]}`` or an array ``[heads, n_frames]`` (heads named
    ``h0, h1, ...``). ``attributions``: ``{method: [n_frames]}``. ``alignment``: an
    :class:`explain_ser.align.base.Alignment`. ``prosody``: an
    :class:`explain_ser.prosody.Prosody` or a DataFrame with ``n_frames`` rows. ``language``: the
    clip's language decision as the summary holds it (``{"language", "source"[, "probability"]}``,
    :meth:`explain_ser.language.LanguageDecision.as_dict`); without it there are no language columns.
    Every per-frame array must have exactly ``n_frames`` values.
    """
    import pandas as pd

    from explain_ser.align.phones import phone_class, stress_of

    n = int(n_frames)
    start, end = frame_bounds(n)
    cols: dict[str, object] = {"clip_id": np.full(n, str(clip_id), dtype=object),
                               "frame": np.arange(n, dtype=np.int64), "start": start, "end": end}

    def per_frame(name, values):
        v = np.asarray(values, dtype=np.float64)
        if v.shape != (n,):
            raise ValueError(f"{name}: expected {n} frame values, got shape {v.shape}")
        return v

    if attention is not None:
        if not isinstance(attention, dict):
            arr = np.asarray(attention)
            arr = arr[None] if arr.ndim == 1 else arr
            attention = {f"h{i}": a for i, a in enumerate(arr)}
        heads = [per_frame(f"attention {h}", a) for h, a in attention.items()]
        for h, a in zip(attention, heads):
            cols[f"att_{h}"] = a
        cols["att_mean"] = np.mean(heads, axis=0) if heads else np.zeros(n)
    for method, a in (attributions or {}).items():
        cols[f"attr_{method}"] = per_frame(f"attribution {method}", a)

    words = phones = vocals = []
    if alignment is not None:
        words, phones, vocals = alignment.words, alignment.phones, alignment.vocalizations
    cols["word"], widx = _labels(words, n)
    cols["word_index"] = widx
    cols["phone"], _ = _labels(phones, n)
    cols["phone_class"] = np.array([phone_class(p) for p in cols["phone"]], dtype=object)
    cols["stress"] = pd.array([stress_of(p) if p else None for p in cols["phone"]], dtype="Int8")
    cols["vocalization"], vidx = _labels(vocals, n)
    conf = np.array([getattr(v, "confidence", None) for v in vocals] + [np.nan], dtype=float)
    conf = np.where(np.isnan(conf), 1.0, conf)  # transcript tokens: certain
    conf[-1] = np.nan
    cols["vocalization_conf"] = conf[vidx]

    if prosody is not None:
        pf = prosody.to_frame() if hasattr(prosody, "to_frame") else prosody
        if len(pf) != n:
            raise ValueError(f"prosody: expected {n} frames, got {len(pf)}")
        for c in PROSODY_COLUMNS:
            if c in pf:
                cols[c] = np.asarray(pf[c], dtype=np.float64)
    table = pd.DataFrame(cols)
    for c in ("word", "phone", "phone_class", "vocalization", "clip_id"):
        table[c] = table[c].astype(str)
    return with_language(table, language)


def with_language(table, language: dict | None):
    """``table`` with the language columns (:data:`LANGUAGE_COLUMNS`, before ``word``) set from a language
    decision (``{"language", "source"[, "probability"]}``); unchanged when ``language`` is None.

    >>> import pandas as pd
    >>> list(with_language(pd.DataFrame({"frame": [0], "word": ["a"]}), {"language": "en", "source": "option"}).columns)
    ['frame', 'language', 'language_source', 'language_p', 'word']
    """
    if not language:
        return table
    p = language.get("probability")
    values = {"language": str(language.get("language") or ""), "language_source": str(language.get("source") or ""),
              "language_p": np.nan if p is None else float(p)}
    table = table.drop(columns=[c for c in LANGUAGE_COLUMNS if c in table.columns])
    at = list(table.columns).index("word") if "word" in table.columns else len(table.columns)
    for k, c in enumerate(LANGUAGE_COLUMNS):
        table.insert(at + k, c, values[c])
    return table


def save_frame_table(table, path) -> Path:
    """Write a FrameTable as Parquet (``.parquet``) or CSV (anything else), atomically."""
    from explain_ser.atomic import write_path

    path = Path(path)
    if path.suffix == ".parquet":
        return write_path(path, lambda tmp: table.to_parquet(tmp, index=False))
    return write_path(path, lambda tmp: table.to_csv(tmp, index=False))


def load_frame_table(path):
    """Read a FrameTable written by :func:`save_frame_table`."""
    import pandas as pd

    path = Path(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    table = pd.read_csv(path, keep_default_na=False, na_values={c: [""] for c in ()})
    for c in ("word", "phone", "phone_class", "vocalization", "clip_id", "language", "language_source"):
        if c in table:
            table[c] = table[c].astype(str)
    if "stress" in table:
        table["stress"] = pd.to_numeric(table["stress"].replace("", None)).astype("Int8")
    for c in table.columns:
        if c.startswith(("att_", "attr_")) or c in PROSODY_COLUMNS or c in ("vocalization_conf", "start", "end", "language_p"):
            table[c] = pd.to_numeric(table[c].replace("", np.nan))
    return table
