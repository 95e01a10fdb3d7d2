"""The one per-clip path, as four public stages: (clip, checkpoint, options) -> :class:`~explain_ser.attribution.Attribution`.

Every command, worker and view that explains a clip goes through these stages (``attribute``, the report
and faithfulness workers of :mod:`explain_ser.batch`, the explorer, ``timeline`` per utterance,
``robustness``, the pointing game, the tagger). :func:`explain_clip` is their composition:

1. :func:`model_input` ``(clip, checkpoint, encoder)`` -> :class:`ModelInput`: the checkpoint's input rule
   (:mod:`explain_ser.inputs`: loudness, silence trim), the log-mel computed once, the encoder taps (through
   the feature cache, :func:`explain_ser.features.prepared_features`) and where the model's frame 0 sits on
   the clip's 20 ms grid;
2. :func:`maps` ``(model, features, methods)`` -> :class:`Maps`: prediction, per-head attention and the
   attribution registry (:mod:`explain_ser.explain.attributions`; ``deep=True`` adds IG through the encoder
   onto the log-mel, which needs a :class:`ModelInput`), optionally deletion/insertion curves, all on the
   *model's* grid;
3. :func:`annotate` ``(clip, plan)`` -> :class:`Annotation`: the language decided once
   (:func:`plan_annotation`, :mod:`explain_ser.language`) picks the aligner; alignment, tagger and prosody on
   the original clip (cached per clip with an :class:`AnnotationStore`) — never English phones on
   non-English speech;
4. :func:`assemble` ``(inp, mp, ann, checkpoint)`` -> :class:`~explain_ser.attribution.Attribution`: the
   FrameTable on the original clip's grid (frames the model did not see get zero attention and
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
from .language import LanguageDecision, decide_language, plan_alignment, settle_language

__all__ = ["ClipOptions", "explain_clip", "ModelInput", "model_input", "Maps", "maps", "AnnotationPlan",
           "plan_annotation", "Annotation", "annotate", "assemble", "on_clip_grid", "AnnotationStore",
           "ANNOTATION_COLUMNS", "transcript_beside", "vocalization_tagger", "trained_tagger"]

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
    language: str | None = None  # None: the manifest's, else identified from the audio, else the checkpoint's
    prosody: bool = True
    voice_quality: bool = False  # jitter/shimmer (slow)
    deep: bool = False
    deep_layer: int | None = None
    ig_steps: int = 32
    baseline: str = "mean"
    deletion: bool = False  # deletion/insertion curves (faithfulness)
    display_mel: bool = True  # keep the log-mel for the figure
    # -- vocalization tagger (issue 15) --
    # None: the default trained tagger, as every command (explain_ser.tagger.DEFAULT_TAGGER); "rules": the
    # rule-based tags between words; else a tagger directory or shipped name (see vocalization_tagger)
    tagger: str | None = None
    identify_language: bool = False  # identify an unstated language even without alignment (timeline's column)


def vocalization_tagger(value=None) -> str:
    """The library's one reading of a ``tagger`` option, the same as the commands' ``--tagger``: ``None`` is
    the default trained tagger (:data:`explain_ser.tagger.DEFAULT_TAGGER`), ``"rules"``
    (:data:`explain_ser.tagger.RULES`) the rule-based tags, anything else a tagger name or directory.

    >>> vocalization_tagger(None), vocalization_tagger("rules"), vocalization_tagger(Path("my-tagger"))
    ('vocal-tiny.en', 'rules', 'my-tagger')
    """
    from .tagger import DEFAULT_TAGGER

    return DEFAULT_TAGGER if value is None else str(value)


def trained_tagger(value) -> str | None:
    """The trained tagger a ``tagger`` option names (:func:`vocalization_tagger`), None for the rules.

    >>> trained_tagger(None), trained_tagger("rules")
    ('vocal-tiny.en', None)
    """
    from .tagger import RULES

    name = vocalization_tagger(value)
    return None if name == RULES else name


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


# ---- stage 3: annotate (model independent: language, transcript, alignment, tagger, prosody) -----------

@dataclass(frozen=True)
class AnnotationPlan:
    """What :func:`annotate` does for one clip, decided once by :func:`plan_annotation`.

    >>> AnnotationPlan(transcript="hello", language="de", aligner="none").aligner
    'none'
    """

    transcript: str | None = None  # None: Whisper transcribes when the aligner needs words
    language: str = "en"
    language_source: str = "default"  # "option", "manifest", "checkpoint" or "default"
    aligner: str = "auto"  # "none": no alignment
    whisper_source: str = "tiny.en"  # the encoder's Whisper (transcription, Whisper words)
    prosody: bool = True
    voice_quality: bool = False
    # the vocalization tagger (vocalization_tagger: None is the default trained one, "rules" the rule-based tags)
    tagger: str | None = None
    vocalizations: bool = True  # False: no vocalization tags at all (neither rule-based nor the tagger's)
    identify_language: bool = False  # identify an unstated language from the audio even with aligner "none"


def plan_annotation(clip: Clip, options: ClipOptions = ClipOptions(), manifest_row: dict | None = None,
                    default_language: str | None = None, whisper_source: str = "tiny.en") -> AnnotationPlan:
    """The annotation plan of one clip: the transcript rule (``options.transcript``, else the manifest row's,
    else ``CLIP.txt`` beside the audio) and the language decided once (``options.language``, else the
    manifest's, else ``default_language`` — the checkpoint's training language — else English).

    >>> from explain_ser.audio import Clip
    >>> import numpy as np
    >>> c = Clip(samples=np.zeros(16000, np.float32), rate=16000, clip_id="c")
    >>> p = plan_annotation(c, ClipOptions(align=False), {"language": "DE", "transcript": "hallo"}, "en")
    >>> (p.language, p.language_source, p.transcript, p.aligner, p.tagger)
    ('de', 'manifest', 'hallo', 'none', 'vocal-tiny.en')
    """
    row = manifest_row or {}
    transcript = options.transcript
    if transcript is None:
        cell = row.get("transcript")
        transcript = None if cell is None or (isinstance(cell, float) and cell != cell) else str(cell).strip() or None
    if transcript is None:
        transcript = transcript_beside(clip.path)
    lang = decide_language(options.language, row.get("language"), default_language)
    return AnnotationPlan(transcript=transcript, language=lang.language, language_source=lang.source,
                          aligner=options.aligner if options.align else "none", whisper_source=str(whisper_source),
                          prosody=options.prosody, voice_quality=options.voice_quality,
                          tagger=vocalization_tagger(options.tagger), identify_language=options.identify_language)


@dataclass
class Annotation:
    """What :func:`annotate` found: the FrameTable's annotation columns on the clip's grid, the
    :class:`~explain_ser.align.base.Alignment` and :class:`~explain_ser.prosody.Prosody` (None on a cache
    hit), ``info`` (aligner used, or why there are no words) and the plan it followed."""

    columns: pd.DataFrame
    alignment: object | None
    prosody: object | None
    info: dict
    plan: AnnotationPlan


def annotate(clip: Clip, plan: AnnotationPlan, store: AnnotationStore | None = None, alignment=None,
             tagger_features=None, strict: bool = False) -> Annotation:
    """Stage 3: alignment + tagger + prosody of one clip on its frame grid (model independent).

    ``plan.aligner="none"``: no alignment. ``alignment``: one already made (the corpus-trained Kaldi
    aligner); vocalization tags are added here. ``plan.tagger``: a vocalization tagger (name or directory,
    :mod:`explain_ser.tagger`; None the default one, ``"rules"`` the rule-based tags between words) whose
    events replace the rule-based tags, over speech too and with or without words; ``tagger_features``: the
    clip's taps under the tagger's encoder, or a function returning them (called only on a cache miss).
    ``store``: the per-clip annotation cache. ``strict``: a clip that cannot be aligned raises its one-line
    :class:`~explain_ser.errors.InputError` (``explain-ser align``) instead of being annotated without words.
    ``plan.identify_language``: an assumed language is replaced by the identified one even without alignment.

    >>> from explain_ser.audio import Clip
    >>> import numpy as np
    >>> c = Clip(samples=np.zeros(8000, np.float32), rate=16000, clip_id="c")
    >>> a = annotate(c, AnnotationPlan(aligner="none", prosody=False, tagger="rules"))
    >>> len(a.columns) == c.n_frames, a.alignment is None
    (True, True)
    """
    from .frames import build_frame_table

    lang = LanguageDecision(plan.language, plan.language_source)
    if plan.aligner != "none" or plan.identify_language:
        # nobody said the language: the audio decides when a multilingual Whisper can listen
        lang = settle_language(lang, clip, plan.whisper_source)
    info: dict = {"language": lang.as_dict()}
    aplan = (plan_alignment(lang.language, plan.whisper_source, plan.transcript, plan.aligner, decision=lang)
             if plan.aligner != "none" else None)
    # -- vocalization tagger (issue 15) --
    tg = None
    trained = trained_tagger(plan.tagger)
    if trained is not None and plan.vocalizations:
        from .tagger import load_tagger

        tg = load_tagger(trained)
        info["vocalization_tagger"] = {"name": tg.name, "identity": tg.identity}
    key = None
    if store is not None:
        key = store.key(clip.sha256, plan.transcript,
                        "none" if aplan is None else f"{aplan.aligner}|{aplan.whisper_source}",
                        lang.language, plan.prosody, tagger=tg.identity if tg is not None else "")
        hit = store.load(key)
        if hit is not None and len(hit) == clip.n_frames:
            return Annotation(hit, None, None, {**info, "cached": True}, plan)
    if alignment is not None:
        from .align.vocalizations import detect_vocalizations, merge_with_tokens

        if tg is None and plan.vocalizations:
            alignment.vocalizations = merge_with_tokens(alignment.vocalizations,
                                                        detect_vocalizations(clip.samples, alignment.words))
        info["aligner"] = alignment.backend
    elif aplan is not None and aplan.aligner is None:
        if strict:  # never English phones on another language
            raise InputError(clip.path or clip.clip_id, aplan.reason)
        alignment = _no_words(clip, aplan.reason)
        info["aligner"] = "none"
        info["alignment_note"] = aplan.reason
    elif aplan is not None:
        from .align import align_clip

        try:
            alignment = align_clip(clip, plan.transcript, aligner=aplan.aligner, language=lang.language,
                                   whisper_source=aplan.whisper_source,
                                   vocalizations=tg is None and plan.vocalizations)
            info["aligner"] = alignment.backend
            if alignment.backend == "none":  # Whisper's own words were not plausible (align.plausible)
                info["alignment_note"] = alignment.notes[0]
            if aplan.reason:
                alignment.notes = [aplan.reason] + list(alignment.notes)
        except InputError as err:
            if strict:
                raise
            info["alignment_error"] = str(err)
            alignment = None
    if tg is not None:  # -- vocalization tagger (issue 15): its events replace the rule-based tags --
        from .tagger import apply_tagger

        feats = tagger_features() if callable(tagger_features) else tagger_features
        alignment = apply_tagger(alignment, clip, tg, features=feats)
    pros = None
    if plan.prosody:
        from .prosody import extract_prosody

        pros = extract_prosody(clip.samples, voice_quality=plan.voice_quality)
    table = build_frame_table(clip.clip_id, clip.n_frames, alignment=alignment, prosody=pros)
    cols = [c for c in ANNOTATION_COLUMNS if c in table.columns]
    ann = table[cols].reset_index(drop=True)
    if store is not None:
        store.put(key, ann)
    return Annotation(ann, alignment, pros, info, plan)


# ---- stage 1: the model's input ------------------------------------------------------------------------

def on_clip_grid(arrays: dict, first: int, n_total: int, fill: float = 0.0) -> dict:
    """Per-frame arrays of the model's input placed on the original clip's grid (``fill`` elsewhere).

    >>> on_clip_grid({"h0": np.array([.5, .5])}, 1, 4)["h0"].tolist()
    [0.0, 0.5, 0.5, 0.0]
    """
    out = {}
    for k, v in arrays.items():
        v = np.asarray(v)
        if first == 0 and len(v) == n_total:
            out[k] = v
            continue
        full = np.full(n_total, fill, dtype=v.dtype if v.dtype.kind == "f" else np.float64)
        full[first : first + len(v)] = v[: max(0, n_total - first)]
        out[k] = full
    return out


@dataclass
class ModelInput:
    """What the model hears of one clip, and where it sits on the clip's 20 ms grid."""

    clip: Clip  # the clip as recorded: everything is reported on its grid
    prepared: Clip  # the encoder's input (the input rule applied; ``clip`` itself when the rule keeps it)
    first_frame: int  # frame of ``clip`` where the model's frame 0 lies
    gain_db: float  # gain the rule applied
    rule: object  # the InputRule
    features: np.ndarray  # all encoder taps of ``prepared``, ``[n_taps, n_frames, dim]`` float32
    encoder: object  # the Encoder that made them (deep attributions, the display mel)
    mel: object = None  # log-mel of ``prepared`` (torch), computed once; None when not asked for

    @property
    def n_frames(self) -> int:
        """Frames the model sees."""
        return int(self.prepared.n_frames)

    @property
    def span(self) -> tuple[int, int]:
        """Frames ``[first, last)`` of the clip the model sees."""
        return self.first_frame, self.first_frame + self.n_frames

    @property
    def is_whole_clip(self) -> bool:
        return self.first_frame == 0 and self.n_frames == self.clip.n_frames

    def on_clip_grid(self, arrays: dict, fill: float = 0.0) -> dict:
        """Per-frame arrays on the model's grid -> on the clip's grid (:func:`on_clip_grid`)."""
        return on_clip_grid(arrays, self.first_frame, self.clip.n_frames, fill)

    def seen(self) -> np.ndarray:
        """Boolean mask over the clip's frames: True where the model hears the clip."""
        mask = np.zeros(self.clip.n_frames, dtype=bool)
        mask[self.first_frame : self.first_frame + self.n_frames] = True
        return mask


def model_input(clip, checkpoint, encoder, store=None, mel: bool = True) -> ModelInput:
    """Stage 1: the model's input for ``clip`` (a :class:`~explain_ser.audio.Clip` or a path).

    ``checkpoint``: a :class:`~explain_ser.checkpoint.Checkpoint` (its input rule is applied) or an
    :class:`~explain_ser.inputs.InputRule`; ``encoder``: the checkpoint's
    :class:`~explain_ser.encoder.Encoder`; ``store``: the feature cache (None: encode). ``mel``: compute the
    log-mel once here and keep it (deep attributions, the display); False leaves it to the encoder on a
    cache miss.

    >>> inp = model_input("examples/calm_statement.wav", ck, enc)               # doctest: +SKIP
    >>> inp.features.shape[1] == inp.n_frames, inp.span[1] <= inp.clip.n_frames  # doctest: +SKIP
    (True, True)
    """
    from .features import prepared_features
    from .inputs import AS_RECORDED, InputRule

    if not isinstance(clip, Clip):
        clip = load_audio(clip)
    rule = checkpoint if isinstance(checkpoint, InputRule) else (
        AS_RECORDED if checkpoint is None else checkpoint.input_rule)
    prep = prepare(clip, rule)
    m = encoder.mel(prep.clip) if mel else None
    feats = prepared_features([prep.clip], encoder, store, mels=None if m is None else [m])[0]
    return ModelInput(clip=clip, prepared=prep.clip, first_frame=int(prep.first_frame), gain_db=float(prep.gain_db),
                      rule=rule, features=np.asarray(feats, dtype=np.float32), encoder=encoder, mel=m)


# ---- stage 2: maps on the model's grid -----------------------------------------------------------------

DEEP_METHODS = ("ig_mel", "layer_ig_block<k>")  # through the frozen encoder (explain.attributions.attribute_mel)

@dataclass
class Maps:
    """Prediction and every map of one clip on the *model's* grid (``[n_frames]`` each)."""

    probabilities: np.ndarray  # [n_classes]
    attention: dict  # {head: weights}, "mean" = the mean over heads
    attributions: dict  # {method: frame scores}; deep methods under their own name (ig_mel, layer_ig_blockK)
    target: int  # the class explained
    info: dict  # target, baseline, IG delta ...; "deep": the deep method's info
    deep: dict  # {"map": time x frequency (or x dim) array, "info": ...} when a deep method ran, else {}
    deletion: pd.DataFrame | None = None  # deletion/insertion curves, when asked for


def maps(model, features, methods=("ig", "occlusion"), target: int | None = None, ig_steps: int = 32,
         baseline: str = "mean", deep: bool = False, deep_layer: int | None = None,
         deletion: bool = False) -> Maps:
    """Stage 2: attention and attributions of ``model`` (eval mode) on one clip's features.

    ``features``: a :class:`ModelInput` or the taps ``[n_taps, T, D]``; ``methods``: names of the attribution
    registry (:data:`explain_ser.explain.attributions.METHODS`) and at most one deep method (:data:`DEEP_METHODS`:
    ``ig_mel``, ``layer_ig_block<k>``), the same as ``deep=True`` / ``deep_layer=k``; ``target``: the class to
    explain (None: the predicted one); ``deep``: IG through the frozen encoder onto the log-mel
    (``deep_layer=k``: onto encoder block ``k``) — needs a :class:`ModelInput`, whose mel and encoder it uses;
    ``deletion``: deletion/insertion curves of attention and each method (faithfulness).

    >>> import torch
    >>> from explain_ser.model import SERModel
    >>> m = SERModel(labels=["a", "b"], dim=8, taps=[1], n_taps=3, pooler="mhaap", pooler_hparams={"n_heads": 2}).eval()
    >>> mp = maps(m, np.random.default_rng(0).random((3, 10, 8), dtype=np.float32), methods=("saliency",))
    >>> mp.probabilities.shape, sorted(mp.attention), mp.attributions["saliency"].shape
    ((2,), ['h0', 'h1', 'mean'], (10,))
    """
    from .explain.attention import attention_weights
    from .explain.attributions import attribute_frames, attribute_mel

    inp = features if isinstance(features, ModelInput) else None
    feats = inp.features if inp is not None else features
    methods = tuple(methods or ())
    named = [m for m in methods if m == "ig_mel" or m.startswith("layer_ig_block")]
    if named:  # a deep method by its name: the same as deep=True (deep_layer=k)
        if len(named) > 1 or deep:
            raise ValueError(f"one deep method per call, got {named + (['deep=True'] if deep else [])}")
        deep, deep_layer = True, None if named[0] == "ig_mel" else int(named[0][len("layer_ig_block"):])
        methods = tuple(m for m in methods if m != named[0])
    probs, att = attention_weights(model, feats)
    tgt = int(np.argmax(probs)) if target is None else int(target)
    if methods:
        attrs, info = attribute_frames(model, feats, methods=tuple(methods), target=tgt, n_steps=ig_steps,
                                       baseline=baseline)
    else:
        attrs, info = {}, {"target": tgt}
    deep_out: dict = {}
    if deep:
        if inp is None:
            raise ValueError("deep attributions run through the encoder: pass a ModelInput, not bare features")
        mel_map, frame_score, dinfo = attribute_mel(model, inp.encoder, inp.prepared, target=tgt, n_steps=ig_steps,
                                                    layer=deep_layer, mel=inp.mel)
        attrs[dinfo["method"]] = frame_score
        deep_out = {"map": mel_map, "info": dinfo}
        info["deep"] = dinfo
    curves = None
    if deletion:
        from .explain.faithfulness import deletion_curves

        ranks = {"attention": att["mean"], **{m: np.abs(v) for m, v in attrs.items()}}
        curves = deletion_curves(model, feats, ranks)
    return Maps(probabilities=probs, attention=att, attributions=attrs, target=tgt, info=info, deep=deep_out,
                deletion=curves)


# ---- stage 4: assemble ---------------------------------------------------------------------------------

def assemble(inp: ModelInput, mp: Maps, ann: Annotation, checkpoint, display_mel: bool = True) -> Attribution:
    """Stage 4: the :class:`~explain_ser.attribution.Attribution` of one clip — the maps placed on the clip's
    grid (frames the model did not hear hold no attention; ``model_input`` marks them when there are any),
    joined with the annotation columns into the FrameTable, and the summary.

    >>> res = assemble(inp, maps(ck.model, inp), annotate(inp.clip, plan), ck)   # doctest: +SKIP
    >>> len(res.frames) == inp.clip.n_frames                                      # doctest: +SKIP
    True
    """
    from .frames import build_frame_table, with_language

    clip, n, first = inp.clip, inp.clip.n_frames, inp.first_frame
    att = inp.on_clip_grid(mp.attention)
    attrs = inp.on_clip_grid(mp.attributions)
    info = dict(mp.info)
    info.update({k: v for k, v in ann.info.items() if k != "language"})
    info["language"] = ann.info.get("language") or {"language": ann.plan.language,
                                                    "source": ann.plan.language_source}
    table = build_frame_table(clip.clip_id, n, attention=att, attributions=attrs)
    table = pd.concat([table.drop(columns=[c for c in ann.columns.columns if c in table.columns]).reset_index(drop=True),
                       ann.columns], axis=1)
    table = with_language(table, info["language"])  # the decision on every row: one clip's outputs say it
    if not inp.is_whole_clip:
        table["model_input"] = inp.seen()
    info["input"] = {"rule": inp.rule.describe(), "first_frame": first, "n_frames_seen": inp.n_frames,
                     "gain_db": round(inp.gain_db, 2)}
    display = None
    if display_mel:
        enc = inp.encoder
        if inp.prepared is clip and inp.mel is not None:
            shown = inp.mel
        else:
            shown = enc.mel(clip)  # the figure shows the clip as recorded
        display = enc.window_mel(shown, 0, min(n, 1500)).numpy()
    deletion = None
    if mp.deletion is not None:
        deletion = mp.deletion.copy()
        deletion.insert(0, "clip_id", clip.clip_id)
    res = Attribution(clip=clip, labels=checkpoint.labels, probabilities=mp.probabilities, attention=att,
                      attributions=attrs, frames=table, summary={}, alignment=ann.alignment, prosody=ann.prosody,
                      mel=display, deep=mp.deep, info=info, span=inp.span, deletion=deletion)
    res.summary = summarize(res, checkpoint=checkpoint.name, config=checkpoint.config)
    return res


# ---- the composition -----------------------------------------------------------------------------------

def explain_clip(clip, checkpoint, encoder, options: ClipOptions = ClipOptions(), store=None,
                 annotations: AnnotationStore | None = None, manifest_row: dict | None = None) -> Attribution:
    """Explain one clip (a :class:`~explain_ser.audio.Clip` or a path) under ``checkpoint``
    (:class:`~explain_ser.checkpoint.Checkpoint`) with its ``encoder``: :func:`model_input` ->
    :func:`maps` -> :func:`annotate` -> :func:`assemble`. ``store``: the feature cache; ``annotations``: the
    alignment/prosody cache (batch runs); ``manifest_row``: the clip's manifest row (its ``language`` and
    ``transcript`` columns count)."""
    if not isinstance(clip, Clip):
        clip = load_audio(clip)
    plan = plan_annotation(clip, options, manifest_row, default_language=checkpoint.language,
                           whisper_source=checkpoint.encoder_source)
    inp = model_input(clip, checkpoint, encoder, store)
    mp = maps(checkpoint.model, inp, options.methods, target=options.target, ig_steps=options.ig_steps,
              baseline=options.baseline, deep=options.deep, deep_layer=options.deep_layer,
              deletion=options.deletion)
    tagger_features = None
    trained = trained_tagger(plan.tagger)
    if trained is not None:  # -- vocalization tagger (issue 15): reuse this encoder pass when it fits --
        from .tagger import load_tagger

        tg = load_tagger(trained)
        if tg.fits(encoder):
            tagger_features = ((lambda: inp.features) if inp.prepared is clip else
                               (lambda: model_input(clip, None, encoder, store, mel=False).features))
        else:
            tagger_features = lambda: tg.features(clip, store=store)  # noqa: E731
    ann = annotate(clip, plan, store=annotations, tagger_features=tagger_features)
    return assemble(inp, mp, ann, checkpoint, display_mel=options.display_mel)
