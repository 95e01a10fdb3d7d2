"""Every ``--aligner`` choice of ``align`` and ``report`` end to end on project-made espeak-ng clips (issue 25).

The Kaldi path once ended in an ImportError that no test saw; here each choice runs through the CLI on
clips whose words are known: ``auto``, ``pocketsphinx``, ``whisper``, ``kaldi`` (trained on a 10-clip corpus
made here) and ``mfa`` when the program is missing (it says so and falls back to PocketSphinx).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from _env import needs_espeak, needs_tiny

pytestmark = [needs_espeak]

SENTENCES = ["dogs are sitting by the door", "kids are talking by the door", "the cat is on the mat",
             "we walk to the park", "she reads a good book", "the sun is very hot today",
             "my friend has a red car", "open the window please", "he drinks cold water",
             "they play in the garden"]


def _write(path, text, seed):
    from _speech import words_with_gaps

    x, _ = words_with_gaps(text.split(), gaps=0.08, speed=150 + 5 * (seed % 4))
    x = x + 3e-4 * np.random.default_rng(seed).standard_normal(len(x)).astype(np.float32)
    sf.write(path, x, 16000)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Ten English clips with their transcripts and a manifest (one speaker each, two genders)."""
    d = tmp_path_factory.mktemp("aligners")
    rows = []
    for i, text in enumerate(SENTENCES):
        _write(d / f"c{i:02d}.wav", text, i)
        rows.append({"path": f"c{i:02d}.wav", "speaker": f"s{i % 5}", "gender": "male" if i % 2 else "female",
                     "emotion": "neutral", "transcript": text.capitalize() + ".", "language": "en"})
    pd.DataFrame(rows).to_csv(d / "manifest.csv", index=False)
    pd.DataFrame(rows[:2]).to_csv(d / "two.csv", index=False)
    return d


def _textgrid_words(path):
    from explain_ser.align.textgrid import read_alignment

    return read_alignment(path)


@pytest.mark.parametrize("aligner,backend", [("auto", "pocketsphinx"), ("pocketsphinx", "pocketsphinx"),
                                             ("whisper", "whisper"), ("mfa", "pocketsphinx")])
@needs_tiny
def test_align_one_clip_each_choice(corpus, tmp_path, capsys, aligner, backend):
    from explain_ser.cli import main

    if aligner == "mfa" and shutil.which("mfa"):
        pytest.skip("mfa is installed here: the missing-program path cannot be run")
    out = tmp_path / "out"
    rc = main(["align", str(corpus / "c00.wav"), "--aligner", aligner, "--transcript", SENTENCES[0],
               "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "Traceback" not in cap.err
    a = _textgrid_words(out / "c00.TextGrid")
    assert a.word_labels() == SENTENCES[0].split()
    assert f"({backend}" in cap.out
    if backend == "pocketsphinx":
        assert a.phones and all(a.phones_in(w) for w in a.words)
    if aligner == "mfa":
        assert "conda install -c conda-forge montreal-forced-aligner" in cap.err
        assert "falling back to pocketsphinx" in cap.err


@needs_tiny
def test_align_without_transcript_whisper_words_and_pocketsphinx_phones(corpus, tmp_path, capsys):
    from explain_ser.cli import main

    wav = tmp_path / "solo.wav"  # no .txt beside it: Whisper transcribes
    shutil.copy(corpus / "c02.wav", wav)
    assert main(["align", str(wav), "--out", str(tmp_path / "out")]) == 0
    a = _textgrid_words(tmp_path / "out" / "solo.TextGrid")
    assert a.word_labels() == SENTENCES[2].split()
    assert a.phones
    assert "(whisper+pocketsphinx" in capsys.readouterr().out


def test_align_kaldi_trains_on_the_manifest(corpus, tmp_path, capsys):
    pytest.importorskip("kaldi_hmm_gmm", reason="kaldi-hmm-gmm not installed (pip install 'explain_ser[kaldi]')")
    from explain_ser.cli import main

    out = tmp_path / "out"
    rc = main(["align", str(corpus / "manifest.csv"), "--aligner", "kaldi", "--out", str(out), "--quiet",
               "--jobs", "1"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert f"aligned {len(SENTENCES)} of {len(SENTENCES)} clips" in cap.out
    for i, text in enumerate(SENTENCES):
        a = _textgrid_words(out / f"c{i:02d}.TextGrid")
        assert a.word_labels() == text.split()
        assert a.phones and all(a.phones_in(w) for w in a.words), text


def _report(corpus, manifest, out, aligner, capsys):
    from explain_ser.cli import main

    rc = main(["report", str(corpus / manifest), "--out", str(out), "--aligner", aligner, "--methods", "none",
               "--no-deletion", "--n-boot", "20", "--n-perm", "20", "--jobs", "1", "--quiet"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "Traceback" not in cap.err
    assert (out / "report.html").is_file()
    return pd.concat([pd.read_parquet(p) for p in sorted((out / "clips").glob("*.frames.parquet"))],
                     ignore_index=True)


@needs_tiny
@pytest.mark.slow
@pytest.mark.parametrize("aligner", ["auto", "pocketsphinx", "whisper", "mfa"])
def test_report_each_choice(corpus, tmp_path, capsys, aligner):
    if aligner == "mfa" and shutil.which("mfa"):
        pytest.skip("mfa is installed here: the missing-program path cannot be run")
    frames = _report(corpus, "two.csv", tmp_path / "rep", aligner, capsys)
    words = frames.groupby("clip_id")["word"].apply(lambda s: [w for w in s.dropna().unique() if w])
    assert [words["c00"], words["c01"]] == [SENTENCES[0].split(), SENTENCES[1].split()]
    has_phones = frames.groupby("clip_id")["phone"].apply(lambda s: bool(s.fillna("").astype(str).str.len().gt(0)
                                                                         .any()))
    if aligner == "whisper":  # Whisper places the transcript's words; it has no phones
        assert not has_phones.any()
    else:
        assert has_phones.all()


@needs_tiny
@pytest.mark.slow
def test_report_kaldi(corpus, tmp_path, capsys):
    pytest.importorskip("kaldi_hmm_gmm", reason="kaldi-hmm-gmm not installed (pip install 'explain_ser[kaldi]')")
    frames = _report(corpus, "manifest.csv", tmp_path / "rep", "kaldi", capsys)
    assert frames["clip_id"].nunique() == len(SENTENCES)
    phones = frames.groupby("clip_id")["phone"].apply(lambda s: s.fillna("").astype(str).str.len().gt(0).sum())
    assert (phones > 0).all(), phones
    meta = [json.loads(p.read_text()) for p in sorted((tmp_path / "rep" / "clips").glob("*.meta.json"))]
    assert meta and all(m["language"] == "en" for m in meta)
