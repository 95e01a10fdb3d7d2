"""Alignment, prosody and vocalization benchmarks (results: benchmarks/notes/alignment.md).

    python benchmarks/bench_align.py speed        # one ~4 s clip: align + prosody + tagging
    python benchmarks/bench_align.py accuracy     # word boundaries vs known times (espeak-ng)
    python benchmarks/bench_align.py vocal        # planted vocalizations: precision / recall / tags
    python benchmarks/bench_align.py ravdess      # every RAVDESS clip in ../shared, 2 processes
    python benchmarks/bench_align.py whisper      # Whisper vs PocketSphinx vs truth (slow)

Needs espeak-ng and sox (tests/_speech.py makes the test sounds).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
SHARED = ROOT.parent / "shared" / "corpora"

SENTENCES = ["kids are talking by the door", "dogs are sitting by the door",
             "the quick brown fox jumps over the lazy dog", "she sells sea shells by the sea shore",
             "please call stella and ask her to bring these things", "we also need a small plastic snake"]


def speed():
    from _speech import clip, espeak

    from explain_ser.align import align_clip, get_aligner
    from explain_ser.audio import load_audio
    from explain_ser.frames import build_frame_table
    from explain_ser.prosody import extract_prosody

    manifest = SHARED / "ravdess" / "manifest.csv"
    if manifest.exists():
        import pandas as pd

        m = pd.read_csv(manifest)
        row = m.iloc[(m.duration_s - 4.0).abs().argmin()]
        c, text = load_audio(SHARED / "ravdess" / row.path), row.transcript
    else:
        x = np.concatenate([espeak(SENTENCES[0]), espeak(SENTENCES[1])])[: 4 * 16000]
        c, text = clip(x, "espeak"), SENTENCES[0] + " " + SENTENCES[1]
    print(f"clip {c.clip_id}: {c.duration:.2f} s, transcript {text!r}")
    t0 = time.perf_counter()
    get_aligner("pocketsphinx").align(c, text)
    cold = time.perf_counter() - t0
    times = {"align": [], "vocal": [], "prosody": [], "frames": [], "total": []}
    for _ in range(5):
        t0 = time.perf_counter()
        a = align_clip(c, text, vocalizations=False)
        t1 = time.perf_counter()
        from explain_ser.align.vocalizations import detect_vocalizations

        detect_vocalizations(c.samples, a.words)
        t2 = time.perf_counter()
        p = extract_prosody(c.samples)
        t3 = time.perf_counter()
        build_frame_table(c.clip_id, c.n_frames, alignment=a, prosody=p)
        t4 = time.perf_counter()
        for k, v in zip(times, [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0]):
            times[k].append(v)
    print(f"first alignment incl. decoder setup: {cold:.3f} s")
    for k, v in times.items():
        print(f"{k:8s} median {np.median(v):.3f} s  (5 runs)")


def accuracy(n_per_voice=12):
    from _speech import clip, words_with_gaps

    from explain_ser.align.pocketsphinx_backend import PocketSphinxAligner
    from explain_ser.errors import InputError

    al = PocketSphinxAligner()
    rng = np.random.default_rng(0)
    for voice in ["en-us", "en"]:
        errs, fails, n = [], 0, 0
        for i in range(n_per_voice):
            s = SENTENCES[i % len(SENTENCES)].split()
            x, truth = words_with_gaps(s, gaps=list(rng.uniform(0, 0.4, len(s) - 1)), voice=voice,
                                       speed=int(rng.integers(130, 200)))
            x = x + 3e-4 * rng.standard_normal(len(x)).astype(np.float32)
            n += 1
            try:
                a = al.align(clip(x), " ".join(s))
            except InputError:
                fails += 1
                continue
            errs += [abs(w.start - t[0]) for w, t in zip(a.words, truth)]
            errs += [abs(w.end - t[1]) for w, t in zip(a.words, truth)]
        e = np.array(errs) * 1000
        print(f"pocketsphinx voice={voice}: {n - fails}/{n} aligned; boundary |error| median {np.median(e):.0f} ms, "
              f"p90 {np.percentile(e, 90):.0f} ms, max {e.max():.0f} ms over {len(e)} boundaries")


def vocal(trials=10):
    from _speech import breath, cough, laugh, plant, sigh, words_with_gaps

    from explain_ser.align.base import Interval
    from explain_ser.align.vocalizations import detect_vocalizations, evaluate_detection

    makers = {"laugh": laugh, "breath": breath, "cough": cough, "sigh": sigh}
    rng = np.random.default_rng(0)
    all_true, all_found, per = [], [], {}
    clean_false = 0
    for kind, mk in makers.items():
        truths, founds = [], []
        for t in range(trials):
            s = SENTENCES[t % len(SENTENCES)].split()
            k = int(rng.integers(1, len(s) - 1))
            gaps = [0.1] * (len(s) - 1)
            gaps[k - 1] = 1.4
            x, tw = words_with_gaps(s, gaps=gaps, tail=0.5, speed=int(rng.integers(140, 190)))
            x = x + float(rng.uniform(3e-4, 3e-3)) * rng.standard_normal(len(x)).astype(np.float32)
            if kind == "laugh":
                snd = mk(seconds=float(rng.uniform(0.6, 1.1)), rate_hz=float(rng.uniform(4, 6)),
                         f0=float(rng.uniform(150, 300)))
            else:
                snd = mk(seconds=float(rng.uniform(0.25, 0.4) if kind == "cough" else rng.uniform(0.4, 0.9)))
            snd = snd * float(rng.uniform(0.5, 1.5))
            at = tw[k - 1][1] + float(rng.uniform(0.1, 0.35))
            nz = np.flatnonzero(np.abs(snd) > 0.01 * np.abs(snd).max())
            true = Interval(at + nz[0] / 16000, at + nz[-1] / 16000, kind)
            x = plant(x, snd, at)
            words = [Interval(a, b, w) for a, b, w in tw]
            found = detect_vocalizations(x, words)
            truths.append(true)
            founds += found
        per[kind] = evaluate_detection(truths, founds)
        all_true += truths
        all_found += founds
    for t in range(trials):  # clean control: speech, pauses and noise, nothing planted
        s = SENTENCES[t % len(SENTENCES)].split()
        x, tw = words_with_gaps(s, gaps=list(rng.uniform(0.05, 1.0, len(s) - 1)), tail=0.5)
        x = x + float(rng.uniform(3e-4, 3e-3)) * rng.standard_normal(len(x)).astype(np.float32)
        clean_false += len(detect_vocalizations(x, [Interval(a, b, w) for a, b, w in tw]))
    print(f"{'kind':7s} {'n':>3s} {'prec':>5s} {'recall':>6s} {'tag_acc':>7s} {'onset_ms':>8s} {'offset_ms':>9s}")
    for kind, m in per.items():
        print(f"{kind:7s} {m['n_true']:3d} {m['precision']:5.2f} {m['recall']:6.2f} {m['tag_accuracy']:7.2f} "
              f"{m['onset_error_ms']:8.0f} {m['offset_error_ms']:9.0f}")
    print(f"false detections on {trials} clean clips (speech + pauses + noise): {clean_false}")
    return per


def _ravdess_one(args):
    path, text = args
    from explain_ser.align import align_clip
    from explain_ser.audio import load_audio
    from explain_ser.errors import InputError
    from explain_ser.frames import build_frame_table
    from explain_ser.prosody import extract_prosody

    t0 = time.perf_counter()
    c = load_audio(path)
    try:
        a = align_clip(c, text, aligner="pocketsphinx")
        ok, nwords = True, len(a.words)
    except InputError:
        a, ok, nwords = None, False, 0
    p = extract_prosody(c.samples)
    build_frame_table(c.clip_id, c.n_frames, alignment=a, prosody=p)
    return ok, nwords, time.perf_counter() - t0, c.duration


def ravdess(limit=None, procs=2):
    import multiprocessing as mp

    import pandas as pd

    m = pd.read_csv(SHARED / "ravdess" / "manifest.csv")
    if limit:
        m = m.iloc[:limit]
    jobs = [(str(SHARED / "ravdess" / p), t) for p, t in zip(m.path, m.transcript)]
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(procs) as pool:
        res = pool.map(_ravdess_one, jobs, chunksize=8)
    wall = time.perf_counter() - t0
    ok = sum(r[0] for r in res)
    per = np.array([r[2] for r in res])
    audio = sum(r[3] for r in res)
    print(f"RAVDESS {len(res)} clips ({audio / 60:.1f} min audio), {procs} processes: wall {wall:.0f} s "
          f"({wall / 60:.1f} min); per clip median {np.median(per):.2f} s; aligned {ok}/{len(res)} "
          f"(failures: transcript could not be forced; prosody still computed)")


def whisper_vs_ps(n=6):
    from _speech import clip, words_with_gaps

    from explain_ser.align.pocketsphinx_backend import PocketSphinxAligner
    from explain_ser.align.whisper_words import WhisperWordAligner

    wa, pa = WhisperWordAligner(), PocketSphinxAligner()
    rng = np.random.default_rng(0)
    d_wp, e_w, e_p, tw_times = [], [], [], []
    for i in range(n):
        s = SENTENCES[i % len(SENTENCES)].split()
        x, truth = words_with_gaps(s, gaps=list(rng.uniform(0, 0.4, len(s) - 1)))
        c = clip(x)
        t0 = time.perf_counter()
        w = wa.align(c, " ".join(s))
        tw_times.append(time.perf_counter() - t0)
        p = pa.align(c, " ".join(s))
        for a, b, t in zip(w.words, p.words, truth):
            d_wp.append(abs((a.start + a.end) / 2 - (b.start + b.end) / 2))
            e_w += [abs(a.start - t[0]), abs(a.end - t[1])]
            e_p += [abs(b.start - t[0]), abs(b.end - t[1])]
    ms = lambda v: f"median {np.median(v) * 1000:.0f} ms, p90 {np.percentile(v, 90) * 1000:.0f} ms, max {np.max(v) * 1000:.0f} ms"
    print(f"word-midpoint |whisper - pocketsphinx|: {ms(d_wp)} ({len(d_wp)} words)")
    print(f"boundary |error| whisper (forced, tiny.en): {ms(e_w)}")
    print(f"boundary |error| pocketsphinx:             {ms(e_p)}")
    print(f"whisper forced alignment time per clip: median {np.median(tw_times):.2f} s")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("part", choices=["speed", "accuracy", "vocal", "ravdess", "whisper"])
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    {"speed": speed, "accuracy": accuracy, "vocal": vocal, "whisper": whisper_vs_ps,
     "ravdess": lambda: ravdess(args.limit)}[args.part]()
