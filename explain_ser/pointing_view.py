"""The pointing game's figure: mass on the cue and top-frame hits per method, with CIs (drawing only)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["pointing_figure"]


def pointing_figure(result: dict, table: pd.DataFrame):
    """Two bar panels (mass inside the cue, top frame inside) per method, chance dashed; a matplotlib Figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(max(6.0, 1.1 * len(table) + 3), 3.6), sharey=True)
    xs = np.arange(len(table))
    for ax, col, title in ((axes[0], "mass", "mass inside the cue"), (axes[1], "hit", "top frame inside the cue")):
        v = table[col].to_numpy()
        err = np.stack([v - table[f"{col}_lo"].to_numpy(), table[f"{col}_hi"].to_numpy() - v])
        ax.bar(xs, v, yerr=np.nan_to_num(err), capsize=3, color="#3b7dd8")
        ax.axhline(float(table["chance"].mean()), color="k", ls="--", lw=1, label="uniform map (chance mass)")
        ax.set_xticks(xs, table["method"], rotation=45, ha="right")
        ax.set_ylim(0, 1.05)
        ax.set_title(title)
    axes[0].legend(loc="upper right", fontsize=8)
    det = result["detection"]["all"]["accuracy"]
    fig.suptitle(f"pointing game, held-out speakers (detection {100 * det:.1f} %; 95 % speaker-bootstrap CIs)",
                 fontsize=10)
    return fig
