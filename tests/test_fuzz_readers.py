"""Fuzzing the readers of user files: audio, TextGrid, manifest.

Every input either loads or raises the project's one-line InputError naming the file;
no other exception, no third-party warning (Python's or a C library's on fd 2), no
file written beside the input. Derandomised, so CI sees the same examples every run.
"""

from __future__ import annotations

import math
import shutil
import struct
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from explain_ser.align.base import Alignment, Interval
from explain_ser.align.textgrid import read_alignment, write_alignment
from explain_ser.audio import Clip, SilentClipWarning, TruncatedAudioWarning, load_audio
from explain_ser.corpora import read_manifest
from explain_ser.errors import InputError

PROJECT_WARNINGS = (SilentClipWarning, TruncatedAudioWarning)
# Each audio example may start ffmpeg and ffprobe (~0.1 s each on a busy machine): few examples there.
FUZZ = settings(derandomize=True, deadline=None, database=None, max_examples=40,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FUZZ_FFMPEG = settings(FUZZ, max_examples=25)
pytestmark = pytest.mark.timeout(120)


def check_reader(read, path: Path, capfd) -> object | None:
    """``read(path)`` returns or raises a one-line InputError naming the file; nothing else happens."""
    before = sorted(path.parent.iterdir())
    result = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = read(path)
        except InputError as err:
            msg = str(err)
            assert "\n" not in msg and path.name in msg, msg
    foreign = [f"{w.category.__name__}: {w.message}" for w in caught if not issubclass(w.category, PROJECT_WARNINGS)]
    assert not foreign, foreign
    for w in caught:  # the project's own warnings are one line naming the file
        assert "\n" not in str(w.message) and path.name in str(w.message), w.message
    assert sorted(path.parent.iterdir()) == before, "the reader wrote a file"
    out, err = capfd.readouterr()
    assert out == "" and err == "", (out, err)
    return result


def fresh_file(data: bytes, name: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix="fuzz"))
    path = d / name
    path.write_bytes(data)
    return path


@pytest.fixture(autouse=True)
def _cleanup_tmp(monkeypatch, tmp_path):
    # mkdtemp under the test's own tmp_path, so hypothesis' many examples leave nothing behind
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def check_clip(clip):
    if clip is None:
        return
    assert isinstance(clip, Clip) and clip.rate == 16000 and clip.samples.dtype == np.float32
    assert clip.samples.ndim == 1 and clip.n_frames >= 1 and np.all(np.isfinite(clip.samples))
    assert clip.truncated == bool(clip.notes)


# --- audio ----------------------------------------------------------------------------------------

AUDIO_NAMES = ["a.wav", "a.flac", "a.mp3", "a.ogg", "a.m4a", "a.bin"]


@FUZZ_FFMPEG
@given(data=st.binary(max_size=4096), name=st.sampled_from(AUDIO_NAMES))
def test_random_bytes(data, name, capfd):
    if not data:
        data = b"\0"
    check_clip(check_reader(load_audio, fresh_file(data, name), capfd))


def _tone(n, channels=1, rate=16000):
    t = np.arange(n) / rate
    x = 0.4 * np.sin(2 * np.pi * 220 * t)
    return np.stack([x] * channels, axis=1).astype(np.float32)


def test_wav_truncated_at_every_byte(tmp_path, capfd, monkeypatch):
    """A project-made 16-bit WAV cut at every byte: loads (warned as truncated) or is refused.

    libsndfile alone (ffmpeg hidden: each ffmpeg start costs ~0.3 s on a busy machine), then the
    cuts inside the header, where libsndfile gives up, once more through the ffmpeg fallback.
    """
    import explain_ser.audio as audio

    src = tmp_path / "src" / "tone.wav"
    src.parent.mkdir()
    sf.write(src, _tone(400), 16000, subtype="PCM_16")
    whole = src.read_bytes()
    truncated = 0
    with monkeypatch.context() as m:
        m.setattr(audio.shutil, "which", lambda name: None)
        for cut in range(1, len(whole)):
            path = fresh_file(whole[:cut], "cut.wav")
            clip = check_reader(load_audio, path, capfd)
            check_clip(clip)
            if clip is not None:
                truncated += 1
                assert clip.truncated and clip.declared_duration == pytest.approx(0.025)
            shutil.rmtree(path.parent)
    # every cut that keeps one 20 ms frame (320 samples) loads, and says it was cut
    assert truncated == 2 * (400 - 320)
    for cut in range(1, 48, 4):
        check_clip(check_reader(load_audio, fresh_file(whole[:cut], "head.wav"), capfd))


@pytest.fixture(scope="module")
def small_files(tmp_path_factory):
    """A short FLAC (soundfile) and, with ffmpeg, an mp3 of the same tone (the mpg123 path)."""
    d = tmp_path_factory.mktemp("small")
    out = {"flac": d / "tone.flac"}
    sf.write(out["flac"], _tone(4000), 16000, subtype="PCM_16")
    if shutil.which("ffmpeg"):
        wav = d / "tone.wav"
        sf.write(wav, _tone(8000, rate=16000), 16000)
        out["mp3"] = d / "tone.mp3"
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), str(out["mp3"])], check=True)
    return {k: v.read_bytes() for k, v in out.items()}


@FUZZ_FFMPEG
@given(where=st.floats(0.0, 1.0), kind=st.sampled_from(["flac", "mp3"]))
def test_compressed_truncated(small_files, where, kind, capfd):
    if kind not in small_files:
        pytest.skip("ffmpeg not installed")
    whole = small_files[kind]
    cut = max(1, int(where * len(whole)))
    clip = check_reader(load_audio, fresh_file(whole[:cut], f"cut.{kind}"), capfd)
    check_clip(clip)
    if clip is not None and cut < len(whole) // 2:
        # half the data gone cannot pass as whole when the header says how long it was
        assert clip.truncated or clip.declared_duration is None


def wav_header(fmt_tag, channels, rate, byte_rate, block_align, bits, data_size, riff_size=None, extra=b""):
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, byte_rate, block_align, bits) + extra
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", data_size)
    return b"RIFF" + struct.pack("<I", len(body) + data_size if riff_size is None else riff_size) + body


u16, u32 = st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)


@FUZZ_FFMPEG
@given(fmt_tag=st.one_of(st.sampled_from([1, 3, 6, 7, 0xFFFE]), u16),
       channels=st.one_of(st.integers(0, 9), u16), rate=st.one_of(st.sampled_from([0, 1, 8000, 16000, 44100, 10**9]), u32),
       byte_rate=u32, block_align=st.one_of(st.integers(0, 16), u16), bits=st.sampled_from([0, 1, 8, 12, 16, 24, 32, 64, 65535]),
       data_size=st.one_of(st.integers(0, 4096), u32), riff_size=st.one_of(st.none(), u32),
       extra=st.binary(max_size=30), payload=st.binary(max_size=2048))
def test_random_wav_headers(fmt_tag, channels, rate, byte_rate, block_align, bits, data_size, riff_size, extra,
                            payload, capfd):
    header = wav_header(fmt_tag, channels, rate, byte_rate, block_align, bits, data_size, riff_size, extra)
    check_clip(check_reader(load_audio, fresh_file(header + payload, "h.wav"), capfd))


FORMATS = ([("WAV", t) for t in ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")]
           + [("FLAC", t) for t in ("PCM_S8", "PCM_16", "PCM_24")]
           + [("AIFF", t) for t in ("PCM_S8", "PCM_16", "PCM_32", "FLOAT")])


@settings(FUZZ, max_examples=100)
@given(rate=st.one_of(st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000]),
                      st.sampled_from([1, 999, 1000, 96000, 768000, 800000]), st.integers(1, 1_000_000)),
       channels=st.integers(1, 12), n=st.integers(0, 6000), fmt=st.sampled_from(FORMATS),
       value=st.one_of(st.sampled_from([0.0, 0.5, -0.99, 1.5, -2.5, 1e6]),
                       st.floats(allow_nan=True, allow_infinity=True, width=32)),
       spike=st.one_of(st.none(), st.integers(0, 6000)))
def test_rates_channels_dtypes(rate, channels, n, fmt, value, spike, capfd):
    container, subtype = fmt
    x = _tone(n, channels, rate=max(rate, 1))
    if n and spike is not None:
        x[spike % n] = value
    path = fresh_file(b"", f"a.{container.lower()}")
    try:
        sf.write(path, x, rate, format=container, subtype=subtype)
    except (sf.LibsndfileError, ValueError, TypeError, RuntimeError):
        event("libsndfile cannot write this")
        return  # a combination libsndfile cannot write (FLAC and floats, rates FLAC lacks): not our input
    clip = check_reader(load_audio, path, capfd)
    event("loaded" if clip is not None else "refused")
    check_clip(clip)
    float_file = subtype in ("FLOAT", "DOUBLE") and container == "WAV"
    if float_file and n and spike is not None and not np.isfinite(value):
        assert clip is None  # refused: NaN/inf
    if float_file and n and spike is not None and np.isfinite(value) and abs(value) > 2.0:
        assert clip is None  # refused: beyond full scale


@settings(FUZZ, max_examples=100)
@given(dtype=st.sampled_from(["int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64", "bool",
                              "complex64"]),
       shape=st.one_of(st.tuples(st.integers(0, 2000)), st.tuples(st.integers(0, 2000), st.integers(1, 4)),
                       st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5))),
       rate=st.one_of(st.sampled_from([0, 8000, 16000, 44100]), st.integers(-10, 2_000_000)), scale=st.floats(0, 1e9))
def test_from_array(dtype, shape, rate, scale):
    x = (np.random.default_rng(0).standard_normal(shape) * scale)
    with np.errstate(over="ignore", invalid="ignore"):  # the cast saturating is part of the input
        x = x.astype(dtype) if dtype not in ("bool",) else x > 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            clip = Clip.from_array(x, rate, "arr")
        except InputError as err:
            assert "\n" not in str(err) and str(err).startswith("arr: ")
        else:
            check_clip(clip)
    assert all(issubclass(w.category, PROJECT_WARNINGS) for w in caught), [str(w.message) for w in caught]


def test_clip_records_truncation(tmp_path, capfd):
    """The issue's case: a FLAC cut in half is neither silently shorter nor an exit-0 surprise."""
    path = tmp_path / "half.flac"
    sf.write(tmp_path / "whole.flac", _tone(16000 * 3), 16000)
    whole = (tmp_path / "whole.flac").read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.warns(TruncatedAudioWarning, match=r"half\.flac: truncated: the header declares 3\.00 s"):
        clip = load_audio(path)
    assert clip.truncated and clip.declared_duration == pytest.approx(3.0) and clip.duration < 2.0
    assert clip.notes and "3.00 s" in clip.notes[0] and f"{clip.duration:.2f} s" in clip.notes[0]
    with pytest.raises(InputError, match=r"half\.flac: truncated"):
        load_audio(path, strict=True)
    whole_clip = load_audio(tmp_path / "whole.flac", strict=True)
    assert not whole_clip.truncated and whole_clip.notes == [] and whole_clip.declared_duration == pytest.approx(3.0)


def test_out_of_range_floats_have_their_own_reason(tmp_path):
    sf.write(tmp_path / "big.wav", np.full(16000, 1e6, np.float32), 16000, subtype="FLOAT")
    with pytest.raises(InputError, match=r"big\.wav: samples exceed full scale by 120\.0 dB \(peak 1e\+06"):
        load_audio(tmp_path / "big.wav")
    # modest overs (lossy decoders, float editors) load unchanged
    sf.write(tmp_path / "over.wav", _tone(16000)[:, 0] * 3.0, 16000, subtype="FLOAT")
    assert load_audio(tmp_path / "over.wav").samples.max() == pytest.approx(1.2, abs=1e-3)


# --- TextGrid ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def textgrid_text(tmp_path_factory):
    a = Alignment([Interval(0.1, 0.5, "hi"), Interval(0.6, 0.9, "there")],
                  [Interval(0.1, 0.3, "HH"), Interval(0.3, 0.5, "AY1"), Interval(0.6, 0.9, "DH")],
                  vocalizations=[Interval(0.95, 1.0, "laugh")], duration=1.0, backend="test")
    p = tmp_path_factory.mktemp("tg") / "a.TextGrid"
    write_alignment(a, p)
    return p.read_text()


def test_textgrid_truncated_at_every_char(textgrid_text, capfd):
    loaded = 0
    for cut in range(0, len(textgrid_text), 7):
        path = fresh_file(textgrid_text[:cut].encode(), "t.TextGrid")
        loaded += check_reader(read_alignment, path, capfd) is not None
        shutil.rmtree(path.parent)
    whole = check_reader(read_alignment, fresh_file(textgrid_text.encode(), "t.TextGrid"), capfd)
    assert whole is not None  # the uncut file reads back as written, tier by tier
    assert whole.word_labels() == ["hi", "there"]
    assert [(p.label, p.start, p.end) for p in whole.phones] == [("HH", 0.1, 0.3), ("AY1", 0.3, 0.5), ("DH", 0.6, 0.9)]
    assert [v.label for v in whole.vocalizations] == ["laugh"] and whole.duration == pytest.approx(1.0)


ODD_NUMBERS = ["nan", "inf", "-inf", "-1", "-0.5", "0", "1e-320", "1e308", "1e400", "99999999999999999999", "", '"x"']


def test_textgrid_every_time_replaced(textgrid_text, capfd):
    """Each time in the file set to an odd value: refused, or an alignment with sane finite times."""
    lines = textgrid_text.splitlines()
    numeric = [i for i, line in enumerate(lines) if line.strip().startswith(("xmin", "xmax", "size"))]
    assert len(numeric) > 20
    loaded = 0
    for i in numeric:
        key = lines[i].split("=")[0]
        for value in ODD_NUMBERS:
            path = fresh_file("\n".join(lines[:i] + [f"{key}= {value}"] + lines[i + 1:]).encode(), "n.TextGrid")
            a = check_reader(read_alignment, path, capfd)
            shutil.rmtree(path.parent)
            if a is None:
                continue
            loaded += 1
            assert math.isfinite(a.duration) and a.duration >= 0
            assert all(0 <= iv.start <= iv.end <= a.duration for iv in a.words + a.phones + a.vocalizations)
    assert loaded  # harmless changes (an interval's own bound moved within its neighbours) still load


@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_textgrid_mutated(textgrid_text, data, capfd):
    """Numbers replaced by odd values, lines dropped or duplicated, random text spliced in."""
    lines = textgrid_text.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["number", "drop", "dup", "text"]))
        if op == "number" and "=" in lines[i]:
            key = lines[i].split("=")[0]
            val = data.draw(st.sampled_from(ODD_NUMBERS))
            lines[i] = f"{key}= {val}"
        elif op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        else:
            lines[i] = data.draw(st.text(max_size=40))
        if not lines:
            lines = [""]
    path = fresh_file("\n".join(lines).encode("utf-8", "surrogatepass"), "m.TextGrid")
    check_reader(read_alignment, path, capfd)


@FUZZ
@given(data=st.binary(max_size=2048))
def test_textgrid_random_bytes(data, capfd):
    check_reader(read_alignment, fresh_file(data, "r.TextGrid"), capfd)


# --- manifest ------------------------------------------------------------------------------------

CSV_CELLS = st.one_of(st.text(max_size=12), st.sampled_from(["a.wav", "/abs/b.wav", "", "NA", "\"", "\"\"", ",", "\n",
                                                             "../x.flac", "path", "clip_id", "\x00"]))


@FUZZ
@given(header=st.lists(st.one_of(st.sampled_from(["path", "emotion", "speaker", "clip_id", "path", ""]), st.text(max_size=6)),
                       min_size=0, max_size=5),
       rows=st.lists(st.lists(CSV_CELLS, max_size=6), max_size=6), sep=st.sampled_from([",", ";", "\t"]))
def test_manifest_structured(header, rows, sep, capfd):
    text = "\n".join(sep.join(r) for r in [header] + rows)
    check_reader(read_manifest, fresh_file(text.encode("utf-8", "surrogatepass"), "m.csv"), capfd)


@FUZZ
@given(data=st.binary(max_size=1024))
def test_manifest_random_bytes(data, capfd):
    check_reader(read_manifest, fresh_file(data, "r.csv"), capfd)
