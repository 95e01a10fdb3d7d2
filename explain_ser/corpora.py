"""Corpora and manifests.

One manifest format for everything: a CSV with at least ``path`` and ``emotion``, and
usually ``speaker``, ``gender``, ``transcript``, ``language``; any other columns are
kept. Relative paths are resolved against the manifest's folder. :func:`read_manifest`
adds ``clip_id`` (the file stem, made unique) when it is missing.

Readers build a manifest from a corpus' original layout, all with the same signature
``read_<corpus>(root) -> DataFrame``; what each needs:

- RAVDESS: ``Actor_XX/MM-VV-EE-II-SS-RR-AA.wav`` (speech: modality 03, vocal channel 01);
  emotion, intensity, statement and actor (odd = male) come from the name.
- EmoDB: ``wav/SSTTTEV.wav`` (speaker, text code, emotion letter, version); speaker
  gender and the ten sentences are fixed by the corpus documentation.
- CREMA-D: ``AudioWAV/AAAA_SSS_EEE_LL.wav``; gender from ``VideoDemographics.csv``
  (ActorID, Sex) when present, else empty.
- TESS: ``<SPK>_<emotion>/<SPK>_<word>_<emotion>.wav`` (two female speakers, OAF and YAF);
  the carrier phrase "Say the word <word>" is the transcript.
- IEMOCAP: ``SessionN/sentences/wav/<dialog>/<utt>.wav`` with labels from
  ``SessionN/dialog/EmoEvaluation/*.txt`` and transcripts from ``dialog/transcriptions``;
  the 4-class convention (excited merged into happy; other labels dropped) by default.
- ShEMO: ``{female,male}/GSSEUU.wav`` (gender, speaker, emotion letter, utterance).

Duplicate audio is found by content hash (:func:`find_duplicates`); RAVDESS has one
byte-identical pair in Actor_07.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pandas as pd

from .errors import InputError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".opus")
MANIFEST_COLUMNS = ["path", "clip_id", "speaker", "gender", "emotion", "transcript", "language"]

RAVDESS_EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
                    "06": "fearful", "07": "disgust", "08": "surprised"}
RAVDESS_STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
EMODB_EMOTIONS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness",
                  "T": "sadness", "N": "neutral"}
EMODB_GENDER = {"03": "male", "08": "female", "09": "female", "10": "male", "11": "male",
                "12": "male", "13": "female", "14": "female", "15": "male", "16": "female"}
EMODB_TEXTS = {
    "a01": "Der Lappen liegt auf dem Eisschrank.",
    "a02": "Das will sie am Mittwoch abgeben.",
    "a04": "Heute abend könnte ich es ihm sagen.",
    "a05": "Das schwarze Stück Papier befindet sich da oben neben dem Holzstück.",
    "a07": "In sieben Stunden wird es soweit sein.",
    "b01": "Was sind denn das für Tüten, die da unter dem Tisch stehen?",
    "b02": "Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter.",
    "b03": "An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht.",
    "b09": "Ich will das eben wegbringen und dann mit Karl was trinken gehen.",
    "b10": "Die wird auf dem Platz sein, wo wir sie immer hinlegen.",
}
CREMAD_EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
CREMAD_SENTENCES = {
    "IEO": "It's eleven o'clock", "TIE": "That is exactly what happened", "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about", "TAI": "The airplane is almost full", "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock", "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket", "ITS": "I think I've seen this before", "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
TESS_EMOTIONS = {"angry": "angry", "disgust": "disgust", "fear": "fearful", "happy": "happy",
                 "neutral": "neutral", "ps": "surprised", "pleasant_surprise": "surprised",
                 "pleasant_surprised": "surprised", "sad": "sad"}
IEMOCAP_4CLASS = {"neu": "neutral", "hap": "happy", "exc": "happy", "ang": "angry", "sad": "sad"}
SHEMO_EMOTIONS = {"A": "anger", "H": "happiness", "N": "neutral", "S": "sadness", "W": "surprise", "F": "fear"}


def corpus_name(path: str | Path) -> str:
    """The corpus a manifest or corpus directory names: its folder.

    >>> corpus_name("corpora/emodb/manifest.csv"), corpus_name("corpora/ravdess")
    ('emodb', 'ravdess')
    """
    p = Path(str(path))
    return p.parent.name if p.name.endswith(".csv") else p.name


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read a manifest CSV; resolve paths; check the required columns.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "m.csv").write_text("path,emotion,speaker\\na.wav,happy,07\\n")
    >>> m = read_manifest(d / "m.csv")
    >>> m.loc[0, "clip_id"], m.loc[0, "speaker"], m.loc[0, "path"] == str(d / "a.wav")
    ('a', '07', True)
    """
    p = Path(path)
    return normalise_manifest(read_csv_table(p, "manifest"), base=p.parent, name=str(p))


def read_csv_table(path, what: str = "table") -> pd.DataFrame:
    """A CSV file as text columns (empty cells ""), or a one-line InputError naming the file: the reader of
    every table a user hands over (manifests, events tables)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(p, f"{what} not found" if not p.exists() else f"{what} is not a file")
    try:
        return pd.read_csv(p, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        first = str(err).splitlines()[0] if str(err) else "empty"
        raise InputError(p, f"not a readable CSV {what} ({first})") from None


def normalise_manifest(df: pd.DataFrame, base: Path | None = None, name: str = "manifest") -> pd.DataFrame:
    """Resolve paths, fill the standard columns, make ``clip_id`` unique."""
    if "path" not in df.columns:
        raise InputError(name, "manifest has no 'path' column")
    if df.empty:
        raise InputError(name, "manifest has no rows")
    df = df.copy()
    if base is not None:
        df["path"] = [str(Path(x)) if Path(x).is_absolute() else str((base / x)) for x in df["path"]]
    for col in MANIFEST_COLUMNS:
        if col not in df.columns:
            df[col] = ""
    if (df["clip_id"] == "").any():
        stems = [Path(x).stem for x in df["path"]]
        df["clip_id"] = [c or s for c, s in zip(df["clip_id"], stems)]
    dup = df["clip_id"].duplicated(keep=False)
    if dup.any():
        # same stem in two folders: prefix the parent folder to keep ids unique
        df.loc[dup, "clip_id"] = [f"{Path(x).parent.name}/{Path(x).stem}" for x in df.loc[dup, "path"]]
    df["speaker"] = df["speaker"].astype(str)
    cols = MANIFEST_COLUMNS + [c for c in df.columns if c not in MANIFEST_COLUMNS]
    return df[cols].reset_index(drop=True)


def manifest_from_dir(root: str | Path) -> pd.DataFrame:
    """A manifest of every audio file under ``root`` (labels unknown), or a corpus
    reader's when the layout is recognised."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "not a directory")
    if (root / "manifest.csv").is_file():
        return read_manifest(root / "manifest.csv")
    for detect, reader in _DETECTORS:
        if detect(root):
            return reader(root)
    files = _audio(root)
    if not files:
        raise InputError(root, "no audio files found")
    return normalise_manifest(pd.DataFrame({"path": [str(p) for p in files]}), name=str(root))


def _audio(root: Path, pattern: str = "*"):
    return sorted(p for p in root.rglob(pattern) if p.suffix.lower() in AUDIO_SUFFIXES)


def audio_files(items) -> list[Path]:
    """The audio files named by ``items``: files as given, directories searched recursively (sorted).

    The one rule for "which files are audio" (:data:`AUDIO_SUFFIXES`); a directory without any is an error.
    """
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = _audio(p)
            if not found:
                raise InputError(p, "directory holds no audio files")
            paths += found
        else:
            paths.append(p)
    return paths


def _frame(rows: list[dict], root: Path) -> pd.DataFrame:
    if not rows:
        raise InputError(root, "no files of the expected layout found")
    return normalise_manifest(pd.DataFrame(rows), name=str(root))


def read_ravdess(root: str | Path) -> pd.DataFrame:
    """RAVDESS speech from its original layout (``Actor_XX/03-01-EE-II-SS-RR-AA.wav``)."""
    root = Path(root)
    rows = []
    for p in _audio(root):
        m = re.fullmatch(r"(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)", p.stem)
        if not m or m.group(1) != "03" or m.group(2) != "01":
            continue  # song or video files
        _, _, emo, inten, stmt, rep, actor = m.groups()
        rows.append(dict(path=str(p), speaker=f"Actor_{actor}", gender="male" if int(actor) % 2 else "female",
                         emotion=RAVDESS_EMOTIONS[emo], intensity="normal" if inten == "01" else "strong",
                         transcript=RAVDESS_STATEMENTS[stmt], language="en", statement=stmt, repetition=rep))
    return _frame(rows, root)


def read_emodb(root: str | Path) -> pd.DataFrame:
    """EmoDB from its original layout (``wav/03a01Fa.wav``)."""
    root = Path(root)
    rows = []
    for p in _audio(root):
        m = re.fullmatch(r"(\d\d)([ab]\d\d)([WLEAFTN])([a-z])", p.stem)
        if not m:
            continue
        spk, text, emo, _ = m.groups()
        rows.append(dict(path=str(p), speaker=spk, gender=EMODB_GENDER.get(spk, ""), emotion=EMODB_EMOTIONS[emo],
                         transcript=EMODB_TEXTS.get(text, ""), language="de", text_code=text))
    return _frame(rows, root)


def read_cremad(root: str | Path) -> pd.DataFrame:
    """CREMA-D (``AudioWAV/1001_DFA_ANG_XX.wav``; gender from VideoDemographics.csv if present)."""
    root = Path(root)
    sex = {}
    demo = next(iter(root.rglob("VideoDemographics.csv")), None)
    if demo is not None:
        d = pd.read_csv(demo, dtype=str)
        sex = {r["ActorID"]: r["Sex"].lower() for _, r in d.iterrows()}
    rows = []
    for p in _audio(root):
        m = re.fullmatch(r"(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})", p.stem)
        if not m or m.group(3) not in CREMAD_EMOTIONS:
            continue
        actor, sent, emo, level = m.groups()
        rows.append(dict(path=str(p), speaker=actor, gender=sex.get(actor, ""), emotion=CREMAD_EMOTIONS[emo],
                         transcript=CREMAD_SENTENCES.get(sent, ""), language="en", intensity=level))
    return _frame(rows, root)


def read_tess(root: str | Path) -> pd.DataFrame:
    """TESS (``OAF_angry/OAF_back_angry.wav``)."""
    root = Path(root)
    rows = []
    for p in _audio(root):
        m = re.fullmatch(r"(OAF|YAF)_(.+?)_([a-z_]+)", p.stem, flags=re.IGNORECASE)
        if not m or m.group(3).lower() not in TESS_EMOTIONS:
            continue
        spk, word, emo = m.groups()
        rows.append(dict(path=str(p), speaker=spk.upper(), gender="female", emotion=TESS_EMOTIONS[emo.lower()],
                         transcript=f"Say the word {word}", language="en"))
    return _frame(rows, root)


def read_iemocap(root: str | Path, classes: str = "4") -> pd.DataFrame:
    """IEMOCAP (``SessionN/sentences/wav/<dialog>/<utt>.wav`` + EmoEvaluation labels).

    ``classes="4"``: neutral/happy(+excited)/angry/sad, other labels dropped;
    ``classes="all"``: every label kept as written.
    """
    root = Path(root)
    labels, texts = {}, {}
    for f in root.glob("Session*/dialog/EmoEvaluation/*.txt"):
        for line in f.read_text(errors="replace").splitlines():
            m = re.match(r"\[\s*[\d.]+\s*-\s*[\d.]+\s*\]\s+(\S+)\s+(\w+)\s+\[", line)
            if m:
                labels[m.group(1)] = m.group(2)
    for f in root.glob("Session*/dialog/transcriptions/*.txt"):
        for line in f.read_text(errors="replace").splitlines():
            m = re.match(r"(\S+) \[[^\]]*\]:\s*(.*)", line)
            if m:
                texts[m.group(1)] = m.group(2).strip()
    rows = []
    for p in _audio(root, "Ses*.wav"):
        lab = labels.get(p.stem)
        if lab is None:
            continue
        emo = IEMOCAP_4CLASS.get(lab) if classes == "4" else lab
        if emo is None:
            continue
        m = re.match(r"Ses(\d\d)([FM])_.*_([FM])\d+$", p.stem)
        session, _, who = m.groups() if m else ("", "", "")
        rows.append(dict(path=str(p), speaker=f"Ses{session}{who}", gender={"F": "female", "M": "male"}.get(who, ""),
                         emotion=emo, transcript=texts.get(p.stem, ""), language="en", session=session))
    return _frame(rows, root)


def read_shemo(root: str | Path) -> pd.DataFrame:
    """ShEMO (``female/F01A01.wav``, ``male/M05N12.wav``)."""
    root = Path(root)
    rows = []
    for p in _audio(root):
        m = re.fullmatch(r"([FM])(\d\d)([AHNSWF])(\d\d)", p.stem)
        if not m:
            continue
        g, spk, emo, _ = m.groups()
        rows.append(dict(path=str(p), speaker=f"{g}{spk}", gender="female" if g == "F" else "male",
                         emotion=SHEMO_EMOTIONS[emo], transcript="", language="fa"))
    return _frame(rows, root)


READERS = {"ravdess": read_ravdess, "emodb": read_emodb, "cremad": read_cremad, "tess": read_tess,
           "iemocap": read_iemocap, "shemo": read_shemo}

_DETECTORS = [
    (lambda r: any(r.glob("Actor_*")), read_ravdess),
    (lambda r: any(r.glob("Session*/dialog")), read_iemocap),
    (lambda r: any(r.rglob("[0-9][0-9][ab][0-9][0-9][WLEAFTN][a-z].wav")), read_emodb),
    (lambda r: any(r.rglob("[0-9][0-9][0-9][0-9]_[A-Z][A-Z][A-Z]_[A-Z][A-Z][A-Z]_*.wav")), read_cremad),
    (lambda r: any(r.rglob("[OY]AF_*")), read_tess),
]


def find_duplicates(manifest: pd.DataFrame) -> list[list[str]]:
    """Groups of clip ids whose files are byte-identical (sha256 of the file bytes)."""
    groups: dict[str, list[str]] = {}
    for path, cid in zip(manifest["path"], manifest["clip_id"]):
        h = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        groups.setdefault(h, []).append(cid)
    return [ids for ids in groups.values() if len(ids) > 1]


def load_manifest_or_dir(target: str | Path) -> pd.DataFrame:
    """A manifest from a CSV file, a corpus directory, or a single audio file."""
    t = Path(target)
    if t.is_dir():
        return manifest_from_dir(t)
    if t.suffix.lower() == ".csv":
        return read_manifest(t)
    if not t.exists():
        raise InputError(t, "file not found")
    return normalise_manifest(pd.DataFrame({"path": [str(t)]}), name=str(t))
