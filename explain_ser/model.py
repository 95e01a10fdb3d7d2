"""SER model over frozen encoder features, and its checkpoints: the public face of :mod:`explain_ser.network`
(the network: tap choice -> standardisation -> pooler -> classifier head) and :mod:`explain_ser.checkpoint`
(``model.safetensors`` + ``config.json``; shipped names resolve to ``explain_ser/checkpoints/<name>/``; an
encoder that does not match is refused).

The network lives in :mod:`explain_ser.network` so that :mod:`explain_ser.checkpoint` can build it without
importing this module back (no import cycle).

>>> import torch
>>> model = SERModel(labels=["angry", "sad"], dim=8, taps=[2], n_taps=5, pooler="mhaap", pooler_hparams={"n_heads": 2})
>>> logits, weights = model.eval().forward_with_weights(torch.randn(3, 5, 7, 8), torch.ones(3, 7, dtype=torch.bool))
>>> tuple(logits.shape), list(weights)
((3, 2), ['h0', 'h1'])
"""

from __future__ import annotations

from .checkpoint import (CHECKPOINT_DIR, FORMAT, Checkpoint, available_checkpoints, check_encoder,
                         resolve_checkpoint, save_checkpoint)
from .network import EnsembleModel, SERModel, pad_batch, predict_proba

__all__ = ["SERModel", "EnsembleModel", "pad_batch", "predict_proba", "save_checkpoint", "load_checkpoint",
           "available_checkpoints", "check_encoder", "resolve_checkpoint", "CHECKPOINT_DIR", "FORMAT"]


def load_checkpoint(name_or_path, encoder=None) -> SERModel:
    """The model of a checkpoint (shipped name or directory), in eval mode, with ``.checkpoint`` = its config;
    an :class:`EnsembleModel` when the config says ``members: K``. Short for
    ``Checkpoint.load(name_or_path, encoder).model`` (:mod:`explain_ser.checkpoint`).
    """
    return Checkpoint.load(name_or_path, encoder=encoder).model
