"""Cue corpora for the pointing game: speech with a planted stretch of evidence at known times.

Each builder writes ``out/audio/*.flac``, ``out/manifest.csv`` (``path, clip_id, speaker, emotion`` = the label,
``cue_start`` / ``cue_end`` in seconds, blank on clips without a cue, the same in samples, and how the clip was
made) and ``out/build.json`` (arguments and seed), all or nothing (built beside ``out``, renamed into place).

- :func:`build_vocalization`: vocalizations planted into speech against clips without one (labels
  ``vocalization`` / ``none``). **Synthetic** sounds (:func:`explain_ser.vocal_corpus.synth`, the one sound
  synthesiser of the project) or **real** recordings a user brings (``sounds``: a folder of category folders
  or a manifest, :func:`explain_ser.vocal_sounds.read_sounds`; e.g. the Coswara breaths and coughs). Both
  are planted the same way: scaled to a level relative to the speech, inserted at a pause with the host
  clip's own noise floor under them (real recordings are often gated to digital silence: the pooler must not
  find the cue by its silence) or laid over running speech; a ``none`` clip gets the same length of its own
  noise floor at a pause, or nothing. Vocalizing people are dealt to host speakers (one host speaker each), so
  speaker-independent folds hold out both. ``build.json`` says ``cues: real|synthetic``.
- :func:`build_splice`: a stretch of one emotion's speech spliced into the same speaker's neutral speech
  (label: the spliced emotion, or ``spliced`` / ``none`` against a neutral-into-neutral splice);
- :func:`build_join`: two whole utterances of one speaker joined, a neutral one and an emotional one, in both
  orders (label: the emotion; cue: the emotional utterance): clips twice as long as the training clips.

>>> _insert(np.array([1, 2, 3], np.float32), np.array([9], np.float32), 1).tolist()
[1.0, 9.0, 2.0, 3.0]
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .timegrid import SAMPLE_RATE
from .vocal_sounds import frame_rms, speech_rms

__all__ = ["build_vocalization", "build_splice", "build_join", "VOCALIZATIONS"]

VOCALIZATIONS = ("laugh", "breath", "sigh", "cough")  # the synthetic kinds


def _insert(x: np.ndarray, piece: np.ndarray, at: int) -> np.ndarray:
    return np.concatenate([x[:at], piece, x[at:]]).astype(np.float32)


def _load(path) -> np.ndarray:
    from .audio import load_audio

    return np.asarray(load_audio(path).samples, dtype=np.float32)


class _Writer:
    """Builds a corpus in a temporary folder beside ``out`` and moves it into place at the end (atomic)."""

    def __init__(self, out):
        self.out = Path(out)
        if self.out.exists() and (not self.out.is_dir() or any(self.out.iterdir())):
            raise InputError(self.out, "exists and is not an empty directory; choose a new --out")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(dir=self.out.parent, prefix=f".{self.out.name}."))
        os.chmod(self.tmp, 0o755)  # mkdtemp makes it private to its author
        self.rows: list[dict] = []

    def add(self, name: str, samples: np.ndarray, speaker: str, label: str, cue: tuple[int, int] | None, **extra):
        import soundfile as sf

        peak = float(np.abs(samples).max())
        if peak > 0.999:  # keep the planted level relation, just avoid clipping
            samples = samples * (0.999 / peak)
        rel = Path("audio") / f"{name}.flac"
        (self.tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(self.tmp / rel), samples, SAMPLE_RATE, subtype="PCM_16")
        # s / 16000 has at most 7 decimals (16000 = 2^7 5^3): repr writes the sample time exactly
        self.rows.append({"path": str(rel), "clip_id": name, "speaker": speaker, "emotion": label,
                          "cue_start": "" if cue is None else repr(cue[0] / SAMPLE_RATE),
                          "cue_end": "" if cue is None else repr(cue[1] / SAMPLE_RATE),
                          "cue_start_sample": "" if cue is None else cue[0],
                          "cue_end_sample": "" if cue is None else cue[1],
                          "duration_s": repr(len(samples) / SAMPLE_RATE), **extra})

    def finish(self, info: dict) -> pd.DataFrame:
        df = pd.DataFrame(self.rows)
        df.to_csv(self.tmp / "manifest.csv", index=False)
        (self.tmp / "build.json").write_text(json.dumps(info, indent=2) + "\n")
        if self.out.exists():
            self.out.rmdir()  # empty (checked in __init__)
        os.replace(self.tmp, self.out)
        return df

    def abort(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def _per_speaker(df: pd.DataFrame, n_clips: int, rng: np.random.Generator) -> pd.DataFrame:
    """About ``n_clips`` rows, the same number from every speaker (seeded)."""
    speakers = sorted(df["speaker"].astype(str).unique())
    k = max(1, n_clips // len(speakers))
    picks = []
    for s in speakers:
        idx = np.flatnonzero(df["speaker"].astype(str).to_numpy() == s)
        picks += list(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return df.iloc[sorted(picks)].reset_index(drop=True)


def build_vocalization(manifest, out, n_clips: int = 288, seed: int = 0, kinds=None, level=(0.3, 1.0),
                       sounds=None, overlay: float = 0.3, max_seconds: float | None = 2.5,
                       progress: bool = True) -> pd.DataFrame:
    """Plant vocalizations in speech (every other clip of each speaker; the rest are ``none``); see the module
    text. ``kinds``: synthetic kinds (default all four) or, with ``sounds``, the categories to use (default
    all); ``max_seconds``: real sounds longer than this are left out (``None``: none are). ``level``: uniform
    factor of the speech's level (its loudest 30 % of frames) the sound's own loudest 30 % is scaled to;
    ``overlay``: share of the cues laid over speech instead of inserted at a pause.
    """
    from .corpora import load_manifest_or_dir
    from .vocal_corpus import plant_with_floor, real_sound, synth
    from .vocal_sounds import assign_people, noise_floor

    src = load_manifest_or_dir(manifest)
    if "speaker" not in src.columns or (src["speaker"].astype(str) == "").all():
        raise InputError(manifest, "needs a speaker column (folds are speaker-independent)")
    rng = np.random.default_rng(seed)
    picked = _per_speaker(src, n_clips, rng)
    owner: dict = {}
    if sounds is not None:
        from .vocal_sounds import read_sounds

        table = sounds if isinstance(sounds, pd.DataFrame) else read_sounds(sounds)
        if kinds is not None:
            missing = set(kinds) - set(table["category"])
            if missing:
                raise InputError(sounds, f"has no {sorted(missing)} sounds (it has {sorted(set(table['category']))})")
            table = table[table["category"].isin(list(kinds))]
        if max_seconds is not None:
            table = table[table["duration_s"] <= max_seconds]
            if table.empty:
                raise InputError(sounds, f"no sound is {max_seconds} s or shorter")
        longest = max(len(_load(p)) for p in picked["path"]) / SAMPLE_RATE
        if float(table["duration_s"].max()) > longest:
            r = table.loc[table["duration_s"].idxmax()]
            raise InputError(sounds, f"{r['path']}: {r['duration_s']:.2f} s is longer than every speech clip to "
                                     f"plant into (longest {longest:.2f} s)")
        people = assign_people(table["person"], picked["speaker"].astype(str), seed)
        for r in table.to_dict("records"):
            owner.setdefault(people[str(r["person"])], []).append(r)
        cues = "real"
    else:
        kinds = tuple(VOCALIZATIONS if kinds is None else kinds)
        for k in kinds:
            if k not in VOCALIZATIONS:
                raise InputError(k, f"unknown vocalization (choose from {', '.join(VOCALIZATIONS)})")
        cues = "synthetic"
    w = _Writer(out)
    try:
        from tqdm.auto import tqdm

        for i, row in enumerate(tqdm(list(picked.itertuples()), desc=f"{cues} vocalization corpus",
                                     disable=not progress)):
            x = _load(row.path)
            spk = str(row.speaker)
            if cues == "real":
                if spk not in owner:  # fewer vocalizing people than host speakers
                    continue
                real = owner[spk][int(rng.integers(len(owner[spk])))]
                snd, kind = real_sound(real), real["category"]
            else:
                real, kind = None, kinds[int(rng.integers(len(kinds)))]
                snd = synth(kind, rng)
            snd = snd * (speech_rms(x) * float(rng.uniform(*level)) / max(speech_rms(snd), 1e-9))
            mode = "overlay" if rng.random() < overlay else "insert"
            positive = i % 2 == 0  # alternate so every speaker has both classes
            if positive:
                y, at, mode = plant_with_floor(x, snd, mode, rng)
            elif mode == "insert" or len(x) <= len(snd):  # the same length of the clip's own background
                y, at, mode = plant_with_floor(x, noise_floor(x, len(snd), rng), "insert", rng, floor=False)
            else:
                y, at = x, 0
            name = f"{spk}_{Path(row.path).stem}_{i:04d}"
            extra = {"source": str(row.path), "planted": kind if positive else "background", "cues": cues,
                     "mode": mode, "insert_start_sample": at if mode == "insert" else "",
                     "insert_end_sample": at + len(snd) if mode == "insert" else ""}
            if real is not None:
                extra.update(sound=real["path"] if positive else "", sound_person=real["person"] if positive else "",
                             attribution=real["attribution"] if positive else "")
            w.add(name, y, spk, "vocalization" if positive else "none", (at, at + len(snd)) if positive else None,
                  **extra)
        attribution = sorted({r["attribution"] for rs in owner.values() for r in rs if r["attribution"]})
        return w.finish({"kind": "vocalization", "cues": cues, "manifest": str(manifest), "n_clips": n_clips,
                         "seed": seed, "kinds": None if kinds is None else list(kinds), "level": list(level),
                         "overlay": overlay, "noise_floor": True,
                         "sounds": None if sounds is None else str(sounds) if not isinstance(sounds, pd.DataFrame)
                         else "table", "max_seconds": max_seconds, "attribution": attribution})
    except BaseException:
        w.abort()
        raise


def _active_span(x: np.ndarray) -> tuple[int, int]:
    """First and last sample of the frames above 10 % of the loudest frame's RMS (the speech)."""
    r = frame_rms(x)
    on = np.flatnonzero(r > 0.1 * r.max())
    return int(on[0] * 320), int((on[-1] + 1) * 320)


def _emotion_source(manifest, base: str, emotions, verb: str):
    """(source manifest, its emotions as text, the emotions to plant) of a splice/join build, checked."""
    from .corpora import load_manifest_or_dir

    src = load_manifest_or_dir(manifest)
    for col in ("speaker", "emotion"):
        if col not in src.columns or (src[col].astype(str) == "").all():
            raise InputError(manifest, f"needs a {col!r} column")
    emo = src["emotion"].astype(str)
    if not (emo == base).any():
        raise InputError(manifest, f"has no {base!r} clips to {verb}")
    emotions = sorted(set(emo) - {base}) if emotions is None else list(emotions)
    missing = set(emotions) - set(emo)
    if missing:
        raise InputError(manifest, f"has no clips of {sorted(missing)}")
    return src, emo, emotions


def build_splice(manifest, out, n_clips: int = 288, seed: int = 0, base: str = "neutral", emotions=None,
                 labels: str = "emotion", stretch=(0.4, 1.2), progress: bool = True) -> pd.DataFrame:
    """Splice a stretch of one emotion's speech into the same speaker's ``base`` (neutral) speech.

    ``labels="emotion"``: every clip gets a stretch of one of ``emotions`` (default: all but ``base``), label =
    that emotion. ``labels="binary"``: half the clips get an emotional stretch (label ``spliced``), the other
    half a stretch of another ``base`` clip of the same speaker (label ``none``, no cue), so both classes have
    the same splice points. The stretch (``stretch`` seconds, uniform) is cut from inside the donor's speech
    and inserted at a random sample of the base clip's speech.
    """
    if labels not in ("emotion", "binary"):
        raise InputError(labels, "labels must be 'emotion' or 'binary'")
    src, emo, emotions = _emotion_source(manifest, base, emotions, "splice into")
    rng = np.random.default_rng(seed)
    speakers = sorted(s for s in src["speaker"].astype(str).unique()
                      if ((src["speaker"].astype(str) == s) & (emo == base)).any())
    per = max(1, n_clips // len(speakers))
    w = _Writer(out)
    try:
        from tqdm.auto import tqdm

        n = 0
        for s in tqdm(speakers, desc="splice corpus", disable=not progress):
            mine = src[src["speaker"].astype(str) == s]
            bases = mine[mine["emotion"].astype(str) == base]
            for j in range(per):
                b = bases.iloc[int(rng.integers(len(bases)))]
                positive = labels == "emotion" or j % 2 == 0
                if positive:
                    choices = [e for e in emotions if (mine["emotion"].astype(str) == e).any()]
                    if not choices:
                        continue
                    e = choices[int(rng.integers(len(choices)))]
                    pool = mine[mine["emotion"].astype(str) == e]
                else:
                    e = base
                    pool = bases[bases["path"] != b["path"]] if len(bases) > 1 else bases
                donor = pool.iloc[int(rng.integers(len(pool)))]
                x, d = _load(b["path"]), _load(donor["path"])
                d0, d1 = _active_span(d)
                L = min(int(rng.uniform(*stretch) * SAMPLE_RATE), max(320, d1 - d0))
                ds = int(rng.integers(d0, max(d0, d1 - L) + 1))
                piece = d[ds : ds + L]
                # match loudness: the splice must be found by its manner, not by a level jump
                piece = piece * (speech_rms(x) / max(speech_rms(piece), 1e-9))
                x0, x1 = _active_span(x)
                at = int(rng.integers(x0, max(x0, x1) + 1))
                y = _insert(x, piece, at)
                label = e if labels == "emotion" else ("spliced" if positive else "none")
                cue = (at, at + len(piece)) if positive else None
                w.add(f"{s}_{n:04d}", y, s, label, cue, source=str(b["path"]), donor=str(donor["path"]),
                      donor_emotion=e, insert_start_sample=at, insert_end_sample=at + len(piece))
                n += 1
        return w.finish({"kind": "splice", "manifest": str(manifest), "n_clips": n_clips, "seed": seed,
                         "base": base, "emotions": emotions, "labels": labels, "stretch": list(stretch)})
    except BaseException:
        w.abort()
        raise


def build_join(manifest, out, n_clips: int = 252, seed: int = 0, base: str = "neutral", emotions=None,
               progress: bool = True) -> pd.DataFrame:
    """Join two WHOLE utterances of one speaker, a ``base`` (neutral) one and an emotional one, in both
    orders; label = the emotional utterance's emotion, cue = its whole span (its own pauses included).

    This is the long-clip test of issue 19: twice the length of a training clip, half of it neutral. Per
    speaker, about ``n_clips / (2 x speakers)`` pairs, cycling through the speaker's emotions in a seeded
    order (RAVDESS, 18 speakers, 7 emotions: the default 252 is one pair per speaker and emotion); each
    pair is written ``base + emotional`` and ``emotional + base``. The utterances keep their recorded
    levels (a louder emotion stays louder: that is part of its manner).
    """
    src, emo, emotions = _emotion_source(manifest, base, emotions, "join with")
    rng = np.random.default_rng(seed)
    spk = src["speaker"].astype(str)
    speakers = sorted(s for s in spk.unique() if ((spk == s) & (emo == base)).any())
    pairs = max(1, n_clips // (2 * len(speakers)))
    w = _Writer(out)
    try:
        from tqdm.auto import tqdm

        n = 0
        for s in tqdm(speakers, desc="join corpus", disable=not progress):
            mine = src[spk == s]
            bases = mine[mine["emotion"].astype(str) == base]
            mine_emotions = [e for e in emotions if (mine["emotion"].astype(str) == e).any()]
            if not mine_emotions:
                continue
            order = [mine_emotions[int(i)] for i in rng.permutation(len(mine_emotions))]
            for j in range(pairs):
                e = order[j % len(order)]
                pool = mine[mine["emotion"].astype(str) == e]
                b, d = bases.iloc[int(rng.integers(len(bases)))], pool.iloc[int(rng.integers(len(pool)))]
                x, v = _load(b["path"]), _load(d["path"])
                for first in ("base", "emotion"):
                    y = np.concatenate([x, v] if first == "base" else [v, x]).astype(np.float32)
                    cue = (len(x), len(x) + len(v)) if first == "base" else (0, len(v))
                    w.add(f"{s}_{n:04d}", y, s, e, cue, source=str(b["path"]), donor=str(d["path"]),
                          donor_emotion=e, first=first)
                    n += 1
        return w.finish({"kind": "join", "manifest": str(manifest), "n_clips": n_clips, "seed": seed,
                         "base": base, "emotions": emotions})
    except BaseException:
        w.abort()
        raise
