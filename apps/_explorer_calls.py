"""The explorer's calls into the library's per-clip path (:mod:`explain_ser.pipeline`), each stage cached on
what it depends on: another checkpoint reuses the clip's annotation (the slow Whisper transcription and
alignment), another tagger or alignment setting reuses the maps (IG, occlusion), and switching back to
anything seen is instant. Also the vocalization tagger control's choices, from :mod:`explain_ser.tagger`.

Nothing here computes: every number comes from the library's stages, composed as
:func:`explain_ser.pipeline.explain_clip` composes them.
"""

from __future__ import annotations

import streamlit as st


@st.cache_resource(show_spinner="Loading the Whisper encoder and the checkpoint ...")
def get_explainer(checkpoint: str):
    from explain_ser.api import Explainer

    return Explainer(checkpoint)


@st.cache_resource(max_entries=32, show_spinner=False)
def load_clip(key: str, path: str):
    """A library clip decoded once (the key names its content)."""
    from explain_ser.audio import load_audio

    return load_audio(path)


@st.cache_resource(max_entries=64, show_spinner=False)
def clip_maps(checkpoint: str, key: str, methods: tuple, _clip):
    """Stages 1 and 2 of one clip under one checkpoint: the model's input and its maps."""
    from explain_ser.pipeline import maps

    ex = get_explainer(checkpoint)
    inp = ex.model_input(_clip, mel=True)
    return inp, maps(ex.model, inp, methods)


@st.cache_resource(max_entries=64, show_spinner=False)
def clip_annotation(key: str, plan: str, _clip, _plan):
    """Stage 3 of one clip (model independent): ``plan`` is the repr of the library's annotation plan."""
    from explain_ser.pipeline import annotate

    return annotate(_clip, _plan)


@st.cache_resource(max_entries=64, show_spinner=False)
def explain(checkpoint: str, key: str, transcript: str, row: tuple, methods: tuple, align: bool, prosody: bool,
            tagger: str, _clip):
    """One clip explained by one checkpoint through the library's stages. ``row``: the clip's manifest (or
    report, or timeline) row as ``(column, value)`` pairs, planned by the library as ``report`` plans it;
    ``transcript``: one typed for an upload (it overrides the row's)."""
    from explain_ser.pipeline import ClipOptions, assemble, plan_annotation

    ex = get_explainer(checkpoint)
    options = ClipOptions(methods=methods, transcript=transcript or None, align=align, prosody=prosody,
                          tagger=tagger)  # the library reads the control's value as --tagger
    plan = plan_annotation(_clip, options, dict(row) or None, default_language=ex.ckpt.language,
                           whisper_source=ex.ckpt.encoder_source)
    inp, mp = clip_maps(checkpoint, key, methods, _clip)
    return assemble(inp, mp, clip_annotation(key, repr(plan), _clip, plan), ex.ckpt)


def default_tagger() -> str:
    """The vocalization tagger every command uses unless told otherwise (the library's ``DEFAULT_TAGGER``)."""
    from explain_ser.tagger import DEFAULT_TAGGER

    return DEFAULT_TAGGER


@st.cache_data(show_spinner=False)
def tagger_names(extra: tuple) -> list[str]:
    """The library's default tagger first, then the rules, the shipped taggers and the ``--tagger`` directories."""
    from explain_ser.tagger import RULES, available_taggers

    return list(dict.fromkeys([default_tagger(), RULES, *available_taggers(), *extra]))
