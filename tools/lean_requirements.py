"""Print the project's requirements (plus the named extras) without openai-whisper.

The Makefile's lean install uses it: openai-whisper is a real dependency of explain_ser (so a plain
``pip install explain_ser`` works), but on Linux x86_64 it drags in triton, ~1 GB of CUDA-only code
that a CPU install never runs. The Makefile installs openai-whisper with ``--no-deps``, the list
printed here with ``-r``, and the package itself with ``--no-deps``: the same requirements, read
from the one place they are written (pyproject.toml), minus triton.

    python tools/lean_requirements.py test explorer > reqs.txt
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

SKIP = {"openai-whisper"}  # installed by the Makefile with --no-deps


def requirement_name(req: str) -> str:
    """'openai-whisper>=2023' -> 'openai-whisper' (PEP 503 normalised)."""
    return re.sub(r"[-_.]+", "-", re.match(r"\s*([A-Za-z0-9_.\-]+)", req).group(1)).lower()


def lean_requirements(pyproject: Path, extras: list[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    reqs = list(project["dependencies"])
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise SystemExit(f"lean_requirements: unknown extra '{extra}' (have: {', '.join(sorted(optional))})")
        reqs += optional[extra]
    out = []
    for r in reqs:
        if requirement_name(r) not in SKIP and r not in out:
            out.append(r)
    return out


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    print("\n".join(lean_requirements(root / "pyproject.toml", sys.argv[1:])))
