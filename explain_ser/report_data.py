"""What a report is, apart from computing or drawing it: :class:`ReportData` (tables, facts, findings, notes),
:class:`Report` (what was written), the shared constants, the atomic table writers and the versions recorded.

:mod:`explain_ser.report` computes a :class:`ReportData`; :mod:`explain_ser.report_html` draws and writes it.
Both import this module, neither imports the other's internals.

>>> d = ReportData({}, facts={}); d.note("coverage", "thin"); d.notes
{'coverage': ['thin']}
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from explain_ser import stats
from explain_ser.atomic import temporary_beside

DEFAULT_N_BOOT = stats.DEFAULT_N_BOOT  # one bootstrap default for every statistic
DEFAULT_N_PERM = 1000
# A cluster bootstrap over one speaker draws that speaker every time: the "interval" is the mean
# itself. Below MIN_CLUSTERS the intervals resample clips instead (and say so).
MIN_CLUSTERS = 2
# n speakers give only C(2n-1, n) distinct resamples (3 -> 10, 4 -> 35): below this the interval is
# coarse and the report says how coarse.
FEW_CLUSTERS = 5
TOP_FINDINGS = 3  # enriched categories named in the key findings
Q_LEVEL = 0.05


# ---------------------------------------------------------------------------------------------
# atomic file writing (tables and text of a report)


def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; on success move it onto ``path`` (``os.replace``)."""
    return temporary_beside(path, suffix=".tmp" + Path(path).suffix)


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_table(df: pd.DataFrame, stem: str | os.PathLike, parquet: bool = True) -> list[Path]:
    """Write ``stem.csv`` (and ``stem.parquet``) atomically; object columns that Parquet cannot hold are
    stored as strings there. Returns the paths written."""
    stem = Path(stem)
    out = []
    with atomic_path(stem.with_suffix(".csv")) as tmp:
        df.to_csv(tmp, index=False)
    out.append(stem.with_suffix(".csv"))
    if parquet:
        with atomic_path(stem.with_suffix(".parquet")) as tmp:
            try:
                df.to_parquet(tmp, index=False)
            except Exception:  # mixed-type object columns (lists, dicts): store their text
                obj = {c: df[c].map(lambda v: None if v is None else str(v)) for c in df.columns
                       if df[c].dtype == object}
                df.assign(**obj).to_parquet(tmp, index=False)
        out.append(stem.with_suffix(".parquet"))
    return out


# ---------------------------------------------------------------------------------------------
# what a report is


@dataclass
class ReportData:
    """Everything a report shows, computed; nothing written.

    ``tables``: name -> table, in page order (the renderer writes each as ``tables/<name>.csv``).
    ``facts``: provenance and counts (``seed, n_boot, n_perm, ci, resample, n_clips, n_frames,
    n_speakers, weight_columns, classes_present, absent_classes``). ``findings``: the headline
    numbers (:func:`key_findings`). ``notes``: section -> sentences saying where a statistic is
    degenerate or what was left out (sections: ``statistics``, ``classification``, ``coverage``).
    """

    tables: dict[str, pd.DataFrame]
    facts: dict
    findings: dict = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def note(self, section: str, text: str) -> None:
        self.notes.setdefault(section, []).append(text)


@dataclass
class Report:
    """What :func:`write_report` / :func:`explain_ser.report_html.render_report` wrote, and the tables."""

    out_dir: Path
    html: Path
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    data: ReportData | None = None


def confusion_for_display(confusion: pd.DataFrame) -> pd.DataFrame:
    """The confusion matrix a reader is shown: rows of classes no clip has are dropped (they have no
    row percentages), columns kept where any clip was predicted as that class (errors stay visible).

    >>> c = pd.DataFrame([[2, 0, 1], [0, 0, 0], [0, 0, 3]], index=list("abc"), columns=list("abc"))
    >>> d = confusion_for_display(c); list(d.index), list(d.columns)
    (['a', 'c'], ['a', 'c'])
    """
    present = confusion.sum(axis=1) > 0
    keep_cols = [c for c in confusion.columns if c in set(confusion.index[present]) or confusion[c].sum() > 0]
    return confusion.loc[present, keep_cols]


def versions() -> dict[str, str]:
    """Versions recorded in a report's provenance (read from the installed distributions: nothing is imported).

    >>> sorted(versions())[:3]
    ['explain_ser', 'matplotlib', 'numpy']
    """
    from importlib.metadata import PackageNotFoundError, version

    from explain_ser import __version__

    out = {"explain_ser": __version__, "python": platform.python_version()}
    for dist in ("numpy", "scipy", "pandas", "matplotlib", "plotly"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out
