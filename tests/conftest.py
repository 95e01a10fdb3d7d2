"""Shared fixtures: the bundled tiny.en model (loaded once) and project-made example clips."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from _env import EXAMPLES, have_tiny  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Tests never touch the user's cache: converted weights and features go to a temp dir,
    except that the converted tiny.en model is reused from the user cache when present
    (conversion is tested explicitly in test_weights.py)."""
    cache = tmp_path_factory.mktemp("cache")
    user = Path(os.environ.get("EXPLAIN_SER_CACHE", Path.home() / ".cache" / "explain_ser"))
    if (user / "whisper").is_dir():
        shutil.copytree(user / "whisper", cache / "whisper")
    old = os.environ.get("EXPLAIN_SER_CACHE")
    os.environ["EXPLAIN_SER_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("EXPLAIN_SER_CACHE", None)
    else:
        os.environ["EXPLAIN_SER_CACHE"] = old


@pytest.fixture(scope="session")
def tiny_model():
    if not have_tiny():
        pytest.skip("bundled tiny.en not installed")
    from explain_ser.weights import load_whisper

    return load_whisper("tiny.en")


@pytest.fixture(scope="session")
def tiny_encoder(tiny_model):
    from explain_ser.encoder import Encoder

    enc = Encoder("tiny.en", window="trim", model=tiny_model)
    from explain_ser.weights import resolve_source, source_hash

    enc.weights_hash = source_hash(resolve_source("tiny.en"))
    return enc


@pytest.fixture(scope="session")
def example_clip():
    from explain_ser.audio import load_audio

    return load_audio(EXAMPLES / "calm_statement.wav")
