"""Test sounds made on the spot: espeak-ng speech with known words, sox vocalizations, tones.

Nothing here is shipped; tests and benchmarks import it. espeak-ng and sox are
Debian packages that CI installs.
"""

from __future__ import annotations

import io
import subprocess

import numpy as np
import soundfile as sf

from explain_ser.audio import Clip, resample

RATE = 16_000


def _read_wav_bytes(data: bytes) -> np.ndarray:
    x, sr = sf.read(io.BytesIO(data), dtype="float32")
    if x.ndim > 1:
        x = x.mean(axis=1)
    return resample(x, sr, RATE).astype(np.float32)


def espeak(text: str, voice: str = "en-us", speed: int = 150) -> np.ndarray:
    """espeak-ng speech as float32 16 kHz samples."""
    out = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
                         capture_output=True, check=True).stdout
    return _read_wav_bytes(out)


def trim(x: np.ndarray, thresh: float = 0.01) -> np.ndarray:
    idx = np.flatnonzero(np.abs(x) > thresh)
    return x[idx[0] : idx[-1] + 1] if idx.size else x[:0]


def words_with_gaps(words, gaps=0.12, lead=0.3, tail=0.3, voice="en-us", speed=150):
    """Each word synthesised alone, trimmed, and joined by silences of known length.

    Returns ``(samples, [(start, end, word), ...])`` with exact word times.
    """
    gaps = [gaps] * (len(words) - 1) if np.isscalar(gaps) else list(gaps)
    parts, times, t = [np.zeros(int(lead * RATE), np.float32)], [], lead
    for i, w in enumerate(words):
        seg = trim(espeak(w, voice, speed))
        parts.append(seg)
        times.append((t, t + len(seg) / RATE, w))
        t += len(seg) / RATE
        if i < len(words) - 1:
            n = int(round(gaps[i] * RATE))
            parts.append(np.zeros(n, np.float32))
            t += n / RATE
    parts.append(np.zeros(int(tail * RATE), np.float32))
    return np.concatenate(parts), times


def clip(samples: np.ndarray, name: str = "test") -> Clip:
    return Clip(samples=np.asarray(samples, np.float32), rate=RATE, clip_id=name)


def tone(freq: float, seconds: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def sox(*effects: str, seconds: float) -> np.ndarray:
    """``sox -n`` synthesis at 16 kHz mono, e.g. ``sox("synth", "0.5", "pinknoise", seconds=0.5)``."""
    out = subprocess.run(["sox", "-n", "-r", str(RATE), "-c", "1", "-b", "16", "-t", "wav", "-", *effects],
                         capture_output=True, check=True).stdout
    x = _read_wav_bytes(out)
    return x[: int(seconds * RATE)]


def laugh(seconds: float = 0.9, rate_hz: float = 5.0, f0: float = 220.0, seed: int = 0) -> np.ndarray:
    """Laughter-like: a breathy voiced vowel switched on and off at ~5 Hz ("ha-ha-ha")."""
    s = f"{seconds}"
    voiced = sox("synth", s, "sawtooth", f"{f0}-{f0 * 0.8}", "lowpass", "2500", "vol", "0.5", seconds=seconds)
    noise = sox("synth", s, "pinknoise", "highpass", "800", "vol", "0.15", seconds=seconds)
    n = min(len(voiced), len(noise))
    t = np.arange(n) / RATE
    gate = np.clip(np.sin(2 * np.pi * rate_hz * t), 0, None) ** 1.5  # bursts, silent half-periods
    return ((voiced[:n] + noise[:n]) * gate).astype(np.float32)


def breath(seconds: float = 0.5) -> np.ndarray:
    """An inhalation: band-passed noise, soft, with a slow rise and fall."""
    x = sox("synth", f"{seconds}", "pinknoise", "bandpass", "1500", "1000h", "vol", "0.12",
            "fade", "t", f"{seconds * 0.4}", "0", f"{seconds * 0.4}", seconds=seconds)
    return x


def cough(seconds: float = 0.3) -> np.ndarray:
    """A cough: a loud broadband burst with a sharp attack and fast decay."""
    x = sox("synth", f"{seconds}", "whitenoise", "lowpass", "4000", "vol", "0.6", seconds=seconds)
    env = np.exp(-np.arange(len(x)) / (0.06 * RATE))
    env[: int(0.004 * RATE)] *= np.linspace(0, 1, int(0.004 * RATE))
    return (x * env).astype(np.float32)


def sigh(seconds: float = 0.8) -> np.ndarray:
    """A sigh: a breathy exhalation with a falling voiced component and a slow decay."""
    s = f"{seconds}"
    noise = sox("synth", s, "pinknoise", "lowpass", "2000", "vol", "0.2", seconds=seconds)
    voiced = sox("synth", s, "sine", "180-110", "vol", "0.12", seconds=seconds)
    n = min(len(noise), len(voiced))
    env = np.linspace(1, 0.05, n) * np.clip(np.arange(n) / (0.08 * RATE), 0, 1)
    return ((noise[:n] + voiced[:n]) * env).astype(np.float32)


def plant(host: np.ndarray, sound: np.ndarray, at: float) -> np.ndarray:
    """Add ``sound`` into ``host`` starting at ``at`` seconds (host extended if needed)."""
    i = int(round(at * RATE))
    out = np.concatenate([host, np.zeros(max(0, i + len(sound) - len(host)), np.float32)])
    out[i : i + len(sound)] += sound
    return out


# Known sentences in the languages the multilingual tests speak (espeak-ng voices): (voice, text).
# Two sentences each, so that Whisper hears a few seconds of the language.
MULTILINGUAL = {
    "en": ("en-us", "Kids are talking by the door. I will call you tomorrow morning."),
    "de": ("de", "Der Lappen liegt auf dem Eisschrank. Heute abend könnte ich es ihm sagen."),
    "fr": ("fr", "Le chat dort sur le canapé. Nous allons au marché demain matin."),
    "es": ("es", "El perro come su comida en la cocina. Mañana vamos a la playa con mis amigos."),
    "ur": ("ur", "یہ کتاب بہت اچھی ہے اور میں اسے روز پڑھتا ہوں۔ کل بارش ہوگی۔"),
    "hi": ("hi", "यह किताब बहुत अच्छी है और मैं इसे रोज़ पढ़ता हूँ। कल बारिश होगी।"),
    "fa": ("fa", "این کتاب خیلی خوب است و من هر روز آن را می خوانم. فردا باران می بارد."),
}


def spoken(language: str, speed: int = 150) -> np.ndarray:
    """espeak-ng speech of :data:`MULTILINGUAL`'s sentences in ``language`` (16 kHz float32)."""
    voice, text = MULTILINGUAL[language]
    return espeak(text, voice, speed)
