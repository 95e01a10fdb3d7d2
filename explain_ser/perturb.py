"""Deterministic perturbations of a waveform, named by a small condition spec.

One call shape for every perturbation: ``apply(samples, sr, spec, rng) -> samples`` (float32 in, float32 out),
where ``spec`` is a :class:`Condition` or its text and ``rng`` a ``numpy.random.Generator`` (the same seed gives
the same output, sample for sample). :func:`perturb` returns the same samples together with where the original
clip sits in them (``offset``, ``tempo``), which is what comparing attention maps across conditions needs.

================================  =====================================================================
spec                              what happens
================================  =====================================================================
``none``                          the clip itself
``gain:DB``                       every sample times 10^(DB/20)
``noise:white:SNR``               Gaussian white noise at SNR dB
``noise:ssn:SNR``                 speech-shaped noise: white noise coloured by the long-term average
                                  spectrum of ``sources`` (other clips)
``noise:babble:SNR[:K]``          the sum of K (default 4) other clips from ``sources``, each at equal
                                  power and starting at a random point (looped to the clip's length)
``pad:silence:S[:AFTER]``         S seconds of digital zeros before the clip and AFTER (default S) after
``pad:noise:DBFS:S[:AFTER]``      the same with white noise of RMS DBFS (re full scale 1.0: a full-scale
                                  sine is -3.01 dBFS)
``mp3:KBPS`` / ``opus:KBPS``      encoded and decoded back by ffmpeg (libmp3lame / libopus)
``speed:F``                       played F times faster, pitch and tempo together (resampled as
                                  :func:`explain_ser.augment.speed_perturb` does)
``reverb:RT60``                   convolved with exponentially decaying Gaussian noise that falls 60 dB in
                                  RT60 seconds (a diffuse field, no direct path), rescaled to the clip's RMS
``crop:FRACTION``                 a random contiguous FRACTION of the clip (training augmentation)
================================  =====================================================================

Every output is clipped to full scale [-1, 1], as a recorder or a fixed-point file would (and as
:func:`explain_ser.audio.load_audio` expects of a file): ``gain:+10`` on a clip peaking above -10 dBFS
clips, and :attr:`Perturbed.clipped` counts the samples that did. Without clipping the gain and SNR are
exact.

Signal-to-noise ratios are over the WHOLE clip: ``10 log10(mean(x^2) / mean(n^2))`` over all of the clip's
samples, pauses included, not over active speech. The noise is scaled on its own measured power so the ratio
holds exactly (to float32 rounding, far below 0.1 dB). A clip that is half pause therefore has a speech-only
SNR about 3 dB higher than the nominal one; whole-clip power needs no voice-activity detector, so the number
is reproducible anywhere. Padding lengths are ``round(seconds * sr)`` samples, exactly. Codec round trips rely
on ffmpeg's gapless decoding (the LAME header's encoder delay for MP3, Ogg pre-skip for Opus) and are then cut
or zero-extended to the input length, so sample ``i`` out lines up with sample ``i`` in.

>>> import numpy as np
>>> x = (0.1 * np.sin(np.arange(16000) / 5)).astype(np.float32)
>>> y = apply(x, 16000, "gain:-20", np.random.default_rng(0))
>>> round(level_db(y) - level_db(x), 3)
-20.0
>>> n = apply(x, 16000, "noise:white:10", np.random.default_rng(0)) - x
>>> round(level_db(x) - level_db(n), 2)
10.0
>>> p = perturb(x, 16000, "pad:noise:-55:0.5", np.random.default_rng(0))
>>> len(p.samples), p.offset, round(level_db(p.samples[:8000]), 2)
(32000, 8000, -55.0)
>>> Condition.parse("pad:silence:2").text, Condition.parse("speed:1.1").kind
('pad:silence:2', 'speed')
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .errors import InputError

__all__ = ["Condition", "Perturbed", "apply", "perturb", "level_db", "snr_db", "clip_rng", "KINDS"]

# kind -> (number of required fields after the kind, number of optional fields) for the grammar check
KINDS = {"none": (0, 0), "gain": (1, 0), "noise": (2, 1), "pad": (2, 2), "mp3": (1, 0), "opus": (1, 0),
         "speed": (1, 0), "reverb": (1, 0), "crop": (1, 0)}
NOISE_TYPES = ("white", "ssn", "babble")
DEFAULT_BABBLE_TALKERS = 4
# ln(1000): an exponential envelope exp(-a t) has fallen 60 dB (amplitude 1/1000) at t = ln(1000) / a
_LN_1000 = float(np.log(1000.0))


def level_db(x) -> float:
    """RMS level in dB re full scale 1.0 (``10 log10 mean(x^2)``, in float64; -inf for silence).

    >>> level_db(np.ones(10))
    0.0
    """
    p = float(np.mean(np.square(np.asarray(x, dtype=np.float64))))
    return float(10.0 * np.log10(p)) if p > 0 else float("-inf")


def snr_db(signal, noise) -> float:
    """``10 log10(P_signal / P_noise)`` over all samples (whole-clip power, see the module docstring)."""
    return level_db(signal) - level_db(noise)


def clip_rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator seeded by ``seed`` and string keys (e.g. condition and clip id), stable across runs and
    Python processes (CRC-32 of the keys, not Python's salted ``hash``).

    >>> float(clip_rng(0, "a").random()) == float(clip_rng(0, "a").random()) != float(clip_rng(0, "b").random())
    True
    """
    return np.random.default_rng([int(seed) % 2**32, *(zlib.crc32(str(k).encode()) for k in keys)])


@dataclass(frozen=True)
class Condition:
    """A parsed condition spec: ``kind`` and its fields (numbers as floats, the noise type as a string)."""

    kind: str
    args: tuple
    text: str

    @classmethod
    def parse(cls, spec: "str | Condition") -> "Condition":
        """``Condition.parse("noise:white:20")``; raises :class:`InputError` naming the spec and the problem."""
        if isinstance(spec, Condition):
            return spec
        text = str(spec).strip()
        parts = text.split(":")
        kind, fields = parts[0].lower(), parts[1:]
        if kind not in KINDS:
            raise InputError(text or "''", f"unknown condition (choose from {', '.join(KINDS)})")
        need, optional = KINDS[kind]
        if not need <= len(fields) <= need + optional:
            raise InputError(text, f"{kind} takes {need}{f'-{need + optional}' if optional else ''} fields, "
                                   f"e.g. {_EXAMPLES[kind]}")
        args: list = []
        if kind in ("noise", "pad"):
            args.append(fields[0].lower())
            fields = fields[1:]
            allowed = NOISE_TYPES if kind == "noise" else ("silence", "noise")
            if args[0] not in allowed:
                raise InputError(text, f"{kind} type must be one of {', '.join(allowed)}")
            if kind == "pad" and args[0] == "silence" and len(fields) > 2:
                raise InputError(text, "pad:silence takes SECONDS[:AFTER], e.g. pad:silence:2")
            if kind == "pad" and args[0] == "noise" and len(fields) < 2:
                raise InputError(text, "pad:noise takes DBFS:SECONDS[:AFTER], e.g. pad:noise:-55:2")
        try:
            args.extend(float(f) for f in fields)
        except ValueError:
            raise InputError(text, f"fields must be numbers, e.g. {_EXAMPLES[kind]}") from None
        cond = cls(kind, tuple(args), text)
        cond._check()
        return cond

    def _check(self) -> None:
        k, a, t = self.kind, self.args, self.text
        nums = [x for x in a if not isinstance(x, str)]
        if not all(np.isfinite(nums)):
            raise InputError(t, "fields must be finite numbers")
        if k == "gain" and abs(a[0]) > 120:
            raise InputError(t, "gain must lie within +-120 dB")
        if k == "noise" and len(a) == 3 and (a[0] != "babble" or a[2] < 1 or a[2] != int(a[2])):
            raise InputError(t, "only babble takes a 4th field: a whole number of talkers >= 1")
        if k == "pad":
            secs = a[1:] if a[0] == "silence" else a[2:]
            if any(s < 0 for s in secs):
                raise InputError(t, "padding seconds must be >= 0")
            if a[0] == "noise" and a[1] > 0:
                raise InputError(t, "noise level is in dBFS and must be <= 0")
        if k == "mp3" and not 8 <= a[0] <= 320:
            raise InputError(t, "mp3 bit rate must lie in 8..320 kbit/s")
        if k == "opus" and not 6 <= a[0] <= 510:
            raise InputError(t, "opus bit rate must lie in 6..510 kbit/s")
        if k == "speed" and (not 0.5 <= a[0] <= 2.0 or a[0] == 1.0):
            raise InputError(t, "speed factor must lie in [0.5, 2] and differ from 1")
        if k == "reverb" and not 0.05 <= a[0] <= 5.0:
            raise InputError(t, "RT60 must lie in 0.05..5 s")
        if k == "crop" and not 0.0 < a[0] <= 1.0:
            raise InputError(t, "crop keeps a fraction in (0, 1] of the clip")

    @property
    def needs_sources(self) -> bool:
        """True for noise made of other clips (speech-shaped noise, babble)."""
        return self.kind == "noise" and self.args[0] in ("ssn", "babble")

    @property
    def needs_ffmpeg(self) -> bool:
        return self.kind in ("mp3", "opus")

    def __str__(self) -> str:
        return self.text


_EXAMPLES = {"none": "none", "gain": "gain:-20", "noise": "noise:white:20", "pad": "pad:silence:2",
             "mp3": "mp3:32", "opus": "opus:16", "speed": "speed:1.1", "reverb": "reverb:0.5", "crop": "crop:0.8"}


@dataclass(frozen=True)
class Perturbed:
    """A perturbed waveform and where the original sits in it: original sample ``t`` is heard at
    perturbed sample ``t / tempo + offset`` (``offset`` < 0 when the start was cropped away)."""

    samples: np.ndarray
    offset: int = 0
    tempo: float = 1.0
    clipped: int = 0  # samples that exceeded full scale and were clipped to +-1


def apply(samples, sr: int, spec, rng: np.random.Generator, sources: Sequence[np.ndarray] | None = None,
          name: str = "clip") -> np.ndarray:
    """The perturbed samples (float32). ``sources``: other clips (same ``sr``) for ssn and babble noise;
    ``name`` labels errors."""
    return perturb(samples, sr, spec, rng, sources, name).samples


def perturb(samples, sr: int, spec, rng: np.random.Generator, sources: Sequence[np.ndarray] | None = None,
            name: str = "clip") -> Perturbed:
    """Like :func:`apply`, keeping the time mapping (:class:`Perturbed`)."""
    out = _perturb(samples, sr, Condition.parse(spec), rng, sources, name)
    over = np.abs(out.samples) > 1.0
    n = int(over.sum())
    if not n:
        return out
    return Perturbed(np.clip(out.samples, -1.0, 1.0), out.offset, out.tempo, n)


def _perturb(samples, sr, cond, rng, sources, name) -> Perturbed:
    x = np.ascontiguousarray(samples, dtype=np.float32)
    if x.ndim != 1 or x.size == 0:
        raise InputError(name, f"{cond.text} needs a non-empty 1-D signal, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise InputError(name, "audio contains NaN or infinite samples")
    k, a = cond.kind, cond.args
    if k == "none":
        return Perturbed(x.copy())
    if k == "gain":
        return Perturbed((x.astype(np.float64) * 10.0 ** (a[0] / 20.0)).astype(np.float32))
    if k == "noise":
        return Perturbed(_add_noise(x, sr, cond, rng, sources, name))
    if k == "pad":
        return _pad(x, sr, cond, rng)
    if k in ("mp3", "opus"):
        return Perturbed(_codec(x, sr, cond, name))
    if k == "speed":
        from .audio import resample

        rate_in = int(round(sr * a[0]))
        return Perturbed(resample(x, rate_in, sr), tempo=rate_in / sr)
    if k == "reverb":
        return Perturbed(_reverb(x, sr, a[0], rng, name))
    if k == "crop":
        keep = max(1, int(round(a[0] * len(x))))
        start = int(rng.integers(0, len(x) - keep + 1))
        return Perturbed(x[start : start + keep].copy(), offset=-start)
    raise AssertionError(k)  # Condition.parse admits only the kinds handled above


def _scaled(noise: np.ndarray, target_power: float) -> np.ndarray:
    """``noise`` scaled so that its own mean power (float64) is ``target_power``."""
    p = float(np.mean(np.square(noise, dtype=np.float64)))
    return noise * np.sqrt(target_power / p) if p > 0 else noise


def _add_noise(x, sr, cond, rng, sources, name) -> np.ndarray:
    kind, snr = cond.args[0], cond.args[1]
    ps = float(np.mean(np.square(x, dtype=np.float64)))
    if ps == 0:
        raise InputError(name, f"{cond.text}: the clip is silent, so a signal-to-noise ratio means nothing")
    n = len(x)
    if kind == "white":
        noise = rng.standard_normal(n)
    else:
        srcs = [np.asarray(s, dtype=np.float64) for s in (sources or ()) if len(s) and np.any(s)]
        if kind == "ssn":
            if not srcs:
                raise InputError(name, f"{cond.text}: speech-shaped noise needs other clips (sources) for its spectrum")
            noise = _speech_shaped(n, srcs, rng)
        else:
            talkers = int(cond.args[2]) if len(cond.args) > 2 else DEFAULT_BABBLE_TALKERS
            if len(srcs) < talkers:
                raise InputError(name, f"{cond.text}: babble of {talkers} talkers needs {talkers} other non-silent "
                                       f"clips, got {len(srcs)}")
            noise = np.zeros(n)
            for i in rng.choice(len(srcs), size=talkers, replace=False):
                s = srcs[int(i)]
                loop = np.resize(np.roll(s, -int(rng.integers(0, len(s)))), n)  # np.resize repeats the clip
                noise += _scaled(loop, 1.0)  # equal power per talker
    # scale in float64, add, and measure nothing twice: the noise actually added is (y - x)
    noise = _scaled(noise, ps / 10.0 ** (snr / 10.0))
    return (x.astype(np.float64) + noise).astype(np.float32)


def _speech_shaped(n: int, sources, rng, nfft: int = 512) -> np.ndarray:
    """White noise of length ``n`` coloured by the sources' long-term average magnitude spectrum."""
    from scipy.signal import welch

    psd = np.mean([welch(s, nperseg=min(nfft, len(s)), nfft=nfft)[1] for s in sources], axis=0)
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)  # cycles per sample, as welch's default fs=1 returns
    shape = np.sqrt(np.interp(freqs, np.linspace(0, 0.5, len(psd)), psd))
    return np.fft.irfft(spec * shape, n)


def _pad(x, sr, cond, rng) -> Perturbed:
    a = cond.args
    secs = a[1:] if a[0] == "silence" else a[2:]
    before = int(round(secs[0] * sr))
    after = int(round((secs[1] if len(secs) > 1 else secs[0]) * sr))
    if a[0] == "silence":
        head, tail = np.zeros(before), np.zeros(after)
    else:
        power = 10.0 ** (a[1] / 10.0)  # each side exactly at the level, not just their union
        head = _scaled(rng.standard_normal(before), power)
        tail = _scaled(rng.standard_normal(after), power)
    out = np.concatenate([head.astype(np.float32), x, tail.astype(np.float32)])
    return Perturbed(out, offset=before)


def _codec(x, sr, cond, name) -> np.ndarray:
    import soundfile as sf

    if shutil.which("ffmpeg") is None:
        raise InputError(cond.text, "needs ffmpeg on PATH (apt-get install ffmpeg)")
    kbps = cond.args[0]
    if cond.kind == "mp3":
        ext, codec = "mp3", ["-c:a", "libmp3lame", "-b:a", f"{kbps:g}k"]
    else:  # libopus takes only these rates; ffmpeg resamples others on the way in
        ext, codec = "ogg", ["-c:a", "libopus", "-b:a", f"{kbps:g}k",
                             *([] if sr in (8000, 12000, 16000, 24000, 48000) else ["-ar", "48000"])]
    with tempfile.TemporaryDirectory(prefix="explain_ser_codec_") as d:
        src, enc = os.path.join(d, "in.wav"), os.path.join(d, f"out.{ext}")
        sf.write(src, x, sr, subtype="FLOAT")
        # a seekable file, not a pipe: the MP3 encoder writes its delay into the LAME header at the end
        proc = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", src, *codec, enc], capture_output=True)
        if proc.returncode == 0:
            proc = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", enc, "-f", "f32le", "-ac", "1",
                                   "-ar", str(sr), "-"], capture_output=True)
    if proc.returncode != 0 or not proc.stdout:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise InputError(name, f"{cond.text}: ffmpeg failed ({msg[-1] if msg else 'no output'})")
    y = np.frombuffer(proc.stdout, dtype=np.float32)
    out = np.zeros(len(x), dtype=np.float32)
    out[: min(len(x), len(y))] = y[: len(x)]
    return out


def _reverb(x, sr, rt60, rng, name) -> np.ndarray:
    from scipy.signal import fftconvolve

    t = np.arange(int(np.ceil(rt60 * sr))) / sr
    ir = rng.standard_normal(len(t)) * np.exp(-_LN_1000 * t / rt60)
    y = fftconvolve(x.astype(np.float64), ir)[: len(x)]  # the tail past the clip's end is cut: length kept
    px = float(np.mean(np.square(x, dtype=np.float64)))
    if px == 0:
        return x.copy()
    return _scaled(y, px).astype(np.float32)
