"""Small HTML pieces shared by the report page (:mod:`explain_ser.report_html`) and the timeline page
(:mod:`explain_ser.timeline_view`): escaping, numbers, folded tables, model-card values.

>>> escape("<b>"), num(0.123456), pct(0.5)
('&lt;b&gt;', '0.123', '50.0 %')
>>> "<details>" in table_html(pd.DataFrame({"a": range(20)}))
True
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np
import pandas as pd

FOLD_ROWS = 15  # a table longer than this is folded behind <details>
MAX_ROWS = 60  # ... and cut here in the page (every row is in the CSV)
MAX_LIST = 24  # items of a list shown in the model card before "... (n in all)"


def escape(x) -> str:
    return html.escape(str(x))


def num(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    return f"{v:.{digits}g}" if isinstance(v, float) else str(v)


def pct(v) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{100 * v:.1f} %"


def fold(inner: str, summary: str, n_rows: int) -> str:
    """Long content behind <details>, so the page reads top to bottom without scrolling past it."""
    if n_rows <= FOLD_ROWS:
        return inner
    return f"<details><summary>{escape(summary)} ({n_rows} rows)</summary>{inner}</details>"


def table_html(df: pd.DataFrame, summary: str = "table", max_rows: int = MAX_ROWS) -> str:
    """A table, folded when longer than :data:`FOLD_ROWS`, cut at ``max_rows`` (all rows are in the CSV)."""
    d = df.head(max_rows)
    txt = d.to_html(index=False, classes="data", border=0, float_format=lambda v: f"{v:.3g}", na_rep="",
                    escape=True)
    more = f'<p class="note">first {max_rows} of {len(df)} rows; all in the CSV.</p>' if len(df) > max_rows else ""
    return fold(txt + more, summary, len(df))


def caveats(notes) -> str:
    return "".join(f"<p class='caveat'>{escape(n)}</p>" for n in notes or ())


def value_html(v) -> str:
    """A model-card value as HTML: scalars as text, lists joined, dicts and lists of dicts as tables
    (never as JSON: a reader should not have to parse braces)."""
    if v is None:
        return "–"
    if isinstance(v, float):
        return escape(num(v, 4))
    if isinstance(v, Mapping):
        return kv_html(v) if v else "–"
    if isinstance(v, (list, tuple)):
        if not v:
            return "–"
        if all(isinstance(x, Mapping) for x in v):
            cols = list(dict.fromkeys(k for x in v for k in x))
            head = "".join(f"<th>{escape(c)}</th>" for c in cols)
            rows = "".join("<tr>" + "".join(f"<td>{value_html(x.get(c))}</td>" for c in cols) + "</tr>" for x in v)
            return f"<table class='data'><tr>{head}</tr>{rows}</table>"
        items = [value_html(x) for x in v[:MAX_LIST]]
        return ", ".join(items) + (f" … ({len(v)} in all)" if len(v) > MAX_LIST else "")
    return escape(v)


def kv_html(d: Mapping) -> str:
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{value_html(v)}</td></tr>" for k, v in d.items())
    return f'<table class="data kv">{rows}</table>' if rows else '<p class="note">not given</p>'
