"""Synthetic vocalizations planted into speech at known times: an events table to train and test taggers.

The sounds are made here, by the project: noise is drawn from a seeded numpy generator and shaped by
``sox`` (filters, fades), tones come from ``sox synth`` (no randomness of its own), and half the laughs are
espeak-ng "ha ha" syllables. Every sound has its own seed, so two sounds never share a noise realisation,
and a sound's seed is derived from its *speaker* (and the build seed): when folds hold speakers out, the
sounds of the test speakers come from seeds no training sound used.

- ``laugh``: 3-8 voiced "ha" pulses at 3.5-6.5 Hz (a sox tone of random shape with a falling pitch, mixed
  with noise) or espeak-ng laughter syllables ("ha ha ha", "he he", "hah hah") in a random voice;
- ``breath``: 0.25-0.8 s of brown or pink noise, band-passed at random, rising and falling (in or out);
- ``sigh``: an in-breath followed by a breathy voiced glide downwards (0.5-1.2 s in all);
- ``cough``: 1-3 bursts of 60-180 ms, a voiced click then high-passed noise, fast decay.

:func:`build_planted` writes ``out/audio/*.flac`` and ``out/events.csv`` (one row per planted event:
``path, start, end, tag, speaker, source, mode, sound_seed``; clips without events get one row with an empty
tag) and ``out/build.json``. An event is *inserted* into the speech at a quiet point (the clip grows; speech
is never cut mid-word by design of the pick), or, with probability ``overlay``, *mixed over* running speech
(laughter over speech exists). Event times are the planted sound's audible span (samples above 1 % of its
peak), exact to the sample.

Real sounds (:mod:`explain_ser.vocal_sounds`: a folder or manifest of isolated recordings, e.g. the Coswara
breaths and coughs) are planted the same way (``sounds=``): scaled to the same level range, every vocalizing
person dealt to one host speaker (held-out speakers are held-out vocalizing people), and an inserted sound gets
the host clip's own noise floor under it (:func:`explain_ser.vocal_sounds.noise_floor`; the synthetic ones too),
so neither the recording's gating to digital silence nor a missing background gives the sound away. A real
recording is cut to its frames within 30 dB of its loudest (:func:`loud_span`): the event is the sound, not
the microphone noise its cut kept before and after it. Categories
of real sounds and synthetic tags may be mixed; ``kind`` says which each event is.

``other`` (synthetic only): sounds that are not vocalizations (beeps, clicks, knocks, hum bursts), so a tagger
learns not to call every non-speech sound a breath.

>>> import numpy as np
>>> x = synth("breath", np.random.default_rng(0))
>>> 0.25 <= len(x) / 16000 <= 0.8, round(float(np.abs(x).max()), 3)
(True, 1.0)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .timegrid import SAMPLE_RATE

__all__ = ["TAGS", "SYNTH_TAGS", "loud_span", "synth", "plant", "build_planted", "audible_span", "run_sox"]

TAGS = ("laugh", "breath", "sigh", "cough")
SYNTH_TAGS = TAGS + ("other",)  # what synth() makes: the vocalizations and non-vocal sounds
# samples kept between two sounds of one clip: 0.5 s, longer than the taggers' merge gap (0.1-0.3 s) and than
# DCASE's 200 ms onset collar, so every planted event is one event a tagger can find and time (before this
# rule a quarter of the two-event clips held overlapping or abutting sounds, and inserts could land inside an
# earlier sound, leaving its label covering the later one)
SPACING = SAMPLE_RATE // 2
_RAW = ["-r", str(SAMPLE_RATE), "-c", "1", "-b", "32", "-e", "floating-point", "-t", "raw"]


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        raise InputError(tool, f"not installed (apt-get install {tool}); the vocalization builder needs it")


def run_sox(effects: list[str], x: np.ndarray | None = None, synth_args: list[str] | None = None) -> np.ndarray:
    """Run sox on samples ``x`` (or on ``synth_args`` from nothing) and return float32 16 kHz samples.

    ``-R``: repeatable output; the noise the builders need comes from NumPy's seeded generators, so a seed
    fixes every sample. The one sox runner of the sound builders (here and :mod:`explain_ser.pointing`).
    """
    _need("sox")
    src = ["-n"] if x is None else [*_RAW, "-"]
    cmd = ["sox", "-R", *src, *_RAW, "-", *(["synth", *synth_args] if synth_args else []), *effects]
    data = None if x is None else np.ascontiguousarray(x, dtype=np.float32).tobytes()
    out = subprocess.run(cmd, input=data, check=True, capture_output=True).stdout
    return np.frombuffer(out, dtype=np.float32).copy()


def _noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Seeded white, pink (1/f) or brown (1/f²) noise, unit RMS."""
    w = rng.standard_normal(n)
    if kind != "white":
        spec = np.fft.rfft(w)
        f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
        f[0] = f[1] if n > 1 else 1.0
        spec /= f ** (0.5 if kind == "pink" else 1.0)
        w = np.fft.irfft(spec, n)
    return (w / (np.sqrt(np.mean(w ** 2)) + 1e-12)).astype(np.float32)


def _tone(shape: str, dur: float, f0: str) -> np.ndarray:
    return run_sox([], synth_args=[f"{dur:.4f}", shape, f0])


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    return np.pad(x[:n], (0, max(0, n - len(x))))


def _espeak_laugh(rng: np.random.Generator) -> np.ndarray:
    from .audio import resample

    _need("espeak-ng")
    text = [" ".join(["ha"] * int(rng.integers(3, 7))), " ".join(["he"] * int(rng.integers(3, 6))),
            " ".join(["hah"] * int(rng.integers(2, 5)))][int(rng.integers(3))]
    voice = ["en-us+m3", "en-us+f3", "en+m1", "en+f2", "en-us+m7", "en+f4"][int(rng.integers(6))]
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(int(rng.integers(230, 330))),
                          "-p", str(int(rng.integers(40, 95))), "--stdout", text],
                         check=True, capture_output=True).stdout
    import io

    import soundfile as sf

    y, sr = sf.read(io.BytesIO(wav), dtype="float32")
    y = resample(y if y.ndim == 1 else y.mean(1), sr, SAMPLE_RATE)
    # breathiness: laughter is aspirated; add noise that follows the syllables' envelope
    env = np.convolve(np.abs(y), np.ones(160) / 160, mode="same")
    return y + float(rng.uniform(0.5, 2.0)) * env * _noise("pink", len(y), rng)


def synth(tag: str, rng: np.random.Generator) -> np.ndarray:
    """One synthetic vocalization of ``tag`` (see the module text), float32, peak 1, silence trimmed."""
    if tag == "laugh":
        if rng.random() < 0.5:
            x = _espeak_laugh(rng)
        else:
            n, rate = int(rng.integers(3, 9)), float(rng.uniform(3.5, 6.5))
            f0, shape = float(rng.uniform(170, 360)), ["sawtooth", "square", "triangle"][int(rng.integers(3))]
            on, period = float(rng.uniform(0.4, 0.65)) / rate, int(SAMPLE_RATE / rate)
            parts = []
            for i in range(n):
                m = int(on * SAMPLE_RATE)
                p = _fit(_tone(shape, on, f"{f0 * (1 - 0.05 * i):.1f}"), m)
                p = p + float(rng.uniform(0.3, 1.2)) * 0.3 * _noise("pink", m, rng)
                p = run_sox(["lowpass", f"{rng.uniform(1800, 3500):.0f}", "fade", "t", "0.008", f"{on:.4f}",
                          f"{on * 0.5:.4f}"], p)
                parts.append(_fit(p, period))
            x = np.concatenate(parts)
    elif tag == "breath":
        d = float(rng.uniform(0.25, 0.8))
        x = _noise(["brown", "pink"][int(rng.integers(2))], int(d * SAMPLE_RATE), rng)
        rise = float(rng.uniform(0.2, 0.6))
        x = run_sox(["highpass", f"{rng.uniform(200, 600):.0f}", "lowpass", f"{rng.uniform(2000, 4500):.0f}",
                  "fade", "q", f"{d * rise:.3f}", f"{d:.3f}", f"{d * (1 - rise) * 0.9:.3f}"], x)
    elif tag == "sigh":
        d_in, d = float(rng.uniform(0.15, 0.35)), float(rng.uniform(0.4, 0.85))
        inhale = run_sox(["highpass", "400", "lowpass", "3500", "fade", "q", f"{d_in * 0.5:.3f}", f"{d_in:.3f}",
                       f"{d_in * 0.3:.3f}"], _noise("pink", int(d_in * SAMPLE_RATE), rng))
        f0 = float(rng.uniform(140, 280))
        m = int(d * SAMPLE_RATE)
        voiced = _fit(_tone(["sawtooth", "triangle"][int(rng.integers(2))], d,
                            f"{f0:.0f}-{f0 * rng.uniform(0.5, 0.75):.0f}"), m)
        mix = float(rng.uniform(0.2, 0.6)) * voiced + _noise("brown", m, rng) * 0.5
        exhale = run_sox(["lowpass", f"{rng.uniform(1200, 2400):.0f}", "fade", "q", f"{d * 0.15:.3f}", f"{d:.3f}",
                       f"{d * 0.6:.3f}"], mix)
        gap = np.zeros(int(rng.uniform(0.02, 0.1) * SAMPLE_RATE), np.float32)
        x = np.concatenate([0.5 * inhale / (np.abs(inhale).max() + 1e-9), gap, exhale / (np.abs(exhale).max() + 1e-9)])
    elif tag == "cough":
        parts = []
        for k in range(int(rng.integers(1, 4))):
            d = float(rng.uniform(0.06, 0.18))
            m = int(d * SAMPLE_RATE)
            click = _fit(_tone("square", 0.025, f"{rng.uniform(120, 260):.0f}"), m) * float(rng.uniform(0.3, 0.8))
            b = run_sox(["highpass", f"{rng.uniform(300, 900):.0f}", "lowpass", f"{rng.uniform(3500, 6500):.0f}",
                      "fade", "t", "0.003", f"{d:.3f}", f"{d * 0.85:.3f}"], click + _noise("white", m, rng))
            parts += [b * (0.8 ** k), np.zeros(int(rng.uniform(0.08, 0.25) * SAMPLE_RATE), np.float32)]
        x = np.concatenate(parts[:-1])
    elif tag == "other":
        x = _other(rng)
    else:
        raise InputError(tag, f"unknown vocalization (choose from {', '.join(SYNTH_TAGS)})")
    a, b = audible_span(x)
    x = x[a:b]
    return (x / max(float(np.abs(x).max()), 1e-9)).astype(np.float32)


def _other(rng: np.random.Generator) -> np.ndarray:
    """A non-vocal sound: a beep (sine or square, 0.1-0.6 s), a click train, a knock (2-4 decaying low
    thumps) or a hum burst (mains-like 50/60 Hz harmonics, 0.3-1 s)."""
    kind = int(rng.integers(4))
    if kind == 0:
        d = float(rng.uniform(0.1, 0.6))
        x = run_sox(["fade", "t", "0.005", f"{d:.3f}", "0.01"],
                    synth_args=[f"{d:.4f}", ["sine", "square"][int(rng.integers(2))], f"{rng.uniform(400, 2500):.0f}"])
    elif kind == 1:
        period, n = int(rng.uniform(0.03, 0.12) * SAMPLE_RATE), int(rng.integers(4, 15))
        x = np.zeros(period * n, np.float32)
        for k in range(n):
            x[k * period : k * period + 40] = _noise("white", 40, rng) * np.exp(-np.arange(40) / 8)
    elif kind == 2:
        parts = []
        for _ in range(int(rng.integers(2, 5))):
            m = int(rng.uniform(0.06, 0.12) * SAMPLE_RATE)
            t = np.arange(m) / SAMPLE_RATE
            thump = np.sin(2 * np.pi * rng.uniform(80, 250) * t) * np.exp(-t / rng.uniform(0.01, 0.03))
            parts += [(thump + 0.2 * _noise("white", m, rng) * np.exp(-t / 0.005)).astype(np.float32),
                      np.zeros(int(rng.uniform(0.1, 0.25) * SAMPLE_RATE), np.float32)]
        x = np.concatenate(parts[:-1])
    else:
        d, f0 = float(rng.uniform(0.3, 1.0)), [50.0, 60.0][int(rng.integers(2))]
        t = np.arange(int(d * SAMPLE_RATE)) / SAMPLE_RATE
        x = sum(rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * f0 * h * t) for h in (1, 2, 3, 5)).astype(np.float32)
        x = run_sox(["fade", "q", "0.05", f"{d:.3f}", "0.05"], x)
    return np.asarray(x, dtype=np.float32)


def audible_span(x: np.ndarray, rel: float = 0.01) -> tuple[int, int]:
    """First and one-past-last sample above ``rel`` x the peak (the event's extent).

    >>> audible_span(np.array([0, 0.001, 0.5, 1.0, 0.02, 0.0]))
    (2, 5)
    """
    idx = np.flatnonzero(np.abs(x) > rel * np.abs(x).max()) if len(x) else []
    return (int(idx[0]), int(idx[-1]) + 1) if len(idx) else (0, len(x))


def _rms(x: np.ndarray) -> np.ndarray:
    n = len(x) // 320
    return np.sqrt(np.mean(x[: n * 320].reshape(n, 320) ** 2, axis=1) + 1e-20)


def _speech_rms(x: np.ndarray) -> float:
    r = np.sort(_rms(x))
    return float(np.sqrt(np.mean(r[int(0.7 * len(r)):] ** 2))) if len(r) else 1e-3


def _clear(starts: np.ndarray, length: int, taken, gap: int) -> np.ndarray:
    """Which candidate start samples put ``length`` samples at least ``gap`` samples from every span of
    ``taken`` (sample spans ``(s, e)`` of the sounds already planted)."""
    ok = np.ones(len(starts), dtype=bool)
    for s, e in taken:
        ok &= (starts + length + gap <= s) | (starts >= e + gap)
    return ok


def plant(x: np.ndarray, sound: np.ndarray, mode: str, rng: np.random.Generator, taken=(),
          gap: int = 0) -> tuple[np.ndarray, int] | None:
    """Put ``sound`` into speech ``x``: ``insert`` at a quiet 20 ms point (the clip grows) or ``overlay``
    over the loudest half of the frames (speech continues under it). Returns (new samples, start sample), or
    None when no point is left ``gap`` samples clear of the sounds already planted at sample spans ``taken``
    (an insert never lands inside one: it would split it, and its label would no longer be its sound).

    >>> x = np.r_[np.zeros(3200), np.ones(3200), np.zeros(3200)].astype(np.float32)
    >>> y, at = plant(x, np.full(320, 2.0, np.float32), "insert", np.random.default_rng(0), taken=[(3200, 6400)],
    ...               gap=1600)
    >>> len(y), at <= 3200 - 1600 or at >= 6400 + 1600
    (9920, True)
    >>> plant(x, np.ones(320, np.float32), "insert", np.random.default_rng(0), taken=[(0, 9600)]) is None
    True
    """
    r = _rms(x)
    if mode == "overlay" and len(x) > len(sound):
        loud = np.minimum(np.flatnonzero(r >= np.median(r)) * 320, len(x) - len(sound))
        loud = loud[_clear(loud, len(sound), taken, gap)]
        if not len(loud):
            return None
        at = int(loud[int(rng.integers(len(loud)))])
        y = x.copy()
        y[at : at + len(sound)] += sound
        return y, at
    # quiet points: the quietest third of frames, never the first/last 5 % (keeps events inside the clip)
    lo, hi = int(0.05 * len(r)), max(int(0.05 * len(r)) + 1, int(0.95 * len(r)))
    cand = (lo + np.flatnonzero(r[lo:hi] <= np.quantile(r[lo:hi], 0.33))) * 320
    if not len(cand):
        cand = np.array([len(x) // 2])
    cand = cand[_clear(cand, 0, taken, gap)]  # an inserted sound pushes later ones on: only its point matters
    if not len(cand):
        return None
    at = int(cand[int(rng.integers(len(cand)))])
    return np.concatenate([x[:at], sound, x[at:]]).astype(np.float32), at


def _seed(*parts) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "little")


def _sound_pool(sounds: pd.DataFrame | None, hosts, seed: int, longest: float, where) -> dict:
    """``{host speaker: {category: [sound rows]}}`` of real sounds, each vocalizing person dealt to one host."""
    if sounds is None or sounds.empty:
        return {}
    from .vocal_sounds import assign_people

    too_long = sounds[sounds["duration_s"] > longest]
    if len(too_long):
        r = too_long.iloc[0]
        raise InputError(where, f"{r['path']}: {r['duration_s']:.2f} s is longer than every speech clip to plant "
                                f"into (longest {longest:.2f} s); cut it or bring longer speech")
    owner = assign_people(sounds["person"], hosts, seed)
    pool: dict = {}
    for r in sounds.to_dict("records"):
        pool.setdefault(owner[str(r["person"])], {}).setdefault(r["category"], []).append(r)
    return pool


def real_sound(row: dict) -> np.ndarray:
    """A real sound's samples (16 kHz mono float32) cut to its audible span, peak 1."""
    from .audio import load_audio

    x = np.asarray(load_audio(row["path"]).samples, dtype=np.float32)
    a, b = audible_span(x)
    x = x[a:b]
    return x / max(float(np.abs(x).max()), 1e-9)


def loud_span(x: np.ndarray, db: float = 30.0, hop: int = 320) -> tuple[int, int]:
    """First and one-past-last sample of the 20 ms frames within ``db`` of the loudest frame's RMS: a real
    recording's sound without the quiet lead-in and tail its cut kept (breath noise of the microphone).

    >>> x = np.concatenate([np.full(640, 1e-3), np.ones(960), np.full(640, 1e-3)]).astype(np.float32)
    >>> loud_span(x)
    (640, 1600)
    """
    n = len(x) // hop
    if n == 0:
        return 0, len(x)
    r = np.sqrt(np.mean(np.asarray(x[: n * hop], dtype=np.float64).reshape(n, hop) ** 2, axis=1) + 1e-20)
    on = np.flatnonzero(20 * np.log10(r / r.max()) >= -db)
    return int(on[0] * hop), int(min(len(x), (on[-1] + 1) * hop))


def plant_with_floor(x: np.ndarray, snd: np.ndarray, mode: str, rng: np.random.Generator,
                     floor: bool = True, taken=(), gap: int = 0) -> tuple[np.ndarray, int, str] | None:
    """:func:`plant` with the host's own noise floor under an inserted sound (overlay: speech already is under
    it). Returns (new samples, start sample, the mode used: overlay falls back to insert in a short clip), or
    None when no point is clear of ``taken`` (see :func:`plant`)."""
    from .vocal_sounds import noise_floor

    if mode == "overlay" and len(x) <= len(snd):
        mode = "insert"
    if mode == "insert" and floor:
        snd = snd + noise_floor(x, len(snd), rng)
    got = plant(x, snd, mode, rng, taken, gap)
    return None if got is None else (*got, mode)


def build_planted(manifest, out, n_clips: int = 400, seed: int = 0, tags=TAGS, overlay: float = 0.25,
                  empty: float = 0.25, level=(0.2, 0.9), speakers=None, progress: bool = True, sounds=None,
                  floor: bool = True, copies: int = 1) -> pd.DataFrame:
    """Plant 0-2 vocalizations into each of about ``n_clips`` speech clips of ``manifest`` (one manifest or
    corpus directory, or a list of them): synthetic ones of ``tags`` and real ones from ``sounds`` (a
    :func:`explain_ser.vocal_sounds.read_sounds` table or source; categories as they are named there).

    An equal number of clips per speaker (seeded); ``speakers``: only these. ``empty``: share of clips with
    no event (negatives); the rest get one event, or two with probability 1/3, of a category drawn uniformly
    from those the clip's speaker has (synthetic tags always; a real category when a vocalizing person dealt
    to this speaker recorded it). Each sound is scaled to ``level`` (uniform) x the speech's level (the loudest
    30 % of its frames); ``floor``: inserted sounds get the host's noise floor under them. ``copies``: each
    picked clip is planted that many times, with other sounds and places (more real events from the same
    recordings and the same people-to-speaker deal; copy 0 is the table of ``copies=1``). Writes
    ``out/audio``, ``out/events.csv`` (with ``kind`` real/synthetic, the real sound's path, person and
    attribution) and ``out/build.json`` (all or nothing: built beside ``out`` and renamed into place) and
    returns the events table.
    """
    from tqdm.auto import tqdm

    import soundfile as sf

    from .audio import load_audio
    from .corpora import load_manifest_or_dir

    if copies < 1:
        raise InputError(f"copies {copies}", "must be 1 or more")
    sources = [manifest] if isinstance(manifest, (str, os.PathLike)) else list(manifest)
    src = pd.concat([load_manifest_or_dir(m) for m in sources], ignore_index=True)
    tags = tuple(tags)
    for t in tags:
        if t not in SYNTH_TAGS:
            raise InputError(t, f"unknown synthetic sound (choose from {', '.join(SYNTH_TAGS)})")
    if sounds is not None and not isinstance(sounds, pd.DataFrame):
        from .vocal_sounds import read_sounds

        sounds = read_sounds(sounds)
    if speakers is not None:
        keep = {str(s) for s in speakers}
        src = src[src["speaker"].astype(str).isin(keep)]
        if src.empty:
            raise InputError(manifest, f"no clips of the speakers {sorted(keep)}")
    if not tags and (sounds is None or sounds.empty):
        raise InputError(manifest, "nothing to plant: no synthetic tags and no sounds")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(out, "exists and is not an empty directory; choose a new --out")
    rng = np.random.default_rng(seed)
    groups = sorted(src["speaker"].astype(str).unique())
    per = max(1, n_clips // max(1, len(groups)))
    picks = []
    for s in groups:
        idx = np.flatnonzero(src["speaker"].astype(str).to_numpy() == s)
        picks += sorted(rng.choice(idx, size=min(per, len(idx)), replace=False).tolist())
    longest = max(float(load_audio(src.iloc[i]["path"]).duration) for i in picks) if sounds is not None else 0.0
    pool = _sound_pool(sounds, groups, seed, longest, sources[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private to its author
    rows = []
    jobs = [(c, pos) for c in range(copies) for pos in picks]
    try:
        (tmp / "audio").mkdir()
        for i, (copy, pos) in enumerate(tqdm(jobs, desc="plant vocalizations", disable=not progress)):
            row = src.iloc[pos]
            spk = str(row["speaker"])
            # one generator per clip, from the speaker's seed stream: held-out speakers = held-out sound seeds
            key = (seed, spk, row["clip_id"]) + ((f"copy{copy}",) if copy else ())  # copy 0: the seeds of copies=1
            crng = np.random.default_rng(_seed(*key))
            x = np.asarray(load_audio(row["path"]).samples, dtype=np.float32)
            level0 = _speech_rms(x)
            mine = pool.get(spk, {})
            cats = sorted(set(tags) | set(mine))
            u = crng.random()
            n_ev = 0 if u < empty else (2 if crng.random() < 1 / 3 else 1)
            events = []
            for _ in range(n_ev):
                tag = cats[int(crng.integers(len(cats)))]
                sseed = _seed(*key[:3], len(events), *key[3:])
                if tag in mine:  # a real recording of this speaker's vocalizing people
                    real = mine[tag][int(crng.integers(len(mine[tag])))]
                    snd = real_sound(real)
                    a, b = loud_span(snd)  # the event is the sound, not the recording's lead-in and tail noise
                    snd = snd[a:b] / max(float(np.abs(snd[a:b]).max()), 1e-9)
                else:
                    real, snd = None, synth(tag, np.random.default_rng(sseed))
                gain = level0 * float(crng.uniform(*level)) / max(_speech_rms(snd), 1e-9)
                mode = "overlay" if crng.random() < overlay else "insert"
                got = plant_with_floor(x, snd * gain, mode, crng, floor, [e[:2] for e in events], SPACING)
                if got is None:  # no point left clear of the first sound: the clip keeps one event
                    break
                x, at, mode = got
                # earlier events move when a later sound is inserted before them
                if mode == "insert":
                    events = [(s + len(snd) if s >= at else s, e + len(snd) if s >= at else e, *rest)
                              for s, e, *rest in events]
                events.append((at, at + len(snd), tag, mode, sseed, real))
            peak = float(np.abs(x).max())
            if peak > 0.999:
                x = x * (0.999 / peak)
            name = f"{Path(str(row['path'])).stem}_{i:04d}"
            rel = f"audio/{name}.flac"
            sf.write(str(tmp / rel), x, SAMPLE_RATE, subtype="PCM_16")
            # transcript and language travel along: a rule-based tagger needs the words to compare against
            base = {"path": rel, "speaker": spk, "source": str(row["path"]),
                    "transcript": str(row.get("transcript", "") or ""), "language": str(row.get("language", "") or "")}
            if not events:
                rows.append({**base, "start": "", "end": "", "tag": "", "mode": "", "sound_seed": ""})
            for s, e, t, m, q, real in sorted(events, key=lambda ev: ev[:2]):
                # s / 16000 has at most 7 decimals: repr is the sample time exactly
                rows.append({**base, "start": repr(s / SAMPLE_RATE), "end": repr(e / SAMPLE_RATE), "tag": t,
                             "mode": m, "sound_seed": "" if real else str(q), "kind": "real" if real else "synthetic",
                             "sound": real["path"] if real else "", "sound_person": real["person"] if real else "",
                             "attribution": real["attribution"] if real else ""})
        df = pd.DataFrame(rows).reindex(columns=["path", "start", "end", "tag", "speaker", "source", "mode", "kind",
                                                 "sound_seed", "sound", "sound_person", "attribution", "transcript",
                                                 "language"]).fillna("")
        df.to_csv(tmp / "events.csv", index=False)
        attributions = sorted({a for a in df["attribution"] if a})
        (tmp / "build.json").write_text(json.dumps({
            "manifest": [str(m) for m in sources], "n_clips": n_clips, "seed": seed, "tags": list(tags), "overlay": overlay,
            "empty": empty, "level": list(level), "copies": copies, "speakers": None if speakers is None else sorted(map(str, speakers)),
            "floor": floor, "real_categories": sorted({c for m in pool.values() for c in m}),
            "synthetic_tags": list(tags), "sounds": None if sounds is None else len(sounds),
            "attribution": attributions,
        }, indent=2) + "\n")
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return df
