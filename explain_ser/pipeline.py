"""The one per-clip path: (clip, checkpoint, options) -> :class:`~explain_ser.attribution.Attribution`.

Every command, worker and view that explains a clip calls :func:`explain_clip`: ``attribute``, the
report and faithfulness workers (:mod:`explain_ser.batch`), the explorer, and (per utterance) long
recordings. In order:

1. input: the checkpoint's rule (:mod:`explain_ser.inputs`: loudness, silence trim) gives the model's
   input and where it sits on the clip's 20 ms grid;
2. features: the log-mel is computed once and feeds the encoder (on a cache miss), the deep
   attributions and the display;
3. prediction and per-head attention; attributions (:mod:`explain_ser.explain.attributions`);
   optionally deletion/insertion curves;
4. the clip's language is decided once (:mod:`explain_ser.language`) and picks the aligner; alignment
   and prosody are computed on the original clip (cached per clip when an :class:`AnnotationStore` is
   given) — never English phones on non-English speech;
5. the FrameTable on the original clip's grid (frames the model did not see get zero attention and
   ``model_input = False``) and the summary.

>>> from explain_ser.checkpoint import Checkpoint                           # doctest: +SKIP
>>> ck = Checkpoint.load("ravdess-tiny.en"); enc = ck.encoder()             # doctest: +SKIP
>>> res = explain_clip("examples/calm_statement.wav", ck, enc, ClipOptions(methods=("ig",)))  # doctest: +SKIP
>>> len(res.frames) == res.clip.n_frames                                    # doctest: +SKIP
True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import write_path
from .attribution import Attribution, summarize
from .audio import Clip, load_audio
from .errors import InputError
from .inputs import prepare
from .language import decide_language, plan_alignment

__all__ = ["ClipOptions", "explain_clip", "AnnotationStore", "annotate", "ANNOTATION_COLUMNS", "transcript_beside"]

ANNOTATION_COLUMNS_VERSION = 2  # 2: the language decides the aligner (no English phones on other languages)
ANNOTATION_COLUMNS = ("word", "word_index", "phone", "phone_class", "stress", "vocalization", "vocalization_conf",
                      "f0", "voiced", "intensity", "hnr", "jitter", "shimmer")


@dataclass(frozen=True)
class ClipOptions:
    """What to compute for a clip (the defaults are ``explain-ser attribute``'s)."""

    methods: tuple = ("ig", "occlusion")
    target: int | None = None  # class to explain; None: the predicted one
    transcript: str | None = None  # None: CLIP.txt beside the audio, else Whisper transcribes (English)
    align: bool = True
    aligner: str = "auto"
    language: str | None = None  # None: the manifest's, else the checkpoint's training language
    prosody: bool = True
    voice_quality: bool = False  # jitter/shimmer (slow)
    deep: bool = False
    deep_layer: int | None = None
    ig_steps: int = 32
    baseline: str = "mean"
    deletion: bool = False  # deletion/insertion curves (faithfulness)
    display_mel: bool = True  # keep the log-mel for the figure
    # -- vocalization tagger (issue 15) --
    tagger: str | None = None  # a tagger directory or shipped name: its tags replace the rule-based ones


def transcript_beside(path) -> str | None:
    """The rule for transcripts on disk: ``CLIP.txt`` beside ``CLIP.wav``, stripped; None when absent/empty."""
    if not path:
        return None
    txt = Path(path).with_suffix(".txt")
    if not txt.is_file():
        return None
    try:
        return txt.read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(txt, f"unreadable transcript ({e})") from None


# ---- alignment + prosody (model independent, cached per clip) ------------------------------------------

class AnnotationStore:
    """Cache of the alignment + prosody columns of a FrameTable (model independent)."""

    def __init__(self, root=None):
        from .weights import cache_dir

        self.root = Path(root) if root else cache_dir() / "annotations"

    def key(self, audio_sha: str, transcript: str | None, aligner: str, language: str, prosody: bool,
            tagger: str = "") -> str:
        raw = f"v{ANNOTATION_COLUMNS_VERSION}|{audio_sha}|{transcript or ''}|{aligner}|{language}|{prosody}"
        if tagger:  # the tagger's content hash: another tagger (or a retrain) is another annotation
            raw += f"|tagger={tagger}"
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


def _no_words(clip, reason: str):
    """An empty alignment that says why (nothing installed can align the clip's language).

    No vocalization tags either: the acoustic tagger looks for sounds *between* words, and with no word
    boundaries it would call speech itself laughter.
    """
    from .align.base import Alignment

    return Alignment(words=[], backend="none", duration=clip.duration, clip_id=clip.clip_id,
                     notes=[reason, "no vocalization tags: they need word boundaries"]).check()


def annotate(clip: Clip, transcript: str | None, aligner: str, language: str, prosody: bool,
             encoder_source: str, store: AnnotationStore | None = None, alignment=None,
             voice_quality: bool = False, tagger=None,
             tagger_features=None) -> tuple[pd.DataFrame, "object | None", object, dict]:
    """Alignment + prosody of one clip on its frame grid.

    Returns ``(columns, alignment, prosody, info)``: the annotation columns of the FrameTable, the
    :class:`~explain_ser.align.base.Alignment` and :class:`~explain_ser.prosody.Prosody` objects (None on
    a cache hit) and ``info`` (aligner used, or why there are no words). ``aligner="none"``: no alignment.
    ``alignment``: one already made (the corpus-trained Kaldi aligner); vocalization tags are added here.
    ``tagger``: a vocalization tagger (name, directory or :class:`~explain_ser.tagger.Tagger`) whose events
    replace the rule-based tags, over speech too and with or without words; ``tagger_features``: the clip's
    taps under the tagger's encoder, or a function returning them (called only on a cache miss).
    """
    from .frames import build_frame_table

    info: dict = {"language": language}
    plan = plan_alignment(language, encoder_source, transcript, aligner) if aligner != "none" else None
    # -- vocalization tagger (issue 15) --
    tg = None
    if tagger is not None:
        from .tagger import load_tagger

        tg = load_tagger(tagger)
        info["vocalization_tagger"] = {"name": tg.name, "identity": tg.identity}
    key = None
    if store is not None:
        key = store.key(clip.sha256, transcript, "none" if plan is None else f"{plan.aligner}|{plan.whisper_source}",
                        language, prosody, tagger=tg.identity if tg is not None else "")
        hit = store.load(key)
        if hit is not None and len(hit) == clip.n_frames:
            return hit, None, None, {**info, "cached": True}
    if alignment is not None:
        from .align.vocalizations import detect_vocalizations, merge_with_tokens

        if tg is None:
            alignment.vocalizations = merge_with_tokens(alignment.vocalizations,
                                                        detect_vocalizations(clip.samples, alignment.words))
        info["aligner"] = alignment.backend
    elif plan is not None and plan.aligner is None:
        alignment = _no_words(clip, plan.reason)
        info["aligner"] = "none"
        info["alignment_note"] = plan.reason
    elif plan is not None:
        from .align import align_clip

        try:
            alignment = align_clip(clip, transcript, aligner=plan.aligner, language=language,
                                   whisper_source=plan.whisper_source, vocalizations=tg is None)
            info["aligner"] = alignment.backend
            if plan.reason:
                alignment.notes = [plan.reason] + list(alignment.notes)
        except InputError as err:
            info["alignment_error"] = str(err)
            alignment = None
    if tg is not None:  # -- vocalization tagger (issue 15): its events replace the rule-based tags --
        from .tagger import apply_tagger

        feats = tagger_features() if callable(tagger_features) else tagger_features
        alignment = apply_tagger(alignment, clip, tg, features=feats)
    pros = None
    if prosody:
        from .prosody import extract_prosody

        pros = extract_prosody(clip.samples, voice_quality=voice_quality)
    table = build_frame_table(clip.clip_id, clip.n_frames, alignment=alignment, prosody=pros)
    cols = [c for c in ANNOTATION_COLUMNS if c in table.columns]
    ann = table[cols].reset_index(drop=True)
    if store is not None:
        store.put(key, ann)
    return ann, alignment, pros, info


# ---- the per-clip path ---------------------------------------------------------------------------------

def _on_clip_grid(arrays: dict, first: int, n_total: int, fill: float = 0.0) -> dict:
    """Per-frame arrays of the model's input placed on the original clip's grid."""
    out = {}
    for k, v in arrays.items():
        v = np.asarray(v)
        if first == 0 and len(v) == n_total:
            out[k] = v
            continue
        full = np.full(n_total, fill, dtype=v.dtype if v.dtype.kind == "f" else np.float64)
        full[first : first + len(v)] = v
        out[k] = full
    return out


def _features(clip: Clip, encoder, store, mel):
    if store is not None:
        return np.asarray(store.get(clip, encoder, mel=mel), dtype=np.float32)
    return encoder.encode(clip, mel=mel)


def explain_clip(clip, checkpoint, encoder, options: ClipOptions = ClipOptions(), store=None,
                 annotations: AnnotationStore | None = None, manifest_row: dict | None = None) -> Attribution:
    """Explain one clip (a :class:`~explain_ser.audio.Clip` or a path) under ``checkpoint``
    (:class:`~explain_ser.checkpoint.Checkpoint`) with its ``encoder``; ``store``: the feature cache;
    ``annotations``: the alignment/prosody cache (batch runs); ``manifest_row``: the clip's manifest
    row (its ``language`` and ``transcript`` columns count)."""
    from .explain.attention import attention_weights
    from .explain.attributions import attribute_frames, attribute_mel
    from .frames import build_frame_table

    row = manifest_row or {}
    transcript = options.transcript
    if not isinstance(clip, Clip):
        clip = load_audio(clip)
    if transcript is None:
        transcript = str(row.get("transcript") or "").strip() or None
    if transcript is None:
        transcript = transcript_beside(clip.path)
    model = checkpoint.model
    prep = prepare(clip, checkpoint.input_rule)
    mel = encoder.mel(prep.clip)
    feats = _features(prep.clip, encoder, store, mel)
    probs, att = attention_weights(model, feats)
    tgt = int(np.argmax(probs)) if options.target is None else int(options.target)
    if options.methods:
        attrs, info = attribute_frames(model, feats, methods=options.methods, target=tgt, n_steps=options.ig_steps,
                                       baseline=options.baseline)
    else:
        attrs, info = {}, {"target": tgt}
    deep_out: dict = {}
    if options.deep:
        mel_map, frame_score, dinfo = attribute_mel(model, encoder, prep.clip, target=tgt, n_steps=options.ig_steps,
                                                    layer=options.deep_layer, mel=mel)
        attrs[dinfo["method"]] = frame_score
        deep_out = {"map": mel_map, "info": dinfo}
        info["deep"] = dinfo
    deletion = None
    if options.deletion:
        from .explain.faithfulness import deletion_curves

        ranks = {"attention": att["mean"], **{m: np.abs(v) for m, v in attrs.items()}}
        deletion = deletion_curves(model, feats, ranks)
        deletion.insert(0, "clip_id", clip.clip_id)
    # the model's arrays on the clip's own grid: frames it did not see hold no attention
    n, first = clip.n_frames, prep.first_frame
    att = _on_clip_grid(att, first, n)
    attrs = _on_clip_grid(attrs, first, n)
    lang = decide_language(options.language, row.get("language"), checkpoint.language)
    tagger_features = None
    if options.tagger is not None:  # -- vocalization tagger (issue 15): reuse this encoder pass when it fits --
        from .tagger import load_tagger

        tg = load_tagger(options.tagger)
        if tg.fits(encoder):
            tagger_features = (lambda: feats) if prep.clip is clip else (lambda: _features(clip, encoder, store, None))
        else:
            tagger_features = lambda: tg.features(clip, store=store)  # noqa: E731
    ann, alignment, pros, ainfo = annotate(clip, transcript, options.aligner if options.align else "none",
                                           lang.language, options.prosody, checkpoint.encoder_source,
                                           store=annotations, voice_quality=options.voice_quality,
                                           tagger=options.tagger, tagger_features=tagger_features)
    info.update({k: v for k, v in ainfo.items() if k != "language"})
    info["language"] = {"language": lang.language, "source": lang.source}
    table = build_frame_table(clip.clip_id, n, attention=att, attributions=attrs)
    table = pd.concat([table.drop(columns=[c for c in ann.columns if c in table.columns]).reset_index(drop=True),
                       ann], axis=1)
    if first != 0 or prep.clip.n_frames != n:
        seen = np.zeros(n, dtype=bool)
        seen[first : first + prep.clip.n_frames] = True
        table["model_input"] = seen
    info["input"] = {"rule": checkpoint.input_rule.describe(), "first_frame": first,
                     "n_frames_seen": int(prep.clip.n_frames), "gain_db": round(prep.gain_db, 2)}
    display = None
    if options.display_mel:
        shown = mel if prep.clip is clip else encoder.mel(clip)  # the figure shows the clip as recorded
        display = encoder.window_mel(shown, 0, min(n, 1500)).numpy()
    res = Attribution(clip=clip, labels=checkpoint.labels, probabilities=probs, attention=att, attributions=attrs,
                      frames=table, summary={}, alignment=alignment, prosody=pros, mel=display, deep=deep_out,
                      info=info, span=(first, first + prep.clip.n_frames), deletion=deletion)
    res.summary = summarize(res, checkpoint=checkpoint.name, config=checkpoint.config)
    return res
