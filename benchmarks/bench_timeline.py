"""`explain-ser timeline` on long recordings: speed (x real time), CPU time, peak RSS against length, and
the shipped model's accuracy segment by segment.

    python benchmarks/bench_timeline.py [--minutes 5,20,60] [--runs none:5,none:20,none:60,ig:5,ig:20,ig:60]
                                        [--workdir /tmp/explain_ser_timeline_bench]

Recordings are built in ``--workdir`` (never in the repository) by joining RAVDESS clips of actors 01-18
in a fixed shuffled order (so the emotion changes every few seconds), each followed by a pause of
0.5-1.5 s; the clips keep their own leading/trailing room tone. Every run is a fresh process
(``explain-ser timeline REC --quiet``: imports, model load, VAD pass, every utterance, all files
written); peak RSS and CPU time are that process' own (``os.wait4``). On a shared machine wall time
depends on the load, so CPU seconds are reported too: audio seconds per CPU second is what an idle
core would give.

Accuracy: every segment gets the emotion of the RAVDESS clip it overlaps most (``--contexts``: for several
``--context`` values, the seconds of the pause around each utterance the model also hears); the same clips are also classified alone (the whole clip, as in training). The shipped checkpoint was trained on all 18 actors,
so both numbers are on training speakers: they measure what segmentation and context change, not
generalisation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _common import SHARED, save

RAVDESS = SHARED / "corpora" / "ravdess"


def build(minutes: float, workdir: Path, seed: int = 0) -> tuple[Path, pd.DataFrame]:
    """A recording of ``minutes`` of joined RAVDESS clips (FLAC, 16 kHz) and its truth table."""
    import soundfile as sf

    rec = workdir / f"ravdess_{minutes:g}min.flac"
    truth_path = rec.with_suffix(".truth.csv")
    if rec.is_file() and truth_path.is_file():
        return rec, pd.read_csv(truth_path)
    m = pd.read_csv(RAVDESS / "manifest.csv")
    m = m[m["speaker"].str[-2:].astype(int).between(1, 18)]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(m))
    rows, t, i = [], 0.0, 0
    target = minutes * 60
    tmp = rec.with_name(rec.name + ".part.flac")
    with sf.SoundFile(tmp, "w", samplerate=16000, channels=1, subtype="PCM_16") as out:  # written as it grows
        while t < target:
            r = m.iloc[order[i % len(order)]]
            i += 1
            x, sr = sf.read(RAVDESS / r["path"], dtype="float32")
            assert sr == 16000, r["path"]
            out.write(x)
            rows.append({"start": t, "end": t + len(x) / sr, "emotion": r["emotion"], "path": r["path"],
                         "speaker": r["speaker"]})
            t += len(x) / sr
            pause = int(rng.uniform(0.5, 1.5) * sr)
            out.write(np.zeros(pause, np.float32))
            t += pause / sr
    os.replace(tmp, rec)
    truth = pd.DataFrame(rows)
    truth.to_csv(truth_path, index=False)
    return rec, truth


def run_cli(rec: Path, out: Path, extra: list[str]) -> dict:
    """Wall, CPU and peak RSS of one ``explain-ser timeline`` process."""
    cmd = [sys.executable, "-m", "explain_ser.cli", "timeline", str(rec), "--out", str(out), "--quiet", *extra]
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace")
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {err[-2000:]}")
    return {"cmd": " ".join(cmd[2:]), "wall_s": round(wall, 1), "cpu_s": round(ru.ru_utime + ru.ru_stime, 1),
            "peak_rss_mb": round(ru.ru_maxrss / 1024), "load_avg_start": round(load0, 1),
            "load_avg_end": round(os.getloadavg()[0], 1)}


def segment_accuracy(segments: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """Each segment against the clip it overlaps most; and per clip, the duration-weighted vote of its
    segments."""
    ts, te = truth["start"].to_numpy(), truth["end"].to_numpy()
    hit, owner = [], []
    for s, e, emo in segments[["start", "end", "emotion"]].itertuples(index=False):
        ov = np.clip(np.minimum(te, e) - np.maximum(ts, s), 0, None)
        k = int(np.argmax(ov))
        owner.append(k if ov[k] > 0 else -1)
        hit.append(ov[k] > 0 and truth["emotion"].iloc[k] == emo)
    seg = segments.assign(clip=owner, hit=hit)
    seg = seg[seg["clip"] >= 0]
    per_clip = (seg.assign(d=seg["end"] - seg["start"]).groupby(["clip", "emotion"])["d"].sum().reset_index()
                .sort_values(["clip", "d"], ascending=[True, False]).drop_duplicates("clip"))
    per_clip["truth"] = truth["emotion"].to_numpy()[per_clip["clip"].to_numpy()]
    recall = seg.assign(truth=truth["emotion"].to_numpy()[seg["clip"].to_numpy()]).groupby("truth")["hit"].mean()
    return {"segments": int(len(segments)), "clips": int(len(truth)),
            "clips_with_a_segment": int(seg["clip"].nunique()),
            "clips_split_in_several_segments": int((seg.groupby("clip").size() > 1).sum()),
            "segment_accuracy": round(float(np.mean(hit)), 4),
            "segment_ua": round(float(recall.mean()), 4),
            "clip_vote_accuracy": round(float((per_clip["emotion"] == per_clip["truth"]).mean()), 4),
            "segment_recall_per_emotion": {k: round(float(v), 3) for k, v in recall.items()}}


def clips_alone(truth: pd.DataFrame, checkpoint: str) -> dict:
    """The same clips classified one by one, whole (as the model was trained)."""
    from explain_ser.audio import load_audio
    from explain_ser.checkpoint import Checkpoint
    from explain_ser.explain.attention import attention_weights
    from explain_ser.inputs import prepare

    ck = Checkpoint.load(checkpoint)
    enc = ck.encoder()
    pred = []
    for p in truth["path"]:
        clip = prepare(load_audio(RAVDESS / p), ck.input_rule).clip
        probs, _ = attention_weights(ck.model, enc.encode(clip))
        pred.append(ck.labels[int(np.argmax(probs))])
    ok = np.array(pred) == truth["emotion"].to_numpy()
    ua = pd.Series(ok).groupby(truth["emotion"].to_numpy()).mean().mean()
    return {"clip_accuracy": round(float(ok.mean()), 4), "clip_ua": round(float(ua), 4), "clips": int(len(truth))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default="none:5,none:20,none:60,ig:5,ig:20,ig:60",
                    help="method:minutes pairs; methods 'none', 'ig', 'none-noprosody', 'ig,occlusion' ...")
    ap.add_argument("--workdir", default="/tmp/explain_ser_timeline_bench")
    ap.add_argument("--checkpoint", default="ravdess-tiny.en")
    ap.add_argument("--contexts", default="0,0.25,0.5,1.0",
                    help="--context values (s around each utterance) to compare for accuracy ('' to skip)")
    ap.add_argument("--accuracy-minutes", type=float, default=5.0, help="recording of the --contexts comparison")
    args = ap.parse_args()
    if not (RAVDESS / "manifest.csv").is_file():
        sys.exit(f"needs RAVDESS under {RAVDESS}")
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    runs = []
    for spec in args.runs.split(","):
        spec = spec.strip()
        if not spec:
            continue
        method, minutes = spec.rsplit(":", 1)
        runs.append((method, float(minutes)))
    result = {"checkpoint": args.checkpoint, "runs": []}
    for method, minutes in runs:
        rec, truth = build(minutes, work)
        extra = ["--checkpoint", args.checkpoint]
        methods = method.replace("-noprosody", "")
        extra += ["--methods", methods]
        if method.endswith("-noprosody"):
            extra.append("--no-prosody")
        out = work / f"out_{method.replace(',', '+')}_{minutes:g}"
        r = run_cli(rec, out, extra)
        seg = pd.read_csv(out / f"{rec.stem}.segments.csv")
        audio_s = float(truth["end"].iloc[-1])
        r.update({"methods": method, "minutes": minutes, "audio_s": round(audio_s, 1),
                  "speech_s": round(float((seg["end"] - seg["start"]).sum()), 1), "segments": int(len(seg)),
                  "x_real_time_wall": round(audio_s / r["wall_s"], 1),
                  "x_real_time_per_cpu_s": round(audio_s / r["cpu_s"], 1)})
        print(json.dumps(r), flush=True)
        result["runs"].append(r)
    if runs:  # the longest run's segments, at the default settings
        acc_min = max(m for _, m in runs)
        rec, truth = build(acc_min, work)
        method = next(m for m, mi in runs if mi == acc_min)
        seg = pd.read_csv(work / f"out_{method.replace(',', '+')}_{acc_min:g}" / f"{rec.stem}.segments.csv")
        result["accuracy"] = {"recording_minutes": acc_min, **segment_accuracy(seg, truth),
                              "same_clips_alone": clips_alone(truth, args.checkpoint),
                              "note": "the shipped checkpoint was trained on all 18 RAVDESS actors: training speakers"}
        print(json.dumps(result["accuracy"]), flush=True)
    if args.contexts:  # how much context around each utterance the model needs
        rec, truth = build(args.accuracy_minutes, work)
        sweep = {"recording_minutes": args.accuracy_minutes, "same_clips_alone": clips_alone(truth, args.checkpoint)}
        for pad in [float(x) for x in args.contexts.split(",")]:
            out = work / f"out_context{pad:g}_{args.accuracy_minutes:g}"
            r = run_cli(rec, out, ["--checkpoint", args.checkpoint, "--methods", "none", "--no-prosody",
                                   "--context", str(pad)])
            seg = pd.read_csv(out / f"{rec.stem}.segments.csv")
            sweep[f"context={pad:g}"] = {**segment_accuracy(seg, truth),
                                     "mean_segment_s": round(float((seg["end"] - seg["start"]).mean()), 2),
                                     "wall_s": r["wall_s"], "cpu_s": r["cpu_s"]}
            print(json.dumps({pad: sweep[f"context={pad:g}"]}), flush=True)
        sweep["mean_clip_s"] = round(float((truth["end"] - truth["start"]).mean()), 2)
        result["context_sweep"] = sweep
    save("timeline_" + args.checkpoint, result)


if __name__ == "__main__":
    main()
