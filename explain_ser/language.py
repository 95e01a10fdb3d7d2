"""The clip's language and what can align it: decided here, once, for every command.

Language: ``--language`` if given, else the manifest's ``language`` column, else the checkpoint's
training language, else English (said so in the decision's ``source``).

Aligner: English goes as before (PocketSphinx with a transcript; Whisper transcribes first without one;
the encoder's own Whisper for words). Another language needs a model that knows it, never an English
one: a multilingual Whisper for words (the encoder's own when it is multilingual, else ``base`` when
installed: ``pip install explain_ser[base]``), or, with a transcript, MFA / the Kaldi trainer when the
user asks for them. When nothing installed can align the language, the plan has no aligner and says
why; the clip is then explained without words or phones (vocalization tags are acoustic and stay).

>>> decide_language(None, None, "de")
LanguageDecision(language='de', source='checkpoint')
>>> decide_language("fr", "de", "en").language
'fr'
>>> p = plan_alignment("de", "tiny.en", transcript="Der Lappen liegt auf dem Eisschrank.", aligner="auto",
...                    installed={"tiny.en": True, "base": False})
>>> p.aligner is None, p.reason
(True, 'no aligner for de: install explain_ser[base] for Whisper words, or align a corpus with transcripts by --aligner kaldi (explain-ser align/report)')
>>> plan_alignment("de", "tiny.en", None, "auto", installed={"base": True}).whisper_source
'base'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LanguageDecision", "AlignPlan", "decide_language", "plan_alignment", "is_english"]


def is_english(language: str | None) -> bool:
    return (language or "en").lower().split("-")[0].split("_")[0] in ("en", "eng", "english")


@dataclass(frozen=True)
class LanguageDecision:
    language: str
    source: str  # "option", "manifest", "checkpoint" or "default"


def _given(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text if text and text.lower() != "nan" else None


def decide_language(explicit=None, manifest_value=None, checkpoint_language=None) -> LanguageDecision:
    """The clip's language and where it came from (option > manifest > checkpoint > English)."""
    for value, source in ((explicit, "option"), (manifest_value, "manifest"), (checkpoint_language, "checkpoint")):
        lang = _given(value)
        if lang:
            return LanguageDecision(lang.lower(), source)
    return LanguageDecision("en", "default")


@dataclass(frozen=True)
class AlignPlan:
    aligner: str | None  # what align_clip is asked to run; None: no words or phones
    whisper_source: str | None  # Whisper used for words / transcription (multilingual for other languages)
    reason: str = ""  # why there is no aligner, or what was chosen instead of the request


def _multilingual_whisper(encoder_source: str, installed: dict | None) -> str | None:
    if not str(encoder_source).endswith(".en"):
        return str(encoder_source)  # the encoder's own Whisper knows the language
    if installed is None:
        from .weights import available_sources

        installed = available_sources()
    return "base" if installed.get("base") else None


def plan_alignment(language: str, encoder_source: str, transcript: str | None, aligner: str = "auto",
                   installed: dict | None = None) -> AlignPlan:
    """Which aligner and which Whisper can give words and phones for ``language``.

    ``installed``: bundled Whisper sources that are installed (default: asked of :mod:`explain_ser.weights`).
    """
    if is_english(language):
        return AlignPlan(aligner, str(encoder_source))
    whisper = _multilingual_whisper(encoder_source, installed)
    if aligner in ("kaldi", "mfa"):
        if transcript:
            return AlignPlan(aligner, whisper)  # align_clip falls back to whisper only when one is given
        if whisper:
            return AlignPlan("whisper", whisper, f"{aligner} needs a transcript; Whisper {whisper} gives words")
        return AlignPlan(None, None, f"no aligner for {language}: {aligner} needs a transcript (--transcript)")
    if aligner == "pocketsphinx":
        return AlignPlan(None, None, f"no aligner for {language}: pocketsphinx has an English model only")
    if whisper:
        return AlignPlan("whisper", whisper)
    return AlignPlan(None, None, f"no aligner for {language}: install explain_ser[base] for Whisper words, or "
                                 "align a corpus with transcripts by --aligner kaldi (explain-ser align/report)")
