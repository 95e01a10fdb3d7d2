"""The library API behind ``explain-ser attribute``, the explorer and the figure scripts.

>>> ex = Explainer("ravdess-tiny.en")                       # doctest: +SKIP
>>> res = ex.attribute("examples/laugh_breath.wav")         # doctest: +SKIP
>>> res.predicted, res.frames.shape[0] == res.clip.n_frames  # doctest: +SKIP
('happy', True)

One :class:`Explainer` holds the frozen encoder, the checkpoint's model and the feature
cache; :meth:`Explainer.attribute` runs, for one clip: features (cached) -> prediction and
attention -> captum attributions -> alignment (words, phones, vocalizations) -> prosody ->
the FrameTable and a summary. :func:`attribute` is the one-call form.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic import write_path, write_text
from .audio import Clip, load_audio
from .errors import InputError

DEFAULT_CHECKPOINT = "ravdess-tiny.en"
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

    @property
    def predicted(self) -> str:
        return self.labels[int(np.argmax(self.probabilities))]

    def figure(self):
        """The static panel (waveform, log-mel + attention, attributions, tiers, F0) as a matplotlib Figure."""
        from .plots import clip_panel_figure

        return clip_panel_figure(self)

    def save(self, out_dir: str | os.PathLike, fmt: str = "csv", plot: bool = False) -> dict[str, Path]:
        """Write ``<clip>.frames.<fmt>``, ``<clip>.summary.json`` (and ``<clip>.png``, TextGrid) atomically."""
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
        write_text(summary_path, json.dumps(self.summary, indent=2, default=_json_default) + "\n")
        written["summary"] = summary_path
        np_path = out / f"{stem}.attention.npz"
        arrays = {**{f"att_{k}": v for k, v in self.attention.items()},
                  **{f"attr_{k}": v for k, v in self.attributions.items()}, "probabilities": self.probabilities}
        write_path(np_path, lambda tmp: np.savez(tmp, **arrays), suffix=".npz")
        written["arrays"] = np_path
        if self.alignment is not None and (self.alignment.words or self.alignment.phones):
            tg = out / f"{stem}.TextGrid"
            write_path(tg, self.alignment.to_textgrid, suffix=".TextGrid")
            written["textgrid"] = tg
        if plot:
            from .plots import save_figure

            png = out / f"{stem}.png"
            fig = self.figure()
            save_figure(fig, png)
            import matplotlib.pyplot as plt

            plt.close(fig)
            written["plot"] = png
        return written


def safe_stem(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name)) or "clip"


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


class Explainer:
    """A loaded model ready to explain clips (encoder + checkpoint + feature cache)."""

    def __init__(self, checkpoint: str | os.PathLike = DEFAULT_CHECKPOINT, encoder=None, store=None,
                 cache: bool = True):
        from .encoder import Encoder
        from .features import FeatureStore
        from .model import load_checkpoint, resolve_checkpoint

        cfg = json.loads((resolve_checkpoint(checkpoint) / "config.json").read_text())
        enc_cfg = cfg["encoder"]
        if encoder is None:
            encoder = Encoder(enc_cfg["source"], window=enc_cfg.get("window", "trim"))
        self.encoder = encoder
        self.model = load_checkpoint(checkpoint, encoder=encoder).eval()
        self.checkpoint = str(checkpoint)
        self.checkpoint_config = cfg
        self.store = (store or FeatureStore()) if cache else None

    @property
    def labels(self) -> list[str]:
        return list(self.model.labels)

    @property
    def head_names(self) -> list[str]:
        return list(self.model.head_names)

    def features(self, clip: Clip) -> np.ndarray:
        """All encoder taps of the clip ``[n_taps, T, D]`` (float32), through the cache when enabled."""
        if self.store is not None:
            return np.asarray(self.store.get(clip, self.encoder), dtype=np.float32)
        return self.encoder.encode(clip)

    def attribute(self, clip: Clip | str | os.PathLike, transcript: str | None = None,
                  methods=("ig", "occlusion"), target: int | None = None, align: bool = True,
                  aligner: str = "auto", language: str | None = None, prosody: bool = True,
                  deep: bool = False, deep_layer: int | None = None, ig_steps: int = 32,
                  baseline: str = "mean") -> Attribution:
        """Explain one clip (a :class:`Clip` or a path). ``transcript=None``: a ``.txt`` beside the
        audio file is used when present, else Whisper transcribes (for alignment only)."""
        from .explain.attention import attention_weights
        from .explain.attributions import attribute_frames, attribute_mel
        from .frames import build_frame_table

        if not isinstance(clip, Clip):
            path = Path(clip)
            clip = load_audio(path)
            if transcript is None and path.with_suffix(".txt").is_file():
                transcript = path.with_suffix(".txt").read_text().strip() or None
        feats = self.features(clip)
        probs, att = attention_weights(self.model, feats)
        tgt = int(np.argmax(probs)) if target is None else int(target)
        attrs, info = attribute_frames(self.model, feats, methods=methods, target=tgt, n_steps=ig_steps,
                                       baseline=baseline) if methods else ({}, {"target": tgt})
        deep_out: dict = {}
        if deep:
            mel_map, frame_score, dinfo = attribute_mel(self.model, self.encoder, clip, target=tgt, n_steps=ig_steps,
                                                        layer=deep_layer)
            attrs[dinfo["method"]] = frame_score
            deep_out = {"map": mel_map, "info": dinfo}
            info["deep"] = dinfo
        lang = language or self.checkpoint_config.get("language") or _language_of(self.checkpoint_config)
        alignment = None
        if align:
            from .align import align_clip

            try:
                alignment = align_clip(clip, transcript, aligner=aligner, language=lang,
                                       whisper_source=_whisper_for(lang, self.encoder.source))
            except InputError as err:
                info["alignment_error"] = str(err)
        pros = None
        if prosody:
            from .prosody import extract_prosody

            pros = extract_prosody(clip.samples, voice_quality=False)
        frames = build_frame_table(clip.clip_id, clip.n_frames, attention=att, attributions=attrs,
                                   alignment=alignment, prosody=pros)
        mel = self.encoder.window_mel(self.encoder.mel(clip), 0, min(clip.n_frames, 1500)).numpy()
        res = Attribution(clip=clip, labels=self.labels, probabilities=probs, attention=att, attributions=attrs,
                          frames=frames, summary={}, alignment=alignment, prosody=pros, mel=mel, deep=deep_out,
                          info=info)
        res.summary = summarize(res, checkpoint=self.checkpoint, config=self.checkpoint_config)
        return res


def _language_of(cfg: dict) -> str:
    data = cfg.get("training", {}) if isinstance(cfg.get("training"), dict) else {}
    return str(data.get("language") or cfg.get("data", {}).get("language", "en") if isinstance(cfg.get("data"), dict) else "en")


def _whisper_for(language: str, encoder_source: str) -> str:
    """The Whisper source used for word timestamps: the encoder's own when it can do the language."""
    if (language or "en").startswith("en") or not encoder_source.endswith(".en"):
        return encoder_source
    return "base"


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
    from .coverage import concentration

    conc = {}
    for head, w in res.attention.items():
        c = concentration(np.asarray(w)[None])
        conc[head] = {k: float(np.asarray(v).ravel()[0]) for k, v in c.items()}
    return {
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
        "top_segments": top_segments(res.frames),
        "attribution_info": res.info,
        "alignment": None if res.alignment is None else {
            "backend": res.alignment.backend, "transcript": res.alignment.transcript,
            "notes": list(res.alignment.notes)},
    }


def attribute(clip, checkpoint: str = DEFAULT_CHECKPOINT, **kwargs) -> Attribution:
    """One-call form of :meth:`Explainer.attribute`."""
    return Explainer(checkpoint).attribute(clip, **kwargs)
