"""Feature extraction of RAVDESS clips on the Dask engine: in-process loop vs 1 and 2 worker processes,
and the engine's own cost per task.

    python benchmarks/bench_dask.py [--clips 200]

Every timing extracts the same clips into a fresh throwaway feature cache (nothing of the corpus is
copied; the caches are deleted at the end), with the encoder already loaded: in this process for the
in-process loop, on each worker (one warm-up clip) for the clusters, so what is compared is the per-clip
work plus the engine. Cluster start-up is reported apart. The clusters are the engine's own
(:func:`explain_ser.engine.local_cluster`, as ``--jobs N`` starts them).

A worker's torch runs one thread, the in-process loop torch's default (the cores), so the in-process loop
is also timed on one thread: the 1-worker cluster minus THAT is the engine's cost, the rest is the thread
count. The engine's cost is split further with the workers' task stream: time inside the task (the
extraction itself, on the worker) and the rest (scheduling, transfers, the result's round trip); a
no-op task (``len``) over the same number of items gives the bare per-task cost. All numbers come from
one run on one machine, so the ratios are what to read (the machine is shared; its load is recorded).
Writes ``benchmarks/results/dask.json``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHARED, save  # noqa: E402


def _manifest(n: int):
    from explain_ser.corpora import load_manifest_or_dir

    m = load_manifest_or_dir(SHARED / "corpora" / "ravdess" / "manifest.csv")
    step = max(1, len(m) // n)  # spread over actors and emotions rather than the first actors only
    return m.iloc[::step].head(n).reset_index(drop=True)


def _extract(manifest, cache, client, encoder=None):
    from explain_ser.batch import extract_features

    t0 = time.perf_counter()
    done, failures = extract_features(manifest, "tiny.en", "trim", cache, client=client, progress=False,
                                      encoder=encoder)
    dt = time.perf_counter() - t0
    assert not failures and len(done) == len(manifest) and not done["cached"].any(), failures[:3]
    return dt


def _noop(items, client) -> float:
    from explain_ser.engine import map_clips

    t0 = time.perf_counter()
    results, _ = map_clips(len, items, client, progress=False)
    assert results == [len(x) for x in items]
    return time.perf_counter() - t0


def _task_compute_s(client, run) -> tuple[float, float]:
    """(wall seconds of ``run()``, seconds the workers spent inside its tasks)."""
    from distributed import get_task_stream

    with get_task_stream(client) as ts:
        wall = run()
    inside = sum(ss["stop"] - ss["start"] for t in ts.data for ss in t["startstops"] if ss["action"] == "compute")
    return wall, inside


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=200)
    args = ap.parse_args()
    import os

    import torch
    from distributed import Client

    from explain_ser.encoder import Encoder
    from explain_ser.engine import local_cluster

    manifest = _manifest(args.clips)
    tmp = Path(tempfile.mkdtemp(prefix="bench_dask_"))
    items = [str(p) for p in manifest["path"]]
    rows: dict = {"clips": len(manifest), "audio_s": round(float(manifest["duration_s"].astype(float).sum()), 1),
                  "load_avg_1min_before": os.getloadavg()[0]}  # the machine block's load is read at the end
    try:
        enc = Encoder("tiny.en", window="trim")
        _extract(manifest.head(1), tmp / "warm0", None, enc)  # torch's first-call costs, paid before timing
        rows["in_process_s"] = _extract(manifest, tmp / "c0", None, enc)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # a worker's count
        try:
            rows["in_process_1thread_s"] = _extract(manifest, tmp / "c0t1", None, enc)
        finally:
            torch.set_num_threads(threads)
        rows["noop_in_process_s"] = _noop(items, None)
        for n in (1, 2):
            t0 = time.perf_counter()
            with local_cluster(n) as lc, Client(lc) as client:
                client.wait_for_workers(n)
                rows[f"start_{n}w_s"] = time.perf_counter() - t0
                # warm-up: one clip per worker loads the encoder there (it stays resident)
                _extract(manifest.head(2 * n), tmp / f"warm{n}", client)
                rows[f"workers_{n}_s"], rows[f"in_task_{n}w_s"] = _task_compute_s(
                    client, lambda n=n: _extract(manifest, tmp / f"c{n}", client))
                rows[f"noop_{n}w_s"] = _noop(items, client)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = rows["clips"]
    rows = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in rows.items()}
    ratios = {
        "speedup_2w_vs_1w": round(rows["workers_1_s"] / rows["workers_2_s"], 2),
        "speedup_2w_vs_in_process": round(rows["in_process_s"] / rows["workers_2_s"], 2),
        "ratio_1w_vs_in_process": round(rows["workers_1_s"] / rows["in_process_s"], 2),
        "clip_ms_in_process": round(1000 * rows["in_process_s"] / n, 1),
        "clip_ms_1w": round(1000 * rows["workers_1_s"] / n, 1),
        "clip_ms_2w": round(1000 * rows["workers_2_s"] / n, 1),
        "engine_overhead_ms_per_task_noop_1w": round(1000 * (rows["noop_1w_s"] - rows["noop_in_process_s"]) / n, 2),
        "engine_overhead_ms_per_task_extract_1w": round(1000 * (rows["workers_1_s"] - rows["in_process_s"]) / n, 1),
        # the same difference split: torch threads (default vs one), the engine at one thread each side,
        # and of that, what is spent inside the task on the worker vs around it
        "clip_ms_in_process_1thread": round(1000 * rows["in_process_1thread_s"] / n, 1),
        "thread_count_ms_per_clip": round(1000 * (rows["in_process_1thread_s"] - rows["in_process_s"]) / n, 1),
        "engine_ms_per_task_same_threads_1w": round(1000 * (rows["workers_1_s"] - rows["in_process_1thread_s"]) / n, 1),
        "in_task_ms_per_clip_1w": round(1000 * rows["in_task_1w_s"] / n, 1),
        "around_task_ms_per_clip_1w": round(1000 * (rows["workers_1_s"] - rows["in_task_1w_s"]) / n, 1),
    }
    save("dask", {"benchmark": "bench_dask.py", "command": " ".join(["python"] + sys.argv),
                  "load_avg_1min_at_end": os.getloadavg()[0], "timings": rows, "ratios": ratios})


if __name__ == "__main__":
    main()
