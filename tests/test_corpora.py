"""Corpus readers on their original layouts (empty stand-in files), manifests and duplicate detection."""

import pandas as pd
import pytest

from _env import SHARED, needs_shared
from explain_ser.corpora import (find_duplicates, load_manifest_or_dir, manifest_from_dir, read_cremad, read_emodb,
                                 read_iemocap, read_manifest, read_ravdess, read_shemo, read_tess)
from explain_ser.errors import InputError


def touch(root, *names):
    for n in names:
        p = root / n
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"RIFF" + n.encode())


def test_ravdess_layout(tmp_path):
    touch(tmp_path, "Actor_01/03-01-05-02-01-01-01.wav", "Actor_02/03-01-01-01-02-02-02.wav",
          "Actor_02/03-02-05-01-01-01-02.wav",  # song: skipped
          "Actor_02/01-01-05-01-01-01-02.mp4")  # video: skipped
    m = read_ravdess(tmp_path)
    assert len(m) == 2
    r = m.set_index("clip_id").loc["03-01-05-02-01-01-01"]
    assert (r.speaker, r.gender, r.emotion, r.intensity, r.transcript) == (
        "Actor_01", "male", "angry", "strong", "Kids are talking by the door")
    assert m.set_index("clip_id").loc["03-01-01-01-02-02-02"].gender == "female"
    assert manifest_from_dir(tmp_path).shape[0] == 2  # the layout is recognised


def test_emodb_layout(tmp_path):
    touch(tmp_path, "wav/03a01Fa.wav", "wav/16b10Tb.wav", "wav/readme.wav")
    m = read_emodb(tmp_path).set_index("clip_id")
    assert len(m) == 2
    assert tuple(m.loc["03a01Fa", ["speaker", "gender", "emotion", "language"]]) == ("03", "male", "happiness", "de")
    assert m.loc["16b10Tb", "emotion"] == "sadness" and m.loc["16b10Tb", "transcript"].startswith("Die wird")


def test_cremad_with_demographics(tmp_path):
    touch(tmp_path, "AudioWAV/1001_DFA_ANG_XX.wav", "AudioWAV/1002_IEO_HAP_HI.wav")
    (tmp_path / "VideoDemographics.csv").write_text("ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,C,N\n1002,21,Female,C,N\n")
    m = read_cremad(tmp_path).set_index("clip_id")
    assert m.loc["1001_DFA_ANG_XX", "gender"] == "male" and m.loc["1002_IEO_HAP_HI", "emotion"] == "happy"
    assert m.loc["1001_DFA_ANG_XX", "transcript"] == "Don't forget a jacket"


def test_tess_layout(tmp_path):
    touch(tmp_path, "OAF_angry/OAF_back_angry.wav", "YAF_pleasant_surprised/YAF_youth_ps.wav")
    m = read_tess(tmp_path).set_index("clip_id")
    assert m.loc["OAF_back_angry", "transcript"] == "Say the word back"
    assert m.loc["YAF_youth_ps", "emotion"] == "surprised" and set(m["gender"]) == {"female"}


def test_iemocap_four_class(tmp_path):
    touch(tmp_path, "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav",
          "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M001.wav",
          "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M002.wav")
    ev = tmp_path / "Session1/dialog/EmoEvaluation/Ses01F_impro01.txt"
    ev.parent.mkdir(parents=True)
    ev.write_text("% header\n[6.2901 - 8.2357]\tSes01F_impro01_F000\texc\t[2.5, 3.0, 3.0]\n"
                  "[10.0 - 11.0]\tSes01F_impro01_M001\tfru\t[2.0, 3.5, 3.5]\n"
                  "[12.0 - 13.0]\tSes01F_impro01_M002\tneu\t[2.5, 2.5, 2.5]\n")
    tr = tmp_path / "Session1/dialog/transcriptions/Ses01F_impro01.txt"
    tr.parent.mkdir(parents=True)
    tr.write_text("Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.\n")
    m = read_iemocap(tmp_path).set_index("clip_id")
    assert list(m.index) == ["Ses01F_impro01_F000", "Ses01F_impro01_M002"]  # frustrated dropped
    assert m.loc["Ses01F_impro01_F000", "emotion"] == "happy"  # excited merged
    assert m.loc["Ses01F_impro01_F000", "speaker"] == "Ses01F" and m.loc["Ses01F_impro01_M002", "gender"] == "male"
    assert m.loc["Ses01F_impro01_F000", "transcript"] == "Excuse me."
    assert len(read_iemocap(tmp_path, classes="all")) == 3


def test_shemo_layout(tmp_path):
    touch(tmp_path, "female/F01A01.wav", "male/M05N12.wav")
    m = read_shemo(tmp_path).set_index("clip_id")
    assert m.loc["F01A01", "emotion"] == "anger" and m.loc["M05N12", "speaker"] == "M05"


def test_plain_csv_and_errors(tmp_path):
    (tmp_path / "a").mkdir()
    touch(tmp_path, "a/x.wav", "b/x.wav")
    pd.DataFrame({"path": ["a/x.wav", "b/x.wav"], "emotion": ["sad", "sad"]}).to_csv(tmp_path / "m.csv", index=False)
    m = read_manifest(tmp_path / "m.csv")
    assert list(m["clip_id"]) == ["a/x", "b/x"]  # same stem in two folders stays unique
    assert m.loc[0, "path"] == str(tmp_path / "a" / "x.wav")
    (tmp_path / "bad.csv").write_text("file,label\nx.wav,sad\n")
    with pytest.raises(InputError, match="no 'path' column"):
        read_manifest(tmp_path / "bad.csv")
    with pytest.raises(InputError, match="manifest not found"):
        read_manifest(tmp_path / "none.csv")
    with pytest.raises(InputError, match="no audio files"):
        (tmp_path / "empty").mkdir()
        manifest_from_dir(tmp_path / "empty")
    assert len(load_manifest_or_dir(tmp_path / "a" / "x.wav")) == 1


def test_duplicates_by_content(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"same")
    (tmp_path / "b.wav").write_bytes(b"same")
    (tmp_path / "c.wav").write_bytes(b"other")
    m = manifest_from_dir(tmp_path)
    assert find_duplicates(m) == [["a", "b"]]


@needs_shared
def test_shared_ravdess_has_the_known_duplicate_pair():
    m = read_manifest(SHARED / "corpora" / "ravdess" / "manifest.csv")
    assert find_duplicates(m) == [["03-01-03-01-02-01-07", "03-01-03-01-02-02-07"]]
    assert read_ravdess(SHARED / "corpora" / "ravdess").shape[0] == 1080
