"""The project's one JSON encoder: NumPy and pandas values as JSON values, strict JSON (no NaN).

Every JSON file explain-ser writes (summaries, checkpoint configs, robustness records, timeline summaries,
report provenance, per-clip worker records) goes through :func:`dumps`, so they read alike: NumPy
integers and floats become numbers, arrays lists, NaN and infinities ``null`` (strict JSON has no NaN),
paths and other objects their text — or, with ``strict=True`` (checkpoint configs), a ``TypeError``.

>>> import numpy as np
>>> dumps({"k": np.int64(3), "x": np.float32(0.5), "nan": float("nan"), "a": np.arange(2)}, indent=None)
'{"k": 3, "x": 0.5, "nan": null, "a": [0, 1]}'
>>> dumps({"p": object()}, strict=True)
Traceback (most recent call last):
...
TypeError: not JSON-serialisable: object
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

__all__ = ["jsonable", "dumps"]


def jsonable(o, strict: bool = False):
    """``o`` as plain JSON values (dicts, lists, str, int, float, bool, None); NaN/inf -> None."""
    if isinstance(o, dict):
        return {str(k) if not isinstance(k, (str, int, float, bool)) and k is not None else k: jsonable(v, strict)
                for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v, strict) for v in o]
    if isinstance(o, np.ndarray):
        return jsonable(o.tolist(), strict)
    if isinstance(o, np.generic):
        o = o.item()
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if o is None or isinstance(o, (str, int, bool)):
        return o
    if hasattr(o, "item") and callable(o.item) and not isinstance(o, (bytes, bytearray)):  # pandas NA-like scalars
        try:
            return jsonable(o.item(), strict)
        except (TypeError, ValueError):
            pass
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    if strict:
        raise TypeError(f"not JSON-serialisable: {type(o).__name__}")
    try:  # pandas.NA, NaT
        import pandas as pd

        if pd.isna(o):
            return None
    except (TypeError, ValueError):
        pass
    return str(o)


def dumps(obj, indent: int | None = 2, strict: bool = False) -> str:
    """``obj`` as strict JSON text (see :func:`jsonable`)."""
    return json.dumps(jsonable(obj, strict), indent=indent, allow_nan=False)
