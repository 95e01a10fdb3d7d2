"""A run killed mid-way (SIGKILL: no cleanup, no finally) leaves no half-written output, and a rerun
finishes the rest. Outputs go through :mod:`explain_ser.atomic`, so the only leftovers a kill may
leave are hidden temporary files (``.<name>.<random>.tmp*``), never a partial file under an output name.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _env import EXAMPLES, needs_tiny

pytestmark = [needs_tiny, pytest.mark.slow]

CLI = [sys.executable, "-m", "explain_ser.cli"]
TEMP = re.compile(r"^\.(.+)\.[^.]+\.tmp")  # atomic.temporary_beside's names


def complete(path: Path) -> None:
    """Raise unless ``path`` is a whole file of its kind."""
    name = path.name
    if name.endswith(".json"):
        json.loads(path.read_text())
    elif name.endswith(".csv"):
        pd.read_csv(path)
    elif name.endswith(".parquet"):
        pd.read_parquet(path)
    elif name.endswith(".npz"):
        with np.load(path) as z:
            for k in z.files:
                z[k]
    elif name.endswith(".TextGrid"):
        from explain_ser.align.textgrid import read_alignment

        read_alignment(path)
    elif name.endswith(".png"):
        from PIL import Image

        with Image.open(path) as im:
            im.load()
    elif name.endswith(".html"):
        assert path.read_text().rstrip().endswith("</html>")
    else:
        raise AssertionError(f"unexpected output {path}")


def check_outputs(root: Path) -> list[Path]:
    """Every output file under ``root`` is complete; temporaries are hidden. Returns the outputs."""
    outputs = []
    for p in sorted(root.rglob("*")):
        if p.is_dir():
            continue
        if TEMP.match(p.name):
            continue  # an unfinished atomic write: never under the output's own name
        assert not p.name.startswith("."), p
        complete(p)
        outputs.append(p)
    return outputs


def kill_when(cmd, ready, timeout=600.0) -> None:
    """Start ``cmd``, SIGKILL it as soon as ``ready()`` holds (polled every 20 ms)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    start = time.monotonic()
    try:
        while not ready():
            if proc.poll() is not None:
                raise AssertionError(f"finished before it could be killed: {proc.stderr.read().decode()}")
            assert time.monotonic() - start < timeout, "never reached the point to kill at"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stderr.close()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Five clips (the shipped examples under new names, each with its transcript beside it)."""
    d = tmp_path_factory.mktemp("clips")
    names = ["calm_statement", "excited_question", "laugh_breath", "calm_statement", "excited_question"]
    for i, n in enumerate(names):
        shutil.copy(EXAMPLES / f"{n}.wav", d / f"c{i}_{n}.wav")
        shutil.copy(EXAMPLES / f"{n}.txt", d / f"c{i}_{n}.txt")
    return d


def test_attribute_killed_mid_run(clips, tmp_path):
    out = tmp_path / "out"
    cmd = CLI + ["attribute", str(clips), "--out", str(out), "--methods", "ig", "--steps", "4", "--no-prosody",
                 "--plot", "--quiet"]
    # killed once the first clip is done, i.e. while the following ones are being computed or written
    kill_when(cmd, lambda: any(out.glob("*.png")))
    first = check_outputs(out)
    n_clips = len(list(clips.glob("*.wav")))
    assert first and len({p.name.split(".")[0] for p in first}) < n_clips, "the kill came too late to test anything"
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    done = check_outputs(out)
    for wav in clips.glob("*.wav"):
        for suffix in (".frames.csv", ".summary.json", ".attention.npz", ".TextGrid", ".png"):
            assert out / (wav.stem + suffix) in done, (wav.stem, suffix)


def test_report_killed_mid_run(clips, tmp_path):
    rows = [{"path": str(p), "speaker": f"s{i % 2}", "emotion": ["calm", "happy"][i % 2],
             "transcript": p.with_suffix(".txt").read_text().strip()} for i, p in enumerate(sorted(clips.glob("*.wav")))]
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    out = tmp_path / "rep"
    cmd = CLI + ["report", str(tmp_path / "m.csv"), "--out", str(out), "--methods", "ig", "--no-prosody", "--no-deletion",
                 "--n-boot", "20", "--n-perm", "20", "--jobs", "1", "--quiet"]
    kill_when(cmd, lambda: any((out / "clips").glob("*.meta.json")) if (out / "clips").is_dir() else False)
    check_outputs(out)
    finished = {p: p.stat().st_mtime_ns for p in (out / "clips").glob("*.meta.json")}
    assert 1 <= len(finished) < len(rows), "the kill came too late to test anything"
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    done = check_outputs(out)
    assert out / "report.html" in done
    assert len(list((out / "clips").glob("*.meta.json"))) == len(rows)
    # resumed, not redone: the clips finished before the kill were read back as they were
    assert all(p.stat().st_mtime_ns == t for p, t in finished.items())
