import numpy as np
import pytest

from explain_ser import timegrid as tg


@pytest.mark.parametrize("n", [0, 319, 320, 321, 639, 640, 16000, 47_999, 480_000, 480_320, 1_000_001])
def test_frame_count_is_whole_20ms_frames(n):
    assert tg.n_frames(n) == n // 320
    start, end = tg.frame_bounds(tg.n_frames(n))
    if len(end):
        assert end[-1] <= n / 16000 + 1e-12  # every frame lies inside the clip


def test_bounds_are_contiguous_and_exact():
    start, end = tg.frame_bounds(1500)
    assert start[0] == 0 and np.allclose(end - start, 0.02)
    assert np.array_equal(start[1:], end[:-1])
    assert end[-1] == 30.0


def test_frame_of_time_inverts_bounds():
    start, _ = tg.frame_bounds(3000)
    assert np.array_equal(tg.frame_of_time(start), np.arange(3000))
    assert tg.frame_of_time(0.0399) == 1 and tg.frame_of_time(0.04) == 2


def test_window_spans_cover_every_frame_once():
    for n in [320, 480_000, 480_001, 960_000 + 16000 * 7]:
        spans = tg.window_spans(n)
        covered = [i for first, count in spans for i in range(first, first + count)]
        assert covered == list(range(tg.n_frames(n)))
        assert all(count <= 1500 for _, count in spans)
