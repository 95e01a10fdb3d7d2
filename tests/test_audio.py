import subprocess
import warnings

import numpy as np
import pytest
import soundfile as sf

from explain_ser.audio import Clip, SilentClipWarning, load_audio
from explain_ser.errors import InputError

from _env import EXAMPLES, needs_espeak


def tone(seconds=1.0, rate=16000, freq=220.0):
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("fmt,subtype", [("WAV", "PCM_16"), ("FLAC", "PCM_16"), ("OGG", "VORBIS")])
def test_formats_load_to_16k_mono(tmp_path, fmt, subtype):
    x = np.stack([tone(1.0, 44100), tone(1.0, 44100, 330)], axis=1)
    path = tmp_path / f"a.{fmt.lower()}"
    sf.write(path, x, 44100, format=fmt, subtype=subtype)
    clip = load_audio(path)
    assert clip.rate == 16000 and clip.samples.ndim == 1
    assert abs(clip.duration - 1.0) < 1e-3 and clip.n_frames == 50
    assert clip.clip_id == "a" and len(clip.sha256) == 64


@needs_espeak
def test_mp3_loads(tmp_path):
    wav = tmp_path / "t.wav"
    sf.write(wav, tone(1.0), 16000)
    mp3 = tmp_path / "t.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), str(mp3)], check=True)
    clip = load_audio(mp3)
    assert 0.95 < clip.duration < 1.2


def test_resampling_keeps_a_tone_in_place(tmp_path):
    path = tmp_path / "t.wav"
    sf.write(path, tone(1.0, 48000, 1000.0), 48000)
    x = load_audio(path).samples
    spec = np.abs(np.fft.rfft(x))
    assert abs(np.argmax(spec) * 16000 / len(x) - 1000.0) < 2.0


def test_hash_depends_on_content_only(tmp_path):
    x = tone()
    sf.write(tmp_path / "a.wav", x, 16000, subtype="FLOAT")
    sf.write(tmp_path / "b.flac", x, 16000, subtype="PCM_24")
    sf.write(tmp_path / "c.wav", x * 0.5, 16000, subtype="FLOAT")
    a, c = load_audio(tmp_path / "a.wav"), load_audio(tmp_path / "c.wav")
    assert a.sha256 == Clip.from_array(x, 16000).sha256
    assert a.sha256 != c.sha256


def bad_inputs(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("this is not audio at all\n" * 10)
    good = tmp_path / "good.wav"
    sf.write(good, tone(), 16000)
    (tmp_path / "trunc.wav").write_bytes(good.read_bytes()[:30])
    sf.write(tmp_path / "zero.wav", np.zeros((0,), np.float32), 16000)
    sf.write(tmp_path / "nan.wav", np.full(16000, np.nan, np.float32), 16000, subtype="FLOAT")
    sf.write(tmp_path / "short.wav", tone(0.01), 16000)
    (tmp_path / "dir.wav").mkdir()
    return {
        "missing.wav": "file not found",
        "dir.wav": "is a directory",
        "empty.wav": "empty file",
        "text.wav": "not a readable audio file",
        "trunc.wav": "not a readable audio file",
        "zero.wav": "zero samples",
        "nan.wav": "NaN or infinite",
        "short.wav": "too short",
    }


def test_bad_inputs_raise_one_line_errors(tmp_path):
    for name, problem in bad_inputs(tmp_path).items():
        with pytest.raises(InputError) as err:
            load_audio(tmp_path / name)
        msg = str(err.value)
        assert name in msg and problem in msg and "\n" not in msg, msg


def test_silent_clip_warns(tmp_path):
    sf.write(tmp_path / "s.wav", np.zeros(16000, np.float32), 16000)
    with pytest.warns(SilentClipWarning):
        clip = load_audio(tmp_path / "s.wav")
    assert clip.n_frames == 50


def test_shipped_examples_load():
    for wav in sorted(EXAMPLES.glob("*.wav")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            clip = load_audio(wav)
        assert clip.duration > 1.0
        assert (wav.with_suffix(".txt")).read_text().strip()
