"""`explain-ser attribute` costs: cold CLI run, warm library call, --deep, peak memory.

    python benchmarks/bench_attribute.py [--checkpoint ravdess-tiny.en] [--runs 5]

The clip is a ~4 s RAVDESS clip when ../shared is present, else the shipped example.
Cold = a new process: interpreter start, imports, model load, features, attribution, alignment,
prosody, files written. Warm = Explainer already loaded and the clip's features cached:
attention + IG (32 steps) on the pooler features.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, SHARED, peak_rss_of, save


def pick_clip() -> Path:
    m = SHARED / "corpora" / "ravdess" / "manifest.csv"
    if m.is_file():
        import pandas as pd

        df = pd.read_csv(m)
        row = df.iloc[(df["duration_s"] - 4.0).abs().argmin()]
        return SHARED / "corpora" / "ravdess" / row["path"]
    return ROOT / "examples" / "laugh_breath.wav"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default="ravdess-tiny.en")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    clip_path = pick_clip()
    res = {"clip": str(clip_path), "checkpoint": args.checkpoint}
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "explain_ser.cli", "attribute", str(clip_path), "--checkpoint", args.checkpoint,
               "--out", out, "--transcript", "Kids are talking by the door", "--quiet"]
        subprocess.run(cmd, check=True, capture_output=True)  # converts weights / warms the OS file cache once
        colds = []
        for _ in range(args.runs):
            wall, rss, _ = peak_rss_of(cmd)
            colds.append(wall)
        res["cold_cli_s"] = {"median": statistics.median(colds), "min": min(colds), "max": max(colds)}
        res["cold_cli_peak_rss_mb"] = rss
        wall, rss, _ = peak_rss_of(cmd + ["--plot"])
        res["cold_cli_with_plot_s"] = wall
    from explain_ser.api import Explainer
    from explain_ser.audio import load_audio
    from explain_ser.explain.attention import attention_weights
    from explain_ser.explain.attributions import attribute_frames, attribute_mel

    ex = Explainer(args.checkpoint)
    clip = load_audio(clip_path)
    res["clip_s"] = clip.duration
    feats = ex.features(clip)
    attention_weights(ex.model, feats)
    warm = []
    for _ in range(args.runs * 4):
        t0 = time.perf_counter()
        feats = ex.features(clip)
        attention_weights(ex.model, feats)
        attribute_frames(ex.model, feats, methods=("ig",), n_steps=32)
        warm.append(time.perf_counter() - t0)
    res["warm_attention_plus_ig32_s"] = {"median": statistics.median(warm), "max": max(warm)}
    occ = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        attribute_frames(ex.model, feats, methods=("occlusion",))
        occ.append(time.perf_counter() - t0)
    res["warm_occlusion_s"] = statistics.median(occ)
    deep = []
    for _ in range(max(2, args.runs // 2)):
        t0 = time.perf_counter()
        attribute_mel(ex.model, ex.encoder, clip, n_steps=32)
        deep.append(time.perf_counter() - t0)
    res["deep_ig_mel_32_steps_s"] = statistics.median(deep)
    t0 = time.perf_counter()
    attribute_mel(ex.model, ex.encoder, clip, n_steps=32, layer=1)
    res["deep_layer_ig_block1_s"] = time.perf_counter() - t0
    import resource

    res["library_process_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    save(f"attribute_{args.checkpoint}", res)


if __name__ == "__main__":
    main()
