"""Forced alignment with PocketSphinx: the embedded default for English.

PocketSphinx (PyPI ``pocketsphinx``) ships a US-English acoustic model and CMUdict.
Alignment is two passes over the audio: ``set_align_text`` + decode gives word
boundaries, then ``set_alignment`` + decode gives phone (and state) boundaries
inside them; ``get_alignment()`` walks words -> phones. Its frames are 10 ms.

* Out-of-vocabulary words get a pronunciation from espeak-ng's letter-to-sound
  rules mapped to ARPAbet (:mod:`explain_ser.align.lexicon`), added with ``add_word``.
* Transcript vocalization tokens ([laughter], (laughs), {LG} ...) are not given to
  the search: each takes the pause where it was written
  (:func:`explain_ser.align.base.place_vocal_tokens`). Forcing them in as the model's
  ``[NOISE]`` filler was tried and rejected: when the pause is short the search
  returned a broken alignment (one word, a noise over the rest of the clip) and at
  the utterance end it dropped the filler.
* PocketSphinx's dictionary has no stress; espeak-ng's stress marks are copied onto
  the vowels when the vowel counts agree (otherwise the vowel keeps no digit).
* A transcript that does not fit the audio makes the search fail; we retry once
  with dither and more Gaussians, then raise :class:`InputError` naming the clip.

The language-model-free decoder is built once per process (0.1 s) and reused.
"""

from __future__ import annotations

import numpy as np

from explain_ser.align.base import Alignment, Interval, place_vocal_tokens, require_words
from explain_ser.align.lexicon import cmudict, espeak_available, g2p_arpabet, stress_many
from explain_ser.errors import InputError

NOISE_WORD = "[NOISE]"
_FILLERS = {"<s>", "</s>", "<sil>", NOISE_WORD, "[SPEECH]"}
# The FSG alignment search fails outright when the acoustics stray from the model (a British
# voice against US CMUdict pronunciations, measured on espeak-ng speech): more Gaussians
# per frame (topn 16, default 4) fixed some of these; wider beams made it *worse*; the
# retry adds dither, which perturbs digital silence and rescued others.
_FIRST = dict(topn=16)
_RETRY = dict(topn=32, dither=True)


class PocketSphinxAligner:
    """English word + phone forced alignment (ARPAbet phones with stress digits)."""

    name = "pocketsphinx"

    def __init__(self, add_stress: bool = True):
        self.add_stress = add_stress
        self._decoders: dict[bool, object] = {}
        self._known: dict[bool, set[str]] = {False: set(), True: set()}

    def _decoder(self, wide: bool):
        if wide not in self._decoders:
            from pocketsphinx import Decoder

            self._decoders[wide] = Decoder(lm=None, samprate=16000, loglevel="FATAL",
                                           **(_RETRY if wide else _FIRST))
        return self._decoders[wide]

    def _ensure_words(self, words: list[str], wide: bool) -> None:
        lex = cmudict()
        known = self._known[wide]
        missing = [w for w in dict.fromkeys(words) if w not in lex and w not in known]
        if not missing:
            return
        if not espeak_available():
            raise InputError(", ".join(missing), "not in CMUdict and espeak-ng (for letter-to-sound) "
                                                 "is not installed: apt-get install espeak-ng")
        for w, pron in zip(missing, g2p_arpabet(missing)):
            phones = " ".join(p.rstrip("012") for p in pron) or "AH"
            self._decoder(wide).add_word(w, phones, True)
            known.add(w)

    def align(self, clip, transcript: str | None) -> Alignment:
        tokens = require_words(clip, transcript)
        text = " ".join(t.text for t in tokens if not t.is_vocal)
        samples = np.asarray(clip.samples, dtype=np.float32)
        assert samples.ndim == 1 and clip.rate == 16000, "PocketSphinx needs 16 kHz mono"
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16).tobytes()

        expected = [t.text for t in tokens if not t.is_vocal]
        result, err = None, None
        for wide in (False, True):
            if wide:
                # a fresh retry decoder per clip: its dither generator would otherwise carry state from the
                # clips aligned before, so a clip's alignment would depend on what else that process saw
                self._decoders.pop(True, None)
                self._known[True] = set()
            d = self._decoder(wide)
            self._ensure_words([t.text for t in tokens if not t.is_vocal], wide)
            try:
                d.set_align_text(text)
                d.start_utt(); d.process_raw(pcm, full_utt=True); d.end_utt()
                d.set_alignment()
                d.start_utt(); d.process_raw(pcm, full_utt=True); d.end_utt()
                result = d.get_alignment()
            except RuntimeError as exc:
                err, result = exc, None
                continue
            got = [w.name.split("(")[0] for w in result or [] if w.name not in _FILLERS]
            if got == expected:
                break
            err, result = f"aligned {len(got)} of {len(expected)} words", None
        if result is None:
            what = getattr(clip, "clip_id", "") or getattr(clip, "path", "clip")
            raise InputError(what, f"PocketSphinx could not align the transcript to the audio "
                                   f"({err}); does the transcript belong to this clip?")
        return self._convert(result, d, clip, transcript, tokens)

    def __repr__(self):
        return "PocketSphinxAligner()"

    def _convert(self, result, decoder, clip, transcript, tokens) -> Alignment:
        fs = 1.0 / float(decoder.config["frate"])  # seconds per PocketSphinx frame (10 ms)
        dur = float(clip.duration)
        words, phones, word_phones = [], [], []
        for w in result:
            start, end = w.start * fs, min((w.start + w.duration) * fs, dur)
            name = w.name
            if name in _FILLERS:
                continue
            name = name.split("(")[0]  # alternative pronunciations: word(2)
            words.append(Interval(start, end, name))
            plist = [(p.name, p.start * fs, min((p.start + p.duration) * fs, dur)) for p in w]
            word_phones.append(plist)
        if self.add_stress and words:
            stressed = stress_many([[p[0] for p in pl] for pl in word_phones], [w.label for w in words])
        else:
            stressed = [[p[0] for p in pl] for pl in word_phones]
        for pl, labels in zip(word_phones, stressed):
            phones += [Interval(s, e, lab) for (_, s, e), lab in zip(pl, labels)]
        vocals = place_vocal_tokens(tokens, words, dur)
        return Alignment(words=words, phones=phones, vocalizations=vocals, backend=self.name,
                         duration=dur, clip_id=getattr(clip, "clip_id", ""),
                         transcript=transcript or "", phone_set="arpabet").check()
