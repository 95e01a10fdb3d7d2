"""Run every benchmark (needs ../shared/corpora for most); results go to benchmarks/results/*.json.

    python benchmarks/run_all.py        # or: make bench
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = [
    ["bench_encoder.py", "--model", "tiny.en", "--full-corpus"],
    ["bench_encoder.py", "--model", "small", "--clips", "20"],
    ["bench_attribute.py"],
    ["bench_report.py"],
    ["bench_align.py", "speed"],
    ["bench_train.py"],
    ["bench_explorer.py", "--runs", "2"],
]

if __name__ == "__main__":
    failed = [r[0] for r in RUNS if subprocess.run([sys.executable, str(HERE / r[0]), *r[1:]], cwd=HERE).returncode]
    print("failed:", failed or "none")
    sys.exit(1 if failed else 0)
