"""Files and figure of a robustness run (:mod:`explain_ser.robustness` computes, this module draws and writes).

>>> import pandas as pd
>>> t = pd.DataFrame({"condition": ["none", "gain:-20"], "ua": [.8, .7], "ua_lo": [.7, .6], "ua_hi": [.9, .8],
...                   "rho_mean": [1.0, .9], "rho_mean_lo": [1.0, .8], "rho_mean_hi": [1.0, .95]})
>>> len(figure(t).axes)
2
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .robustness import RobustnessResult

__all__ = ["figure", "write_outputs"]


def figure(table: pd.DataFrame, title: str = ""):
    """UA with its CI per condition (clean as a line), and the attention rank correlation."""
    from .figure_style import new_figure

    t = table.iloc[::-1]
    y = np.arange(len(t))
    fig = new_figure(10, 0.32 * len(t) + 1.6)  # no pyplot: nothing global to close
    a1, a2 = fig.subplots(1, 2, sharey=True)
    ua = 100 * t["ua"].to_numpy()
    a1.errorbar(ua, y, xerr=[ua - 100 * t["ua_lo"], 100 * t["ua_hi"] - ua], fmt="o", color="C0", capsize=2)
    a1.axvline(100 * table["ua"].iloc[0], color="0.5", ls="--", lw=1, label="clean")
    a1.set_yticks(y, t["condition"])
    a1.set_xlabel("UA (%), 95 % speaker-bootstrap CI")
    a1.legend(loc="lower left", fontsize=8)
    r = t["rho_mean"].to_numpy()
    a2.errorbar(r, y, xerr=[r - t["rho_mean_lo"], t["rho_mean_hi"] - r], fmt="s", color="C1", capsize=2)
    a2.set_xlabel("Spearman rho, clean vs perturbed attention (mean map)")
    a2.set_xlim(min(-0.05, float(np.nanmin(t["rho_mean_lo"])) - 0.05) if np.isfinite(t["rho_mean_lo"]).any() else -0.05,
                1.05)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def write_outputs(res: RobustnessResult, out_dir) -> dict[str, Path]:
    """``robustness.csv`` (table), ``robustness.json`` (record), ``predictions.csv`` (per clip and condition,
    the out-of-fold format plus ``condition`` and ``rho_*``), ``robustness.png``; each written atomically."""
    from .atomic import write_path, write_text
    from .jsonio import dumps
    from .figure_style import save_figure

    out = Path(out_dir)
    paths = {"table": out / "robustness.csv", "json": out / "robustness.json", "predictions": out / "predictions.csv",
             "figure": out / "robustness.png"}
    write_path(paths["table"], lambda tmp: res.table.to_csv(tmp, index=False), suffix=".csv")
    write_path(paths["predictions"], lambda tmp: res.predictions.to_csv(tmp, index=False), suffix=".csv")
    write_text(paths["json"], dumps(res.record) + "\n")
    name = res.record.get("checkpoint") or res.record.get("cv_run") or ""
    fig = figure(res.table, f"{name}: {res.record['n_clips']} clips, {res.record['n_speakers']} speakers")
    write_path(paths["figure"], lambda tmp: save_figure(fig, tmp), suffix=".png")
    return paths
