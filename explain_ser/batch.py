"""Run a model over a corpus: per-clip FrameTables, clip metadata and faithfulness curves.

:func:`run_corpus` is what ``explain-ser report`` and ``explain-ser faithfulness`` share. It is
resumable: each clip's results are written (atomically) to ``<work>/clips/<clip_id>.*`` and a
clip already there is not recomputed. Model-independent annotations (alignment and prosody)
are cached in the user cache keyed by audio hash, transcript, aligner and language
(:class:`AnnotationStore`), so a second model over the same corpus only pays for the model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .api import Explainer
from .atomic import write_path
from .attribution import safe_stem, top_segments
from .audio import load_audio
from .pipeline import ANNOTATION_COLUMNS, AnnotationStore, annotate  # noqa: F401  (re-exported)


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

    work = Path(work_dir) / "clips"
    work.mkdir(parents=True, exist_ok=True)
    annotations = annotations if annotations is not None else AnnotationStore()
    rows = manifest if limit is None else manifest.iloc[:limit]
    if workers > 1 and len(rows) > workers and explainer.ckpt.directory is not None:
        from multiprocessing import get_context

        opts = dict(methods=methods, align=align, aligner=aligner, prosody=prosody, deletion=deletion,
                    ig_steps=ig_steps)
        jobs = [(rows.iloc[i::workers], str(explainer.ckpt.directory), str(work_dir), str(annotations.root), opts)
                for i in range(workers)]
        with get_context("spawn").Pool(workers) as pool:
            done = pool.imap_unordered(_run_share, jobs)
            for _ in tqdm(done, total=workers, desc=f"report ({workers} workers)", unit="share", disable=not progress):
                continue  # each share writes its clips; they are read back below
        progress = False  # what follows only reads the finished clips back
    ck = explainer.ckpt
    trained_on = ck.trained_speakers
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
        res = explainer.attribute(clip, methods=methods, align=align, aligner=aligner, prosody=prosody,
                                  ig_steps=ig_steps, deletion=deletion, annotations=annotations,
                                  manifest_row=row.to_dict())
        table, probs = res.frames, res.probabilities
        meta = {"clip_id": clip.clip_id, "path": clip.path, "speaker": str(row.get("speaker", "")),
                "gender": str(row.get("gender", "")), "emotion": str(row.get("emotion", "")),
                "predicted": res.predicted, "p_predicted": float(probs.max()), "n_frames": clip.n_frames,
                "pooler": ck.pooler, "layer": ",".join(map(str, ck.taps)),
                "language": res.info["language"]["language"],
                "seen_in_training": (str(row.get("speaker", "")) in trained_on) if trained_on else None,
                **{f"prob_{l}": float(p) for l, p in zip(res.labels, probs)}}
        if "fold" in row:
            meta["fold"] = row["fold"]
        seg = top_segments(table)
        meta["top_segment"] = f"{seg[0]['start']:.2f}-{seg[0]['end']:.2f}s" if seg else ""
        write_path(fpath, lambda tmp: table.to_parquet(tmp, index=False))
        if deletion:
            write_path(dpath, lambda tmp: res.deletion.to_parquet(tmp, index=False))
            del_all.append(res.deletion)
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
    _, _, _, info = annotate(clip, transcript, aligner, language, prosody, whisper_source, AnnotationStore(root),
                             alignment=alignment)
    return clip_id, info


def annotate_manifest(manifest: pd.DataFrame, aligner: str = "auto", prosody: bool = True, workers: int = 1,
                      whisper_source: str = "tiny.en", progress: bool = True, root=None,
                      language: str | None = None) -> pd.DataFrame:
    """Fill the annotation cache (alignment + prosody) for a corpus, ``workers`` processes in parallel.

    Annotations do not depend on the model, so this is the slow part of a first report done once.
    ``aligner="kaldi"`` first trains a Kaldi monophone model on the whole manifest (cached; see
    :mod:`explain_ser.align.kaldi_train`) — the embedded route for languages PocketSphinx lacks.
    Returns one row per clip: clip_id, aligner used or the alignment error.
    """
    from multiprocessing import get_context

    from tqdm.auto import tqdm

    from .language import decide_language

    store_root = str(AnnotationStore(root).root)
    made: dict = {}
    if aligner == "kaldi":
        from .align.kaldi_train import train_and_align

        made = train_and_align(manifest, progress=progress)
    jobs = [(r["path"], str(r["clip_id"]), str(r.get("transcript") or "") or None, aligner,
             decide_language(None, r.get("language"), language).language, prosody, whisper_source, store_root, made.get(str(r["clip_id"])))
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
