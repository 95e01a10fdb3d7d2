"""What per-utterance language identification (``timeline --identify-language``) costs.

    python benchmarks/bench_timeline_language.py

The three example clips joined three times with 1.5 s pauses (43.5 s, 13 utterances by the energy VAD), with a
little dither so the recording is new to the language cache; ``explain-ser timeline`` in this process, default
IG: once to warm up, then ``--language en`` (nothing identified), ``--identify-language`` (Whisper base on every
utterance) and ``--identify-language`` again (each utterance's language read from the on-disk cache).
Everything runs in the same process, so imports and model loading are paid by the warm-up only.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from _common import ROOT, save


def main() -> None:
    from explain_ser.cli import main as cli

    pause = np.zeros(int(1.5 * 16000), np.float32)
    parts = [pause]
    for _ in range(3):
        for c in ("calm_statement", "excited_question", "laugh_breath"):
            y, _ = sf.read(ROOT / "examples" / f"{c}.wav", dtype="float32")
            parts += [y, pause]
    x = np.concatenate(parts)
    d = Path(tempfile.mkdtemp())
    try:
        rec = d / "rec.wav"
        dither = np.random.default_rng(time.time_ns()).normal(0, 1e-4, len(x)).astype(np.float32)
        sf.write(rec, x + dither, 16000)
        runs = {}
        for label, extra in (("warm-up", ["--language", "en"]), ("--language en", ["--language", "en"]),
                             ("--identify-language", ["--identify-language"]),
                             ("--identify-language, cached", ["--identify-language"])):
            t = time.perf_counter()
            assert cli(["timeline", str(rec), "--vad", "energy", "--out", str(d / "o"), "--quiet"] + extra) == 0
            runs[label] = round(time.perf_counter() - t, 1)
        seg = pd.read_csv(d / "o" / "rec.segments.csv")
        save("timeline_language", {"recording_s": round(len(x) / 16000, 2), "utterances": len(seg), "wall_s": runs,
                                   "languages": seg["language"].value_counts().to_dict(),
                                   "language_p": seg["language_p"].round(3).tolist()})
    finally:
        shutil.rmtree(d)


if __name__ == "__main__":
    main()
