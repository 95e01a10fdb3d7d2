"""The shipped example clips: transcripts align, and the planted laugh and breath are found where they were put."""

import pandas as pd
import pytest

from _env import EXAMPLES
from explain_ser.align import align_clip
from explain_ser.audio import load_audio


def test_planted_vocalizations_are_aligned_at_their_times():
    clip = load_audio(EXAMPLES / "laugh_breath.wav")
    al = align_clip(clip, (EXAMPLES / "laugh_breath.txt").read_text())
    truth = pd.read_csv(EXAMPLES / "laugh_breath.events.csv")
    got = {v.label: v for v in al.vocalizations}
    for tag, label in (("laugh", "[laughter]"), ("breath", "[breath]")):
        t = truth[truth.tag == tag].iloc[0]
        assert got[label].start == pytest.approx(t.start, abs=0.12)
        assert got[label].end == pytest.approx(t.end, abs=0.12)
    assert [w.label for w in al.words] == ["oh", "no", "not", "again", "i", "cannot", "believe", "it"]
