"""Training augmentation: extra copies of each clip, played faster or slower, or randomly perturbed.

Kaldi-style speed perturbation resamples the waveform as if it had been recorded at
``rate * factor``: a factor of 1.1 makes the clip 10 % shorter and raises every frequency
(F0 and formants) by 10 %, roughly what a different, smaller speaker would produce. Only
training clips are perturbed; validation and test clips are always the originals.

The perturbed audio goes through the same encoder and the same content-addressed feature
cache as the originals (its key is the hash of the perturbed samples), so a second training
run with the same factors reads everything from the cache.

Random copies (issue 20, ``explain-ser train --augment gain,noise,pad,crop``) draw one
:mod:`explain_ser.perturb` condition per clip and kind: ``gain`` -30..+10 dB, ``noise`` white at
5..30 dB SNR, ``pad`` 0..2 s before and after (digital silence or white noise at -70..-45 dBFS, half
each), ``crop`` a random 60..95 % of the clip, ``codec`` an MP3 round trip at 16..64 kbit/s or an Opus one at
8..32 kbit/s (half each; ffmpeg, as :mod:`explain_ser.perturb` does it), ``join`` the clip joined whole with a neutral utterance of
the same speaker, in random order, keeping the clip's label (:func:`join_partners`: "neutral" is what the
speaker sounds like when nothing is expressed, so a clip that is half neutral and half angry is angry; this
teaches the pooler to weigh the emotional stretch of a clip twice the training length, issue 19). The draw is seeded by the run's seed, the kind and the
clip's audio hash, so the same run makes the same copies (and hits the feature cache) every time. Like
speed copies they train only: validation and test clips are always the originals.

>>> import numpy as np
>>> from explain_ser.audio import Clip
>>> clip = Clip.from_array(np.sin(np.arange(16000) / 10).astype(np.float32), 16000)
>>> len(speed_perturb(clip, 1.1).samples), len(speed_perturb(clip, 0.9).samples)
(14545, 17778)
>>> parse_speeds("0.9,1.1")
(0.9, 1.1)
>>> parse_augment("gain,noise"), draw_condition("gain", np.random.default_rng(0)).text
(('gain', 'noise'), 'gain:-4.5')
>>> len(augment_clip(clip, "crop", seed=0).samples) < len(clip.samples)
True
"""

from __future__ import annotations

import shutil
from typing import Iterable, Sequence

import numpy as np

from .audio import Clip, resample
from .errors import InputError
from .features import features_of  # the input rule applies to copies as to originals
from .perturb import Condition, apply, clip_rng

__all__ = ["speed_perturb", "parse_speeds", "perturbed_features", "parse_augment", "draw_condition", "augment_clip",
           "join_partners", "AUGMENT_KINDS"]

AUGMENT_KINDS = ("gain", "noise", "pad", "crop", "codec", "join")
JOIN_BASE = "neutral"  # the label of the utterances that join copies are joined with


def parse_speeds(spec: str | Sequence[float] | None) -> tuple[float, ...]:
    """'0.9,1.1' -> (0.9, 1.1); '' or None -> (); factors must lie in [0.5, 2] and differ from 1."""
    if spec is None or spec == "":
        return ()
    try:
        speeds = tuple(float(s) for s in (spec.split(",") if isinstance(spec, str) else spec))
    except ValueError:
        raise InputError(str(spec), "speed factors must look like 0.9,1.1") from None
    bad = [s for s in speeds if not 0.5 <= s <= 2.0 or s == 1.0]
    if bad:
        raise InputError(str(spec), f"speed factors {bad} are outside [0.5, 2] or equal to 1 (the original)")
    return speeds


def speed_perturb(clip: Clip, factor: float) -> Clip:
    """The clip played ``factor`` times faster (pitch and tempo both scale), at the same sample rate."""
    rate_in = int(round(clip.rate * factor))
    samples = resample(clip.samples, rate_in, clip.rate)
    name = f"{clip.clip_id or clip.path or 'clip'}@speed{factor:g}"
    return Clip.from_array(samples, clip.rate, name=name)


def parse_augment(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    """'gain,noise,pad,crop' -> ('gain', 'noise', 'pad', 'crop'): one random copy per kind and clip (a kind
    given twice makes two independent copies); '' or None -> ()."""
    if spec is None or spec == "":
        return ()
    kinds = tuple(k.strip().lower() for k in (spec.split(",") if isinstance(spec, str) else spec))
    bad = [k for k in kinds if k not in AUGMENT_KINDS]
    if bad:
        raise InputError(str(spec), f"unknown augmentation {bad} (choose from {', '.join(AUGMENT_KINDS)})")
    if "codec" in kinds and shutil.which("ffmpeg") is None:  # fail here, not after the originals are encoded
        raise InputError("--augment codec", "needs ffmpeg on PATH (apt-get install ffmpeg)")
    return kinds


def draw_condition(kind: str, rng: np.random.Generator) -> Condition:
    """One random :mod:`explain_ser.perturb` condition of ``kind`` (ranges in the module docstring)."""
    if kind == "gain":
        return Condition.parse(f"gain:{rng.uniform(-30, 10):.1f}")
    if kind == "noise":
        return Condition.parse(f"noise:white:{rng.uniform(5, 30):.1f}")
    if kind == "pad":
        before, after = rng.uniform(0, 2, size=2)
        if rng.random() < 0.5:
            return Condition.parse(f"pad:silence:{before:.2f}:{after:.2f}")
        return Condition.parse(f"pad:noise:{rng.uniform(-70, -45):.1f}:{before:.2f}:{after:.2f}")
    if kind == "crop":
        return Condition.parse(f"crop:{rng.uniform(0.6, 0.95):.2f}")
    if kind == "codec":  # the bit rates people's recordings come at: voice-chat Opus to low-rate MP3 podcasts
        if rng.random() < 0.5:
            return Condition.parse(f"mp3:{int(rng.choice([16, 24, 32, 48, 64]))}")
        return Condition.parse(f"opus:{int(rng.choice([8, 12, 16, 24, 32]))}")
    raise InputError(kind, f"unknown augmentation (choose from {', '.join(AUGMENT_KINDS)})")


def augment_clip(clip: Clip, kind: str, seed: int = 0, copy: int = 0, partner: Clip | None = None) -> Clip:
    """A random copy of ``clip`` (its ``copy``-th of this kind), the same for the same seed and audio.
    ``join`` needs the ``partner`` utterance (:func:`join_partners`)."""
    rng = clip_rng(seed, f"augment:{kind}#{copy}", clip.sha256)
    if kind == "join":
        if partner is None:
            raise ValueError("a join copy needs the partner clip")
        if partner.rate != clip.rate:
            partner = Clip.from_array(resample(partner.samples, partner.rate, clip.rate), clip.rate)
        first = rng.random() < 0.5  # the clip first or second: position must tell nothing
        parts = [clip.samples, partner.samples] if first else [partner.samples, clip.samples]
        return Clip.from_array(np.concatenate(parts).astype(np.float32), clip.rate,
                               name=f"{clip.clip_id or clip.path or 'clip'}@join:{partner.clip_id or partner.path}")
    cond = draw_condition(kind, rng)
    samples = apply(clip.samples, clip.rate, cond, rng, name=clip.path or clip.clip_id)
    return Clip.from_array(samples, clip.rate, name=f"{clip.clip_id or clip.path or 'clip'}@{cond.text}")


def join_partners(speakers: Sequence[str], emotions: Sequence[str], seed: int = 0, base: str = JOIN_BASE) -> list[int]:
    """For every clip, the index of the utterance its ``join`` copy is joined with: a seeded pick among the
    same speaker's ``base`` clips other than itself (a base clip is joined with another base clip, so
    "neutral" stays "neutral throughout"); a clip whose speaker has no other base clip is joined with
    itself (a repeated utterance: still twice the length, the same emotion).

    >>> join_partners(["a", "a", "a", "b"], ["angry", "neutral", "neutral", "sad"])
    [2, 2, 1, 3]
    """
    speakers, emotions = [str(s) for s in speakers], [str(e) for e in emotions]
    if base not in emotions:
        raise InputError("--augment join", f"needs {base!r} clips to join the others with (none in the labels)")
    bases: dict[str, list[int]] = {}  # speaker -> indices of its base clips (one pass: corpora can be large)
    for j, (t, f) in enumerate(zip(speakers, emotions)):
        if f == base:
            bases.setdefault(t, []).append(j)
    out = []
    for i, s in enumerate(speakers):
        pool = [j for j in bases.get(s, []) if j != i]
        out.append(pool[int(clip_rng(seed, "join-partner", s, str(i)).integers(len(pool)))] if pool else i)
    return out


def _augment_keys(augment: Sequence[str]) -> list[tuple[str, int]]:
    """(kind, copy number) per requested copy: 'noise,noise' -> [('noise', 0), ('noise', 1)]."""
    seen: dict[str, int] = {}
    keys = []
    for k in augment:
        keys.append((k, seen.get(k, 0)))
        seen[k] = seen.get(k, 0) + 1
    return keys


def perturbed_features(paths: Iterable[str], encoder, store, speeds: Sequence[float], progress: bool = True,
                       batch: int = 32, augment: Sequence[str] = (), seed: int = 0,
                       partners: Sequence[int] | None = None) -> dict:
    """``{factor: [features of each clip played at that speed]}`` (arrays ``[taps, frames, dim]``), then
    ``{(kind, copy): [features of each clip's random copy]}`` for ``augment``, computed through (and cached
    in) ``store``; keys in that order. ``partners`` (:func:`join_partners`, indices into ``paths``) is
    needed for ``join`` copies."""
    from tqdm.auto import tqdm

    from .audio import load_audio

    paths = list(paths)
    akeys = _augment_keys(augment)
    if "join" in augment and (partners is None or len(partners) != len(paths)):
        raise ValueError("join copies need one partner index per clip")
    out: dict = {s: [] for s in speeds}
    out.update({k: [] for k in akeys})
    if not out:
        return out
    desc = ",".join([f"speed {s:g}" for s in speeds] + list(augment))
    with tqdm(total=len(paths) * len(out), desc=f"perturbed ({desc})", unit="clip", disable=not progress) as bar:
        for b in range(0, len(paths), batch):
            clips = [load_audio(p) for p in paths[b : b + batch]]
            for s in speeds:
                out[s].extend(features_of([speed_perturb(c, s) for c in clips], encoder, store))
                bar.update(len(clips))
            mates = ([load_audio(paths[partners[i]]) for i in range(b, b + len(clips))]
                     if "join" in augment else [None] * len(clips))
            for kind, copy in akeys:
                out[(kind, copy)].extend(features_of([augment_clip(c, kind, seed, copy, partner=m)
                                                      for c, m in zip(clips, mates)], encoder, store))
                bar.update(len(clips))
    return out
