"""The command line: outputs of attribute/report/faithfulness/extract, and one-line errors with exit code 2."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from _env import EXAMPLES, needs_tiny
from explain_ser.cli import main

pytestmark = needs_tiny


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, tiny_model):
    """A (randomly initialised) tiny.en checkpoint: the CLI plumbing does not depend on training."""
    from explain_ser.model import SERModel, save_checkpoint
    from explain_ser.weights import resolve_source, source_hash

    torch.manual_seed(0)
    m = SERModel(labels=["calm", "happy", "sad"], dim=384, taps=[2], n_taps=5, pooler="mqmha",
                 pooler_hparams={"n_heads": 2, "n_queries": 2})
    enc = {"source": "tiny.en", "weights_hash": source_hash(resolve_source("tiny.en")), "dim": 384, "n_taps": 5,
           "window": "trim"}
    return str(save_checkpoint(m, tmp_path_factory.mktemp("ckpt") / "c", encoder=enc))


def test_attribute_writes_every_output(ckpt, tmp_path, capsys):
    rc = main(["attribute", str(EXAMPLES / "laugh_breath.wav"), "--checkpoint", ckpt, "--out", str(tmp_path),
               "--plot", "--methods", "ig,occlusion,saliency"])
    assert rc == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["laugh_breath.TextGrid", "laugh_breath.attention.npz", "laugh_breath.frames.csv",
                     "laugh_breath.png", "laugh_breath.summary.json"]
    frames = pd.read_csv(tmp_path / "laugh_breath.frames.csv", keep_default_na=False)
    n = sf.info(EXAMPLES / "laugh_breath.wav").frames * 16000 // sf.info(EXAMPLES / "laugh_breath.wav").samplerate // 320
    assert len(frames) == n
    heads = [c for c in frames.columns if c.startswith("att_") and c != "att_mean"]
    assert len(heads) == 4  # 2 heads x 2 queries
    assert np.allclose(frames[heads].astype(float).sum(axis=0), 1.0, atol=1e-6)
    assert {"attr_ig", "attr_occlusion", "attr_saliency", "word", "phone", "f0"} <= set(frames.columns)
    words = [w for w in dict.fromkeys(frames["word"]) if w]
    assert words == ["oh", "no", "not", "again", "i", "cannot", "believe", "it"]
    summary = json.loads((tmp_path / "laugh_breath.summary.json").read_text())
    assert summary["predicted"] in ("calm", "happy", "sad") and set(summary["frames_for_80pct"]) >= {"mean"}
    out = capsys.readouterr().out
    assert "predicted:" in out and "frames holding 80%" in out
    # the same clip again gives the same numbers (determinism)
    main(["attribute", str(EXAMPLES / "laugh_breath.wav"), "--checkpoint", ckpt, "--out", str(tmp_path / "again"),
          "--methods", "ig", "--no-prosody", "--aligner", "none", "--quiet"])
    again = pd.read_csv(tmp_path / "again" / "laugh_breath.frames.csv")
    assert np.array_equal(again["att_mean"].to_numpy(), frames["att_mean"].astype(float).to_numpy())


def test_attribute_directory_and_parquet(ckpt, tmp_path):
    rc = main(["attribute", str(EXAMPLES), "--checkpoint", ckpt, "--out", str(tmp_path), "--format", "parquet",
               "--methods", "none", "--aligner", "none", "--no-prosody", "--quiet"])
    assert rc == 0
    assert len(list(tmp_path.glob("*.frames.parquet"))) == len(list(EXAMPLES.glob("*.wav")))


def test_shipped_default_checkpoint_exists():
    from explain_ser.model import available_checkpoints

    assert "ravdess-tiny.en" in available_checkpoints()


@pytest.mark.parametrize("args,needle", [
    (["attribute", "no/such.wav"], "no/such.wav: file not found"),
    (["attribute", "{bad}"], "unknown attribution method"),
    (["attribute", "{ex}", "--checkpoint", "/nonexistent/ckpt"], "no such checkpoint"),
    (["extract", "no/such.csv"], "no/such.csv: manifest not found"),
    (["info", "--model", "no-such-model"], "unknown Whisper source"),
    (["attribute", "{ex}", "--target", "elated"], "not a class"),
])
def test_bad_input_is_one_line_exit_2(args, needle, ckpt, tmp_path, capsys):
    ex = str(EXAMPLES / "calm_statement.wav")
    args = [a.replace("{ex}", ex) for a in args]
    if "{bad}" in args:
        args = ["attribute", ex, "--methods", "ig,shap", "--checkpoint", ckpt]
    if "--target" in args:
        args += ["--checkpoint", ckpt]
    rc = main(args + (["--out", str(tmp_path)] if args[0] == "attribute" else []))
    err = capsys.readouterr().err
    assert rc == 2
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_bad_audio_in_a_subprocess_has_no_traceback(tmp_path):
    bad = tmp_path / "noise.wav"
    bad.write_bytes(b"RIFF....WAVEfmt garbage")
    proc = subprocess.run([sys.executable, "-m", "explain_ser.cli", "attribute", str(bad), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("explain-ser: error: ") and "noise.wav" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o").exists()


def test_report_and_faithfulness_end_to_end(ckpt, tmp_path):
    rows = [{"path": str(EXAMPLES / f"{n}.wav"), "speaker": s, "gender": "female", "emotion": e,
             "transcript": (EXAMPLES / f"{n}.txt").read_text().strip()}
            for n, s, e in [("calm_statement", "s1", "calm"), ("excited_question", "s2", "happy"),
                            ("laugh_breath", "s1", "happy")]]
    laugh = pd.read_csv(EXAMPLES / "laugh_breath.events.csv").query("tag == 'laugh'").iloc[0]
    for r in rows:  # the planted laugh is a known cue: report and faithfulness score the maps against it
        known = r["path"].endswith("laugh_breath.wav")
        r["cue_start"], r["cue_end"] = (laugh["start"], laugh["end"]) if known else ("", "")
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    assert main(["report", str(tmp_path / "m.csv"), "--checkpoint", ckpt, "--out", str(tmp_path / "rep"),
                 "--n-boot", "50", "--n-perm", "50", "--quiet", "--jobs", "2"]) == 0
    # the same report with one process: worker processes must not change a number
    assert main(["report", str(tmp_path / "m.csv"), "--checkpoint", ckpt, "--out", str(tmp_path / "rep1"),
                 "--n-boot", "50", "--n-perm", "50", "--quiet", "--jobs", "1", "--no-deletion"]) == 0
    one = pd.read_csv(tmp_path / "rep1" / "tables" / "clip_metrics.csv")
    two = pd.read_csv(tmp_path / "rep" / "tables" / "clip_metrics.csv")
    assert one.shape == two.shape and np.allclose(one.select_dtypes("number"), two.select_dtypes("number"), equal_nan=True)
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "coverage" in html.lower() and "<script src=" not in html
    meta = pd.read_csv(tmp_path / "rep" / "tables" / "clip_meta.csv")
    assert len(meta) == 3
    assert main(["faithfulness", str(tmp_path / "m.csv"), "--checkpoint", ckpt, "--out", str(tmp_path / "f"),
                 "--sanity", "1", "--quiet"]) == 0
    summary = pd.read_csv(tmp_path / "f" / "aopc_summary.csv")
    assert set(summary["method"]) == {"attention", "ig", "occlusion", "random"}
    for loc in (pd.read_csv(tmp_path / "f" / "localisation_summary.csv"),
                pd.read_csv(tmp_path / "rep" / "tables" / "localisation_summary.csv")):
        assert {"attention:mean", "ig", "occlusion"} <= set(loc["method"]) and (loc["clips"] == 1).all()
        assert loc["mass"].between(0, 1).all() and loc["chance"].between(0.01, 0.2).all()


def test_extract_save(tmp_path, capsys):
    out = tmp_path / "f.npy"
    assert main(["extract", str(EXAMPLES / "calm_statement.wav"), "--save", str(out), "--quiet"]) == 0
    arr = np.load(out)
    assert arr.shape[0] == 5 and arr.shape[2] == 384
