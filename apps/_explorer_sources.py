"""Where the explorer's clips come from, and the rules for reading them (no analysis here).

* :class:`Config`: what the app was launched with (``explain-ser explore`` passes it after ``--``;
  environment variables ``EXPLAIN_SER_REPORT``, ``EXPLAIN_SER_MANIFEST``, ``EXPLAIN_SER_TIMELINE``,
  ``EXPLAIN_SER_CHECKPOINTS``, ``EXPLAIN_SER_TAGGERS`` and ``EXPLAIN_SER_AUDIO_ROOTS`` (lists
  ``os.pathsep``-separated) do the same for ``streamlit run`` and tests).
* The **allowed roots**: ``examples/``, the manifest's directory, the report directory, the timeline
  directory and the recordings its summaries name (those files only), and any ``--audio-root``.
  :func:`allowed_path` refuses every path outside them, after resolving symlinks and ``..``; nothing
  typed in the browser can name a file.
* :func:`catalogue`: one table of every clip the app may open (examples, manifest rows, report
  clips), with label, speaker, true/predicted emotion and k@0.8 from the report for filtering.
* :func:`check_upload`: size limit and format check (magic bytes) of an uploaded file.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from explain_ser.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
MAX_UPLOAD_MB = 20
UPLOAD_TYPES = ("wav", "flac", "ogg", "mp3")
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3"}


@dataclass
class Config:
    report: Path | None = None
    manifest: Path | None = None
    checkpoints: list[str] = field(default_factory=list)
    audio_roots: list[Path] = field(default_factory=list)
    timeline: Path | None = None  # an `explain-ser timeline` output directory (the recording view)
    taggers: list[str] = field(default_factory=list)  # vocalization tagger directories besides the shipped ones

    @property
    def roots(self) -> list[Path]:
        """Directories the app may read audio (and transcripts) from, resolved."""
        roots = [EXAMPLES] + list(self.audio_roots)
        if self.manifest is not None:
            roots.append(self.manifest.parent)
        if self.report is not None:
            roots.append(self.report)
        if self.timeline is not None:
            roots += [self.timeline, *timeline_recordings(self.timeline, self.audio_roots)]
        return [Path(r).resolve() for r in roots]


def timeline_recordings(directory: Path, audio_roots=()) -> list[Path]:
    """The recording files the summaries of a timeline directory name (found where they were, or moved into
    the directory or an audio root): the app may read these files, not their directories."""
    from explain_ser.timeline_files import list_recordings, read_summary, recording_audio

    out = []
    for stem in list_recordings(directory):
        try:
            audio = recording_audio(read_summary(directory, stem), directory, audio_roots)
        except InputError:  # an unreadable summary names no file
            continue
        if audio is not None:
            out.append(audio)
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="explorer.py", add_help=False)
    p.add_argument("--report")
    p.add_argument("--manifest")
    p.add_argument("--checkpoint", action="append", default=[])
    p.add_argument("--audio-root", action="append", default=[])
    p.add_argument("--timeline")
    p.add_argument("--tagger", action="append", default=[])
    return p


def load_config(argv: list[str] | None = None, environ=None) -> Config:
    """Config from the script's arguments (only under ``streamlit run``) and the environment."""
    env = os.environ if environ is None else environ
    if argv is None:  # AppTest runs the script inside pytest: its argv is not ours
        argv = sys.argv[1:] if sys.argv and Path(sys.argv[0]).name == "explorer.py" else []
    args, _ = _parser().parse_known_args(argv)
    split = (lambda v: [x for x in (v or "").split(os.pathsep) if x])
    report = args.report or env.get("EXPLAIN_SER_REPORT") or None
    manifest = args.manifest or env.get("EXPLAIN_SER_MANIFEST") or None
    timeline = args.timeline or env.get("EXPLAIN_SER_TIMELINE") or None
    return Config(
        report=Path(report).resolve() if report else None,
        manifest=Path(manifest).resolve() if manifest else None,
        checkpoints=list(args.checkpoint) + split(env.get("EXPLAIN_SER_CHECKPOINTS")),
        audio_roots=[Path(x).resolve() for x in list(args.audio_root) + split(env.get("EXPLAIN_SER_AUDIO_ROOTS"))],
        timeline=Path(timeline).resolve() if timeline else None,
        taggers=list(args.tagger) + split(env.get("EXPLAIN_SER_TAGGERS")),
    )


def allowed_path(path, roots: list[Path]) -> Path:
    """``path`` resolved, if it lies inside one of ``roots``; otherwise InputError."""
    p = Path(path).resolve()
    if not any(p == r or p.is_relative_to(r) for r in roots):
        raise InputError(path, "outside the directories this explorer may read (examples/, the manifest's and "
                               "the report's directories, --audio-root); start it with --audio-root DIR")
    return p


# ---------------------------------------------------------------------------------------------
# the report directory


REPORT_TABLES = ("clip_meta", "clip_metrics", "coverage_curves", "coverage_summary", "enrichment",
                 "top_composition", "confusion", "classification")


def read_report(report: Path) -> dict[str, pd.DataFrame]:
    """The report's tables (``tables/<name>.csv``) that exist; InputError if it is not a report."""
    tdir = Path(report) / "tables"
    if not (tdir / "clip_metrics.csv").is_file():
        raise InputError(report, "not an explain-ser report directory (no tables/clip_metrics.csv)")
    out = {}
    for name in REPORT_TABLES:
        f = tdir / f"{name}.csv"
        if f.is_file():
            text = ("clip_id", "speaker", "gender", "emotion", "predicted", "path")
            t = pd.read_csv(f, dtype=dict.fromkeys(text, str), keep_default_na=name not in ("clip_meta",))
            if name == "clip_metrics":
                # an unlabelled clip's emotion is "" as in clip_meta: pandas 3's astype(str) keeps NaN
                # as NaN, so a NaN label would match no group and the clip would vanish from the plots
                t = t.fillna({c: "" for c in text if c in t})
            out[name] = t
    return out


def confusion_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """The report's confusion table (``true`` column + one column per prediction) as a matrix."""
    return table.set_index("true").rename_axis(None)


# ---------------------------------------------------------------------------------------------
# the clip catalogue

CATALOGUE_COLUMNS = ["key", "source", "clip_id", "path", "transcript", "language", "speaker", "gender", "emotion",
                     "predicted", "k08", "available", "note"]


def _example_rows() -> list[dict]:
    rows = []
    for wav in sorted(EXAMPLES.glob("*.wav")):
        rows.append({"source": "examples", "clip_id": wav.stem, "path": str(wav), "transcript": ""})
    return rows


def _check_rows(df: pd.DataFrame, roots: list[Path]) -> pd.DataFrame:
    avail, notes = [], []
    for p in df["path"]:
        if not p:
            avail.append(False)
            notes.append("no audio path in the report (metrics only)")
            continue
        try:
            q = allowed_path(p, roots)
        except InputError:
            avail.append(False)
            notes.append("outside the allowed directories (start with --manifest or --audio-root)")
            continue
        ok = q.is_file()
        avail.append(ok)
        notes.append("" if ok else "audio file missing")
    return df.assign(available=avail, note=notes)


TEXT_COLUMNS = ["source", "clip_id", "path", "transcript", "language", "speaker", "gender", "emotion", "predicted"]


def _text_columns(df: pd.DataFrame) -> pd.DataFrame:
    """The catalogue's text columns of ``df`` as str, "" where absent or missing, and k08 as float.

    Every column gets its dtype here, before any merge: under pandas 3 a column made as ``""`` is a
    str column that refuses a float, and ``fillna("")`` would turn a float column into text.
    """
    out = pd.DataFrame(index=df.index)
    for c in TEXT_COLUMNS:
        col = df[c] if c in df else pd.Series("", index=df.index)
        out[c] = col.astype(object).where(col.notna(), "").astype(str)
    k = df["k08"] if "k08" in df else pd.Series(float("nan"), index=df.index)
    out["k08"] = pd.to_numeric(k, errors="coerce").astype("float64")
    return out


def _report_rows(config: Config, report: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per report clip (clip_meta), with the mean head's k@0.8 and paths made absolute."""
    meta = report["clip_meta"]
    metrics = report.get("clip_metrics")
    k08 = None
    if metrics is not None and {"clip_id", "head", "k@0.8"} <= set(metrics.columns):
        mean = metrics[metrics["head"].astype(str) == "mean"]
        k08 = mean.drop_duplicates("clip_id").set_index(mean["clip_id"].astype(str))["k@0.8"]
    rows = _text_columns(meta.assign(source="report"))
    if k08 is not None:
        rows["k08"] = rows["clip_id"].map(k08).astype("float64")
    # clip_meta paths are relative to the report directory (the report's own copies) or absolute
    rows["path"] = [str(config.report / p) if p and not Path(p).is_absolute() else p for p in rows["path"]]
    return rows.drop_duplicates("clip_id")


def catalogue(config: Config, manifest: pd.DataFrame | None = None,
              report: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Every clip the app can list: examples, manifest rows and report clips, one row each.

    A manifest row whose clip is in the report becomes ``manifest+report``: it keeps its own audio
    path, takes the report's prediction and k@0.8, and the report's speaker, gender and emotion
    where the manifest left them empty. Report clips not in the manifest are rows of their own.
    """
    parts = [_text_columns(pd.DataFrame(_example_rows(), columns=["source", "clip_id", "path", "transcript"]))]
    rep = _report_rows(config, report) if report is not None and "clip_meta" in report else None
    man = None
    if manifest is not None and len(manifest):
        man = _text_columns(manifest.assign(source="manifest")).reset_index(drop=True)
        if rep is not None:
            hit = rep.set_index("clip_id").reindex(man["clip_id"]).set_index(man.index)
            found = man["clip_id"].isin(rep["clip_id"])
            theirs = hit["predicted"].fillna("")
            man["predicted"] = theirs.where(found & (theirs != ""), man["predicted"])
            man["k08"] = hit["k08"].where(found, man["k08"]).astype("float64")
            for c in ("speaker", "gender", "emotion"):
                man[c] = man[c].where(man[c] != "", hit[c].fillna(""))
            man["source"] = man["source"].where(~found, "manifest+report")
            rep = rep[~rep["clip_id"].isin(man["clip_id"])]
        parts.append(man)
    if rep is not None:
        parts.append(rep)
    cat = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    cat = _check_rows(cat, config.roots)
    cat["key"] = cat["source"].str.split("+").str[0] + ":" + cat["clip_id"]
    cat = cat.drop_duplicates("key").reset_index(drop=True)
    return cat[CATALOGUE_COLUMNS]


def label_of(row) -> str:
    """What the clip selector shows for one catalogue row (searchable text)."""
    bits = [str(row["clip_id"])]
    if row["emotion"]:
        bits.append(f"true {row['emotion']}")
    if row["predicted"]:
        mark = "✓" if row["emotion"] and row["predicted"] == row["emotion"] else ("✗" if row["emotion"] else "")
        bits.append(f"pred {row['predicted']} {mark}".strip())
    if row["speaker"]:
        bits.append(f"spk {row['speaker']}")
    if pd.notna(row["k08"]):
        bits.append(f"k@0.8 {row['k08']:.2f}")
    bits.append(f"[{row['source']}]" + ("" if row["available"] else " (no audio)"))
    return " · ".join(bits)


def filter_catalogue(cat: pd.DataFrame, emotions=(), speakers=(), correctness: str = "all",
                     k_range: tuple[float, float] | None = None) -> pd.DataFrame:
    """Rows matching the sidebar filters (empty selections mean "any")."""
    m = pd.Series(True, index=cat.index)
    if emotions:
        m &= cat["emotion"].isin(list(emotions))
    if speakers:
        m &= cat["speaker"].isin(list(speakers))
    if correctness != "all":
        known = (cat["predicted"] != "") & (cat["emotion"] != "")
        same = cat["predicted"] == cat["emotion"]
        m &= known & (same if correctness == "correct" else ~same)
    if k_range is not None:
        lo, hi = k_range
        m &= cat["k08"].isna() | cat["k08"].between(lo, hi)
    return cat[m]


# ---------------------------------------------------------------------------------------------
# uploads

_MAGIC = {
    "wav": lambda b: (b[:4] in (b"RIFF", b"RF64") and b[8:12] == b"WAVE"),
    "flac": lambda b: b[:4] == b"fLaC",
    "ogg": lambda b: b[:4] == b"OggS",
    "mp3": lambda b: b[:3] == b"ID3" or (len(b) > 1 and b[0] == 0xFF and (b[1] & 0xE0) == 0xE0),
}


def check_upload(name: str, data: bytes, max_mb: int = MAX_UPLOAD_MB) -> str:
    """The audio format of an upload (``wav``/``flac``/``ogg``/``mp3``), or InputError saying why not."""
    if len(data) > max_mb * 1024 * 1024:
        raise InputError(name, f"file is {len(data) / 2**20:.1f} MB; the limit is {max_mb} MB")
    if not data:
        raise InputError(name, "empty file (0 bytes)")
    ext = Path(name).suffix.lower().lstrip(".")
    if ext not in UPLOAD_TYPES:
        raise InputError(name, f"unsupported file type '.{ext}'; upload one of {', '.join(UPLOAD_TYPES)}")
    found = next((fmt for fmt, test in _MAGIC.items() if test(data[:16])), None)
    if found is None:
        raise InputError(name, f"not a {ext} audio file (its first bytes are not a known audio header)")
    return found
