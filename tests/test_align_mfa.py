"""MFA backend: corpus layout, command line, round trip through a stand-in `mfa`, fallback."""

import os
import stat
import sys
import textwrap

import numpy as np
import pytest

from _speech import clip, words_with_gaps
from explain_ser.align import align_clip
from explain_ser.align.base import AlignerUnavailable
from explain_ser.align.mfa import INSTALL_HINT, MFAAligner


def _clip(name="c1", seconds=1.0):
    return clip(np.zeros(int(16000 * seconds), np.float32) + 1e-3, name)


def test_corpus_layout(tmp_path):
    import soundfile as sf

    paths = MFAAligner.write_corpus([(_clip("a/1"), "hello [laughter] world", "spk 1"),
                                     (_clip("b"), "yes", "spk2")], tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "spk2", "spk2/b.lab", "spk2/b.wav", "spk_1", "spk_1/a_1.lab", "spk_1/a_1.wav"]
    assert (tmp_path / "spk_1" / "a_1.lab").read_text() == "hello [laughter] world\n"
    info = sf.info(str(paths["a_1"]))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")


def test_command_line():
    cmd = MFAAligner(num_jobs=2, executable="/opt/mfa").command("/c", "/o")
    assert cmd == ["/opt/mfa", "align", "/c", "english_us_arpa", "english_us_arpa", "/o", "--clean", "-j", "2",
                   "--beam", "10", "--retry_beam", "40", "--output_format", "long_textgrid"]
    de = MFAAligner(language="de").command("/c", "/o")
    assert de[3:5] == ["german_mfa", "german_mfa"]


def _fake_mfa(tmp_path):
    """A stand-in `mfa` that writes an MFA-style TextGrid for every .lab it finds."""
    script = tmp_path / "mfa"
    script.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import sys, pathlib, os
        assert sys.argv[1] == "align" and os.environ["MFA_ROOT_DIR"]
        corpus, out = pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[5])
        from praatio import textgrid as ptg
        for lab in corpus.rglob("*.lab"):
            words = lab.read_text().split()
            tg = ptg.Textgrid()
            w = [(0.1 + 0.3 * i, 0.4 + 0.3 * i, t) for i, t in enumerate(words)]
            p = [(s, s + 0.15, "spn" if t.startswith("[") else "AH0") for s, e, t in w]
            p += [(s + 0.15, e, "T") for s, e, t in w if not t.startswith("[")]
            tg.addTier(ptg.IntervalTier("words", w, 0, 1.0))
            tg.addTier(ptg.IntervalTier("phones", sorted(p), 0, 1.0))
            d = out / lab.parent.name
            d.mkdir(parents=True, exist_ok=True)
            tg.save(str(d / (lab.stem + ".TextGrid")), format="long_textgrid", includeBlankSpaces=True)
        """))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_round_trip_through_mfa_program(tmp_path):
    a = MFAAligner(executable=_fake_mfa(tmp_path)).align(_clip("utt"), "hello [laughter] world")
    assert a.backend == "mfa" and a.word_labels() == ["hello", "world"]
    assert [v.label for v in a.vocalizations] == ["[laughter]"]
    assert [p.label for p in a.phones][:2] == ["AH0", "T"] and "spn" in [p.label for p in a.phones]
    assert a.duration == 1.0


def test_missing_mfa_says_how_to_install_and_falls_back(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(AlignerUnavailable, match="conda install -c conda-forge montreal-forced-aligner"):
        MFAAligner().align(_clip(), "hello")
    assert "conda-forge" in INSTALL_HINT
    monkeypatch.setenv("PATH", os.defpath)
    import shutil
    if shutil.which("mfa"):
        pytest.skip("mfa is installed here")
    x, _ = words_with_gaps(["dogs", "are", "sitting"], gaps=0.1)
    a = align_clip(clip(x, "d"), "dogs are sitting", aligner="mfa", vocalizations=False)
    assert a.backend == "pocketsphinx" and a.word_labels() == ["dogs", "are", "sitting"]
    assert any("conda install" in n and "falling back to pocketsphinx" in n for n in a.notes)
