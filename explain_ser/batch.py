"""Batch work over a corpus, one task per clip on the engine (:mod:`explain_ser.engine`).

- :func:`explain_corpus` (``explain-ser report`` and ``faithfulness``): per clip, the one per-clip path
  (:meth:`explain_ser.api.Explainer.attribute` -> :func:`explain_ser.pipeline.explain_clip`), its
  FrameTable, metadata and deletion curves written atomically to ``<work>/clips/<clip_id>.*``, then read
  back in manifest order into the tables — the same reading whether the clips were computed now, by any
  number of workers, or by an earlier run (a clip already there is not recomputed);
- :func:`randomization_checks` (``explain-ser faithfulness --sanity N``): the model-randomisation check of
  each clip, one task per clip like the rest;
- :func:`extract_features` (``explain-ser extract``): every clip's encoder taps into the feature cache;
- :func:`align_corpus` (``explain-ser align``): TextGrids (and frame tables) per clip, with a small
  record per finished clip under ``<out>/.work`` so a rerun with the same options skips it;
- :func:`annotate_manifest`: the model-independent alignment + prosody cache
  (:class:`~explain_ser.pipeline.AnnotationStore`), so a second model over a corpus only pays for the model.

Workers load the checkpoint and encoder once per process (:func:`explain_ser.engine.resident`), keyed by
the checkpoint directory and cache roots. Bad clips are returned as failures (clip, stage, message),
never stop the others.

>>> import pandas as pd                                                    # doctest: +SKIP
>>> from explain_ser.api import Explainer                                  # doctest: +SKIP
>>> from explain_ser.engine import engine                                  # doctest: +SKIP
>>> with engine(jobs=2) as client:                                         # doctest: +SKIP
...     run = explain_corpus(pd.read_csv("m.csv"), Explainer(), "out", client=client)
>>> run.meta[["clip_id", "predicted"]], run.failures                       # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .api import Explainer
from .atomic import write_path, write_text
from .attribution import safe_stem, top_segments
from .audio import load_audio
from .engine import map_clips, resident, stage
from .errors import InputError
from .jsonio import dumps
from .pipeline import (ANNOTATION_COLUMNS, AnnotationStore, ClipOptions, annotate, plan_annotation,  # noqa: F401
                       trained_tagger, vocalization_tagger)

__all__ = ["CorpusRun", "attribute_clips", "explain_corpus", "run_corpus", "randomization_checks", "extract_features", "align_corpus", "annotate_manifest",
           "ExplainerSpec", "ANNOTATION_COLUMNS", "AnnotationStore"]


# ---- what a task loads: shipped to workers as a small spec, or kept here as the live object ------------

class _Here:
    """An object already loaded in this process (in-process runs: nothing is loaded twice, nothing shipped)."""

    def __init__(self, obj):
        self.obj = obj

    def load(self):
        return self.obj

    def __reduce__(self):  # a live model must not travel to a worker by accident
        raise TypeError("_Here holds an object of this process; ship a spec to workers instead")


@dataclass(frozen=True)
class ExplainerSpec:
    """How a worker makes the :class:`Explainer`: checkpoint directory (read once per process), the name
    it was opened by (recorded in summaries), and the feature cache root (None: no cache)."""

    directory: str
    name: str
    features: str | None

    @classmethod
    def of(cls, ex: Explainer) -> "ExplainerSpec":
        if ex.ckpt.directory is None:
            raise ValueError("an in-memory checkpoint has no directory to load on a worker")
        return cls(str(Path(ex.ckpt.directory).resolve()), ex.ckpt.name,
                   None if ex.store is None else str(Path(ex.store.root).resolve()))

    def load(self) -> Explainer:
        return resident(("explainer", self), self._make)

    def _make(self) -> Explainer:
        from .checkpoint import Checkpoint
        from .features import FeatureStore

        ck = dataclasses.replace(Checkpoint.load(self.directory), name=self.name)
        store = FeatureStore(self.features) if self.features else None
        return Explainer(ck, store=store, cache=store is not None)


@dataclass(frozen=True)
class _EncoderSpec:
    source: str
    window: str

    def load(self):
        from .encoder import Encoder

        return resident(("encoder", self), lambda: Encoder(self.source, window=self.window))


def _clip_of(row: dict):
    """The row's audio as a Clip named by its manifest clip_id."""
    clip = load_audio(row["path"])
    return dataclasses.replace(clip, clip_id=str(row["clip_id"]))


def _text(value) -> str | None:
    """A manifest cell as text: None for an empty or missing (NaN) cell."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value).strip() or None


def _rows(manifest: pd.DataFrame) -> list[dict]:
    return [r.to_dict() for _, r in manifest.iterrows()]


# ---- attribute over many clips -------------------------------------------------------------------------

@dataclass(frozen=True)
class _AttributeJob:
    explainer: object  # ExplainerSpec or _Here
    out: str
    fmt: str
    plot: bool
    strict: bool
    options: tuple  # sorted (name, value) pairs of Explainer.attribute's keyword arguments


def _attribute_task(job: _AttributeJob, path: str) -> dict:
    """One clip of ``explain-ser attribute``: the one per-clip path, then its files (written atomically)."""
    with stage("load"):
        ex = job.explainer.load()
    with stage("audio"):
        clip = load_audio(path, strict=job.strict)
    with stage("explain"):
        res = ex.attribute(clip, **dict(job.options))
    with stage("write"):
        written = res.save(job.out, fmt=job.fmt)
        if job.plot:
            from .plots import save_clip_panel

            written["plot"] = save_clip_panel(res, job.out)
    return {"summary": res.summary, "written": [str(p) for p in written.values()]}


def attribute_clips(paths, explainer: Explainer, out, fmt: str = "csv", plot: bool = False, strict: bool = False,
                    client=None, progress: bool = True, **options) -> tuple[list, list]:
    """``explain-ser attribute`` over many clips, one task each (on a Dask ``client``'s workers, or here):
    ``(results in the order of paths, None where a clip failed; failures)``. ``options`` are
    :meth:`Explainer.attribute`'s keyword arguments."""
    if client is not None and explainer.ckpt.directory is None:
        client = None
    loader = ExplainerSpec.of(explainer) if client is not None else _Here(explainer)
    job = _AttributeJob(loader, str(out), fmt, plot, strict, tuple(sorted(options.items())))
    items = [str(p) for p in paths]
    return map_clips(functools.partial(_attribute_task, job), items, client, keys=items, desc="attribute",
                     progress=progress)


# ---- report / faithfulness -----------------------------------------------------------------------------

@dataclass
class CorpusRun:
    """What :func:`explain_corpus` gathers: tables of the finished clips, in manifest order, and the failures."""

    frames: pd.DataFrame
    meta: pd.DataFrame
    deletion: pd.DataFrame
    failures: list  # [{"clip", "stage", "message"}]


@dataclass(frozen=True)
class _ExplainJob:
    explainer: object  # ExplainerSpec or _Here
    work: str
    annotations: str
    methods: tuple
    align: bool
    aligner: str
    prosody: bool
    deletion: bool
    ig_steps: int
    tagger: str | None = None  # the vocalization tagger (pipeline.vocalization_tagger: None default, "rules")


def _clip_paths(work: Path, clip_id) -> tuple[Path, Path, Path]:
    stem = safe_stem(clip_id)
    return work / f"{stem}.frames.parquet", work / f"{stem}.meta.json", work / f"{stem}.deletion.parquet"


def _explain_task(job: _ExplainJob, row: dict) -> bool:
    """One clip of a report: explain it by the one per-clip path, write its three files (meta last: it
    marks the clip done)."""
    with stage("load"):
        ex = job.explainer.load()
    fpath, mpath, dpath = _clip_paths(Path(job.work), row["clip_id"])
    with stage("audio"):
        clip = _clip_of(row)
    with stage("explain"):
        res = ex.attribute(clip, methods=job.methods, align=job.align, aligner=job.aligner, prosody=job.prosody,
                           ig_steps=job.ig_steps, deletion=job.deletion, tagger=job.tagger,
                           annotations=AnnotationStore(job.annotations), manifest_row=row)
    ck, probs = ex.ckpt, res.probabilities
    trained_on = ck.trained_speakers
    meta = {"clip_id": clip.clip_id, "path": clip.path, "speaker": str(row.get("speaker", "")),
            "gender": str(row.get("gender", "")), "emotion": str(row.get("emotion", "")),
            "predicted": res.predicted, "p_predicted": float(probs.max()), "n_frames": clip.n_frames,
            "pooler": ck.pooler, "layer": ",".join(map(str, ck.taps)),
            "language": res.info["language"]["language"],
            "language_source": res.info["language"].get("source"),  # option, manifest, identified, checkpoint
            "language_p": res.info["language"].get("probability"),  # Whisper's, when identified from the audio
            "seen_in_training": (str(row.get("speaker", "")) in trained_on) if trained_on else None,
            **{f"prob_{l}": float(p) for l, p in zip(res.labels, probs)}}
    if "fold" in row:
        meta["fold"] = row["fold"]
    for c in ("cue_start", "cue_end"):  # cue times in the manifest: the report scores every map against them
        v = pd.to_numeric(pd.Series([row.get(c)]), errors="coerce").iloc[0]
        if pd.notna(v):
            meta[c] = float(v)
    seg = top_segments(res.frames)
    meta["top_segment"] = f"{seg[0]['start']:.2f}-{seg[0]['end']:.2f}s" if seg else ""
    with stage("write"):
        write_path(fpath, lambda tmp: res.frames.to_parquet(tmp, index=False))
        if job.deletion:
            write_path(dpath, lambda tmp: res.deletion.to_parquet(tmp, index=False))
        write_text(mpath, dumps(meta, indent=None))
    return True


def _done(work: Path, clip_id, deletion: bool) -> bool:
    fpath, mpath, dpath = _clip_paths(work, clip_id)
    return fpath.is_file() and mpath.is_file() and (dpath.is_file() or not deletion)


def explain_corpus(manifest: pd.DataFrame, explainer: Explainer, work_dir, methods=("ig", "occlusion"),
                   align: bool = True, aligner: str = "auto", prosody: bool = True, deletion: bool = True,
                   annotations: AnnotationStore | None = None, progress: bool = True, limit: int | None = None,
                   ig_steps: int = 32, client=None, tagger=None) -> CorpusRun:
    """Frames, clip metadata and deletion curves of every clip of ``manifest`` (resumable in ``work_dir``).

    With a Dask ``client`` each clip is a task on its workers (each loads the checkpoint once); without
    one they run here with ``explainer`` itself. The tables are always read back from the clips' files
    in manifest order, so they do not depend on who computed what. A fold model that lives only in
    memory (no checkpoint directory) cannot be shipped and runs here.
    """
    work = Path(work_dir) / "clips"
    work.mkdir(parents=True, exist_ok=True)
    annotations = annotations if annotations is not None else AnnotationStore()
    rows = manifest if limit is None else manifest.iloc[:limit]
    if client is not None and explainer.ckpt.directory is None:
        client = None
    loader = ExplainerSpec.of(explainer) if client is not None else _Here(explainer)
    job = _ExplainJob(loader, str(work), str(annotations.root), tuple(methods or ()), align, aligner, prosody,
                      deletion, ig_steps, vocalization_tagger(tagger))
    todo = [r for r in _rows(rows) if not _done(work, r["clip_id"], deletion)]
    _, failures = map_clips(functools.partial(_explain_task, job), todo, client,
                            keys=[str(r["clip_id"]) for r in todo], desc="report", progress=progress)
    frames_all, meta_all, del_all = [], [], []
    for cid in rows["clip_id"]:
        if not _done(work, cid, deletion):
            continue  # failed: listed in failures
        fpath, mpath, dpath = _clip_paths(work, cid)
        frames_all.append(pd.read_parquet(fpath))
        meta_all.append(json.loads(mpath.read_text()))
        if deletion:
            del_all.append(pd.read_parquet(dpath))
    frames = pd.concat(frames_all, ignore_index=True) if frames_all else pd.DataFrame()
    dele = pd.concat(del_all, ignore_index=True) if del_all else pd.DataFrame()
    return CorpusRun(frames, pd.DataFrame(meta_all), dele, failures)


def run_corpus(manifest: pd.DataFrame, explainer: Explainer, work_dir, **kwargs) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                                           pd.DataFrame]:
    """(frames, clip_meta, deletion curves) of :func:`explain_corpus` for callers that want every clip or
    nothing: a failed clip raises its one-line :class:`InputError` (after the others are done and saved)."""
    run = explain_corpus(manifest, explainer, work_dir, **kwargs)
    if run.failures:
        f = run.failures[0]
        raise InputError(f["clip"], f"{f['stage']}: {f['message']}"
                         + (f" (and {len(run.failures) - 1} more clips)" if len(run.failures) > 1 else ""))
    return run.frames, run.meta, run.deletion


# ---- model-randomisation check (faithfulness) ------------------------------------------------------------

@dataclass(frozen=True)
class _SanityJob:
    explainer: object  # ExplainerSpec or _Here
    methods: tuple


def _sanity_task(job: _SanityJob, row: dict) -> dict:
    """One clip's model-randomisation check (:func:`explain_ser.explain.faithfulness.randomization_check`),
    on one torch thread wherever it runs: the thread count changes the last digits of encoder and IG sums."""
    from .explain.faithfulness import randomization_check
    from .threads import single_thread

    with stage("load"):
        ex = job.explainer.load()
    with stage("audio"):
        clip = load_audio(row["path"])
    with stage("explain"), single_thread():
        return {"clip_id": row["clip_id"], **randomization_check(ex.model, ex.features(clip), methods=job.methods)}


def randomization_checks(manifest: pd.DataFrame, explainer: Explainer, methods=("ig",), client=None,
                         progress: bool = True) -> tuple[pd.DataFrame, list]:
    """(one row per clip of ``manifest``: clip_id and the Spearman similarity of attention and of each
    method between the trained and the re-initialised model; failures), one task per clip on ``client``'s
    workers (each loads the checkpoint once) or here. The same table either way."""
    if client is not None and explainer.ckpt.directory is None:
        client = None
    loader = ExplainerSpec.of(explainer) if client is not None else _Here(explainer)
    rows = _rows(manifest)
    results, failures = map_clips(functools.partial(_sanity_task, _SanityJob(loader, tuple(methods))), rows, client,
                                  keys=[str(r["clip_id"]) for r in rows], desc="randomisation", progress=progress)
    return pd.DataFrame([r for r in results if r is not None]), failures


# ---- extract -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _ExtractJob:
    encoder: object  # _EncoderSpec or _Here
    cache: str


def _extract_task(job: _ExtractJob, row: dict) -> dict:
    """One clip's taps into the cache (the encoder's input rule applied, as everywhere)."""
    from .features import FeatureStore, features_of

    with stage("load"):
        enc = job.encoder.load()
    store = FeatureStore(job.cache)
    with stage("audio"):
        clip = _clip_of(row)
    with stage("encode"):
        feats = features_of([clip], enc, store)[0]
    return {"n_taps": int(feats.shape[0]), "n_frames": int(feats.shape[1]), "dim": int(feats.shape[2]),
            "cached": store.hits == 1}


def extract_features(manifest: pd.DataFrame, source: str = "tiny.en", window: str = "trim", cache=None,
                     client=None, progress: bool = True, encoder=None) -> tuple[pd.DataFrame, list]:
    """Fill the feature cache for every clip; returns (one row per finished clip: clip_id, n_taps, n_frames,
    dim, cached), failures). ``encoder``: one already loaded here (used when there is no ``client``)."""
    from .features import FeatureStore

    root = str(FeatureStore(cache).root.resolve())
    if client is None:
        from .encoder import Encoder

        loader = _Here(encoder if encoder is not None else Encoder(source, window=window))
    else:
        loader = _EncoderSpec(str(source), window)
    rows = _rows(manifest)
    keys = [str(r["clip_id"]) for r in rows]
    results, failures = map_clips(functools.partial(_extract_task, _ExtractJob(loader, root)), rows, client,
                                  keys=keys, desc=f"features {source}/{window}", progress=progress)
    table = pd.DataFrame([{"clip_id": k, **r} for k, r in zip(keys, results) if r is not None],
                         columns=["clip_id", "n_taps", "n_frames", "dim", "cached"])
    return table, failures


# ---- align ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _AlignJob:
    out: str
    aligner: str
    whisper: str
    language: str | None
    vocalizations: bool
    frames: bool
    options: str  # hash of what decides the alignment: a finished clip counts only under the same options
    tagger: str | None = None  # a vocalization tagger whose tags replace the rule-based ones


def _align_record(out: Path, clip_id) -> Path:
    return out / ".work" / f"{safe_stem(clip_id)}.json"


def _align_task(job: _AlignJob, item: tuple) -> dict:
    """One clip: the annotation stage (:func:`~explain_ser.pipeline.annotate`, strict: a clip that cannot be
    aligned fails) with the same transcript and language plan as ``attribute``, or the corpus-trained Kaldi
    alignment; then its TextGrid [and frame table], then the record that marks it done."""
    row, transcript, trained = item
    out = Path(job.out)
    cid = str(row["clip_id"])
    with stage("audio"):
        clip = _clip_of(row)
    with stage("align"):
        if job.aligner == "kaldi" and trained is None:
            raise InputError(cid, "Kaldi could not align this clip (no transcript, or no fit)")
        opts = ClipOptions(transcript=transcript, aligner=job.aligner, language=job.language, prosody=job.frames,
                           tagger=job.tagger)
        plan = dataclasses.replace(plan_annotation(clip, opts, row, whisper_source=job.whisper),
                                   vocalizations=job.vocalizations)
        ann = annotate(clip, plan, alignment=trained, strict=True)
        alignment = ann.alignment
    from .align.textgrid import write_alignment

    with stage("write"):
        write_alignment(alignment, out / f"{cid}.TextGrid")
    if job.frames:
        from .frames import build_frame_table, save_frame_table

        table = build_frame_table(cid, clip.n_frames, alignment=alignment, prosody=ann.prosody,
                                  language=ann.info.get("language"))
        with stage("write"):
            save_frame_table(table, out / f"{cid}.frames.csv")
    record = {"clip_id": cid, "options": job.options, "backend": alignment.backend, "words": len(alignment.words),
              "phones": len(alignment.phones), "vocalizations": len(alignment.vocalizations),
              "notes": list(alignment.notes), "language": ann.info.get("language")}
    with stage("write"):
        write_text(_align_record(out, cid), dumps(record, indent=None))
    return record


def _align_done(job: _AlignJob, cid: str) -> dict | None:
    out = Path(job.out)
    try:
        record = json.loads(_align_record(out, cid).read_text())
    except (OSError, ValueError):
        return None
    if record.get("options") != job.options or not (out / f"{cid}.TextGrid").is_file():
        return None
    if job.frames and not (out / f"{cid}.frames.csv").is_file():
        return None
    return record


def align_corpus(manifest: pd.DataFrame, out, aligner: str = "auto", whisper: str = "tiny.en",
                 language: str | None = None, vocalizations: bool = True, frames: bool = False,
                 transcript: str | None = None, client=None, progress: bool = True,
                 tagger=None) -> tuple[list, list]:
    """TextGrids (and with ``frames`` frame tables) of every clip into ``out``; returns (one record per
    finished clip or None, failures). ``transcript`` overrides the manifest's for a single clip.
    ``aligner="kaldi"`` first trains a monophone model on the whole manifest here (cached), then the tasks
    write its alignments. A clip finished by an earlier run with the same options is not redone."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tagger = vocalization_tagger(tagger)  # None: the default trained tagger, as the commands
    opts = json.dumps({"aligner": aligner, "whisper": whisper, "language": language, "vocalizations": vocalizations,
                       "transcript": transcript, **({"tagger": tagger} if trained_tagger(tagger) else {})},
                      sort_keys=True)
    job = _AlignJob(str(out), aligner, whisper, language, vocalizations, frames,
                    hashlib.sha256(opts.encode()).hexdigest()[:16], tagger)
    rows = _rows(manifest)
    records: list = [_align_done(job, str(r["clip_id"])) for r in rows]
    todo = [i for i, r in enumerate(records) if r is None]
    trained: dict = {}
    if aligner == "kaldi" and todo:
        from .align.kaldi_corpus import train_and_align

        trained = train_and_align(manifest, language=language, progress=progress)
    items = []
    for i in todo:
        r = rows[i]
        words = transcript if transcript is not None else _text(r.get("transcript"))
        items.append((r, words, trained.get(str(r["clip_id"]))))
    done, failures = map_clips(functools.partial(_align_task, job), items, client,
                               keys=[str(rows[i]["clip_id"]) for i in todo], desc="align", progress=progress)
    for i, rec in zip(todo, done):
        records[i] = rec
    return records, failures


# ---- annotations (alignment + prosody cache) -----------------------------------------------------------

@dataclass(frozen=True)
class _AnnotateJob:
    aligner: str
    prosody: bool
    whisper_source: str
    root: str
    language: str | None  # the default language (the checkpoint's) when the manifest does not say
    tagger: str | None = None  # the report's vocalization tagger: part of the cache key the report looks up


def _annotate_task(job: _AnnotateJob, item: tuple) -> dict:
    """One clip's annotation into the cache: the same plan (transcript rule, language decision) and the same
    :func:`~explain_ser.pipeline.annotate` stage the report worker's :func:`~explain_ser.pipeline.explain_clip`
    runs, so the report finds it there."""
    row, alignment = item
    with stage("audio"):
        clip = _clip_of(row)
    with stage("align"):
        plan = plan_annotation(clip, ClipOptions(aligner=job.aligner, prosody=job.prosody, tagger=job.tagger), row,
                               default_language=job.language, whisper_source=job.whisper_source)
        return annotate(clip, plan, AnnotationStore(job.root), alignment=alignment).info


def annotate_manifest(manifest: pd.DataFrame, aligner: str = "auto", prosody: bool = True, client=None,
                      whisper_source: str = "tiny.en", progress: bool = True, root=None,
                      language: str | None = None, tagger=None) -> pd.DataFrame:
    """Fill the annotation cache (alignment + prosody) for a corpus, one task per clip.

    Annotations do not depend on the model, so this is the slow part of a first report done once.
    ``aligner="kaldi"`` first trains a Kaldi monophone model on the whole manifest (cached; see
    :mod:`explain_ser.align.kaldi_train`) — the embedded route for languages PocketSphinx lacks.
    Returns one row per clip: clip_id, the aligner used or the alignment error, and ``failed``
    (``stage: message``) for clips that could not be annotated at all.
    """
    store_root = str(AnnotationStore(root).root)
    made: dict = {}
    if aligner == "kaldi":
        from .align.kaldi_corpus import train_and_align

        made = train_and_align(manifest, progress=progress)
    rows = _rows(manifest)
    items = [(r, made.get(str(r["clip_id"]))) for r in rows]
    keys = [str(r["clip_id"]) for r in rows]
    job = _AnnotateJob(aligner, prosody, whisper_source, store_root, language, vocalization_tagger(tagger))
    infos, failures = map_clips(functools.partial(_annotate_task, job),
                                items, client, keys=keys, desc="annotate", progress=progress)
    failed = {f["clip"]: f"{f['stage']}: {f['message']}" for f in failures}
    return pd.DataFrame([{"clip_id": k, **(info or {}), **({"failed": failed[k]} if k in failed else {})}
                         for k, info in zip(keys, infos)])
