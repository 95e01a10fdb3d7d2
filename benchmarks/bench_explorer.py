"""Explorer responsiveness in a real browser (results: benchmarks/notes/explorer.md).

    python benchmarks/bench_explorer.py [--runs 2] [--checkpoint NAME_OR_DIR]

For each run a fresh ``streamlit run apps/explorer.py`` process is started and driven with headless
Chromium (same helpers as tests/test_explorer_browser.py). Measured:

* **start -> first clip**: from spawning the process to the first clip fully drawn (prediction,
  spectrogram with attention, tiers; nothing stale, script idle). Run 1 may pay for cold disk
  caches (converted Whisper weights, encoder features); later runs are the "warm model" case:
  weights and features on disk, a new process (models are loaded in every new process).
* **switch, new clip**: selecting a clip not yet seen in this process (features from the disk
  cache, then prediction, IG + occlusion, alignment, prosody, figure).
* **switch, seen clip**: selecting a clip seen before (``st.cache_resource`` hit: drawing only).

Uses a shipped checkpoint when one exists, else an untrained one (timings do not depend on the weights).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

CLIPS = ["calm_statement", "excited_question", "laugh_breath"]  # examples/, in the selector's order


def one_run(checkpoint_env: dict, tmp: Path, run: int) -> dict:
    from playwright.sync_api import sync_playwright
    from test_explorer_browser import free_port, launch, predicted, select_clip, start_app, stop, wait_healthy
    from test_explorer_browser import wait_rendered

    port = free_port()
    t0 = time.perf_counter()
    proc = start_app(port, tmp / f"streamlit{run}.log", checkpoint_env)
    out: dict = {}
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc, timeout=120)
        out["healthy_s"] = time.perf_counter() - t0
        with sync_playwright() as p:
            ctx = launch(p, tmp / f"profile{run}")
            try:
                page = ctx.new_page()
                page.goto(url, wait_until="domcontentloaded")
                wait_rendered(page, CLIPS[0], 300)
                out["first_clip_s"] = time.perf_counter() - t0
                out["predicted"] = predicted(page)
                new, seen = [], []
                for clip in CLIPS[1:]:
                    t = time.perf_counter()
                    select_clip(page, clip)
                    wait_rendered(page, clip, 300)
                    new.append(time.perf_counter() - t)
                for clip in (CLIPS[0], CLIPS[1]):
                    t = time.perf_counter()
                    select_clip(page, clip)
                    wait_rendered(page, clip, 300)
                    seen.append(time.perf_counter() - t)
                out["switch_new_s"], out["switch_seen_s"] = new, seen
            finally:
                ctx.close()
    finally:
        stop(proc)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--checkpoint", help="shipped name or directory (default: shipped, else untrained)")
    args = ap.parse_args(argv)
    from explain_ser.model import available_checkpoints

    tmp = Path(tempfile.mkdtemp(prefix="bench_explorer_"))
    env = dict(os.environ)
    if args.checkpoint:
        env["EXPLAIN_SER_CHECKPOINTS"] = args.checkpoint
        label = args.checkpoint
    elif available_checkpoints():
        label = available_checkpoints()[0]
    else:
        from test_explorer import make_checkpoint

        env["EXPLAIN_SER_CHECKPOINTS"] = make_checkpoint(tmp / "untrained-tiny.en")
        label = "untrained tiny.en MHAAP (4 heads, tap 3)"
    print(f"# explorer benchmark: {platform.node()} {os.cpu_count()} CPUs, python {platform.python_version()}, "
          f"checkpoint {label}")
    print("| run | healthy (s) | start -> first clip (s) | switch, new clip (s) | switch, seen clip (s) |")
    print("|---|---|---|---|---|")
    for r in range(1, args.runs + 1):
        o = one_run(env, tmp, r)
        fmt = (lambda xs: ", ".join(f"{x:.2f}" for x in xs))
        print(f"| {r} | {o['healthy_s']:.2f} | {o['first_clip_s']:.2f} | {fmt(o['switch_new_s'])} | "
              f"{fmt(o['switch_seen_s'])} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
