"""Regenerate every figure into figures/ (results cached in analyses/results/ are reused).

    python analyses/run_all.py            # or: make figures
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    ("fig_example_clip.py", []),
    ("fig_layerwise_ua.py", []),
    ("fig_coverage.py", ["ravdess"]),
    ("fig_coverage.py", ["emodb", "mqmha"]),
    ("fig_enrichment.py", ["ravdess"]),
    ("fig_enrichment.py", ["emodb"]),
    ("fig_deletion.py", ["emodb"]),
    ("fig_deletion.py", ["ravdess"]),
    ("fig_tanh_bound.py", ["ravdess"]),
]


def main() -> int:
    failed = []
    t_all = time.perf_counter()
    for script, args in SCRIPTS:
        t0 = time.perf_counter()
        rc = subprocess.run([sys.executable, str(HERE / script), *args], cwd=HERE).returncode
        print(f"[{script} {' '.join(args)}] exit {rc} in {time.perf_counter() - t0:.0f} s", flush=True)
        if rc:
            failed.append(script)
    print(f"all figures in {time.perf_counter() - t_all:.0f} s; failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
