"""Every ``explain-ser`` command line that README.md documents runs, on tiny inputs the test makes itself.

README's command table, its code blocks and the commands quoted in its prose are parsed; each documented line must
be a key of :data:`REGISTRY`, and the registry says how to run it on tiny project-made inputs (espeak-ng speech,
sox sounds, manifests written to a temporary directory). Each run must end with the exit code it expects (0 unless
README documents another, e.g. 3 for a missing optional package) and without a traceback. The test FAILS when
README documents a line the registry does not have, when the registry keeps a line README no longer has, and when
an option or literal value of a documented line (``--plot``, ``--aligner kaldi``, ``--vad silero|energy``) is not
used by any of its runs. So a documented command cannot end in a traceback unnoticed.

HOW TO EXTEND (when you add a command or option to README.md)
-------------------------------------------------------------
Add (or edit) one entry of ``REGISTRY``::

    "explain-ser NAME ARG [--opt a|b]": [            # the README line, normalised (see below)
        Run("NAME {w.manifest} --opt a --out {w.out}"),
        Run("NAME {w.manifest} --opt b --out {w.out}", codes=(0, 1)),
    ],
    "explain-ser NAME": "explain-ser NAME ARG [--opt a|b]",   # a prose mention: covered by that entry

* The key is the README text of the line: backticks and a leading ``$ `` removed, ``\\|`` read as ``|``, a
  trailing ``# comment`` dropped, whitespace collapsed. Run this file to see the exact key it wants.
* A ``Run`` is the argv after ``explain-ser`` (split like a shell line, after ``str.format``), with
  ``{w.NAME}`` fields from :class:`Workspace` (tiny inputs, made lazily and shared by all entries):
  ``clip`` / ``clip2`` (English espeak-ng clips, ``clip_txt`` its transcript file, ``clip_text`` its words),
  ``manifest`` (8 clips, 4 speakers, neutral/angry, transcripts, ``ravdess.csv``), ``other_manifest`` (EmoDB-style
  labels), ``recording`` (~12 s, two speakers) with ``rttm`` / ``turns_textgrid``, ``events`` (planted
  vocalizations), ``run`` / ``run_seed1`` (``train --cv-only --save-fold-models`` outputs), ``checkpoint`` (a
  trained checkpoint directory), ``report`` (a report directory), ``timeline`` (a ``timeline`` output of
  ``recording``), ``tagger_dir`` (a vocalization tagger directory), ``cue_manifest`` / ``join_manifest`` (pointing-game corpora: planted vocalizations, joined utterances),
  ``sounds`` (a folder of category folders of isolated "recordings"), ``slurm_yaml``, ``tiny_dir`` (the bundled tiny.en CTranslate2 directory), and ``out`` (a fresh directory
  for each run). Add a ``cached_property`` there when a new command needs a new kind of input; keep it tiny.
* ``codes``: the exit codes the run may end with (README's table: 0 done, 1 some clips failed, 2 bad input,
  3 optional package missing). ``check(w, out_dir, stdout)``: an optional extra assertion. ``serve=True``: the
  command is a server (``explore``): it is started, must answer its health URL, and is stopped.
* Keep runs cheap: ``--methods none`` or ``--steps 2``, ``--epochs 1``, ``--jobs 1``, ``--n-boot 20``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from _env import ROOT, needs_espeak, needs_tiny

pytestmark = [pytest.mark.slow, needs_tiny, needs_espeak]

README = ROOT / "README.md"


@dataclass(frozen=True)
class Run:
    args: str
    codes: tuple = (0,)
    check: Callable | None = None
    serve: bool = False
    skip: Callable | None = None  # skip(w) -> reason or None (e.g. an optional program is installed)


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _base_installed() -> bool:
    from explain_ser.weights import available_sources

    return bool(available_sources().get("base"))


# ---- README parsing ----------------------------------------------------------------------------------------

def normalise(line: str) -> str:
    line = line.replace("\\|", "|").strip()
    line = re.sub(r"^\$\s+", "", line)
    line = re.sub(r"\s+#.*$", "", line)
    return " ".join(line.split())


def documented_lines(text: str) -> list[str]:
    """Every ``explain-ser ...`` line of README: code-block lines, then backticked spans (table and prose)."""
    found: list[str] = []
    for block in re.findall(r"```[^\n]*\n(.*?)```", text, re.S):
        for line in block.splitlines():
            if re.match(r"\s*(\$\s+)?explain-ser\s", line):
                found.append(normalise(line))
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    for span in re.findall(r"`(explain-ser\s[^`]*)`", prose):
        found.append(normalise(span))
    return list(dict.fromkeys(found))


FILE_NAME = re.compile(r"[^/]+\.(csv|yaml|yml|wav|txt|json|rttm|parquet)")


def literals(line: str) -> list[str]:
    """What a documented line promises: its options, subcommands and lowercase literal values
    (``--aligner kaldi`` -> ``--aligner``, ``kaldi``). Free: UPPER-CASE placeholders, ``...`` and bare file
    names (``ravdess.csv``, ``sweep.csv``: the test makes its own); paths (``examples/laugh_breath.wav``) count."""
    out = []
    for tok in line.replace("[", " ").replace("]", " ").split()[1:]:
        for alt in tok.split("|"):
            alt = alt.strip(",")
            if FILE_NAME.fullmatch(alt):
                continue
            if alt.startswith("--") or re.fullmatch(r"[a-z0-9][a-z0-9._,:/-]*", alt):
                out.append(alt)
    return out


# ---- tiny inputs --------------------------------------------------------------------------------------------

SENTENCES = ["kids are talking by the door", "dogs are sitting by the door", "the cat is on the mat",
             "we walk to the park"]
VOICES = ["en-us", "en-us+f3", "en-us+m3", "en-us+f2"]


class Workspace:
    """Tiny project-made inputs, each made the first time an entry asks for it."""

    def __init__(self, root: Path):
        self.root = root
        self._n = 0

    @property
    def out(self) -> str:
        self._n += 1
        return str(self.root / "runs" / f"r{self._n:02d}")

    def _speech(self, name, text, voice="en-us", speed=160) -> Path:
        from _speech import espeak

        p = self.root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, espeak(text, voice, speed), 16000)
        return p

    @functools.cached_property
    def clip_text(self) -> str:
        return SENTENCES[1]

    @functools.cached_property
    def clip(self) -> str:
        return str(self._speech("clips/dogs.wav", self.clip_text))

    @functools.cached_property
    def clip2(self) -> str:
        return str(self._speech("clips/cat.wav", SENTENCES[2], "en-us+f3"))

    @functools.cached_property
    def clip_txt(self) -> str:
        p = self.root / "clips" / "dogs_words.txt"
        p.write_text(self.clip_text + "\n")
        return str(p)

    def _manifest(self, name: str, emotions: list, speakers: list, language: str = "en") -> str:
        rows = []
        for si, spk in enumerate(speakers):
            for ei, emo in enumerate(emotions):
                text = SENTENCES[(si + ei) % len(SENTENCES)]
                wav = self._speech(f"{Path(name).stem}/{spk}_{emo}.wav", text, VOICES[si % len(VOICES)],
                                   speed=140 + 40 * ei)
                rows.append({"path": wav.name, "speaker": spk, "gender": "female" if si % 2 else "male",
                             "emotion": emo, "transcript": text.capitalize() + ".", "language": language})
        p = self.root / Path(name).stem / name
        pd.DataFrame(rows).to_csv(p, index=False)
        return str(p)

    @functools.cached_property
    def manifest(self) -> str:
        return self._manifest("ravdess.csv", ["neutral", "angry"], ["a1", "a2", "a3", "a4"])

    @functools.cached_property
    def other_manifest(self) -> str:
        return self._manifest("other.csv", ["anger", "sadness"], ["x1", "x2"])

    @functools.cached_property
    def recording(self) -> str:
        from _speech import espeak

        parts, t, turns = [np.zeros(8000, np.float32)], 0.5, []
        for i, text in enumerate(SENTENCES * 2):
            x = espeak(text, VOICES[i % 2], 160)
            parts += [x, np.zeros(12000, np.float32)]
            turns.append((t, t + len(x) / 16000, f"spk{i % 2}"))
            t += (len(x) + 12000) / 16000
        p = self.root / "rec" / "call.wav"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, np.concatenate(parts), 16000)
        self._turns = turns
        return str(p)

    @functools.cached_property
    def rttm(self) -> str:
        self.recording  # noqa: B018  (makes the turns)
        p = self.root / "rec" / "call.rttm"
        p.write_text("".join(f"SPEAKER call 1 {s:.3f} {e - s:.3f} <NA> <NA> {who} <NA> <NA>\n"
                             for s, e, who in self._turns))
        return str(p)

    @functools.cached_property
    def turns_textgrid(self) -> str:
        from praatio import textgrid as ptg

        dur = sf.info(self.recording).duration
        tg = ptg.Textgrid()
        tg.addTier(ptg.IntervalTier("speaker", [(round(s, 3), round(e, 3), who) for s, e, who in self._turns],
                                    0, dur))
        p = self.root / "rec" / "call_turns.TextGrid"
        tg.save(str(p), format="long_textgrid", includeBlankSpaces=True)
        return str(p)

    def _main(self, argv: list) -> None:
        from explain_ser.cli import main

        assert main(argv) == 0, f"making a tiny input failed: explain-ser {shlex.join(argv)}"

    @functools.cached_property
    def events(self) -> str:
        d = self.root / "planted"
        self._main(["train-tagger", self.manifest, "--plant", "--out", str(d), "--n-clips", "8", "--quiet"])
        return str(d / "events.csv")

    def _cv_run(self, name, seed) -> str:
        d = self.root / name
        self._main(["train", self.manifest, "--taps", "2", "--pooler", "qkv", "--k", "2", "--val-speakers", "0",
                    "--epochs", "1", "--cv-only", "--save-fold-models", "--seed", str(seed), "--out", str(d),
                    "--quiet"])
        return str(d)

    @functools.cached_property
    def run(self) -> str:
        return self._cv_run("cv_seed0", 0)

    @functools.cached_property
    def run_seed1(self) -> str:
        return self._cv_run("cv_seed1", 1)

    @functools.cached_property
    def checkpoint(self) -> str:
        d = self.root / "ckpt"
        self._main(["train", self.manifest, "--taps", "2", "--pooler", "qkv", "--k", "2", "--val-speakers", "0",
                    "--epochs", "1", "--out", str(d), "--quiet"])
        return str(d)

    @functools.cached_property
    def report(self) -> str:
        d = self.root / "report"
        self._main(["report", self.manifest, "--out", str(d), "--methods", "none", "--no-deletion", "--n-boot",
                    "20", "--n-perm", "20", "--jobs", "1", "--quiet"])
        return str(d)

    @functools.cached_property
    def timeline(self) -> str:
        """A directory written by ``timeline`` (the recording, no attributions)."""
        d = self.root / "timeline"
        self._main(["timeline", self.recording, "--out", str(d), "--methods", "none", "--quiet"])
        return str(d)

    @functools.cached_property
    def tagger_dir(self) -> str:
        """A vocalization tagger directory, as ``train-tagger`` writes one (the first shipped tagger's)."""
        from explain_ser.tagger import available_taggers, resolve_tagger

        return str(resolve_tagger(available_taggers()[0]))

    @functools.cached_property
    def sounds(self) -> str:
        """Isolated 'recordings' (seeded noise bursts) in category folders, as a user brings real ones."""
        rng = np.random.default_rng(7)
        d = self.root / "sounds"
        for cat in ("breath", "cough"):
            (d / cat).mkdir(parents=True, exist_ok=True)
            for k in range(3):
                sf.write(d / cat / f"p{k}.wav", (0.2 * rng.standard_normal(4000)).astype(np.float32), 16000)
        return str(d)

    @functools.cached_property
    def cue_manifest(self) -> str:
        d = self.root / "cues"
        self._main(["pointing-game", "build", "--kind", "vocalization", "--manifest", self.manifest, "--out", str(d),
                    "--n-clips", "8", "--quiet"])
        return str(next(d.glob("*.csv")))

    @functools.cached_property
    def join_manifest(self) -> str:
        d = self.root / "joined"
        self._main(["pointing-game", "build", "--kind", "join", "--manifest", self.manifest, "--out", str(d),
                    "--n-clips", "8", "--quiet"])
        return str(next(d.glob("*.csv")))

    @functools.cached_property
    def slurm_yaml(self) -> str:
        block = re.search(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
        p = self.root / "slurm" / "slurm.yaml"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(block)  # README's own example
        return str(p)

    @functools.cached_property
    def tiny_dir(self) -> str:
        from explain_ser.weights import resolve_source

        return str(resolve_source("tiny.en").paths[0].parent)


# ---- checks -------------------------------------------------------------------------------------------------

def _has(*names):
    def check(w, out, stdout):
        for n in names:
            assert list(Path(out).rglob(n)), f"{n} not written under {out}"
    return check


def _tagger_and_planted_table(w, out, stdout):
    """``train-tagger --sounds``: the tagger in OUT, the table it was trained on in OUT-planted/ (README)."""
    _has("MODEL_CARD.md")(w, out, stdout)
    table = Path(f"{out}-planted") / "events.csv"
    assert table.is_file(), f"{table} not written"
    import pandas as pd

    assert len(pd.read_csv(table)) > 0


def _aligned_words(w, out, stdout):
    from explain_ser.align.textgrid import read_alignment

    tg = next(Path(out).glob("*.TextGrid"))
    assert read_alignment(tg).word_labels() == w.clip_text.split()


# ---- the registry -------------------------------------------------------------------------------------------

QUICK = "--methods none --no-deletion --n-boot 20 --n-perm 20 --jobs 1 --quiet"
TRAIN_CHEAP = "--k 2 --val-speakers 0 --epochs 1 --quiet"
SLURM_CODES = (3,) if not _have("dask_jobqueue") else (0,)


def _no_jobqueue_only(w):
    return "dask-jobqueue is installed: the SLURM lines need a real cluster" if _have("dask_jobqueue") else None


def _mfa_missing_only(w):
    return "mfa is installed: the documented fallback cannot be run" if shutil.which("mfa") else None


REGISTRY: dict[str, list[Run] | str] = {
    # -- make demo's command, and the example output block
    "explain-ser attribute examples/laugh_breath.wav --out out/demo --plot": [
        Run("attribute examples/laugh_breath.wav --out {w.out}/out/demo --plot --methods ig --steps 4",
            check=_has("laugh_breath.png", "laugh_breath.frames.csv", "laugh_breath.summary.json"))],
    "explain-ser attribute examples/laugh_breath.wav --plot": "explain-ser attribute examples/laugh_breath.wav "
                                                              "--out out/demo --plot",
    "explain-ser attribute examples/laugh_breath.wav --plot --out out": [
        Run("attribute examples/laugh_breath.wav --plot --out {w.out}/out", check=_has("laugh_breath.png"))],
    # -- the command table
    "explain-ser attribute CLIP... [--checkpoint NAME|DIR] [--transcript TEXT|FILE] "
    "[--methods ig,saliency,occlusion] [--deep] [--format csv|parquet|json] [--plot]": [
        Run("attribute {w.clip} {w.clip2} --checkpoint ravdess-tiny.en --methods ig,saliency,occlusion --steps 4 "
            "--format csv --out {w.out} --quiet", check=_has("dogs.frames.csv", "cat.frames.csv")),
        Run("attribute {w.clip} --checkpoint {w.checkpoint} --transcript '{w.clip_text}' --methods saliency "
            "--format parquet --plot --out {w.out}", check=_has("dogs.frames.parquet", "dogs.png")),
        Run("attribute {w.clip} --transcript {w.clip_txt} --deep --methods saliency --steps 2 --format json "
            "--out {w.out}", check=_has("dogs.frames.json")),
    ],
    "explain-ser report MANIFEST --out DIR [--checkpoint ...] [--aligner kaldi]": [
        Run("report {w.manifest} --out {w.out} " + QUICK, check=_has("report.html")),
        Run("report {w.manifest} --out {w.out} --checkpoint ravdess-tiny.en-single --aligner kaldi " + QUICK,
            check=_has("report.html"), skip=lambda w: None if _have("kaldi_hmm_gmm") else "kaldi not installed"),
    ],
    "explain-ser faithfulness MANIFEST --out DIR": [
        Run("faithfulness {w.manifest} --out {w.out} --methods ig --limit 2 --sanity 1 --jobs 1 --quiet")],
    "explain-ser align CLIP_OR_MANIFEST --out DIR [--aligner auto|pocketsphinx|whisper|mfa|kaldi]": [
        Run("align {w.clip} --transcript '{w.clip_text}' --out {w.out} --aligner auto", check=_aligned_words),
        Run("align {w.clip} --transcript '{w.clip_text}' --out {w.out} --aligner pocketsphinx",
            check=_aligned_words),
        Run("align {w.clip} --transcript '{w.clip_text}' --out {w.out} --aligner whisper", check=_aligned_words),
        Run("align {w.clip} --transcript '{w.clip_text}' --out {w.out} --aligner mfa", check=_aligned_words,
            skip=_mfa_missing_only),
        Run("align {w.manifest} --out {w.out} --aligner kaldi --jobs 1 --quiet", check=_has("a1_neutral.TextGrid"),
            skip=lambda w: None if _have("kaldi_hmm_gmm") else "kaldi not installed"),
    ],
    "explain-ser extract MANIFEST_OR_DIR [--model tiny.en|base|PATH] [--window trim|full]": [
        Run("extract {w.manifest} --model tiny.en --window trim --jobs 1 --quiet"),
        Run("extract {w.clip} --model {w.tiny_dir} --window full --jobs 1 --quiet"),
        Run("extract {w.clip} --model base --jobs 1 --quiet", codes=(0,) if _base_installed() else (2, 3)),
    ],
    "explain-ser train MANIFEST --taps 2,3 --pooler qkv [--speed-perturb 0.9,1.1] [--extra-train OTHER_MANIFEST] "
    "[--ensemble K] --out DIR": [
        Run("train {w.manifest} --taps 2,3 --pooler qkv --speed-perturb 0.9,1.1 --extra-train {w.other_manifest} "
            "--ensemble 2 --out {w.out} " + TRAIN_CHEAP, check=_has("config.json", "MODEL_CARD.md"))],
    "explain-ser evaluate MANIFEST --checkpoint ... [--classes angry,happy,neutral,sad] [--lockbox locked] "
    "[--speaker-norm]": [
        Run("evaluate {w.manifest} --checkpoint ravdess-tiny.en --quiet"),
        Run("evaluate {w.manifest} --checkpoint {w.checkpoint} --quiet"),
        Run("evaluate {w.other_manifest} --checkpoint ravdess-tiny.en-single --classes angry,happy,neutral,sad "
            "--n-boot 20 --quiet"),
        # the tiny manifest lacks the lockbox's RAVDESS actors: refused in one line (exit 2)
        Run("evaluate {w.manifest} --lockbox locked --quiet", codes=(2,)),
        Run("evaluate {w.manifest} --speaker-norm --n-boot 20 --quiet")],
    "explain-ser evaluate ... --lockbox locked": "explain-ser evaluate MANIFEST --checkpoint ... "
                                                 "[--classes angry,happy,neutral,sad] [--lockbox locked] "
                                                 "[--speaker-norm]",
    "explain-ser evaluate ... --classes angry,happy,neutral,sad": "explain-ser evaluate MANIFEST --checkpoint ... "
                                                                  "[--classes angry,happy,neutral,sad] [--lockbox locked] "
                                                                  "[--speaker-norm]",
    "explain-ser train ... --lockbox dev": [
        Run("train {w.manifest} --lockbox dev --taps 2 --pooler qkv --cv-only " + TRAIN_CHEAP, codes=(2,))],
    "explain-ser train ... --folds emobox": [  # speakers a1..a4 read as RAVDESS actors 1-4: four EmoBox folds
        Run("train {w.manifest} --folds emobox --taps 2 --pooler qkv --cv-only --val-speakers 0 --epochs 1 --quiet")],
    "explain-ser cv-ensemble RUN_DIR RUN_DIR...": [Run("cv-ensemble {w.run} {w.run_seed1}")],
    "explain-ser cv-select RUN_DIR RUN_DIR...": [Run("cv-select {w.run} {w.run_seed1}")],
    "explain-ser cv-select": "explain-ser cv-select RUN_DIR RUN_DIR...",
    "explain-ser sweep MANIFEST --out sweep.csv": [
        Run("sweep {w.manifest} --out {w.out}/sweep.csv --taps 1,2 --poolers mean,qkv " + TRAIN_CHEAP)],
    "explain-ser timeline RECORDING... --out DIR [--vad silero|energy] [--turns RTTM|TextGrid] [--align] [--identify-language] [--plot]": [
        Run("timeline {w.recording} --out {w.out} --vad silero --methods none --quiet",
            check=_has("call.segments.csv", "call.timeline.html")),
        Run("timeline {w.recording} --out {w.out} --vad energy --turns {w.rttm} --align --plot --methods none "
            "--quiet", check=_has("call.timeline.png", "call.speakers.csv", "call.TextGrid")),
        Run("timeline {w.recording} --out {w.out} --vad energy --turns {w.turns_textgrid} --identify-language "
            "--methods none --quiet", check=_has("call.speakers.csv")),
    ],
    "explain-ser pointing-game build|run|score ...": [
        Run("pointing-game build --kind vocalization --manifest {w.manifest} --out {w.out} --n-clips 8 --quiet"),
        Run("pointing-game run {w.cue_manifest} --out {w.out} --pooler qkv --taps 2 --k 2 --val-speakers 0 "
            "--epochs 1 --methods saliency --quiet"),
        Run("pointing-game score {w.join_manifest} --cv-run {w.run} --methods saliency --out {w.out} --quiet"),
    ],
    "explain-ser robustness MANIFEST [--checkpoint ...|--cv-run DIR] [--conditions ...]": [
        Run("robustness {w.manifest} --checkpoint ravdess-tiny.en --conditions gain:-10 --out {w.out} "
            "--n-boot 20 --quiet"),
        Run("robustness {w.manifest} --cv-run {w.run} --conditions noise:white:20 pad:silence:1 --out {w.out} "
            "--n-boot 20 --quiet"),
    ],
    "explain-ser train-tagger EVENTS --out DIR": [
        Run("train-tagger {w.events} --out {w.out} --folds 2 --epochs 2 --quiet", check=_has("MODEL_CARD.md"))],
    "explain-ser train-tagger MANIFEST --sounds DIR|MANIFEST --out DIR [--synthetic laugh,sigh,other] [--max-seconds S]": [
        Run("train-tagger {w.manifest} --sounds {w.sounds} --out {w.out} --synthetic laugh,sigh,other --max-seconds 2 "
            "--folds 2 --epochs 2 --n-clips 8 --quiet", check=_tagger_and_planted_table)],
    "explain-ser explore [--report DIR] [--manifest CSV] [--timeline DIR] [--tagger DIR]": [
        Run("explore --report {w.report} --manifest {w.manifest} --print-command"),
        Run("explore --report {w.report} --manifest {w.manifest} --headless", serve=True),
        Run("explore --timeline {w.timeline} --tagger {w.tagger_dir} --headless", serve=True),
    ],
    "explain-ser info [--model ...]": [Run("info"), Run("info --model tiny.en")],
    # -- the SLURM example (README: exit 3 names the pip install when dask-jobqueue is missing)
    "explain-ser extract ravdess.csv --cluster slurm --cluster-config slurm.yaml --jobs 8": [
        Run("extract {w.manifest} --cluster slurm --cluster-config {w.slurm_yaml} --jobs 8", codes=SLURM_CODES,
            skip=_no_jobqueue_only)],
    "explain-ser report ravdess.csv --out /shared/out/ravdess --cluster slurm --cluster-config slurm.yaml --jobs 8": [
        Run("report {w.manifest} --out {w.out} --cluster slurm --cluster-config {w.slurm_yaml} --jobs 8",
            codes=SLURM_CODES, skip=_no_jobqueue_only)],
    # -- commands quoted in the prose
    "explain-ser info": "explain-ser info [--model ...]",
    "explain-ser train": "explain-ser train MANIFEST --taps 2,3 --pooler qkv [--speed-perturb 0.9,1.1] "
                         "[--extra-train OTHER_MANIFEST] [--ensemble K] --out DIR",
    "explain-ser cv-ensemble": "explain-ser cv-ensemble RUN_DIR RUN_DIR...",
    "explain-ser timeline REC --out DIR": [Run("timeline {w.recording} --out {w.out} --methods none --quiet")],
    "explain-ser robustness MANIFEST --cv-run RUN": "explain-ser robustness MANIFEST [--checkpoint ...|--cv-run DIR] "
                                                    "[--conditions ...]",
    "explain-ser robustness --cv-run": "explain-ser robustness MANIFEST [--checkpoint ...|--cv-run DIR] "
                                       "[--conditions ...]",
    "explain-ser pointing-game build --kind vocalization --sounds DIR|MANIFEST --manifest M --out DIR": [
        Run("pointing-game build --kind vocalization --sounds {w.sounds} --manifest {w.manifest} --out {w.out} "
            "--n-clips 4 --quiet", check=_has("manifest.csv", "build.json"))],
    "explain-ser pointing-game build --kind vocalization|splice|join --manifest M --out DIR": [
        Run("pointing-game build --kind vocalization --manifest {w.manifest} --out {w.out} --n-clips 4 --quiet"),
        Run("pointing-game build --kind splice --manifest {w.manifest} --out {w.out} --n-clips 4 --quiet"),
        Run("pointing-game build --kind join --manifest {w.manifest} --out {w.out} --n-clips 4 --quiet"),
    ],
}


def _runs(key: str) -> list[Run]:
    entry = REGISTRY[key]
    return _runs(entry) if isinstance(entry, str) else entry


# ---- the tests ----------------------------------------------------------------------------------------------

def test_every_documented_line_is_in_the_registry_and_every_entry_is_documented():
    lines = documented_lines(README.read_text(encoding="utf-8"))
    assert len(lines) >= 15, lines  # the parser found the table
    missing = [l for l in lines if l not in REGISTRY]
    assert not missing, ("README documents command lines tests/test_readme_commands.py cannot run; add them to "
                         "REGISTRY (format at the top of that file):\n  " + "\n  ".join(missing))
    stale = [k for k in REGISTRY if k not in lines]
    assert not stale, "REGISTRY keeps lines README no longer documents:\n  " + "\n  ".join(stale)
    for key, entry in REGISTRY.items():
        if isinstance(entry, str):
            assert entry in REGISTRY, f"{key!r} points at {entry!r}, which is not a registry key"


@pytest.mark.parametrize("key", list(REGISTRY))
def test_every_option_of_a_line_is_exercised(key):
    """``--deep`` documented but never run, or ``--vad silero`` run but not ``energy``: a line is not covered."""
    runs = _runs(key)
    assert runs, key
    joined = [shlex.split(r.args.replace("{", "<").replace("}", ">")) for r in runs]
    command = key.split()[1]
    assert all(argv[0] == command for argv in joined), f"{key}: runs must start with {command!r}"
    flat = " ".join(" ".join(a) for a in joined)
    for lit in literals(key):
        if lit.startswith("--"):
            assert any(lit in argv for argv in joined), f"{key}: no run uses {lit}"
        else:
            assert lit in flat, f"{key}: no run uses {lit!r}"


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    return Workspace(tmp_path_factory.mktemp("readme"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(argv: list, out: Path) -> None:
    """Start a server command as a user does, wait for its health URL, stop it with Ctrl-C (SIGINT)."""
    port = _free_port()
    exe = Path(sys.executable).with_name("explain-ser")
    cmd = ([str(exe)] if exe.is_file() else [sys.executable, "-m", "explain_ser.cli"]) + argv + ["--port", str(port)]
    log = out / "serve.log"
    out.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline, ok = time.monotonic() + 120, False
            while time.monotonic() < deadline and proc.poll() is None and not ok:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                        ok = r.status == 200
                except OSError:
                    time.sleep(0.5)
            assert ok, f"{shlex.join(cmd)} did not answer: {log.read_text(errors='replace')[-2000:]}"
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")[-2000:]


@pytest.mark.parametrize("key", [k for k, v in REGISTRY.items() if not isinstance(v, str)])
def test_documented_command_runs(key, w, capsys, monkeypatch):
    from explain_ser.cli import main

    monkeypatch.chdir(ROOT)  # README's relative paths (examples/...) are the repository's
    for run in REGISTRY[key]:
        reason = run.skip(w) if run.skip else None
        if reason:
            print(f"skipped {run.args}: {reason}")
            continue
        text = run.args.format(w=w)
        argv = shlex.split(text)
        out = next((Path(argv[i + 1]) for i, a in enumerate(argv[:-1]) if a == "--out"), None)
        if run.serve:
            _serve(argv, Path(w.out))
            continue
        capsys.readouterr()
        rc = main(argv)
        cap = capsys.readouterr()
        assert rc in run.codes, f"explain-ser {text}: exit {rc}, wanted {run.codes}\n{cap.err[-3000:]}"
        assert "Traceback" not in cap.err and "Traceback" not in cap.out, cap.err[-3000:]
        if rc != 0:  # a documented non-zero code: one line that says why
            assert cap.err.strip().startswith("explain-ser: "), cap.err[-3000:]
        if run.check is not None and rc == 0:
            run.check(w, out, cap.out)
