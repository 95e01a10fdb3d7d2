"""`explain-ser report` over the 1080 RAVDESS clips with warm caches (features and annotations).

    python benchmarks/bench_report.py [--checkpoint ravdess-tiny.en] [--limit N]

Warm = the feature cache and the annotation cache (alignment + prosody, model independent) are
filled, e.g. by an earlier report or `explain-ser extract` + `python -m explain_ser.batch`-style
annotation; what remains is the model: attention, IG (32 steps), occlusion, deletion curves, and the
statistics (1000 bootstrap resamples, 1000 circular shifts) and figures of the report.
The cold annotation cost is measured separately by benchmarks/bench_align.py ravdess.
"""

from __future__ import annotations

import argparse
import sys
import tempfile

from _common import SHARED, peak_rss_of, save


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default="ravdess-tiny.en")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    manifest = SHARED / "corpora" / "ravdess" / "manifest.csv"
    if not manifest.is_file():
        sys.exit(f"needs {manifest}")
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "explain_ser.cli", "report", str(manifest), "--checkpoint", args.checkpoint,
               "--out", out, "--quiet"] + (["--limit", str(args.limit)] if args.limit else [])
        wall, rss, stdout = peak_rss_of(cmd)
    # the default's result is report_ravdess.json; another shipped checkpoint's keeps its suffix
    # (ravdess-tiny.en-dense -> report_ravdess_dense.json) so comparing them needs no renaming
    suffix = args.checkpoint.removeprefix("ravdess-tiny.en").lstrip("-").replace("/", "_")
    save("report_ravdess" + (f"_{suffix}" if suffix else ""), {"checkpoint": args.checkpoint, "clips": args.limit or 1080, "warm_wall_s": wall,
                            "peak_rss_mb": rss, "output": stdout.strip()})


if __name__ == "__main__":
    main()
