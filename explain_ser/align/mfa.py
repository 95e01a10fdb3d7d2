"""The Montreal Forced Aligner, driven as an external program, and its TextGrids read back.

MFA is installed with conda (its Kaldi bindings do not build from PyPI here)::

    conda install -c conda-forge montreal-forced-aligner
    mfa model download dictionary english_us_arpa && mfa model download acoustic english_us_arpa

What this module does for a batch of clips:

1. writes the corpus layout MFA expects in a temporary directory —
   ``<corpus>/<speaker>/<clip_id>.wav`` (16 kHz mono PCM16) and ``<clip_id>.lab`` (the
   transcript on one line; bracketed tokens such as ``[laughter]`` are kept, MFA aligns
   them as spoken noise ``spn``);
2. runs ``mfa align <corpus> <dictionary> <acoustic_model> <out> --clean -j N --beam B
   --retry_beam R --output_format long_textgrid`` with ``MFA_ROOT_DIR`` pointed into the
   same temporary directory (so nothing is left in the user's home);
3. reads ``<out>/**/<clip_id>.TextGrid``: ``words`` and ``phones`` tiers (or
   ``<speaker> - words`` ...), ARPAbet (english_us_arpa) or MFA's IPA (english_us_mfa,
   german_mfa ...); empty and ``sil`` intervals are silence; words written in brackets
   move to the vocalizations tier; ``spn`` phones stay (class spoken-noise).

TextGrids a user already made with MFA are read the same way (:func:`read_mfa_textgrid`).
When ``mfa`` is not on PATH, :class:`MFAAligner` raises :class:`AlignerUnavailable`
with the install hint; :func:`explain_ser.align.align_clip` then falls back to the next backend.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from explain_ser.align.base import VOCAL_TOKEN, Alignment, AlignerUnavailable, require_words
from explain_ser.align.textgrid import read_alignment
from explain_ser.errors import InputError

INSTALL_HINT = ("install it with: conda install -c conda-forge montreal-forced-aligner "
                "(then: mfa model download dictionary english_us_arpa; "
                "mfa model download acoustic english_us_arpa)")
DEFAULT_MODELS = {"en": ("english_us_arpa", "english_us_arpa"), "de": ("german_mfa", "german_mfa")}
_SAFE = re.compile(r"[^\w.-]+")


def read_mfa_textgrid(path) -> Alignment:
    """An MFA TextGrid as an :class:`Alignment` (bracketed words become vocalizations)."""
    a = read_alignment(path, backend="mfa")
    vocal = [w for w in a.words if VOCAL_TOKEN.fullmatch(w.label)]
    if vocal:
        a.words = [w for w in a.words if not VOCAL_TOKEN.fullmatch(w.label)]
        a.vocalizations = sorted(a.vocalizations + vocal, key=lambda iv: iv.start)
    a.transcript = " ".join(w.label for w in a.words)
    return a


def mfa_executable() -> str | None:
    return shutil.which("mfa")


def safe_name(name: str) -> str:
    """A file-system- and MFA-safe version of a clip or speaker id."""
    return _SAFE.sub("_", str(name)).strip("_") or "clip"


class MFAAligner:
    """Montreal Forced Aligner backend (words + phones)."""

    name = "mfa"

    def __init__(self, dictionary: str | None = None, acoustic_model: str | None = None,
                 language: str = "en", num_jobs: int = 1, beam: int = 10, retry_beam: int = 40,
                 executable: str | None = None):
        dict_default, am_default = DEFAULT_MODELS.get(language, DEFAULT_MODELS["en"])
        self.dictionary = dictionary or dict_default
        self.acoustic_model = acoustic_model or am_default
        self.num_jobs, self.beam, self.retry_beam = num_jobs, beam, retry_beam
        self.executable = executable

    # -- pieces, each testable without MFA
    @staticmethod
    def write_corpus(items, root) -> dict[str, Path]:
        """Write ``(clip, transcript, speaker)`` items as MFA's corpus layout under ``root``.

        Returns ``{clip_id: wav path}``. Clip ids must be unique.
        """
        import soundfile as sf

        root = Path(root)
        out: dict[str, Path] = {}
        for clip, transcript, speaker in items:
            cid = safe_name(getattr(clip, "clip_id", "") or "clip")
            if cid in out:
                raise InputError(cid, "two clips with the same id in one MFA batch")
            require_words(clip, transcript)
            d = root / safe_name(speaker or "speaker")
            d.mkdir(parents=True, exist_ok=True)
            pcm = (np.clip(np.asarray(clip.samples, np.float32), -1, 1) * 32767).astype(np.int16)
            sf.write(d / f"{cid}.wav", pcm, int(clip.rate), subtype="PCM_16")
            (d / f"{cid}.lab").write_text(" ".join(transcript.split()) + "\n", encoding="utf-8")
            out[cid] = d / f"{cid}.wav"
        return out

    def command(self, corpus_dir, out_dir) -> list[str]:
        """The ``mfa align`` command line for a corpus directory."""
        return [self.executable or mfa_executable() or "mfa", "align", str(corpus_dir), self.dictionary,
                self.acoustic_model, str(out_dir), "--clean", "-j", str(self.num_jobs),
                "--beam", str(self.beam), "--retry_beam", str(self.retry_beam),
                "--output_format", "long_textgrid"]

    # -- the whole round trip
    def align_many(self, items) -> list[Alignment]:
        """Align ``(clip, transcript, speaker)`` items in one MFA run."""
        items = list(items)
        exe = self.executable or mfa_executable()
        if exe is None:
            raise AlignerUnavailable("mfa", f"not found on PATH; {INSTALL_HINT}")
        with tempfile.TemporaryDirectory(prefix="explain_ser_mfa_") as tmp:
            corpus, out = Path(tmp) / "corpus", Path(tmp) / "aligned"
            self.write_corpus(items, corpus)
            env = dict(os.environ, MFA_ROOT_DIR=str(Path(tmp) / "mfa_root"))
            res = subprocess.run(self.command(corpus, out), env=env, capture_output=True, text=True)
            if res.returncode != 0:
                tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
                raise InputError("mfa align", f"failed with exit code {res.returncode}: {tail[0]}")
            grids = {p.stem: p for p in out.rglob("*.TextGrid")}
            results = []
            for clip, transcript, _ in items:
                cid = safe_name(getattr(clip, "clip_id", "") or "clip")
                if cid not in grids:
                    raise InputError(cid, "MFA could not align this clip (listed as unaligned); "
                                          "check the transcript or widen --retry_beam")
                a = read_mfa_textgrid(grids[cid])
                a.duration, a.clip_id, a.transcript = float(clip.duration), clip.clip_id, transcript
                results.append(a)
        return results

    def align(self, clip, transcript: str | None) -> Alignment:
        return self.align_many([(clip, transcript, "speaker")])[0]

