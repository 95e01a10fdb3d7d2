"""Speech segmentation of long recordings (explain_ser.vad): spans at known times, block reading, bad files."""

from __future__ import annotations

import math
import numpy as np
import pytest
import soundfile as sf

from _env import needs_espeak
from explain_ser.errors import InputError
from explain_ser.vad import (Span, have_silero, recording_info, segment_recording, spans_from_activity,
                             split_long, stream_blocks)

needs_silero = pytest.mark.skipif(not have_silero(), reason="silero-vad not installed")
RATE = 16_000


@pytest.fixture(scope="module")
def three_sentences(tmp_path_factory):
    """Three espeak-ng sentences with 1.0 s and 1.5 s of silence between them, 2 s lead, 1 s tail."""
    from _speech import words_with_gaps

    x, times = words_with_gaps(["Kids are talking by the door", "Dogs are sitting by the door", "I never said that"],
                               gaps=[1.0, 1.5], lead=2.0, tail=1.0)
    p = tmp_path_factory.mktemp("vad") / "three.wav"
    sf.write(p, x, RATE)
    return p, x, times


def _close(spans, times, tol):
    assert len(spans) == len(times), ([(s.start, s.end) for s in spans], times)
    for s, (a, b, _) in zip(spans, times):
        assert abs(s.start - a) <= tol and abs(s.end - b) <= tol, ((s.start, s.end), (a, b))


@needs_espeak
def test_energy_finds_the_sentences_at_their_times(three_sentences):
    p, _, times = three_sentences
    seg = segment_recording(p, vad="energy")
    _close(seg.spans, times, tol=0.08)  # 30 ms padding + one 20 ms frame + the level threshold
    assert seg.vad == "energy" and seg.duration == pytest.approx(len(three_sentences[1]) / RATE)
    for s in seg.spans:  # on the encoder's grid: whole 20 ms frames
        assert s.first_sample % 320 == 0 and s.end_sample % 320 == 0


@needs_espeak
@needs_silero
def test_silero_finds_the_sentences_at_their_times(three_sentences):
    p, _, times = three_sentences
    seg = segment_recording(p, vad="silero")
    assert seg.vad == "silero"
    _close(seg.spans, times, tol=0.15)


@needs_espeak
@needs_silero
def test_batched_streams_agree_with_silero_run_whole(tmp_path):
    """The side-by-side streams (each primed with 1 s of the audio before it) give silero's own segmentation
    of the whole signal run as one stream, though every utterance straddles stream edges."""
    import torch
    from _speech import espeak, trim
    from silero_vad import get_speech_timestamps, load_silero_vad

    parts, t = [np.zeros(int(6.5 * RATE), np.float32)], 6.5
    for text in ["Kids are talking by the door", "Dogs are sitting by the door", "Please call Stella",
                 "Ask her to bring these things"]:
        s = trim(espeak(text))
        parts += [s, np.zeros(int(2.6 * RATE), np.float32)]
    x = np.concatenate(parts)
    p = tmp_path / "long.wav"
    sf.write(p, x, RATE)
    ours = segment_recording(p, vad="silero", min_pause=0.3, pad=0.03)
    from explain_ser.threads import single_thread

    with single_thread():  # one window per call: a thread pool only adds waiting (silero's own setting)
        ref = get_speech_timestamps(torch.from_numpy(x), load_silero_vad(), min_silence_duration_ms=300,
                                    speech_pad_ms=30, max_speech_duration_s=30)
    from explain_ser.vad import SILERO_WINDOW, STREAM_WINDOWS, STREAMS, WARM_WINDOWS

    n_windows = -(-len(x) // SILERO_WINDOW)  # a short recording: streams of max(1 s, 1/64 of it)
    edge = min(STREAM_WINDOWS, max(WARM_WINDOWS, -(-n_windows // STREAMS))) * SILERO_WINDOW / RATE
    assert all(math.floor(s.start / edge) < math.floor(s.end / edge) for s in ours.spans)
    assert len(ours.spans) == len(ref)
    for s, r in zip(ours.spans, ref):
        assert abs(s.start - r["start"] / RATE) <= 0.05 and abs(s.end - r["end"] / RATE) <= 0.05


@needs_silero
def test_silero_import_keeps_the_thread_count(tmp_path):
    import torch

    p = tmp_path / "quiet.wav"
    sf.write(p, np.zeros(RATE, np.float32), RATE)
    before = torch.get_num_threads()
    segment_recording(p, vad="silero")
    assert torch.get_num_threads() == before


def test_silence_gives_no_utterances(tmp_path):
    p = tmp_path / "quiet.wav"
    sf.write(p, np.zeros(3 * RATE, np.float32), RATE)
    seg = segment_recording(p, vad="energy")
    assert seg.spans == [] and seg.duration == 3.0


def test_long_speech_is_split_below_30_s(tmp_path):
    """45 s without a pause: every utterance fits one Whisper window, cut where it is quietest."""
    rng = np.random.default_rng(1)
    x = np.zeros(55 * RATE, np.float32)  # 5 s of silence either side: the energy VAD needs a floor to compare with
    x[5 * RATE : 50 * RATE] = 0.2 * rng.standard_normal(45 * RATE)
    x[int(25.0 * RATE) : int(25.1 * RATE)] *= 0.05  # a dip, too short to be a pause
    p = tmp_path / "talk.wav"
    sf.write(p, x, RATE)
    seg = segment_recording(p, vad="energy", max_len=30.0)
    assert len(seg.spans) == 2
    assert all(s.n_frames <= 1500 for s in seg.spans)
    assert seg.spans[0].start == pytest.approx(5.0, abs=0.05)  # 30 ms padding, on the 20 ms grid
    assert seg.spans[0].end == pytest.approx(25.0, abs=0.1)
    assert seg.spans[0].end_frame == seg.spans[1].first_frame  # nothing lost at the cut


def test_split_long_and_activity_rules():
    lv = np.zeros(100, np.float32)
    out = split_long([(0, 100)], lv, max_frames=30)
    assert all(b - a <= 30 for a, b in out) and out[0][0] == 0 and out[-1][1] == 100
    assert all(a[1] == b[0] for a, b in zip(out, out[1:]))
    a = np.zeros(60, bool)
    a[10:20] = a[22:30] = a[50:51] = True
    # the 2-frame gap is bridged, the single frame dropped, 1 frame of padding on each side
    assert spans_from_activity(a, min_pause=0.1, min_speech=0.1, pad=0.02) == [(9, 31)]


def test_stream_blocks_resample_like_the_clip_loader(tmp_path):
    """A 44.1 kHz stereo file read in blocks gives the samples load_audio gives (one soxr stream)."""
    from explain_ser.audio import load_audio

    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((44100 * 5, 2))).astype(np.float32)
    p = tmp_path / "st.flac"
    sf.write(p, x, 44100)
    info = recording_info(p)
    assert (info.rate, info.channels, info.declared_samples) == (44100, 2, 80000)
    y = np.concatenate(list(stream_blocks(p, block_seconds=0.7)))
    ref = load_audio(p).samples
    assert len(y) == len(ref) == 80000
    assert np.max(np.abs(y - ref)) < 1e-3


@pytest.mark.parametrize("make, problem", [
    (lambda p: None, "file not found"),
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_bytes(b"this is not audio at all" * 20), "not a readable audio file"),
    (lambda p: sf.write(p, np.r_[np.zeros(RATE), [np.nan], np.zeros(10)].astype(np.float32), RATE, subtype="FLOAT"),
     "NaN"),
    (lambda p: sf.write(p, np.full(RATE, 5.0, np.float32), RATE, subtype="FLOAT"), "exceed full scale"),
    (lambda p: sf.write(p, np.zeros(100, np.float32), RATE), "too short"),
])
def test_bad_recordings_fail_in_one_line_naming_the_file(tmp_path, make, problem):
    p = tmp_path / "bad.wav"
    make(p)
    with pytest.raises(InputError) as e:
        segment_recording(p, vad="energy")
    msg = str(e.value)
    assert msg.startswith(str(p)) and problem in msg and "\n" not in msg


def test_nan_is_located_in_time(tmp_path):
    p = tmp_path / "nan.wav"
    x = np.zeros(40 * RATE, np.float32)
    x[int(33.5 * RATE)] = np.nan
    sf.write(p, x, RATE, subtype="FLOAT")
    with pytest.raises(InputError, match=r"near 33\.50 s"):
        segment_recording(p, vad="energy")


def test_unknown_vad_and_too_long_windows_are_refused(tmp_path):
    p = tmp_path / "a.wav"
    sf.write(p, np.zeros(RATE, np.float32), RATE)
    with pytest.raises(InputError, match="unknown VAD"):
        segment_recording(p, vad="webrtc")
    with pytest.raises(InputError, match="at most 30 s"):
        segment_recording(p, vad="energy", max_len=45)


def test_span_arithmetic_is_exact_over_an_hour():
    s = Span(179_999, 180_000)  # the last frame of an hour
    assert (s.start, s.end) == (3599.98, 3600.0)
