"""The library API behind ``explain-ser attribute``, the explorer and the figure scripts.

>>> ex = Explainer("ravdess-tiny.en")                       # doctest: +SKIP
>>> res = ex.attribute("examples/laugh_breath.wav")         # doctest: +SKIP
>>> res.predicted, res.frames.shape[0] == res.clip.n_frames  # doctest: +SKIP
('happy', True)

One :class:`Explainer` holds a :class:`~explain_ser.checkpoint.Checkpoint` (config read once, model
loaded), the frozen encoder it was trained on and the feature cache; :meth:`Explainer.attribute`
runs the one per-clip path, :func:`explain_ser.pipeline.explain_clip`. :meth:`Explainer.from_model`
explains a model that lives only in memory (a fold model). :func:`attribute` is the one-call form.
"""

from __future__ import annotations

import os

import numpy as np

from .attribution import TOP_FRACTION, Attribution, safe_stem, summarize, top_segments
from .audio import Clip
from .checkpoint import Checkpoint

__all__ = ["Explainer", "attribute", "Attribution", "summarize", "top_segments", "safe_stem", "DEFAULT_CHECKPOINT",
           "TOP_FRACTION"]

DEFAULT_CHECKPOINT = "ravdess-tiny.en"


class Explainer:
    """A loaded model ready to explain clips (checkpoint + encoder + feature cache)."""

    def __init__(self, checkpoint: str | os.PathLike | Checkpoint = DEFAULT_CHECKPOINT, encoder=None, store=None,
                 cache: bool = True):
        from .features import FeatureStore

        ck = checkpoint if isinstance(checkpoint, Checkpoint) else Checkpoint.load(checkpoint)
        if encoder is None:
            encoder = ck.encoder()
        else:
            from .checkpoint import check_encoder

            check_encoder(ck.config, encoder, where=f"checkpoint {ck.name}")
        self.ckpt = ck
        self.encoder = encoder
        self.model = ck.model
        self.checkpoint = ck.name
        self.checkpoint_config = ck.config
        self.store = (store or FeatureStore()) if cache else None

    @classmethod
    def from_model(cls, model, encoder, language: str | None = None, input_rule=None, store=None,
                   cache: bool = True, name: str = "in-memory") -> "Explainer":
        """Explain an in-memory model trained on ``encoder``'s features (no checkpoint on disk)."""
        ck = Checkpoint.from_model(model, encoder, name=name, language=language, input_rule=input_rule)
        return cls(ck, encoder=encoder, store=store, cache=cache)

    @property
    def labels(self) -> list[str]:
        return list(self.model.labels)

    @property
    def head_names(self) -> list[str]:
        return list(self.model.head_names)

    def model_input(self, clip: Clip | str | os.PathLike, mel: bool = False):
        """Stage 1 of the per-clip path for ``clip`` under this checkpoint
        (:func:`explain_ser.pipeline.model_input`): the input rule applied, features through the cache."""
        from .pipeline import model_input

        return model_input(clip, self.ckpt, self.encoder, self.store, mel=mel)

    def features(self, clip: Clip) -> np.ndarray:
        """All encoder taps ``[n_taps, T, D]`` (float32) of the model's input for ``clip`` (the checkpoint's
        input rule applied), through the cache when enabled."""
        return self.model_input(clip).features

    def attribute(self, clip: Clip | str | os.PathLike, transcript: str | None = None,
                  methods=("ig", "occlusion"), target: int | None = None, align: bool = True,
                  aligner: str = "auto", language: str | None = None, prosody: bool = True,
                  deep: bool = False, deep_layer: int | None = None, ig_steps: int = 32,
                  baseline: str = "mean", deletion: bool = False, annotations=None,
                  manifest_row: dict | None = None, tagger=None) -> Attribution:
        """Explain one clip (a :class:`Clip` or a path). ``transcript=None``: the manifest row's, else a
        ``.txt`` beside the audio file, else Whisper transcribes (for alignment only). ``tagger``: the
        vocalization tagger, as ``explain-ser attribute --tagger`` (None: the default trained tagger,
        :data:`explain_ser.tagger.DEFAULT_TAGGER`; ``"rules"``: the rule-based tags; else a directory or
        shipped name; :func:`explain_ser.pipeline.vocalization_tagger`)."""
        from .pipeline import ClipOptions, explain_clip

        opts = ClipOptions(methods=tuple(methods or ()), target=target, transcript=transcript, align=align,
                           aligner=aligner, language=language, prosody=prosody, deep=deep, deep_layer=deep_layer,
                           ig_steps=ig_steps, baseline=baseline, deletion=deletion,
                           tagger=tagger)
        return explain_clip(clip, self.ckpt, self.encoder, opts, store=self.store, annotations=annotations,
                            manifest_row=manifest_row)


def attribute(clip, checkpoint: str = DEFAULT_CHECKPOINT, **kwargs) -> Attribution:
    """One-call form of :meth:`Explainer.attribute`."""
    return Explainer(checkpoint).attribute(clip, **kwargs)
