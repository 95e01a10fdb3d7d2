"""Run a model over a corpus: per-clip FrameTables, clip metadata and faithfulness curves.

:func:`run_corpus` is what ``explain-ser report`` and ``explain-ser faithfulness`` share. It is
resumable: each clip's results are written (atomically) to ``<work>/clips/<clip_id>.*`` and a
clip already there is not recomputed. Model-independent annotations (alignment and prosody)
are cached in the user cache keyed by audio hash, transcript, aligner and language
(:class:`AnnotationStore`), so a second model over the same corpus only pays for the model.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .api import Explainer, safe_stem, top_segments
from .atomic import write_path
from .audio import load_audio
from .errors import InputError

ANNOTATION_COLUMNS_VERSION = 1


class AnnotationStore:
    """Cache of the alignment + prosody columns of a FrameTable (model independent)."""

    def __init__(self, root=None):
        from .weights import cache_dir

        self.root = Path(root) if root else cache_dir() / "annotations"

    def key(self, audio_sha: str, transcript: str | None, aligner: str, language: str, prosody: bool) -> str:
        raw = f"v{ANNOTATION_COLUMNS_VERSION}|{audio_sha}|{transcript or ''}|{aligner}|{language}|{prosody}"
        return hashlib.sha256(raw.encode()).hexdigest()

    def load(self, key: str) -> pd.DataFrame | None:
        p = self.root / key[:2] / f"{key}.parquet"
        try:
            return pd.read_parquet(p)
        except Exception:  # missing or unreadable entry: recompute
            return None

    def put(self, key: str, table: pd.DataFrame) -> None:
        d = self.root / key[:2]
        d.mkdir(parents=True, exist_ok=True)
        write_path(d / f"{key}.parquet", lambda tmp: table.to_parquet(tmp, index=False))


ANNOTATION_COLUMNS = ("word", "word_index", "phone", "phone_class", "stress", "vocalization", "vocalization_conf",
                      "f0", "voiced", "intensity", "hnr", "jitter", "shimmer")


def annotate(clip, transcript, aligner: str, language: str, prosody: bool, whisper_source: str,
             store: AnnotationStore | None, alignment=None) -> tuple[pd.DataFrame, dict]:
    """Alignment + prosody columns on the frame grid (cached). ``alignment``: one already made
    (corpus-trained Kaldi); acoustic vocalization tags are then added here."""
    from .frames import build_frame_table

    key = store.key(clip.sha256, transcript, aligner, language, prosody) if store else None
    if store:
        hit = store.load(key)
        if hit is not None and len(hit) == clip.n_frames:
            return hit, {"cached": True}
    info: dict = {}
    if alignment is not None:
        from .align.vocalizations import detect_vocalizations, merge_with_tokens

        alignment.vocalizations = merge_with_tokens(alignment.vocalizations,
                                                    detect_vocalizations(clip.samples, alignment.words))
        info["aligner"] = alignment.backend
    elif aligner != "none":
        from .align import align_clip

        try:
            alignment = align_clip(clip, transcript, aligner=aligner, language=language, whisper_source=whisper_source)
            info["aligner"] = alignment.backend
        except InputError as err:
            info["alignment_error"] = str(err)
    pros = None
    if prosody:
        from .prosody import extract_prosody

        pros = extract_prosody(clip.samples, voice_quality=False)
    table = build_frame_table(clip.clip_id, clip.n_frames, alignment=alignment, prosody=pros)
    cols = [c for c in ANNOTATION_COLUMNS if c in table.columns]
    ann = table[cols].reset_index(drop=True)
    if store:
        store.put(key, ann)
    return ann, info


def run_corpus(manifest: pd.DataFrame, explainer: Explainer, work_dir, methods=("ig", "occlusion"),
               align: bool = True, aligner: str = "auto", prosody: bool = True, deletion: bool = True,
               annotations: AnnotationStore | None = None, progress: bool = True, limit: int | None = None,
               ig_steps: int = 32, workers: int = 1) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(frames, clip_meta, deletion curves) for every clip of ``manifest`` (resumable in ``work_dir``).

    ``workers > 1`` first runs that many processes over interleaved shares of the clips (each loads
    the checkpoint once and works on one torch thread); the results are then read back in manifest
    order, exactly as a resumed run reads them, so the output does not depend on ``workers``.
    """
    from tqdm.auto import tqdm

    from .explain.attention import attention_weights
    from .explain.attributions import attribute_frames
    from .explain.faithfulness import deletion_curves
    from .frames import build_frame_table

    work = Path(work_dir) / "clips"
    work.mkdir(parents=True, exist_ok=True)
    annotations = annotations if annotations is not None else AnnotationStore()
    rows = manifest if limit is None else manifest.iloc[:limit]
    if workers > 1 and len(rows) > workers:
        from multiprocessing import get_context

        opts = dict(methods=methods, align=align, aligner=aligner, prosody=prosody, deletion=deletion,
                    ig_steps=ig_steps)
        jobs = [(rows.iloc[i::workers], str(explainer.checkpoint), str(work_dir), str(annotations.root), opts)
                for i in range(workers)]
        with get_context("spawn").Pool(workers) as pool:
            done = pool.imap_unordered(_run_share, jobs)
            for _ in tqdm(done, total=workers, desc=f"report ({workers} workers)", unit="share", disable=not progress):
                continue  # each share writes its clips; they are read back below
        progress = False  # what follows only reads the finished clips back
    cfg = explainer.checkpoint_config
    trained_on = set(map(str, (cfg.get("training") or {}).get("speakers", []) or []))
    language_default = (cfg.get("training") or {}).get("language", "en") if isinstance(cfg.get("training"), dict) else "en"
    frames_all, meta_all, del_all = [], [], []
    for _, row in tqdm(list(rows.iterrows()), desc="report", unit="clip", disable=not progress):
        stem = safe_stem(row["clip_id"])
        fpath, mpath, dpath = work / f"{stem}.frames.parquet", work / f"{stem}.meta.json", work / f"{stem}.deletion.parquet"
        if fpath.is_file() and mpath.is_file() and (dpath.is_file() or not deletion):
            frames_all.append(pd.read_parquet(fpath))
            meta_all.append(json.loads(mpath.read_text()))
            if deletion:
                del_all.append(pd.read_parquet(dpath))
            continue
        clip = load_audio(row["path"])
        clip = type(clip)(samples=clip.samples, rate=clip.rate, path=clip.path, clip_id=str(row["clip_id"]), sha256=clip.sha256)
        feats = explainer.features(clip)
        probs, att = attention_weights(explainer.model, feats)
        attrs, info = attribute_frames(explainer.model, feats, methods=methods, n_steps=ig_steps) if methods else ({}, {})
        lang = str(row.get("language") or language_default or "en")
        transcript = str(row.get("transcript") or "") or None
        table = build_frame_table(clip.clip_id, clip.n_frames, attention=att, attributions=attrs)
        if align or prosody:
            from .api import _whisper_for

            ann, ainfo = annotate(clip, transcript, aligner if align else "none", lang, prosody,
                                  _whisper_for(lang, explainer.encoder.source), annotations)
            table = pd.concat([table.drop(columns=[c for c in ann.columns if c in table.columns]).reset_index(drop=True), ann], axis=1)
            info.update(ainfo)
        pred = explainer.labels[int(np.argmax(probs))]
        meta = {"clip_id": clip.clip_id, "path": clip.path, "speaker": str(row.get("speaker", "")),
                "gender": str(row.get("gender", "")), "emotion": str(row.get("emotion", "")), "predicted": pred,
                "p_predicted": float(np.max(probs)), "n_frames": clip.n_frames,
                "pooler": cfg.get("model", {}).get("pooler"), "layer": ",".join(map(str, cfg.get("model", {}).get("taps", []))),
                "seen_in_training": (str(row.get("speaker", "")) in trained_on) if trained_on else None,
                **{f"prob_{l}": float(p) for l, p in zip(explainer.labels, probs)}}
        if "fold" in row:
            meta["fold"] = row["fold"]
        seg = top_segments(table)
        meta["top_segment"] = f"{seg[0]['start']:.2f}-{seg[0]['end']:.2f}s" if seg else ""
        write_path(fpath, lambda tmp: table.to_parquet(tmp, index=False))
        if deletion:
            ranks = {"attention": att["mean"], **{m: np.abs(v) for m, v in attrs.items()}}
            d = deletion_curves(explainer.model, feats, ranks)
            d.insert(0, "clip_id", clip.clip_id)
            write_path(dpath, lambda tmp: d.to_parquet(tmp, index=False))
            del_all.append(d)
        write_path(mpath, lambda tmp: Path(tmp).write_text(json.dumps(meta, default=str)))
        frames_all.append(table)
        meta_all.append(meta)
    frames = pd.concat(frames_all, ignore_index=True) if frames_all else pd.DataFrame()
    meta = pd.DataFrame(meta_all)
    dele = pd.concat(del_all, ignore_index=True) if del_all else pd.DataFrame()
    return frames, meta, dele


def _run_share(job) -> int:
    """Worker of :func:`run_corpus`: one share of the clips with its own Explainer."""
    rows, checkpoint, work_dir, ann_root, opts = job
    from .threads import single_thread

    with single_thread():
        run_corpus(rows, Explainer(checkpoint), work_dir, annotations=AnnotationStore(ann_root), progress=False,
                   **opts)
    return len(rows)


def _annotate_one(job):
    path, clip_id, transcript, aligner, language, prosody, whisper_source, root, alignment = job
    clip = load_audio(path)
    clip = type(clip)(samples=clip.samples, rate=clip.rate, path=clip.path, clip_id=clip_id, sha256=clip.sha256)
    _, info = annotate(clip, transcript, aligner, language, prosody, whisper_source, AnnotationStore(root),
                       alignment=alignment)
    return clip_id, info


def annotate_manifest(manifest: pd.DataFrame, aligner: str = "auto", prosody: bool = True, workers: int = 1,
                      whisper_source: str = "tiny.en", progress: bool = True, root=None) -> pd.DataFrame:
    """Fill the annotation cache (alignment + prosody) for a corpus, ``workers`` processes in parallel.

    Annotations do not depend on the model, so this is the slow part of a first report done once.
    ``aligner="kaldi"`` first trains a Kaldi monophone model on the whole manifest (cached; see
    :mod:`explain_ser.align.kaldi_train`) — the embedded route for languages PocketSphinx lacks.
    Returns one row per clip: clip_id, aligner used or the alignment error.
    """
    from multiprocessing import get_context

    from tqdm.auto import tqdm

    store_root = str(AnnotationStore(root).root)
    made: dict = {}
    if aligner == "kaldi":
        from .align.kaldi_train import train_and_align

        made = train_and_align(manifest, progress=progress)
    jobs = [(r["path"], str(r["clip_id"]), str(r.get("transcript") or "") or None, aligner,
             str(r.get("language") or "en"), prosody, whisper_source, store_root, made.get(str(r["clip_id"])))
            for _, r in manifest.iterrows()]
    rows = []
    if workers <= 1:
        it = map(_annotate_one, jobs)
        for cid, info in tqdm(it, total=len(jobs), desc="annotate", unit="clip", disable=not progress):
            rows.append({"clip_id": cid, **info})
    else:
        with get_context("spawn").Pool(workers) as pool:
            for cid, info in tqdm(pool.imap(_annotate_one, jobs, chunksize=4), total=len(jobs), desc="annotate",
                                  unit="clip", disable=not progress):
                rows.append({"clip_id": cid, **info})
    return pd.DataFrame(rows)
