"""Gradient and perturbation attributions with captum, one call shape for all methods.

:func:`attribute_frames` explains the target class probability of a trained model with
respect to the features the pooler reads (the model's encoder taps), and reduces each
frame's ``taps x dim`` attribution to one score per 20 ms frame:

- ``ig``: Integrated Gradients (captum), frame score = sum over taps and dims (signed;
  by completeness the scores sum to p(x) - p(baseline) up to the reported delta);
- ``saliency``: |gradient| (captum Saliency), frame score = L2 norm over taps and dims;
- ``occlusion``: captum Occlusion over sliding windows of frames, where occluding means
  *removing the frames from the pooling* (the pooler's keep mask set to 0), not replacing
  them with a made-up value; score = mean drop of the target probability over the windows
  that cover the frame.

Baselines for IG (explicit, recorded in the output): ``"mean"`` (the training-set mean
frame: zero after the model's standardisation; the default), ``"zero"`` (all-zero
features), or an array.

:func:`attribute_mel` (``--deep``) runs IG from the probability through the frozen Whisper
encoder onto the log-mel input (a time x frequency map), with a silence-level mel as
baseline (every bin at the clip's own floor, which is what Whisper's normalisation gives
digital silence); ``layer_ig`` (captum LayerIntegratedGradients) attributes to the
output of one encoder block instead.
"""

from __future__ import annotations

import numpy as np
import torch

from .attention import model_input

BASELINES = ("mean", "zero")
PERTURBATIONS_PER_EVAL = 64  # occlusion windows per forward pass (64: 24 ms vs 38 ms with 16 for 185 frames)


def _prob_fn(model, keep=None):
    def f(x):
        k = None if keep is None else keep.expand(x.shape[0], -1)
        return torch.softmax(model(x, None, k), -1)

    return f


def _baseline(model, x: torch.Tensor, baseline) -> torch.Tensor:
    if isinstance(baseline, (np.ndarray, torch.Tensor)):
        # torch.tensor copies an ndarray: as_tensor would share (and warn about) a read-only one
        b = baseline.float() if isinstance(baseline, torch.Tensor) else torch.tensor(baseline, dtype=torch.float32)
        return b.expand_as(x) if b.shape != x.shape else b
    if baseline == "zero":
        return torch.zeros_like(x)
    if baseline == "mean":
        # per-tap training mean, broadcast over frames; model input may hold all taps or the model's own
        sel = model.select_taps(x)
        mean = model.feat_mean[None, :, None, :].expand_as(sel)
        if sel.shape == x.shape:
            return mean.clone()
        out = torch.zeros_like(x)
        out[:, model.taps] = mean
        return out
    raise ValueError(f"unknown baseline {baseline!r}; use one of {BASELINES} or an array")


def attribute_frames(model, features, *args, **kwargs):
    """Frame attributions ``{method: [T]}`` plus an info dict; see :func:`_attribute_frames`.

    >>> from explain_ser.model import SERModel
    >>> m = SERModel(labels=["a", "b"], dim=4, taps=[0], n_taps=1, pooler="mhaap", pooler_hparams={"n_heads": 2}).eval()
    >>> att, info = attribute_frames(m, np.random.rand(1, 12, 4).astype("float32"), methods=("ig", "saliency", "occlusion"))
    >>> {k: v.shape for k, v in att.items()}
    {'ig': (12,), 'saliency': (12,), 'occlusion': (12,)}
    """
    from ..threads import single_thread

    with single_thread():
        return _attribute_frames(model, features, *args, **kwargs)


# ---- the methods: one function each, one call shape -------------------------------------------------------
#
# ``method(model, x, target, baseline, **options) -> (scores [T] float64, info dict)``, where ``x`` is the
# model's input restricted to the taps it reads ([1, L, T, D]), as captum's ``attribute(inputs, baselines,
# target)``. :data:`REGISTRY` maps the names of ``--methods`` to them.


def integrated_gradients(model, x: torch.Tensor, target: int, baseline="mean", n_steps: int = 32,
                         reduce: str = "sum", **_) -> tuple[np.ndarray, dict]:
    """Integrated Gradients (captum); frame score = sum over taps and dims (``reduce="l2"``: L2 norm)."""
    from captum.attr import IntegratedGradients

    base = _baseline(model, x, baseline)
    if reduce == "sum" or (len(model.taps) == 1 and not hasattr(model, "members")):
        # Standardisation and the tap mixture are linear, so the straight path from baseline to input
        # maps onto the straight path between their frames, and IG summed over taps (or the taps of a
        # one-tap model) is the same there: integrating on the frames skips both maps' forward and
        # backward at every step (~2x faster). Both maps act frame by frame, so per-frame sums agree
        # also for an ensemble, whose frames stack its members' ([1, K, T, D]).
        with torch.no_grad():
            h, h_base = model.frames(x), model.frames(base)
        ig = IntegratedGradients(lambda z: torch.softmax(model.logits_from_frames(z), -1))
        attr, delta = ig.attribute(h, baselines=h_base, target=target, n_steps=n_steps,
                                   return_convergence_delta=True)
        a = attr[0].detach()
        a = a[None] if a.dim() == 2 else a  # [1, T, D], or [K, T, D] for an ensemble
    else:
        ig = IntegratedGradients(_prob_fn(model))
        attr, delta = ig.attribute(x, baselines=base, target=target, n_steps=n_steps, return_convergence_delta=True)
        a = attr[0].detach()  # [L, T, D]
    scores = (a.sum(dim=(0, 2)) if reduce == "sum" else a.pow(2).sum(dim=(0, 2)).sqrt()).numpy().astype(np.float64)
    with torch.no_grad():
        p_base = float(_prob_fn(model)(base)[0, target])
    return scores, {"ig_delta": float(delta.abs().max()), "ig_steps": n_steps,
                    "ig_baseline": baseline if isinstance(baseline, str) else "array",
                    "ig_p_baseline": p_base, "ig_sum": float(a.sum())}


def saliency(model, x: torch.Tensor, target: int, baseline=None, **_) -> tuple[np.ndarray, dict]:
    """|gradient| (captum Saliency); frame score = L2 norm over taps and dims (no baseline)."""
    from captum.attr import Saliency

    g = Saliency(_prob_fn(model)).attribute(x.clone().requires_grad_(True), target=target, abs=True)[0].detach()
    return g.pow(2).sum(dim=(0, 2)).sqrt().numpy().astype(np.float64), {}


def occlusion(model, x: torch.Tensor, target: int, baseline=None, occlusion_window: int = 5,
              occlusion_stride: int = 1, **_) -> tuple[np.ndarray, dict]:
    """captum Occlusion over sliding windows of frames removed from the pooling (keep mask 0);
    score = mean drop of the target probability over the windows covering the frame."""
    from captum.attr import Occlusion

    T = x.shape[2]
    w = max(1, min(int(occlusion_window), T))
    keep = torch.ones(1, T)
    with torch.no_grad():
        h = model.frames(x)  # standardised once; occlusion only changes the keep mask

    def f(k, h=h):
        return torch.softmax(model.logits_from_frames(h.expand(k.shape[0], *h.shape[1:]), None, k), -1)

    occ = Occlusion(f).attribute(keep, sliding_window_shapes=(w,), strides=(max(1, int(occlusion_stride)),),
                                 baselines=0.0, target=target, perturbations_per_eval=PERTURBATIONS_PER_EVAL)
    return occ[0].detach().numpy().astype(np.float64), {"occlusion_window": w,
                                                        "occlusion_stride": int(occlusion_stride)}


REGISTRY = {"ig": integrated_gradients, "saliency": saliency, "occlusion": occlusion}
METHODS = tuple(REGISTRY)


def _attribute_frames(model, features: np.ndarray, methods=("ig", "occlusion"), target: int | None = None,
                      baseline="mean", n_steps: int = 32, occlusion_window: int = 5, occlusion_stride: int = 1,
                      reduce: str = "sum"):
    """Frame attributions ``{method: [T]}`` plus an info dict (target, baseline, IG delta ...).

    ``target`` defaults to the predicted class. ``reduce`` ("sum" or "l2") sets how IG's
    ``taps x dim`` attributions become one frame score (saliency is always L2).
    """
    assert not model.training, "attributions are computed in eval mode"
    unknown = [m for m in methods if m not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown attribution method {unknown[0]!r}; choose from {METHODS}")
    with torch.no_grad():
        # only the taps the model reads: IG's interpolation path is then n_steps x smaller per unused tap
        x = model.select_taps(model_input(model, features)).contiguous()
        probs = _prob_fn(model)(x)[0]
    tgt = int(probs.argmax()) if target is None else int(target)
    info: dict = {"target": tgt, "target_label": model.labels[tgt], "p_target": float(probs[tgt])}
    options = dict(n_steps=n_steps, reduce=reduce, occlusion_window=occlusion_window,
                   occlusion_stride=occlusion_stride)
    out: dict[str, np.ndarray] = {}
    for method in methods:
        out[method], extra = REGISTRY[method](model, x, tgt, baseline, **options)
        info.update(extra)
    return out, info


def attribute_mel(model, encoder, clip, target: int | None = None, n_steps: int = 32, layer: int | None = None,
                  mel=None):
    """Deep attribution through the frozen encoder.

    Returns ``(map, frame_scores, info)``: with ``layer=None`` a log-mel IG map ``[n_mels, 2 T]``
    (time x frequency) and its per-frame score ``[T]`` (sum over the two mel frames of each
    encoder frame); with ``layer=k`` LayerIntegratedGradients on the output of encoder
    block ``k`` (``[T, dim]``) and its per-frame sum, baseline = the activations of the silence-level mel.
    Only trimmed windows of up to 30 s are supported here. ``mel``: the clip's ``encoder.mel(clip)``
    when the caller already has it.
    """
    from captum.attr import IntegratedGradients, LayerIntegratedGradients

    from ..timegrid import MEL_PER_FRAME

    assert not model.training
    T = clip.n_frames
    if T > 1500:
        raise ValueError("deep attribution supports clips up to 30 s")
    mel = encoder.window_mel(encoder.mel(clip) if mel is None else mel, 0, T)[None].float()  # [1, n_mels, width]
    floor = float(mel.min())
    base = torch.full_like(mel, floor)

    def f(m):
        taps = torch.stack(encoder.forward_mel(m, T), dim=1)  # [B, taps, T, D]
        return torch.softmax(model(taps, None, None), -1)

    with torch.no_grad():
        probs = f(mel)[0]
    tgt = int(probs.argmax()) if target is None else int(target)
    info = {"target": tgt, "target_label": model.labels[tgt], "p_target": float(probs[tgt]), "steps": n_steps,
            "baseline": f"silence-level mel ({floor:.3f})"}
    with torch.enable_grad():
        if layer is None:
            attr, delta = IntegratedGradients(f).attribute(mel, baselines=base, target=tgt, n_steps=n_steps,
                                                           internal_batch_size=8, return_convergence_delta=True)
            a = attr[0, :, : T * MEL_PER_FRAME].detach().numpy().astype(np.float64)
            info.update(method="ig_mel", delta=float(delta.abs().max()))
            frame = a.reshape(a.shape[0], T, MEL_PER_FRAME).sum(axis=(0, 2))
            return a, frame, info
        block = encoder.model.encoder.blocks[int(layer)]
        lig = LayerIntegratedGradients(f, block)
        attr, delta = lig.attribute(mel, baselines=base, target=tgt, n_steps=n_steps, internal_batch_size=8,
                                    return_convergence_delta=True)
        a = attr[0, :T].detach().numpy().astype(np.float64)
        info.update(method=f"layer_ig_block{layer}", delta=float(delta.abs().max()))
        return a, a.sum(axis=1), info
