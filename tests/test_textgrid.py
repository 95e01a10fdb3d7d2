"""TextGrid reading/writing (explain_ser.align.textgrid), including real MFA output."""

from pathlib import Path

import pytest

from explain_ser.align.base import Alignment, Interval
from explain_ser.align.mfa import read_mfa_textgrid
from explain_ser.align.textgrid import read_alignment, write_alignment
from explain_ser.errors import InputError

MFA_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "mfa"
needs_fixtures = pytest.mark.skipif(not MFA_FIXTURES.is_dir(), reason="../shared/fixtures/mfa not present")


def test_roundtrip_keeps_all_tiers(tmp_path):
    a = Alignment(words=[Interval(0.1, 0.5, "hello"), Interval(0.7, 1.0, "world")],
                  phones=[Interval(0.1, 0.3, "HH"), Interval(0.3, 0.5, "AH0"), Interval(0.7, 1.0, "W")],
                  vocalizations=[Interval(1.1, 1.4, "laugh", 0.8)], duration=1.5, backend="x")
    p = tmp_path / "a.TextGrid"
    write_alignment(a, p)
    b = read_alignment(p)
    assert b.word_labels() == ["hello", "world"]
    assert [(x.start, x.end, x.label) for x in b.phones] == [(0.1, 0.3, "HH"), (0.3, 0.5, "AH0"), (0.7, 1.0, "W")]
    assert [v.label for v in b.vocalizations] == ["laugh"]
    assert b.duration == 1.5
    text = p.read_text()
    assert 'name = "words"' in text and 'text = ""' in text  # MFA's long format with gaps filled


def test_atomic_write_leaves_no_temp_files(tmp_path):
    write_alignment(Alignment([Interval(0, 0.2, "a")], duration=0.5), tmp_path / "x.TextGrid")
    assert [p.name for p in tmp_path.iterdir()] == ["x.TextGrid"]


def test_missing_and_malformed_files_give_input_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_alignment(tmp_path / "nope.TextGrid")
    bad = tmp_path / "bad.TextGrid"
    bad.write_text("this is not a textgrid")
    with pytest.raises(InputError, match="TextGrid"):
        read_alignment(bad)


def test_multispeaker_mfa_tier_names(tmp_path):
    from praatio import textgrid as ptg

    tg = ptg.Textgrid()
    tg.addTier(ptg.IntervalTier("spk1 - words", [(0.1, 0.4, "yes")], 0, 1))
    tg.addTier(ptg.IntervalTier("spk1 - phones", [(0.1, 0.2, "Y"), (0.2, 0.4, "EH1")], 0, 1))
    tg.save(str(tmp_path / "m.TextGrid"), format="long_textgrid", includeBlankSpaces=True)
    a = read_alignment(tmp_path / "m.TextGrid")
    assert a.word_labels() == ["yes"] and [p.label for p in a.phones] == ["Y", "EH1"]


@needs_fixtures
def test_reads_real_mfa_textgrids():
    from explain_ser.align.phones import phone_class

    grids = sorted(MFA_FIXTURES.glob("*.TextGrid"))
    assert len(grids) == 6
    for g in grids:
        a = read_mfa_textgrid(g)
        a.check()
        assert a.phone_set == "arpabet" and a.words and a.phones
        assert all(w.label and w.label == w.label.strip() for w in a.words)
        assert all(phone_class(p.label) != "other" for p in a.phones)
        # every phone lies inside a word; empty intervals (silence) were dropped
        for p in a.phones:
            assert any(w.start - 1e-6 <= p.start and p.end <= w.end + 1e-6 for w in a.words)
    short = read_mfa_textgrid(MFA_FIXTURES / "isle_sess0131_blockd02_01_sprt1.TextGrid")
    assert short.word_labels()[:3] == ["i", "said", "white"]
    assert (short.words[0].start, short.words[0].end) == (0.44, 0.53)
    assert short.duration == pytest.approx(4.125)


@needs_fixtures
def test_spoken_noise_kept_as_spoken_noise():
    from explain_ser.align.phones import phone_class

    spn = [p for g in sorted(MFA_FIXTURES.glob("*.TextGrid")) for p in read_mfa_textgrid(g).phones
           if p.label == "spn"]
    assert spn, "the fixtures hold MFA's spn (unknown word) phones"
    assert {phone_class(p.label) for p in spn} == {"spoken-noise"}
