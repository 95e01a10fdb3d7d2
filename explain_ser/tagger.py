"""A trained vocalization tagger: load one (shipped or trained), tag clips, give an alignment its tier.

``explain-ser train-tagger`` (:mod:`explain_ser.tagger_train`) trains a small frame-level head over the cached
Whisper taps from an events table (:mod:`explain_ser.tagger_events`); events come from its frame
probabilities by the decoding settings it was trained with (:func:`explain_ser.tagger_metrics.decode_with`),
and their confidence is calibrated when the tagger was trained with it (the share of such detections that
were right, out of fold).

:data:`DEFAULT_TAGGER` is the tagger ``attribute``, ``align``, ``report``, ``timeline`` and the explorer use
unless told otherwise; ``--tagger rules`` (:data:`RULES`) picks the rule-based tagger of
:mod:`explain_ser.align.vocalizations` instead; the option is read in one place,
:func:`explain_ser.pipeline.vocalization_tagger`.

>>> DEFAULT_TAGGER in available_taggers()
True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from .align.base import Interval
from .errors import InputError
from .tagger_events import Events, read_events  # noqa: F401  (the tagger's public names, in one place)
from .tagger_metrics import (COLLAR, choose_thresholds, decode, decode_spans, decode_with,  # noqa: F401
                             event_metrics, frame_labels, frame_metrics)
from .tagger_train import FORMAT, TaggerNet, load_features, score_clips, train_tagger  # noqa: F401

__all__ = ["Events", "read_events", "event_metrics", "frame_metrics", "frame_labels", "decode", "decode_spans",
           "decode_with", "TaggerNet",
           "choose_thresholds", "train_tagger", "Tagger", "load_tagger", "tag_clip", "apply_tagger", "resolve_tagger",
           "available_taggers", "evaluate_tagger", "TAGGER_DIR", "FORMAT", "COLLAR",
           "DEFAULT_TAGGER", "RULES"]

TAGGER_DIR = Path(__file__).parent / "checkpoints" / "taggers"
#: the shipped tagger every command uses by default (trained on real breaths and coughs, see its card)
DEFAULT_TAGGER = "vocal-tiny.en"
#: the value of ``--tagger`` that picks the rule-based tagger
RULES = "rules"
#: the config sections that decide a tagger's output; its identity hashes these and its weights, nothing else
IDENTITY_KEYS = ("format", "tags", "encoder", "model", "decode")


# ---- a trained tagger ----------------------------------------------------------------------------------------

def available_taggers() -> list[str]:
    """Names of the taggers shipped with explain_ser."""
    from .checkpoint import shipped_names

    return shipped_names(TAGGER_DIR)


def resolve_tagger(name_or_path) -> Path:
    """Directory of a tagger: a directory with config.json, or a shipped name."""
    from .checkpoint import resolve_dir

    return resolve_dir(name_or_path, TAGGER_DIR, "tagger")


class Tagger:
    """A trained tagger (config read once, weights loaded).

    >>> tg = Tagger.load("demo-synthetic-tiny.en")                      # doctest: +SKIP
    >>> [(e.label, e.start, e.end) for e in tg.tag("examples/laugh_breath.wav")]   # doctest: +SKIP
    [('laugh', 2.24, 3.1), ('breath', 3.36, 3.76)]
    """

    def __init__(self, config: dict, net: TaggerNet, directory: Path | None = None, category: dict | None = None):
        self.config = config
        self.net = net.eval()
        self.directory = directory
        self.tags = list(config["tags"])
        #: the segment-level category head (explain_ser.tagger_segments), None: events named by their frames
        self.category = category
        self._encoder = None
        # what decides its output (not its card: cross-validated scores, notes and provenance can be re-written
        # without changing one tag, and must not invalidate the annotations cached under this identity)
        decides = {k: config.get(k) for k in IDENTITY_KEYS}
        raw = json.dumps(decides, sort_keys=True).encode() + b"".join(
            v.numpy().tobytes() for _, v in sorted(net.state_dict().items())) + b"".join(
            np.asarray(v).tobytes() for _, v in sorted((category or {}).items()))
        #: content hash (the config's IDENTITY_KEYS + weights): the annotation cache key includes it
        self.identity = hashlib.sha256(raw).hexdigest()[:16]

    @classmethod
    def load(cls, name_or_path) -> "Tagger":
        from safetensors.torch import load_file

        from .checkpoint import read_json_config

        d = resolve_tagger(name_or_path)
        config = read_json_config(d, FORMAT, "tagger")
        enc = config["encoder"]
        net = TaggerNet(int(enc["n_taps"]), int(enc["dim"]), len(config["tags"]), hidden=int(config["model"]["hidden"]),
                        layers=int(config["model"].get("layers", 2)),
                        mix=config["model"].get("mix", "softmax"))  # taggers before the option mixed by softmax
        from .tagger_segments import PREFIX

        try:
            state = load_file(str(d / "model.safetensors"))
            net.load_state_dict({k: v for k, v in state.items() if not k.startswith(PREFIX)})
        except Exception as e:  # safetensors and torch raise their own types
            raise InputError(d / "model.safetensors", f"unreadable or mismatched tagger weights ({e})") from None
        category = {k[len(PREFIX):]: v.numpy() for k, v in state.items() if k.startswith(PREFIX)} or None
        if config["model"].get("category") == "segments" and category is None:
            raise InputError(d / "model.safetensors", "the tagger's category head is missing (config says segments)")
        return cls(config, net, d, category)

    @property
    def name(self) -> str:
        return self.directory.name if self.directory else "in-memory"

    def fits(self, encoder) -> bool:
        """True when ``encoder`` gives the features this tagger was trained on."""
        want = self.config["encoder"]
        return (getattr(encoder, "weights_hash", None) in (want["weights_hash"], "in-memory")
                and encoder.window == want["window"] and encoder.dim == want["dim"] and encoder.n_taps == want["n_taps"])

    def encoder(self):
        """The encoder this tagger was trained on (loaded once, checked against the tagger's config)."""
        if self._encoder is None:
            from .checkpoint import check_encoder
            from .encoder import Encoder

            enc = Encoder(self.config["encoder"]["source"], self.config["encoder"]["window"])
            check_encoder(self.config, enc, where=f"tagger {self.name}")
            self._encoder = enc
        return self._encoder

    def features(self, clip, encoder=None, store=None) -> np.ndarray:
        """Every tap of ``clip`` as recorded (the tagger takes no input rule), through the one feature path
        (:func:`explain_ser.features.prepared_features`: the cache when ``store`` is given)."""
        from .features import prepared_features

        enc = encoder if encoder is not None and self.fits(encoder) else self.encoder()
        return np.asarray(prepared_features([clip], enc, store)[0], dtype=np.float32)

    @torch.no_grad()
    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Per-frame probabilities ``[T, 1 + n_tags]`` (column 0: none) from taps ``[n_taps, T, D]``."""
        f = np.asarray(features, dtype=np.float32)
        want = (self.config["encoder"]["n_taps"], self.config["encoder"]["dim"])
        if f.ndim != 3 or (f.shape[0], f.shape[2]) != tuple(want):
            raise InputError("tagger", f"features of shape {f.shape} do not fit (want [{want[0]}, T, {want[1]}])")
        from .threads import single_thread

        with single_thread():  # a small head: torch's thread pool costs more than it gains (explain_ser.threads)
            return torch.softmax(self.net(torch.from_numpy(f)[None]), -1)[0].numpy()

    def events(self, probs: np.ndarray, features: np.ndarray | None = None) -> list[Interval]:
        """Events from frame probabilities (named by the category head from the clip's taps ``features`` when
        the tagger has one); confidence calibrated when the tagger carries a calibration map (the share of its
        out-of-fold detections of that raw confidence that were right)."""
        from .tagger_metrics import calibrate
        from .tagger_segments import name_events

        d = self.config["decode"]
        evs = decode_with(probs, self.tags, d)
        if self.category is not None:
            if features is None:
                raise ValueError("this tagger names events from the clip's taps: pass features")
            evs = name_events(self.category, np.asarray(features), evs, self.tags, probs)
        if d.get("calibration"):
            cal = calibrate(d["calibration"], [e.confidence for e in evs], durations=[e.end - e.start for e in evs])
            evs = [replace(e, confidence=round(float(c), 3)) for e, c in zip(evs, cal)]
        return evs

    def tag(self, clip, encoder=None, store=None, features=None) -> list[Interval]:
        """Events of one clip (a :class:`~explain_ser.audio.Clip` or a path), label = tag, confidence = the
        tag's mean probability over the event."""
        from .audio import Clip, load_audio

        if not isinstance(clip, Clip):
            clip = load_audio(clip)
        f = features if features is not None else self.features(clip, encoder, store)
        return self.events(self.probabilities(f), f)


_LOADED: dict[str, Tagger] = {}


def load_tagger(name_or_path) -> Tagger:
    """A :class:`Tagger` by name or directory, loaded once per process."""
    if isinstance(name_or_path, Tagger):
        return name_or_path
    key = str(resolve_tagger(name_or_path).resolve())
    if key not in _LOADED:
        _LOADED[key] = Tagger.load(key)
    return _LOADED[key]


def tag_clip(clip, tagger, encoder=None, store=None, features=None) -> list[Interval]:
    """Vocalization events of ``clip`` by ``tagger`` (a name, directory or :class:`Tagger`): the call for
    callers outside the per-clip path (the timeline's utterances). ``features``: the clip's taps under the
    tagger's encoder when the caller has them (no second encoder pass)."""
    return load_tagger(tagger).tag(clip, encoder=encoder, store=store, features=features)


def apply_tagger(alignment, clip, tagger, encoder=None, store=None, features=None):
    """Give ``alignment`` (an :class:`~explain_ser.align.base.Alignment` made with ``vocalizations=False``, or
    None: no words) the tagger's vocalization tier: transcript tokens kept and sharpened by the tagger's events
    (:func:`~explain_ser.align.vocalizations.merge_with_tokens`), everything else from the tagger. Returns the
    alignment (a words-free one when None was given). For ``align``-like callers:

    >>> a = align_clip(clip, text, vocalizations=False)                    # doctest: +SKIP
    >>> a = apply_tagger(a, clip, "demo-synthetic-tiny.en")                # doctest: +SKIP
    """
    from .align.base import Alignment
    from .align.vocalizations import merge_with_tokens

    found = tag_clip(clip, tagger, encoder=encoder, store=store, features=features)
    if alignment is None:  # no words, but the tagger needs none
        alignment = Alignment(words=[], backend="none", duration=clip.duration, clip_id=clip.clip_id)
    alignment.notes = [n for n in alignment.notes if not n.startswith("no vocalization tags")]
    alignment.vocalizations = merge_with_tokens(alignment.vocalizations, found)
    return alignment.check()


def evaluate_tagger(tagger, events_path, store=None, progress: bool = True) -> dict:
    """Event and frame scores of a trained tagger (its own thresholds) on another events table."""
    from .features import FeatureStore

    tg = load_tagger(tagger)
    ev = read_events(events_path)
    missing = set(ev.tags) - set(tg.tags)
    feats, _ = load_features(ev, tg.encoder(), store if store is not None else FeatureStore(), progress)
    probs = [tg.probabilities(f) for f in feats]
    d = tg.config["decode"]
    m, found = score_clips(ev, range(len(feats)), probs, d, tg.tags, tg.category, feats)
    m["unknown_tags"] = sorted(missing)
    return {"metrics": m, "found": found}
