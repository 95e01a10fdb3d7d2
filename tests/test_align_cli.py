"""`explain-ser align` end to end on espeak-ng clips."""

import soundfile as sf

from _speech import words_with_gaps
from explain_ser.align.textgrid import read_alignment
from explain_ser.cli import main
from explain_ser.frames import load_frame_table


def _wav(path, words):
    x, _ = words_with_gaps(words, gaps=0.1)
    sf.write(path, x, 16000)
    return path


def test_single_clip_with_transcript(tmp_path, capsys):
    wav = _wav(tmp_path / "dogs.wav", ["dogs", "are", "sitting"])
    rc = main(["align", str(wav), "--transcript", "Dogs are sitting.", "--out", str(tmp_path / "out"), "--frames"])
    assert rc == 0
    a = read_alignment(tmp_path / "out" / "dogs.TextGrid")
    assert a.word_labels() == ["dogs", "are", "sitting"] and a.phones
    t = load_frame_table(tmp_path / "out" / "dogs.frames.csv")
    assert len(t) == len(sf.read(wav)[0]) // 320 and set(t.word) >= {"dogs", "are", "sitting"}
    assert t["language"].eq("en").all() and t["language_source"].ne("").all()  # the decision on every frame
    assert "3 words" in capsys.readouterr().out


def test_manifest_uses_transcripts_and_reports_failures(tmp_path, capsys):
    _wav(tmp_path / "a.wav", ["dogs", "are", "sitting"])
    _wav(tmp_path / "b.wav", ["kids", "are", "talking"])
    (tmp_path / "m.csv").write_text("path,speaker,transcript\na.wav,s1,dogs are sitting\n"
                                    "b.wav,s2,the quick brown fox jumps over the lazy dog again\n")
    rc = main(["align", str(tmp_path / "m.csv"), "--out", str(tmp_path / "out"), "--quiet"])
    assert rc == 1
    assert (tmp_path / "out" / "a.TextGrid").exists() and not (tmp_path / "out" / "b.TextGrid").exists()
    assert (tmp_path / "out" / "failures.csv").read_text().splitlines()[1].startswith("b,align,")
    assert "aligned 1 of 2" in capsys.readouterr().out


def test_user_errors_exit_2(tmp_path, capsys):
    wav = _wav(tmp_path / "x.wav", ["yes"])
    assert main(["align", str(wav), str(wav), "--transcript", "yes", "--out", str(tmp_path)]) == 2
    assert "--transcript" in capsys.readouterr().err
    assert main(["align", str(tmp_path / "missing.wav"), "--out", str(tmp_path)]) == 2
