"""The FrameTable (explain_ser.frames)."""

import numpy as np
import pandas as pd
import pytest

from _speech import clip, tone
from explain_ser.align.base import Alignment, Interval
from explain_ser.frames import assign_units, build_frame_table, load_frame_table, save_frame_table
from explain_ser.prosody import extract_prosody
from explain_ser.timegrid import n_frames


def _table():
    x = np.concatenate([tone(180, 0.5), np.zeros(4000, np.float32)])
    c = clip(x, "c")
    n = c.n_frames
    al = Alignment(words=[Interval(0.05, 0.33, "hello"), Interval(0.33, 0.5, "you")],
                   phones=[Interval(0.05, 0.2, "HH"), Interval(0.2, 0.33, "AH1"), Interval(0.33, 0.5, "Y")],
                   vocalizations=[Interval(0.52, 0.7, "breath", 0.6)], duration=c.duration)
    att = np.random.default_rng(0).dirichlet(np.ones(n), size=2)
    return build_frame_table("c", n, attention=att, attributions={"ig": np.arange(n, dtype=float)},
                             alignment=al, prosody=extract_prosody(x)), n


def test_one_row_per_encoder_frame_and_columns():
    t, n = _table()
    assert len(t) == n == n_frames(int(0.75 * 16000)) == 37
    assert t.frame.tolist() == list(range(n))
    assert t.start.iloc[1] == pytest.approx(0.02) and t.end.iloc[-1] == pytest.approx(0.74)
    for col in ["clip_id", "att_h0", "att_h1", "att_mean", "attr_ig", "word", "word_index", "phone",
                "phone_class", "stress", "vocalization", "vocalization_conf", "f0", "voiced", "intensity", "hnr",
                "jitter", "shimmer"]:
        assert col in t, col
    assert t.att_h0.sum() == pytest.approx(1)
    assert np.allclose(t.att_mean, (t.att_h0 + t.att_h1) / 2)


def test_majority_rule_and_labels():
    t, _ = _table()
    assert t.word.iloc[0] == "" and t.word.iloc[3] == "hello"  # frame 2 [0.04, 0.06): 10 ms each -> unit wins
    assert t.word.iloc[2] == "hello"
    assert t.word.iloc[16] == "hello" and t.word.iloc[17] == "you"  # frame 16: 10 ms each, the earlier wins
    assert t.phone_class.iloc[20] == "glide" and t.stress.iloc[12] == 1 and pd.isna(t.stress.iloc[5])
    assert t.vocalization.iloc[30] == "breath" and t.vocalization_conf.iloc[30] == pytest.approx(0.6)
    assert t.phone_class.iloc[-1] == "silence" and np.isnan(t.f0.iloc[-1])


def test_assign_units_straddling_frames():
    iv = [Interval(0.0, 0.011, "a"), Interval(0.011, 0.049, "b")]
    # frame 0: a 11 ms > b 9 ms; frame 2 [0.04,0.06): b 9 ms < pause 11 ms
    assert assign_units(iv, 3).tolist() == [0, 1, -1]


def test_wrong_lengths_are_rejected():
    with pytest.raises(ValueError, match="expected 5 frame values"):
        build_frame_table("c", 5, attention={"h": np.ones(6)})


def test_no_sources_still_has_label_columns():
    t = build_frame_table("c", 3)
    assert t.word.tolist() == ["", "", ""] and t.phone_class.tolist() == ["silence"] * 3


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_save_load_roundtrip(tmp_path, suffix):
    t, _ = _table()
    p = save_frame_table(t, tmp_path / f"t{suffix}")
    assert [q.name for q in tmp_path.iterdir()] == [p.name]
    back = load_frame_table(p)
    assert back.word.tolist() == t.word.tolist()
    assert back.stress.isna().tolist() == t.stress.isna().tolist()
    assert np.allclose(back.att_mean, t.att_mean)
    assert np.allclose(back.f0.fillna(-1), t.f0.fillna(-1))
