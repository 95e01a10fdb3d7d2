"""Encoder speed: trimmed vs full window per clip, and cold extraction of a whole corpus.

    python benchmarks/bench_encoder.py [--model tiny.en] [--clips 40] [--corpus ravdess] [--full-corpus]

Per-clip timings use RAVDESS clips (3-5 s) from ../shared/corpora, one clip per forward pass,
after one warm-up; the corpus run starts a fresh process on an empty cache and reports wall time
and peak RSS (what `explain-ser extract MANIFEST` costs cold).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

from _common import SHARED, peak_rss_of, save


def encoder_macs(n_frames: int, dim: int, n_blocks: int, n_mels: int = 80) -> int:
    """Multiply-accumulates of one encoder pass over ``n_frames`` output frames (20 ms each).

    Convolutions (kernel 3; conv1 on 2 mel frames per output frame, conv2 with stride 2), then per block
    the q/k/v/out projections (4 T D^2), the MLP (8 T D^2) and the attention products (2 T^2 D). Layer
    norms, GELU and softmax are left out (linear in T). This is the arithmetic the trimmed window saves,
    so full / trim of this count bounds the speed-up a perfectly efficient implementation could show.

    >>> round(encoder_macs(1500, 384, 4) / encoder_macs(180, 384, 4), 1)
    12.4
    """
    conv = 2 * n_frames * n_mels * 3 * dim + n_frames * dim * 3 * dim
    block = 12 * n_frames * dim * dim + 2 * n_frames * n_frames * dim
    return conv + n_blocks * block


def per_clip(model: str, n: int, corpus: str) -> dict:
    from explain_ser.audio import load_audio
    from explain_ser.corpora import read_manifest
    from explain_ser.encoder import Encoder

    m = read_manifest(SHARED / "corpora" / corpus / "manifest.csv").sample(n, random_state=0)
    clips = [load_audio(p) for p in m["path"]]
    trim = Encoder(model, "trim")
    full = Encoder(model, "full", model=trim.model)
    out = {}
    for name, enc in (("trim", trim), ("full", full)):
        enc.encode(clips[0])
        times = []
        for c in clips:
            t0 = time.perf_counter()
            enc.encode(c)
            times.append(time.perf_counter() - t0)
        out[name] = {"median_s": statistics.median(times), "mean_s": statistics.fmean(times)}
    dur = statistics.fmean(c.duration for c in clips)
    out["mean_clip_s"] = dur
    dims = trim.model.dims
    macs_trim = statistics.fmean(encoder_macs(c.n_frames, dims.n_audio_state, dims.n_audio_layer, dims.n_mels)
                                 for c in clips)
    macs_full = encoder_macs(1500, dims.n_audio_state, dims.n_audio_layer, dims.n_mels)
    out["arithmetic_bound_trim_vs_full"] = macs_full / macs_trim
    out["trim_gflops"] = 2 * macs_trim / out["trim"]["mean_s"] / 1e9
    out["full_gflops"] = 2 * macs_full / out["full"]["mean_s"] / 1e9
    out["speedup_trim_vs_full"] = out["full"]["median_s"] / out["trim"]["median_s"]
    out["trim_x_realtime"] = dur / out["trim"]["mean_s"]
    out["full_x_realtime"] = dur / out["full"]["mean_s"]
    return out


def corpus_cold(model: str, corpus: str) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, EXPLAIN_SER_CACHE=cache)
        # convert the weights first so the timing covers extraction only
        from explain_ser.weights import cache_dir

        src = cache_dir() / "whisper"
        if src.is_dir():
            import shutil

            shutil.copytree(src, os.path.join(cache, "whisper"))
        cmd = [sys.executable, "-m", "explain_ser.cli", "extract", str(SHARED / "corpora" / corpus / "manifest.csv"),
               "--model", model, "--quiet"]
        wall, rss, stdout = peak_rss_of(cmd, env=env)
    return {"corpus": corpus, "wall_s": wall, "peak_rss_mb": rss, "output": stdout.strip()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--clips", type=int, default=40)
    ap.add_argument("--corpus", default="ravdess")
    ap.add_argument("--full-corpus", action="store_true", help="also time a cold extraction of the whole corpus")
    args = ap.parse_args()
    if not (SHARED / "corpora" / args.corpus).is_dir():
        sys.exit(f"needs {SHARED}/corpora/{args.corpus}")
    res = {"model": args.model, "per_clip": per_clip(args.model, args.clips, args.corpus)}
    if args.full_corpus:
        res["corpus_cold"] = corpus_cold(args.model, args.corpus)
    save(f"encoder_{args.model}", res)


if __name__ == "__main__":
    main()
