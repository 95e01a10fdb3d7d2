"""Speed perturbation: extra training copies of each clip, played faster or slower.

Kaldi-style speed perturbation resamples the waveform as if it had been recorded at
``rate * factor``: a factor of 1.1 makes the clip 10 % shorter and raises every frequency
(F0 and formants) by 10 %, roughly what a different, smaller speaker would produce. Only
training clips are perturbed; validation and test clips are always the originals.

The perturbed audio goes through the same encoder and the same content-addressed feature
cache as the originals (its key is the hash of the perturbed samples), so a second training
run with the same factors reads everything from the cache.

>>> import numpy as np
>>> from explain_ser.audio import Clip
>>> clip = Clip.from_array(np.sin(np.arange(16000) / 10).astype(np.float32), 16000)
>>> len(speed_perturb(clip, 1.1).samples), len(speed_perturb(clip, 0.9).samples)
(14545, 17778)
>>> parse_speeds("0.9,1.1")
(0.9, 1.1)
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from .audio import Clip, resample
from .errors import InputError

__all__ = ["speed_perturb", "parse_speeds", "perturbed_features"]


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


def perturbed_features(paths: Iterable[str], encoder, store, speeds: Sequence[float], progress: bool = True,
                       batch: int = 32) -> dict[float, list[np.ndarray]]:
    """``{factor: [features of each clip played at that speed]}`` (arrays ``[taps, frames, dim]``),
    computed through (and cached in) ``store``."""
    from tqdm.auto import tqdm

    from .audio import load_audio

    paths = list(paths)
    out: dict[float, list[np.ndarray]] = {s: [] for s in speeds}
    if not speeds:
        return out
    with tqdm(total=len(paths) * len(speeds), desc=f"speed-perturbed {','.join(map(str, speeds))}", unit="clip",
              disable=not progress) as bar:
        for b in range(0, len(paths), batch):
            clips = [load_audio(p) for p in paths[b : b + batch]]
            for s in speeds:
                out[s].extend(store.get_many([speed_perturb(c, s) for c in clips], encoder))
                bar.update(len(clips))
    return out
