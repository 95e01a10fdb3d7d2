"""What explain-ser knows about one clip under one model: :class:`Attribution`, its summary and its files.

:func:`explain_ser.pipeline.explain_clip` makes an Attribution; this module only holds it, summarises it
(:func:`summarize`, :func:`top_segments`) and writes it (:meth:`Attribution.save`, atomically).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic import safe_stem, write_path, write_text  # noqa: F401  (safe_stem re-exported)
from .audio import Clip
from .jsonio import dumps

TOP_FRACTION = 0.15  # frames ranked by attention that make up the "top attended" set


@dataclass
class Attribution:
    """Everything explain-ser knows about one clip under one model."""

    clip: Clip
    labels: list[str]
    probabilities: np.ndarray
    attention: dict[str, np.ndarray]
    attributions: dict[str, np.ndarray]
    frames: "object"  # pandas DataFrame, one row per encoder frame
    summary: dict
    alignment: "object | None" = None
    prosody: "object | None" = None
    mel: np.ndarray | None = None
    deep: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    span: tuple[int, int] | None = None  # frames [first, last) of the clip the model saw (None: all)
    deletion: "object | None" = None  # deletion/insertion curves (pandas), when asked for

    @property
    def predicted(self) -> str:
        return self.labels[int(np.argmax(self.probabilities))]

    def figure(self):
        """The static panel as a matplotlib Figure: short for :func:`explain_ser.plots.clip_panel_figure`
        (kept for notebooks; the one import of a view from here, named in the layering contract)."""
        from .plots import clip_panel_figure

        return clip_panel_figure(self)

    def save(self, out_dir: str | os.PathLike, fmt: str = "csv") -> dict[str, Path]:
        """Write ``<clip>.frames.<fmt>``, ``<clip>.summary.json``, ``<clip>.attention.npz`` and the TextGrid
        atomically (the figure is a view: :func:`explain_ser.plots.save_clip_panel`)."""
        from .frames import save_frame_table

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stem = safe_stem(self.clip.clip_id or "clip")
        written: dict[str, Path] = {}
        ext = {"csv": "csv", "parquet": "parquet", "json": "json"}[fmt]
        table_path = out / f"{stem}.frames.{ext}"
        if fmt == "json":
            write_text(table_path, self.frames.to_json(orient="records", indent=None))
        else:
            save_frame_table(self.frames, table_path)
        written["frames"] = table_path
        summary_path = out / f"{stem}.summary.json"
        write_text(summary_path, dumps(self.summary) + "\n")
        written["summary"] = summary_path
        np_path = out / f"{stem}.attention.npz"
        arrays = {**{f"att_{k}": v for k, v in self.attention.items()},
                  **{f"attr_{k}": v for k, v in self.attributions.items()}, "probabilities": self.probabilities}
        write_path(np_path, lambda tmp: np.savez(tmp, **arrays), suffix=".npz")
        written["arrays"] = np_path
        if self.alignment is not None and (self.alignment.words or self.alignment.phones):
            tg = out / f"{stem}.TextGrid"
            from .align.textgrid import write_alignment

            write_path(tg, lambda tmp: write_alignment(self.alignment, tmp), suffix=".TextGrid")
            written["textgrid"] = tg
        return written


def top_segments(frames, column: str = "att_mean", top_fraction: float = TOP_FRACTION, n: int = 5,
                 max_gap: int = 1) -> list[dict]:
    """Contiguous stretches of the top-``top_fraction`` frames by ``column``, ranked by their mass.

    Frames within ``max_gap`` frames of each other are merged. Each segment lists its
    time span, share of the attention mass, and the words / phones / vocalizations under it.

    >>> import pandas as pd
    >>> f = pd.DataFrame({"frame": range(10), "start": [i * .02 for i in range(10)], "end": [(i + 1) * .02 for i in range(10)],
    ...                   "att_mean": [0, 0, .3, .3, 0, 0, 0, .4, 0, 0]})
    >>> [(s["first_frame"], s["last_frame"], round(s["mass"], 2)) for s in top_segments(f, top_fraction=0.3)]
    [(2, 3, 0.6), (7, 7, 0.4)]
    """
    w = frames[column].to_numpy(dtype=np.float64)
    T = len(w)
    k = max(1, int(np.ceil(top_fraction * T)))
    top = np.sort(np.argsort(-w, kind="stable")[:k])
    segs: list[list[int]] = []
    for i in top:
        if segs and i - segs[-1][-1] <= max_gap + 1:
            segs[-1].append(int(i))
        else:
            segs.append([int(i)])
    total = w.sum() or 1.0
    out = []
    for s in segs:
        lo, hi = s[0], s[-1]
        rows = frames.iloc[lo : hi + 1]
        seg = {"first_frame": lo, "last_frame": hi, "start": float(rows["start"].iloc[0]),
               "end": float(rows["end"].iloc[-1]), "mass": float(w[lo : hi + 1].sum() / total)}
        for col, key in (("word", "words"), ("phone", "phones"), ("vocalization", "vocalizations")):
            if col in rows:
                vals = [v for v in rows[col].tolist() if isinstance(v, str) and v]
                seg[key] = list(dict.fromkeys(vals))
        out.append(seg)
    out.sort(key=lambda s: -s["mass"])
    return out[:n]


def summarize(res: Attribution, checkpoint: str = "", config: dict | None = None) -> dict:
    """The JSON summary of one attribution: prediction, concentration per head, top segments."""
    from .coverage import BOUNDARY_FRACTION, boundary_mass, concentration

    # concentration over the frames the model saw: trimmed silence holds no attention by construction and
    # would otherwise make every head look more concentrated than it is
    first, last = res.span or (0, res.clip.n_frames)
    conc, edges = {}, {}
    for head, w in res.attention.items():
        seen = np.asarray(w)[first:last]
        c = concentration(seen[None])
        conc[head] = {k: float(np.asarray(v).ravel()[0]) for k, v in c.items()}
        edges[head] = boundary_mass(seen, BOUNDARY_FRACTION)
    clip_notes = list(getattr(res.clip, "notes", []) or [])
    declared = getattr(res.clip, "declared_duration", None)
    out = {
        "clip": res.clip.path or res.clip.clip_id,
        "clip_id": res.clip.clip_id,
        "duration_s": round(res.clip.duration, 4),
        "n_frames": int(res.clip.n_frames),
        "checkpoint": checkpoint,
        "encoder": (config or {}).get("encoder", {}),
        "pooler": (config or {}).get("model", {}).get("pooler"),
        "taps": (config or {}).get("model", {}).get("taps"),
        "predicted": res.predicted,
        "probabilities": {l: float(p) for l, p in zip(res.labels, res.probabilities)},
        "concentration": conc,
        "frames_for_80pct": {h: c["k@0.8"] for h, c in conc.items()},
        # issue 28: a head that puts its mass on where the input starts or stops explains by position
        "boundary": {"fraction": BOUNDARY_FRACTION,
                     "uniform": next(iter(edges.values()))["uniform"] if edges else None,
                     "heads": {h: {"first": e["first"], "last": e["last"]} for h, e in edges.items()}},
        "top_segments": top_segments(res.frames),
        "attribution_info": {k: v for k, v in res.info.items() if k not in ("language", "input")},
        "alignment": None if res.alignment is None else {
            "backend": res.alignment.backend, "transcript": res.alignment.transcript,
            "notes": list(res.alignment.notes)},
    }
    if res.info.get("language"):
        out["language"] = res.info["language"]
    if res.info.get("input", {}).get("rule", "as recorded") != "as recorded":
        out["model_input"] = res.info["input"]
    if declared is not None:
        out["declared_duration_s"] = round(float(declared), 4)
        out["truncated"] = bool(getattr(res.clip, "truncated", False))
    if clip_notes:
        out["audio_notes"] = clip_notes
    return out
