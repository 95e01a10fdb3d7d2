"""The clip's language and what can align it: decided here, once, for every command.

Language: ``--language`` if given, else the manifest's ``language`` column; when nobody said it, the audio
decides: a multilingual Whisper (the encoder's own, else ``base`` when installed: ``pip install
explain_ser[base]``) identifies the language of the clip (:func:`identify_language`, Whisper's own language
detection), and that beats the checkpoint's training language. Only without a multilingual Whisper is the
checkpoint's language (else English) *assumed*; the transcript gate then keeps an English-only Whisper from
putting English words on other speech (:mod:`explain_ser.align.plausible`).

Aligner: English goes as before (PocketSphinx with a transcript; Whisper transcribes first without one;
the encoder's own Whisper for words). Another language needs a model that knows it, never an English
one: a multilingual Whisper for words, or, with a transcript, MFA / the Kaldi trainer (espeak-ng lexicon)
when the user asks for them. When nothing installed can align the language, the plan has no aligner and says
why; the clip is then explained without words or phones (vocalization tags are acoustic and stay).
``--aligner pocketsphinx`` on another language is refused (one line, exit 2): it has an English model only.

>>> decide_language(None, None, "de")
LanguageDecision(language='de', source='checkpoint', probability=None, identifier=None, candidates=())
>>> decide_language("fr", "de", "en").language, decide_language("German").language, decide_language("en-US").language
('fr', 'de', 'en')
>>> p = plan_alignment("de", "tiny.en", transcript="Der Lappen liegt auf dem Eisschrank.", aligner="auto",
...                    installed={"tiny.en": True, "base": False})
>>> p.aligner is None, p.reason
(True, 'no aligner for de: install explain_ser[base] for Whisper words, or align a corpus with transcripts by --aligner kaldi (explain-ser align/report)')
>>> plan_alignment("de", "tiny.en", None, "auto", installed={"base": True}).whisper_source
'base'
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass

from .errors import InputError

__all__ = ["LanguageDecision", "AlignPlan", "decide_language", "plan_alignment", "is_english", "normalise_language",
           "identify_language", "settle_language", "language_identifier", "check_request", "MIN_LANGUAGE_P"]

# Whisper's language probability below which the identified language is not trusted for words: measured on
# espeak-ng Urdu (base: Thai 0.48) against real German/English speech (RESULTS.md, languages).
MIN_LANGUAGE_P = 0.5

# ISO 639-2/3 codes that corpora manifests use, to Whisper's two-letter codes
_ISO3 = {"eng": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es", "ita": "it", "por": "pt",
         "urd": "ur", "fas": "fa", "per": "fa", "pes": "fa", "hin": "hi", "ben": "bn", "rus": "ru", "ell": "el",
         "gre": "el", "tur": "tr", "nld": "nl", "dut": "nl", "pol": "pl", "ara": "ar", "zho": "zh", "chi": "zh",
         "cmn": "zh", "yue": "yue", "jpn": "ja", "kor": "ko", "est": "et", "amh": "am", "swe": "sv", "dan": "da",
         "fin": "fi", "hun": "hu", "ces": "cs", "cze": "cs", "tam": "ta", "tel": "te", "heb": "he", "vie": "vi"}


def _whisper_languages() -> tuple[dict, dict]:
    from whisper.tokenizer import LANGUAGES, TO_LANGUAGE_CODE

    return LANGUAGES, TO_LANGUAGE_CODE


def normalise_language(value, where: str = "--language") -> str:
    """A language code or name as Whisper's code (``"German"``, ``"de-DE"``, ``"deu"`` -> ``"de"``).

    Raises a one-line :class:`~explain_ser.errors.InputError` naming ``where`` for anything Whisper does not
    know (the codes are the 99 of Whisper's tokenizer).

    >>> normalise_language("en_GB"), normalise_language("Urdu"), normalise_language("per")
    ('en', 'ur', 'fa')
    """
    text = str(value).strip().lower()
    codes, names = _whisper_languages()
    for cand in (text, text.replace("_", "-").split("-")[0]):
        if cand in codes:
            return cand
        if cand in names:
            return names[cand]
        if cand in _ISO3:
            return _ISO3[cand]
    raise InputError(where, f"unknown language {str(value).strip()!r}: give a Whisper language code "
                            "(en, de, fr, es, ur, fa, hi, ...) or name")


def is_english(language: str | None) -> bool:
    return (language or "en").lower().split("-")[0].split("_")[0] in ("en", "eng", "english")


@dataclass(frozen=True)
class LanguageDecision:
    """The clip's language and where it came from: ``option``, ``manifest``, ``identified`` (from the audio,
    by ``identifier`` with ``probability``; ``candidates``: the three likeliest), ``checkpoint`` or
    ``default`` (the last two are assumed: nobody said it and no multilingual Whisper could listen)."""

    language: str
    source: str
    probability: float | None = None
    identifier: str | None = None
    candidates: tuple = ()

    @property
    def assumed(self) -> bool:
        return self.source in ("checkpoint", "default")

    def as_dict(self) -> dict:
        """For the summary and report: ``{"language", "source"[, "probability", "identifier", "candidates"]}``."""
        d = asdict(self)
        d["candidates"] = [list(c) for c in self.candidates]
        return {k: v for k, v in d.items() if v not in (None, [])}


def _given(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text if text and text.lower() != "nan" else None


def decide_language(explicit=None, manifest_value=None, checkpoint_language=None) -> LanguageDecision:
    """The clip's language before the audio is heard (option > manifest > checkpoint > English); an unknown
    code is a one-line error. :func:`settle_language` lets the audio replace an assumed one."""
    for value, source, where in ((explicit, "option", "--language"), (manifest_value, "manifest", "manifest language"),
                                 (checkpoint_language, "checkpoint", "checkpoint language")):
        lang = _given(value)
        if lang:
            return LanguageDecision(normalise_language(lang, where), source)
    return LanguageDecision("en", "default")


def language_identifier(encoder_source: str, installed: dict | None = None) -> str | None:
    """The multilingual Whisper that can identify a language and give its words: the encoder's own when it is
    multilingual, else ``base`` when installed, else None.

    >>> language_identifier("tiny.en", {"base": True}), language_identifier("tiny.en", {"base": False})
    ('base', None)
    """
    if not str(encoder_source).endswith(".en"):
        return str(encoder_source)  # the encoder's own Whisper knows the language
    if installed is None:
        from .weights import available_sources

        installed = available_sources()
    return "base" if installed.get("base") else None


def _id_cache(clip_sha: str, source: str):
    from .weights import cache_dir

    return cache_dir() / "language" / f"{clip_sha[:32]}-{source.replace('/', '_')}.json"


@functools.lru_cache(maxsize=1)
def _identifier_model(source: str):
    """The identifying Whisper, loaded once per process: a timeline asks it once per utterance (loading base
    costs about as much as one identification, ~1 s on one CPU thread)."""
    from .weights import load_whisper

    return load_whisper(source)


def identify_language(clip, source: str = "base", model=None, cache: bool = True) -> LanguageDecision:
    """Whisper's own language detection (``Whisper.detect_language``: the language-token distribution after
    ``<|startoftranscript|>``) on the clip's first 30 s, by the multilingual ``source``. Cached on disk by the
    clip's audio hash. ``model``: an already loaded openai-whisper model."""
    path = _id_cache(clip.sha256, str(source)) if cache else None
    if path is not None and path.is_file():
        try:
            d = json.loads(path.read_text())
            return LanguageDecision(d["language"], "identified", d["probability"], d["identifier"],
                                    tuple(tuple(c) for c in d["candidates"]))
        except (OSError, ValueError, KeyError):
            pass  # unreadable entry: identify again
    import numpy as np
    import torch
    import whisper

    if model is None:
        model = _identifier_model(str(source))
    if not model.is_multilingual:
        raise InputError(str(source), "is English-only: it cannot identify a language (use base or small)")
    audio = torch.tensor(np.asarray(clip.samples, np.float32))  # a copy: the clip's buffer may be read-only
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio), model.dims.n_mels)
    from .threads import single_thread

    with torch.inference_mode(), single_thread():  # same bits on any machine load (a p near 0.5 decides words)
        _, probs = model.detect_language(mel)
    top = sorted(probs.items(), key=lambda kv: -kv[1])[:3]
    decision = LanguageDecision(top[0][0], "identified", round(float(top[0][1]), 4), str(source),
                                tuple((c, round(float(p), 4)) for c, p in top))
    if path is not None:
        from .atomic import write_text

        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, json.dumps({**asdict(decision), "candidates": [list(c) for c in decision.candidates]}))
    return decision


def settle_language(decision: LanguageDecision, clip, encoder_source: str, installed: dict | None = None,
                    model=None) -> LanguageDecision:
    """The language the clip is aligned in: a given one (option, manifest) stays; an assumed one (checkpoint,
    default) is replaced by what a multilingual Whisper hears, when one is installed (:func:`identify_language`).

    >>> d = decide_language(None, "ur", "en")
    >>> settle_language(d, clip=None, encoder_source="tiny.en") is d
    True
    """
    if not decision.assumed:
        return decision
    source = language_identifier(encoder_source, installed)
    if source is None:
        return decision
    return identify_language(clip, source, model=model)


@dataclass(frozen=True)
class AlignPlan:
    aligner: str | None  # what align_clip is asked to run; None: no words or phones
    whisper_source: str | None  # Whisper used for words / transcription (multilingual for other languages)
    reason: str = ""  # why there is no aligner, or what was chosen instead of the request


def check_request(language: str | None, aligner: str | None) -> None:
    """Refuse, before anything runs, an aligner that cannot align the language the user named.

    >>> check_request("ur", "pocketsphinx")
    Traceback (most recent call last):
    ...
    explain_ser.errors.InputError: --aligner: pocketsphinx has an English model only; ur needs --aligner auto, whisper, kaldi or mfa
    """
    if aligner == "pocketsphinx" and language is not None and not is_english(language):
        raise InputError("--aligner", f"pocketsphinx has an English model only; {language} needs --aligner auto, "
                                      "whisper, kaldi or mfa")


def plan_alignment(language: str, encoder_source: str, transcript: str | None, aligner: str = "auto",
                   installed: dict | None = None, decision: LanguageDecision | None = None) -> AlignPlan:
    """Which aligner and which Whisper can give words and phones for ``language``.

    ``installed``: bundled Whisper sources that are installed (default: asked of :mod:`explain_ser.weights`).
    ``decision``: how the language was decided; an identified language Whisper is unsure of
    (p < :data:`MIN_LANGUAGE_P`) gives no transcript of its own. ``--aligner pocketsphinx`` on another
    language is a one-line error (:func:`check_request`).
    """
    check_request(language, aligner)
    unsure = (decision is not None and decision.source == "identified" and transcript is None
              and (decision.probability or 0.0) < MIN_LANGUAGE_P)
    if unsure:
        guesses = ", ".join(f"{c} {p:.2f}" for c, p in decision.candidates)
        return AlignPlan(None, None, f"no words: Whisper {decision.identifier} is unsure which language this is "
                                     f"({guesses}); pass --language or --transcript")
    if is_english(language):
        return AlignPlan(aligner, str(encoder_source))
    whisper = language_identifier(encoder_source, installed)
    if aligner in ("kaldi", "mfa"):
        if transcript:
            return AlignPlan(aligner, whisper)  # align_clip falls back to whisper only when one is given
        if whisper:
            return AlignPlan("whisper", whisper, f"{aligner} needs a transcript; Whisper {whisper} gives words")
        return AlignPlan(None, None, f"no aligner for {language}: {aligner} needs a transcript (--transcript)")
    if whisper:
        return AlignPlan("whisper", whisper)
    return AlignPlan(None, None, f"no aligner for {language}: install explain_ser[base] for Whisper words, or "
                                 "align a corpus with transcripts by --aligner kaldi (explain-ser align/report)")

