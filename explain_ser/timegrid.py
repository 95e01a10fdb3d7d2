"""The one place that knows the Whisper encoder's time grid.

Whisper computes a log-mel frame every 10 ms (hop 160 samples at 16 kHz) and its
second convolution has stride 2, so one encoder frame spans 20 ms = 320 samples.
Frame ``i`` covers ``[0.02 i, 0.02 (i + 1))`` seconds. A clip gives
``n_samples // 320`` frames: only whole 20 ms frames count, a trailing partial
frame is dropped, in every window mode.

>>> n_frames(16000)        # one second -> 50 frames
50
>>> frame_bounds(3)[1].tolist()
[0.02, 0.04, 0.06]
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16_000  # Hz, what Whisper was trained on
HOP_LENGTH = 160  # samples per mel frame: 10 ms
MEL_PER_FRAME = 2  # conv2 stride
SAMPLES_PER_FRAME = HOP_LENGTH * MEL_PER_FRAME  # 320 samples = 20 ms per encoder frame
FRAME_SECONDS = SAMPLES_PER_FRAME / SAMPLE_RATE  # 0.02
WINDOW_SECONDS = 30  # Whisper's fixed input window
WINDOW_SAMPLES = WINDOW_SECONDS * SAMPLE_RATE  # 480 000
WINDOW_FRAMES = WINDOW_SAMPLES // SAMPLES_PER_FRAME  # 1500 encoder frames per 30 s


def n_frames(n_samples: int) -> int:
    """Encoder frames for a 16 kHz clip of ``n_samples`` samples (whole 20 ms frames only)."""
    if n_samples < 0:
        raise ValueError(f"negative sample count {n_samples}")
    return int(n_samples) // SAMPLES_PER_FRAME


def frame_bounds(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end times in seconds of ``count`` consecutive frames from t = 0.

    Computed from integer sample offsets so that no floating drift accumulates.
    """
    idx = np.arange(count, dtype=np.int64)
    start = idx * SAMPLES_PER_FRAME / SAMPLE_RATE
    end = (idx + 1) * SAMPLES_PER_FRAME / SAMPLE_RATE
    return start, end


def frame_of_time(seconds: float | np.ndarray) -> np.ndarray | int:
    """Index of the frame that contains time ``seconds`` (floor(t / 0.02))."""
    t = np.asarray(seconds, dtype=np.float64)
    # a tiny epsilon keeps exact boundaries (0.06 s) in the frame they start
    idx = np.floor(t * SAMPLE_RATE / SAMPLES_PER_FRAME + 1e-9).astype(np.int64)
    return int(idx) if idx.ndim == 0 else idx


def window_spans(n_samples: int) -> list[tuple[int, int]]:
    """Split a clip into consecutive 30 s windows, as (first_frame, n_frames) pairs.

    Clips longer than 30 s are encoded window by window and the frames are
    concatenated, so frame indices stay global.

    >>> window_spans(16000 * 31)
    [(0, 1500), (1500, 50)]
    """
    total = n_frames(n_samples)
    return [(s, min(WINDOW_FRAMES, total - s)) for s in range(0, total, WINDOW_FRAMES)]
