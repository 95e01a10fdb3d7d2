"""The events table a vocalization tagger is trained and scored on.

**Events table** (:func:`read_events`): a CSV with ``path, start, end, tag`` (seconds; one row per event;
paths relative to the table's folder). A row with an empty tag (and empty times) lists a clip with no
events: negatives. Optional ``speaker`` or ``source`` columns group clips for cross-validation (speaker
first; else source; else each clip is its own group). Any tag set works.

The table may carry more columns; planted tables (:mod:`explain_ser.vocal_corpus`) say per event whether the
sound was ``real`` or ``synthetic`` (``kind``) and whose recording it was (``sound_person``, ``attribution``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .align.base import Interval
from .errors import InputError

__all__ = ["Events", "read_events", "NONE"]

NONE = "none"


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
