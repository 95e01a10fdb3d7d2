"""``explain-ser`` command line: a thin layer over the library.

Each subcommand lives in :mod:`explain_ser.commands` as a module with
``add_parser(subparsers)`` and ``run(args) -> int``. User errors
(:class:`~explain_ser.errors.InputError`) are printed as one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import warnings

from . import __version__
from .errors import InputError

# Optional parts: a missing one is reported in one line naming the command that installs it.
INSTALL_HINTS = {
    "whisper": "pip install openai-whisper (or: make setup, which skips its CUDA-only triton)",
    "ctranslate2": "pip install 'explain_ser[ctranslate2]'",
    "streamlit": "pip install 'explain_ser[explorer]'",
    "kaldi_hmm_gmm": "pip install 'explain_ser[kaldi]'",
    "kaldifst": "pip install 'explain_ser[kaldi]'",
    "kaldi_native_fbank": "pip install 'explain_ser[kaldi]'",
    "dask_jobqueue": "pip install 'explain_ser[cluster]'",
    "audiomentations": "pip install 'explain_ser[augment]'",
    "montreal_forced_aligner": "pip install 'explain_ser[mfa]' (MFA also needs conda-forge's Kaldi)",
}
EXIT_MISSING = 3  # a required optional part is not installed

# The order commands appear in --help; modules not listed follow alphabetically.
ORDER = ["attribute", "info", "extract", "train", "evaluate", "cv_ensemble", "cv_select", "sweep", "align", "faithfulness", "report", "explore"]


def build_parser() -> argparse.ArgumentParser:
    from . import commands

    parser = argparse.ArgumentParser(prog="explain-ser", description="Explainable speech emotion recognition over frozen Whisper features.")
    parser.add_argument("--version", action="version", version=f"explain-ser {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    found = [m.name for m in pkgutil.iter_modules(commands.__path__)]
    for name in sorted(found, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n)):
        importlib.import_module(f"{commands.__name__}.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    # one-line warnings (e.g. a silent clip) instead of Python's two-line format
    warnings.formatwarning = lambda msg, cat, *a, **k: f"explain-ser: warning: {msg}\n"
    try:
        return int(args.func(args) or 0)
    except InputError as err:
        print(f"explain-ser: error: {err}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as err:
        top = (err.name or "").split(".")[0]
        if top not in INSTALL_HINTS and top != "explain_ser":
            hint = f"pip install {top}"
        elif top == "explain_ser":
            raise
        else:
            hint = INSTALL_HINTS[top]
        print(f"explain-ser: error: {args.command} needs the Python package '{top}', which is not installed: {hint}",
              file=sys.stderr)
        return EXIT_MISSING
    except KeyboardInterrupt:
        print("explain-ser: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
