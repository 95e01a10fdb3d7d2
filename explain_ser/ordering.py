"""Natural order of labels, heads and speakers: ``h2`` before ``h10``, ``spk9`` before ``spk10``.

>>> sorted(["h10", "h2", "mean"], key=natural_key)
['h2', 'h10', 'mean']
"""

from __future__ import annotations

import re

__all__ = ["natural_key"]


def natural_key(s) -> list:
    """Sort key that compares the digit runs of ``str(s)`` as numbers."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(s))]
