"""Refactoring guard (issue 26): ``attribute``, ``report``'s tables and ``timeline``'s segments on the project's
own example clips are the same as the recorded golden outputs (tests/golden/outputs.json.gz).

The golden file was written by this test's generator before the per-clip path was carved into stages
(:mod:`explain_ser.pipeline`); a change of any output fails here. After a *deliberate* change of the outputs
(a bug fix, a new column), regenerate it and say so in the commit::

    EXPLAIN_SER_REGOLD=1 .venv/bin/python -m pytest tests/test_outputs_unchanged.py

Floats are compared to 1e-4 absolute or relative (thread counts move the last digits of encoder and IG sums), text and integers
exactly; a column or file that appears or disappears is a change too. The checkpoint is the named
``ravdess-tiny.en-dense`` (its input rule trims and normalises, so the clip-grid offset is exercised),
not the default, which a retrain may replace.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from _env import EXAMPLES, needs_tiny

pytestmark = needs_tiny

GOLDEN = Path(__file__).parent / "golden" / "outputs.json.gz"
CHECKPOINT = "ravdess-tiny.en-dense"
CLIPS = ("calm_statement", "excited_question", "laugh_breath")
ATOL = 1e-4
RTOL = 1e-4  # n_eff = 1/sum(w^2) magnifies the encoder's last-digit noise (~1e-5 relative)
# what legitimately differs between runs: where things were written, when, by which versions
VOLATILE = {"clip", "path", "written", "command", "created", "versions", "seconds", "timing", "manifest", "out_dir",
            "files", "recording", "date", "elapsed_s", "frames_file"}


def _scrub(o):
    """A JSON value without run-specific keys (paths, times, versions)."""
    if isinstance(o, dict):
        return {k: _scrub(v) for k, v in sorted(o.items()) if k not in VOLATILE}
    if isinstance(o, list):
        return [_scrub(v) for v in o]
    return o


def _table(df: pd.DataFrame) -> dict:
    """A table as {column: values}, volatile columns dropped, floats rounded to 7 digits."""
    out = {}
    for c in df.columns:
        if c in VOLATILE:
            continue
        s = df[c]
        if s.dtype.kind == "f":
            out[c] = [None if not np.isfinite(v) else round(float(v), 7) for v in s]
        elif s.dtype.kind in "iub":
            out[c] = [int(v) for v in s]
        else:
            out[c] = [None if (isinstance(v, float) and v != v) or v is None else str(v) for v in s]
    return out


def _read(path: Path):
    if path.suffix == ".csv":
        return _table(pd.read_csv(path, keep_default_na=False, na_values=[""]))
    if path.suffix == ".parquet":
        return _table(pd.read_parquet(path))
    if path.suffix == ".json":
        return _scrub(json.loads(path.read_text()))
    raise AssertionError(path)


def _recording(tmp: Path) -> Path:
    """The three example clips joined by 1.5 s pauses: the project's own long example."""
    pause = np.zeros(int(1.5 * 16000), dtype=np.float32)
    parts = [pause]
    for c in CLIPS:
        y, sr = sf.read(EXAMPLES / f"{c}.wav", dtype="float32")
        assert sr == 16000
        parts += [y, pause]
    p = tmp / "examples_joined.wav"
    sf.write(p, np.concatenate(parts), 16000)
    return p


def _manifest(tmp: Path) -> Path:
    rows = [{"path": str(EXAMPLES / f"{c}.wav"), "clip_id": c, "speaker": s, "emotion": e}
            for c, s, e in zip(CLIPS, ("s1", "s2", "s1"), ("calm", "happy", "happy"))]
    p = tmp / "examples.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    return p


def _outputs(tmp: Path) -> dict:
    """Run the three commands in this process and read back what they wrote."""
    from explain_ser.cli import main

    got: dict = {}
    att = tmp / "attribute"
    assert main(["attribute", *[str(EXAMPLES / f"{c}.wav") for c in CLIPS], "--checkpoint", CHECKPOINT,
                 "--out", str(att), "--quiet"]) == 0
    assert main(["attribute", str(EXAMPLES / "calm_statement.wav"), "--checkpoint", CHECKPOINT, "--deep",
                 "--methods", "saliency", "--steps", "4", "--out", str(tmp / "deep"), "--quiet"]) == 0
    for d in (att, tmp / "deep"):
        for p in sorted(d.iterdir()):
            if p.suffix in (".csv", ".json"):
                got[f"{d.name}/{p.name}"] = _read(p)
    rep = tmp / "report"
    assert main(["report", str(_manifest(tmp)), "--checkpoint", CHECKPOINT, "--out", str(rep), "--quiet",
                 "--n-boot", "50", "--n-perm", "50", "--jobs", "1"]) == 0
    for p in sorted((rep / "tables").rglob("*.csv")) if (rep / "tables").is_dir() else sorted(rep.glob("*.csv")):
        got[f"report/{p.relative_to(rep)}"] = _read(p)
    tl = tmp / "timeline"
    assert main(["timeline", str(_recording(tmp)), "--checkpoint", CHECKPOINT, "--vad", "energy", "--out", str(tl),
                 "--quiet", "--methods", "ig,occlusion"]) == 0
    for p in sorted(tl.glob("*.segments.csv")):
        got[f"timeline/{p.name}"] = _read(p)
    return got


def _compare(want, got, where: str, problems: list) -> None:
    if isinstance(want, dict) and isinstance(got, dict):
        for k in sorted(set(want) | set(got)):
            if k not in got:
                problems.append(f"{where}/{k}: missing now")
            elif k not in want:
                problems.append(f"{where}/{k}: new (not in the golden outputs)")
            else:
                _compare(want[k], got[k], f"{where}/{k}", problems)
    elif isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            problems.append(f"{where}: {len(want)} values before, {len(got)} now")
            return
        if want and all(isinstance(v, (int, float)) or v is None for v in want + got) and any(
                isinstance(v, float) for v in want + got):
            a = np.array([np.nan if v is None else v for v in want], dtype=float)
            b = np.array([np.nan if v is None else v for v in got], dtype=float)
            if not np.allclose(a, b, atol=ATOL, rtol=RTOL, equal_nan=True):
                i = int(np.argmax(np.abs(np.nan_to_num(a - b, nan=np.inf))))
                problems.append(f"{where}[{i}]: {a[i]} before, {b[i]} now")
            return
        for i, (x, y) in enumerate(zip(want, got)):
            _compare(x, y, f"{where}[{i}]", problems)
    elif isinstance(want, float) or isinstance(got, float):
        if want is None or got is None or not np.isclose(want, got, atol=ATOL, rtol=RTOL):
            if not (want is None and got is None):
                problems.append(f"{where}: {want!r} before, {got!r} now")
    elif want != got:
        problems.append(f"{where}: {want!r} before, {got!r} now")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    return _outputs(tmp_path_factory.mktemp("golden"))


def test_outputs_match_the_golden_file(outputs):
    if os.environ.get("EXPLAIN_SER_REGOLD"):
        GOLDEN.parent.mkdir(exist_ok=True)
        with gzip.open(GOLDEN, "wt", encoding="utf-8") as fh:  # mtime=0 would need GzipFile; content is what counts
            json.dump(outputs, fh, sort_keys=True)
        pytest.skip(f"golden outputs rewritten: {GOLDEN}")
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as fh:
        want = json.load(fh)
    problems: list = []
    _compare(want, outputs, "", problems)
    assert not problems, f"{len(problems)} differences, first ones:\n" + "\n".join(problems[:20])


def test_the_comparison_can_fail():
    """The comparison sees a moved float, a changed label and a new column."""
    want = {"a.csv": {"x": [0.1, 0.2], "w": ["a", "b"]}}
    problems: list = []
    _compare(want, {"a.csv": {"x": [0.1, 0.2005], "w": ["a", "b"]}}, "", problems)
    _compare(want, {"a.csv": {"x": [0.1, 0.2], "w": ["a", "c"]}}, "", problems)
    _compare(want, {"a.csv": {"x": [0.1, 0.2], "w": ["a", "b"], "y": [1]}}, "", problems)
    _compare(want, {"a.csv": {"x": [0.1, 0.20001], "w": ["a", "b"]}}, "", problems)  # within tolerance
    assert len(problems) == 3, problems
