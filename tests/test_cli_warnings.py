"""No third-party warning text reaches the user of the command line.

The commands run as the user runs them (subprocesses of the installed entry point); their stderr
may hold only the project's own one-line messages (``explain-ser: warning|error|note: ...``,
warnings naming the file they are about) and tqdm progress bars. A torch, numpy, praatio or
libmpg123 message, even one squeezed into the project's prefix by the CLI's warning formatter,
fails the test.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from _env import EXAMPLES, needs_tiny

CLI = [sys.executable, "-m", "explain_ser.cli"]
PROJECT_LINE = re.compile(r"^explain-ser: (warning|error|note): ")
PROGRESS = re.compile(r"^[\w .()-]*: +\d+%\|")  # tqdm: "attribute:  50%|█████     | 1/2 ..."
FOREIGN = re.compile(r"Warning|warn\(|site-packages|Traceback|Triggered internally|NumPy array is not writable"
                     r"|^Note: |\[src/|libmpg123|praatio|torch/|whisper/", re.M)


def foreign_text(stderr: str, inputs: list[Path]) -> list[str]:
    """Lines of ``stderr`` that are not the project's own; empty when all is well."""
    names = {p.name for p in inputs} | {str(p) for p in inputs}
    bad = []
    for line in re.split(r"[\r\n]+", stderr):
        line = line.strip()
        if not line or PROGRESS.match(line):
            continue
        if not PROJECT_LINE.match(line) or FOREIGN.search(line):
            bad.append(line)
            continue
        kind, _, message = line[len("explain-ser: "):].partition(": ")
        # the project's warnings say which file they are about first; a third-party message in the
        # project's prefix ("explain-ser: warning: The given NumPy array ...") does not
        if kind == "warning" and not any(message.startswith(f"{n}: ") for n in names):
            bad.append(line)
    return bad


def run(args, cwd=None):
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_foreign_text_is_recognised():
    clip = Path("/tmp/a/half.flac")
    ok = ("explain-ser: warning: /tmp/a/half.flac: truncated: the header declares 3.37 s, the audio data ends at 1.54 s\n"
          "explain-ser: note: phones by PocketSphinx on Whisper's transcript\n"
          "attribute:  50%|#####     | 1/2 [00:03<00:03,  3.1s/clip]\rattribute: 100%|##########| 2/2\n")
    assert foreign_text(ok, [clip]) == []
    for bad in ["explain-ser: warning: The given NumPy array is not writable, and PyTorch does not support it",
                "/x/site-packages/torch/functional.py:12: UserWarning: stft with return_complex=False",
                "  warnings.warn(msg)",
                "Warning: Xing stream size off by more than 1%, fuzzy seeking may be even more fuzzy",
                "Minimum timestamp in Textgrid changed from (inf) to (0.0)",
                "explain-ser: warning: other.wav: clip is silent"]:
        assert foreign_text(bad, [clip]), bad


@pytest.fixture(scope="module")
def half_flac(tmp_path_factory):
    """The issue's file: a FLAC whose data stops halfway through what its header declares."""
    d = tmp_path_factory.mktemp("trunc")
    x, rate = sf.read(EXAMPLES / "excited_question.wav", dtype="float32")
    sf.write(d / "whole.flac", x, rate)
    data = (d / "whole.flac").read_bytes()
    (d / "half.flac").write_bytes(data[: len(data) // 2])
    return d / "half.flac", len(x) / rate


def test_info_is_quiet():
    proc = run(["info"])
    assert proc.returncode == 0, proc.stderr
    assert foreign_text(proc.stderr, []) == []


@needs_tiny
@pytest.mark.slow
def test_attribute_example_and_truncated_flac(half_flac, tmp_path):
    half, declared = half_flac
    example = EXAMPLES / "laugh_breath.wav"
    proc = run(["attribute", example, half, "--out", tmp_path / "out", "--methods", "ig", "--steps", "8"])
    assert proc.returncode == 0, proc.stderr
    assert foreign_text(proc.stderr, [example, half]) == [], proc.stderr
    # the truncation is said once, in one line, with the file and both durations
    said = [line for line in proc.stderr.splitlines() if "truncated" in line]
    assert len(said) == 1 and str(half) in said[0] and f"{declared:.2f} s" in said[0], proc.stderr
    summary = json.loads((tmp_path / "out" / "half.summary.json").read_text())
    assert summary["duration_s"] < declared * 0.75
    assert "laugh_breath.wav" in proc.stdout and "half.flac" in proc.stdout


@needs_tiny
@pytest.mark.slow
def test_attribute_truncated_mp3_and_read_only_audio(tmp_path):
    """An mp3 cut short goes through libmpg123 (which prints to stderr itself) and the ffmpeg fallback."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    wav = tmp_path / "src.wav"
    x, rate = sf.read(EXAMPLES / "calm_statement.wav", dtype="float32")
    sf.write(wav, np.concatenate([x, x]), rate)
    mp3 = tmp_path / "cut.mp3"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), str(mp3)], check=True)
    mp3.write_bytes(mp3.read_bytes()[: mp3.stat().st_size // 2])
    shutil.copy(EXAMPLES / "calm_statement.txt", tmp_path / "cut.txt")
    proc = run(["attribute", mp3, "--out", tmp_path / "out", "--methods", "occlusion", "--no-prosody"])
    assert proc.returncode == 0, proc.stderr
    assert foreign_text(proc.stderr, [mp3]) == [], proc.stderr
    assert "truncated" in proc.stderr


@needs_tiny
@pytest.mark.slow
def test_align_is_quiet(tmp_path):
    example = EXAMPLES / "laugh_breath.wav"
    proc = run(["align", example, "--out", tmp_path / "al"])
    assert proc.returncode == 0, proc.stderr
    assert foreign_text(proc.stderr, [example]) == [], proc.stderr
    assert (tmp_path / "al" / "laugh_breath.TextGrid").is_file()


def test_bad_inputs_are_quiet(tmp_path):
    """Refusals are one project line each, whatever library noticed the problem first."""
    big = tmp_path / "loud.wav"
    sf.write(big, np.full(16000, 1e6, np.float32), 16000, subtype="FLOAT")
    garbage = tmp_path / "noise.mp3"
    garbage.write_bytes(b"\xff\xfb" + bytes(range(256)) * 8)
    for bad, needle in [(big, "exceed full scale"), (garbage, "not a readable audio file")]:
        proc = run(["attribute", bad, "--out", tmp_path / "o"])
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"explain-ser: error: {bad}: ") and needle in lines[0], proc.stderr
        assert not (tmp_path / "o").exists()
