"""Train-and-align on the corpus itself: a monophone GMM-HMM, Kaldi-style, for any language.

The trainer and aligner; its lexicon is :mod:`explain_ser.align.kaldi_lexicon`, its features
:mod:`explain_ser.align.kaldi_features`, and :mod:`explain_ser.align.kaldi_corpus` runs it over a manifest.

This is what ``mfa train`` does, in miniature, for languages PocketSphinx has no model
for (EmoDB's German, ShEMO's Persian ...) and for users without MFA. Everything comes
from PyPI (``pip install explain_ser[kaldi]``): Kaldi's GMM-HMM code (``kaldi-hmm-gmm``),
its FST library (``kaldifst==1.7.17``; 1.8.3 rejects the FSTs) and Kaldi's feature code
(``kaldi-native-fbank``). Steps, as in Kaldi's ``steps/train_mono.sh``:

1. **Lexicon** — each word's phones from espeak-ng's phonemizer (``espeak-ng -q --ipa
   -v de``) or from a dictionary you give (``{word: [phones]}`` or a ``word phone phone``
   file). espeak-ng's symbols are rewritten to MFA's IPA conventions where they differ
   (:data:`MFA_STYLE`: aɪ -> aj, aʊ -> aw; for German also ɾ/r -> ʁ, ɜ -> ɐ, ɑː -> aː,
   short y -> ʏ, ɔø -> ɔʏ); stress marks are dropped (MFA's IPA sets have none), so
   :func:`explain_ser.align.phones.phone_class` classes every label.
2. **Features** — 13 MFCCs (25 ms window, 10 ms hop, ``snip_edges=False`` so frame t is
   centred on 10 t + 5 ms and covers [10 t, 10 t + 10) ms), mean normalised per utterance,
   plus deltas and delta-deltas: 39 dims. A seeded dither of one int16 step keeps digital
   silence finite and the result deterministic.
3. **Monophone training** — 3-state left-to-right HMMs per phone, a 5-state ``sil``;
   optional silence (p = 0.5) before, between and after words; flat start (one Gaussian
   per state at the global mean and variance) and equal alignment, then ``num_iters``
   rounds of Viterbi training (re-estimation, with realignment on train_mono.sh's schedule,
   shortened from 40 to 30 iterations), silence boosted x1.25 while aligning, Gaussians
   split up to ``total_gauss`` (1000).
4. **Alignment** — Viterbi (beam 10, retry beam 40, as MFA) with the final model; a phone
   starts where the HMM state index falls (a new phone's first state after the previous
   phone's last state), which also separates two identical phones in a row; words are the
   runs of their pronunciation's phones, silences are dropped. Transcript vocalization
   tokens ([laughter] ...) are not modelled: each takes the pause where it was written
   (:func:`explain_ser.align.base.place_vocal_tokens`), as in the PocketSphinx backend.

Measured (benchmarks/notes/kaldi_align.md): on espeak-ng German with known word times, median word-boundary
error 30 ms (words come out 2-3 frames wider than the trimmed truth); EmoDB's 535 clips train
and align in ~2.5 min on 2 busy cores, all aligned. A monophone model is what MFA trains
first; MFA goes on to triphones, LDA+MLLT and speaker adaptation, which this does not.

Models are saved in a directory (:meth:`KaldiTrainAligner.save` / :meth:`~KaldiTrainAligner.load`)
and :meth:`KaldiTrainAligner.train` caches them under
``<cache_dir()>/kaldi_align/<corpus hash>``: the hash covers the audio samples, transcripts,
language, lexicon and training settings, so a corpus is trained once.

>>> aligner = KaldiTrainAligner(language="de")   # doctest: +SKIP
>>> aligner.train(clips, transcripts)            # doctest: +SKIP
>>> aligner.align(clips[0], transcripts[0]).word_labels()  # doctest: +SKIP
['der', 'lappen', 'liegt', 'auf', 'dem', 'eisschrank']
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from explain_ser.align.base import (Alignment, AlignerUnavailable, Interval, place_vocal_tokens,
                                    require_words, tokenize_transcript)
from explain_ser.align.kaldi_features import FRAME_SHIFT, _require_kaldi, features
from explain_ser.align.kaldi_lexicon import _lang, phonemize, read_dictionary
from explain_ser.errors import InputError

SIL = "sil"
MODEL_VERSION = 1  # bump when features, topology or the file layout change (invalidates caches)

# espeak-ng's IPA -> MFA's IPA conventions (MFA writes diphthongs as aj/aw/ɔj, ɡ as U+0261)
# ------------------------------------------------------------------ configuration

@dataclass
class TrainConfig:
    """Monophone training settings (defaults follow Kaldi's train_mono.sh and MFA)."""

    num_iters: int = 30
    realign_iters: tuple = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 18, 20, 23, 26, 29)
    max_iter_inc: int = 25  # Gaussians are added until this iteration
    total_gauss: int = 1000
    boost_silence: float = 1.25
    sil_prob: float = 0.5
    train_beam: float = 6.0
    beam: float = 10.0
    retry_beam: float = 40.0
    acoustic_scale: float = 0.1
    transition_scale: float = 1.0
    self_loop_scale: float = 0.1
    min_gaussian_occupancy: float = 3.0
    seed: int = 3


def _corpus_hash(clips, transcripts, language, lexicon, config) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"v": MODEL_VERSION, "lang": _lang(language), "config": asdict(config),
                         "lexicon": sorted((lexicon or {}).items())}, sort_keys=True, default=str).encode())
    for clip, text in zip(clips, transcripts):
        h.update(np.ascontiguousarray(np.asarray(clip.samples, np.float32)).tobytes())
        h.update(str(text).encode("utf-8") + b"\0")
    return h.hexdigest()[:20]


def default_model_dir(corpus_hash: str) -> Path:
    from explain_ser.weights import cache_dir

    return cache_dir() / "kaldi_align" / corpus_hash


# ------------------------------------------------------------------ the aligner

@dataclass
class _Utt:
    """One training/alignment utterance: its words, their phones, features."""

    words: list[str]
    prons: list[list[str]]
    feats: np.ndarray
    tokens: list = field(default_factory=list)


class KaldiTrainAligner:
    """Words + phones by a monophone GMM-HMM trained on the corpus being aligned.

    ``lexicon`` (a ``{word: [phones]}`` dict or a dictionary file) takes precedence over
    espeak-ng; its phone labels are used as given.
    """

    name = "kaldi"

    def __init__(self, language: str = "de", lexicon=None, config: TrainConfig | None = None,
                 model_dir=None):
        self.language = _lang(language)
        self.config = config or TrainConfig()
        if isinstance(lexicon, (str, Path)):
            lexicon = read_dictionary(lexicon)
        self.user_lexicon: dict[str, list[str]] = {k.lower(): list(v) for k, v in (lexicon or {}).items()}
        self.lexicon: dict[str, list[str]] = dict(self.user_lexicon)
        self.phones: list[str] = []  # index i -> phone id i + 1; phones[0] == "sil"
        self.am = self.tm = self.tree = None
        self.model_dir: Path | None = None
        self.stats: dict = {}
        self._state_of_tid: dict[int, int] | None = None  # transition id -> HMM state, built on first use
        if model_dir is not None and (Path(model_dir) / "model.pkl").is_file():
            self._load_into(Path(model_dir))

    # ------------------------------------------------------------ state
    @property
    def trained(self) -> bool:
        return self.am is not None

    def __repr__(self):
        state = f"{len(self.phones)} phones, {self.am.num_gauss} Gaussians" if self.trained else "untrained"
        return f"KaldiTrainAligner(language={self.language!r}, {state})"

    def save(self, model_dir) -> Path:
        """Write the model (acoustic + transition model, tree, phones, lexicon) to a directory."""
        d = Path(model_dir)
        d.mkdir(parents=True, exist_ok=True)
        with open(d / "model.pkl.tmp", "wb") as fh:
            pickle.dump({"am": self.am, "tm": self.tm, "tree": self.tree}, fh)
        (d / "model.pkl.tmp").replace(d / "model.pkl")
        meta = {"version": MODEL_VERSION, "language": self.language, "phones": self.phones,
                "config": asdict(self.config), "stats": self.stats}
        (d / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8")
        (d / "lexicon.txt").write_text("".join(f"{w} {' '.join(p)}\n" for w, p in sorted(self.lexicon.items())),
                                       encoding="utf-8")
        self.model_dir = d
        return d

    @classmethod
    def load(cls, model_dir) -> "KaldiTrainAligner":
        meta = json.loads((Path(model_dir) / "meta.json").read_text(encoding="utf-8"))
        return cls(language=meta["language"], model_dir=model_dir)

    def _load_into(self, d: Path) -> None:
        _require_kaldi()
        meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
        if meta.get("version") != MODEL_VERSION:
            raise InputError(d, f"model version {meta.get('version')} != {MODEL_VERSION}; retrain")
        with open(d / "model.pkl", "rb") as fh:  # our own cache file, written by save()
            m = pickle.load(fh)
        self.am, self.tm, self.tree = m["am"], m["tm"], m["tree"]
        self._state_of_tid = None
        self.language, self.phones, self.stats = meta["language"], meta["phones"], meta.get("stats", {})
        cfg = meta.get("config", {})
        cfg["realign_iters"] = tuple(cfg.get("realign_iters", ()))
        self.config = TrainConfig(**cfg)
        self.lexicon = {**read_dictionary(d / "lexicon.txt"), **self.user_lexicon}
        self.model_dir = d

    # ------------------------------------------------------------ lexicon + utterances
    def _ensure_lexicon(self, words: list[str]) -> None:
        missing = [w for w in dict.fromkeys(words) if w not in self.lexicon]
        if missing:
            for w, pron in phonemize(missing, self.language).items():
                if not pron:
                    raise InputError(w, "espeak-ng gave no pronunciation; add it to the lexicon")
                self.lexicon[w] = pron

    def _utterance(self, clip, transcript) -> _Utt:
        tokens = require_words(clip, transcript)
        words = [t.text for t in tokens if not t.is_vocal]
        self._ensure_lexicon(words)
        return _Utt(words, [self.lexicon[w] for w in words], features(clip.samples, clip.rate), tokens)

    # ------------------------------------------------------------ graphs
    def _graph(self, utt: _Utt):
        """The training graph of one utterance: its words in order, optional silence around each."""
        khg, kaldifst, _ = _require_kaldi()
        pid = {p: i + 1 for i, p in enumerate(self.phones)}
        unknown = sorted({p for pron in utt.prons for p in pron if p not in pid})
        if unknown:
            raise InputError(" ".join(utt.words), f"phones {' '.join(unknown)} were not in the training "
                                                  "corpus of this model; retrain with clips that contain them")
        sil_cost, nosil_cost = -math.log(self.config.sil_prob), -math.log(1 - self.config.sil_prob)
        fst = kaldifst.StdVectorFst()
        s = fst.add_state()
        fst.start = s

        def optional_silence(state):
            after, sil = fst.add_state(), fst.add_state()
            fst.add_arc(state, kaldifst.StdArc(0, 0, nosil_cost, after))
            fst.add_arc(state, kaldifst.StdArc(0, 0, sil_cost, sil))
            fst.add_arc(sil, kaldifst.StdArc(pid[SIL], 0, 0.0, after))
            return after

        s = optional_silence(s)
        for k, pron in enumerate(utt.prons):
            for i, p in enumerate(pron):
                nxt = fst.add_state()
                # word label k + 1 (its position) on the word's first phone
                fst.add_arc(s, kaldifst.StdArc(pid[p], k + 1 if i == 0 else 0, 0.0, nxt))
                s = nxt
            s = optional_silence(s)
        fst.set_final(s, 0.0)
        kaldifst.arcsort(fst, sort_type="olabel")
        opts = khg.TrainingGraphCompilerOptions()
        # as Kaldi's compile-train-graphs: no transition probabilities in the graph; they change
        # with every re-estimation and are added at alignment time (_viterbi)
        opts.transition_scale, opts.self_loop_scale = 0.0, 0.0
        compiler = khg.TrainingGraphCompiler(trans_model=self.tm, ctx_dep=self.tree, lex_fst=fst,
                                             disambig_syms=[], opts=opts)
        return compiler.compile_graph_from_text(list(range(1, len(utt.prons) + 1)))

    def _viterbi(self, am, graph, feats, beam, retry_beam) -> list[int]:
        khg, _, _ = _require_kaldi()
        c = self.config
        g = graph.copy()
        khg.add_transition_probs(trans_model=self.tm, transition_scale=c.transition_scale,
                                 self_loop_scale=c.self_loop_scale, fst=g)
        dec = khg.DecodableAmDiagGmmScaled(am=am, tm=self.tm, feats=feats, scale=c.acoustic_scale)
        out = khg.align_utterance_wrapper(config=khg.AlignConfig(beam=beam, retry_beam=retry_beam, careful=False),
                                          utt="u", acoustic_scale=c.acoustic_scale, fst=g, decodable=dec,
                                          num_done=0, num_error=0, num_retried=0, tot_like=0.0, frame_count=0)
        ali = list(out[5])
        return ali if len(ali) == len(feats) else []

    # ------------------------------------------------------------ training
    def train(self, clips, transcripts, language: str | None = None, cache: bool = True,
              progress: bool = False) -> "KaldiTrainAligner":
        """Train a monophone model on ``clips`` with their ``transcripts`` (or load it from the cache).

        Clips whose transcript is empty are skipped. Returns self.
        """
        clips, transcripts = list(clips), list(transcripts)
        if len(clips) != len(transcripts):
            raise InputError("train", f"{len(clips)} clips but {len(transcripts)} transcripts")
        if language:
            self.language = _lang(language)
        _require_kaldi()
        key = _corpus_hash(clips, transcripts, self.language, self.user_lexicon, self.config)
        d = default_model_dir(key)
        if cache and (d / "model.pkl").is_file():
            self._load_into(d)
            _log(progress, f"kaldi: model for this corpus loaded from the cache ({d})")
            return self
        self._train(clips, transcripts, progress)
        self.stats["corpus_hash"] = key
        if cache:
            self.save(d)
        return self

    def _train(self, clips, transcripts, progress: bool) -> None:
        khg, kaldifst, _ = _require_kaldi()
        c = self.config
        t0 = time.perf_counter()
        utts: list[_Utt] = []
        words_all = []
        toks = []
        for clip, text in zip(clips, transcripts):
            try:
                tk = require_words(clip, text)
            except InputError:
                toks.append(None)
                continue
            toks.append(tk)
            words_all += [t.text for t in tk if not t.is_vocal]
        self._ensure_lexicon(words_all)
        it = zip(clips, toks)
        if progress:
            from tqdm import tqdm

            it = tqdm(list(it), desc="kaldi features", unit="clip", file=sys.stderr)
        for clip, tk in it:
            if tk is None:
                continue
            words = [t.text for t in tk if not t.is_vocal]
            utts.append(_Utt(words, [self.lexicon[w] for w in words], features(clip.samples, clip.rate), tk))
        if not utts:
            raise InputError("train", "no clip with a transcript to train on")

        # phone inventory, topology, tree, flat-start model
        self.phones = [SIL] + sorted({p for u in utts for pron in u.prons for p in pron} - {SIL})
        topo = khg.HmmTopology()
        topo.read(_topology(list(range(2, len(self.phones) + 1)), sil_phone=1))
        self.tree = khg.monophone_context_dependency(phones=topo.phones,
                                                     phone2num_pdf_classes=topo.get_phone_to_num_pdf_classes())
        self.tm = khg.TransitionModel(ctx_dep=self.tree, hmm_topo=topo)
        self._state_of_tid = None
        allf = np.concatenate([u.feats for u in utts])
        proto = khg.DiagGmm(nmix=1, dim=allf.shape[1])
        proto.set_weights(np.ones(1, np.float32))
        proto.set_means(allf.mean(0, keepdims=True).astype(np.float32))
        proto.set_invvars((1.0 / np.maximum(allf.var(0, keepdims=True), 1e-6)).astype(np.float32))
        proto.compute_gconsts()
        self.am = khg.AmDiagGmm()
        for _ in range(self.tree.num_pdfs):
            self.am.add_pdf(proto)

        graphs = [self._graph(u) for u in utts]
        alis: list[list[int]] = []
        for i, (u, g) in enumerate(zip(utts, graphs)):
            ok, lin = kaldifst.equal_align(ifst=g, length=len(u.feats), rand_seed=c.seed + i, num_retries=10)
            seq = kaldifst.get_linear_symbol_sequence(lin)[1] if ok else []
            alis.append(list(seq) if len(seq) == len(u.feats) else [])
        num_gauss = self.am.num_gauss
        inc = max(0, (c.total_gauss - num_gauss) // max(c.max_iter_inc, 1))
        sil_pdfs = khg.get_pdfs_for_phones(self.tm, [1])[1]
        like = self._estimate(utts, alis, mixup=num_gauss)
        bar = range(1, c.num_iters)
        if progress:
            from tqdm import tqdm

            bar = tqdm(bar, desc="kaldi train", unit="iter", file=sys.stderr)
        for it in bar:
            if it in c.realign_iters:
                boosted = _boost(khg, self.am, sil_pdfs, c.boost_silence)
                alis = [self._viterbi(boosted, g, u.feats, c.train_beam, c.retry_beam) for u, g in zip(utts, graphs)]
            like = self._estimate(utts, alis, mixup=num_gauss)
            if it < c.max_iter_inc:
                num_gauss += inc
            if progress:
                bar.set_postfix(like=f"{like:.2f}", aligned=sum(bool(a) for a in alis), gauss=self.am.num_gauss)
        self.stats = {"train_utterances": len(utts), "train_frames": int(len(allf)),
                      "aligned_in_last_pass": int(sum(bool(a) for a in alis)),
                      "gaussians": int(self.am.num_gauss), "phones": len(self.phones),
                      "avg_loglike_per_frame": round(float(like), 3),
                      "train_seconds": round(time.perf_counter() - t0, 1)}

    def _estimate(self, utts, alis, mixup: int) -> float:
        """One EM step from fixed alignments: accumulate (vectorised per pdf), update, mix up."""
        khg, _, _ = _require_kaldi()
        c = self.config
        tm, am = self.tm, self.am
        tid2pdf = np.asarray(tm.transition_id_to_pdf_array(), dtype=np.int64)
        feats = [u.feats for u, a in zip(utts, alis) if a]
        ali = [np.asarray(a, np.int64) for a in alis if a]
        if not ali:
            raise InputError("train", "no utterance could be aligned; are the transcripts right?")
        X = np.concatenate(feats).astype(np.float64)
        tids = np.concatenate(ali)
        pdfs = tid2pdf[tids]
        # transition statistics are counts per transition id
        tstats = np.bincount(tids, minlength=tm.num_transition_ids + 1).astype(np.float64)
        tm.mle_update(tstats, khg.MleTransitionUpdateConfig())
        tot_like, occs = 0.0, np.zeros(am.num_pdfs, np.float32)
        order = np.argsort(pdfs, kind="stable")
        bounds = np.searchsorted(pdfs[order], np.arange(am.num_pdfs + 1))
        for p in range(am.num_pdfs):
            idx = order[bounds[p]:bounds[p + 1]]
            if idx.size == 0:
                continue
            x = X[idx]
            gmm = am.get_pdf(p)  # a reference into the model
            ll = np.asarray(gmm.log_likelihoods_matrix(x.astype(np.float32)), np.float64)
            mx = ll.max(axis=1, keepdims=True)
            post = np.exp(ll - mx)
            tot = post.sum(axis=1, keepdims=True)
            post /= tot
            tot_like += float((mx + np.log(tot)).sum())
            occs[p] = idx.size
            _mle_update(gmm, post, x, c.min_gaussian_occupancy)
        if mixup > am.num_gauss:
            am.split_by_count(state_occs=occs, target_components=mixup, perturb_factor=0.01, power=0.2,
                              min_count=20.0)
        am.compute_gconsts()
        return tot_like / max(len(tids), 1)

    # ------------------------------------------------------------ alignment
    def align(self, clip, transcript: str | None) -> Alignment:
        if not self.trained:
            raise AlignerUnavailable("kaldi", "has no model yet: it trains on a corpus first "
                                              "(explain-ser align MANIFEST --aligner kaldi, or "
                                              "explain_ser.align.kaldi_corpus.train_and_align(manifest))")
        utt = self._utterance(clip, transcript)
        return self._align_utt(utt, clip, transcript)

    def _align_utt(self, utt: _Utt, clip, transcript) -> Alignment:
        what = getattr(clip, "clip_id", "") or "clip"
        c = self.config
        graph = self._graph(utt)
        ali = self._viterbi(self.am, graph, utt.feats, c.beam, c.retry_beam)
        if not ali:  # a last try with a much wider beam before giving up
            ali = self._viterbi(self.am, graph, utt.feats, c.retry_beam, 4 * c.retry_beam)
        if not ali:
            raise InputError(what, "the Kaldi aligner could not fit the transcript to the audio "
                                   "(even with a wide beam); does the transcript belong to this clip?")
        return self._to_alignment(ali, utt, clip, transcript)

    def _segments(self, ali: list[int]) -> list[tuple[str, int, int]]:
        """(phone, first frame, end frame) runs of a transition-id alignment."""
        tm = self.tm
        segs: list[list] = []
        prev_phone, prev_state = None, None
        for t, tid in enumerate(ali):
            phone = tm.transition_id_to_phone(tid)
            state = self._hmm_state(tid)
            if phone != prev_phone or state < prev_state:
                segs.append([self.phones[phone - 1], t, t + 1])
            else:
                segs[-1][2] = t + 1
            prev_phone, prev_state = phone, state
        return [tuple(s) for s in segs]

    def _hmm_state(self, tid: int) -> int:
        if self._state_of_tid is None:
            self._state_of_tid = _hmm_states(self.tm)
        return self._state_of_tid[tid]

    def _to_alignment(self, ali, utt: _Utt, clip, transcript) -> Alignment:
        dur = float(clip.duration)
        segs = [s for s in self._segments(ali) if s[0] != SIL]
        expected = [p for pron in utt.prons for p in pron]
        got = [s[0] for s in segs]
        what = getattr(clip, "clip_id", "") or "clip"
        if got != expected:
            raise InputError(what, f"Kaldi alignment has phones {got} where {expected} were expected")

        def sec(frame):
            return min(frame * FRAME_SHIFT, dur)

        phones = [Interval(sec(a), sec(b), p) for p, a, b in segs]
        words, k = [], 0
        for w, pron in zip(utt.words, utt.prons):
            span = segs[k:k + len(pron)]
            words.append(Interval(sec(span[0][1]), sec(span[-1][2]), w))
            k += len(pron)
        vocals = place_vocal_tokens(utt.tokens or tokenize_transcript(transcript or ""), words, dur)
        return Alignment(words=words, phones=phones, vocalizations=vocals, backend=self.name, duration=dur,
                         clip_id=getattr(clip, "clip_id", ""), transcript=transcript or "",
                         phone_set="ipa").check()


def _hmm_states(tm) -> dict[int, int]:
    """HMM state index (0, 1, 2 ...) within its phone for every transition id.

    In a monophone model each (phone, state) has its own pdf and pdf ids are handed out in
    state order, so a state's index is the rank of its pdf among its phone's pdfs.
    """
    khg, _, _ = _require_kaldi()
    rank: dict[int, int] = {}
    for phone in tm.phones:
        for i, pdf in enumerate(sorted(khg.get_pdfs_for_phones(tm, [phone])[1])):
            rank[pdf] = i
    return {tid: rank[tm.transition_id_to_pdf(tid)] for tid in range(1, tm.num_transition_ids + 1)}


def _topology(nonsil: list[int], sil_phone: int, n_states: int = 3, n_sil: int = 5) -> str:
    """Kaldi's standard topology text: left-to-right 3-state phones, an ergodic-middle 5-state silence."""
    lines = ["<Topology>", "<TopologyEntry>", "<ForPhones>", " ".join(map(str, nonsil)), "</ForPhones>"]
    for i in range(n_states):
        lines.append(f"<State> {i} <PdfClass> {i} <Transition> {i} 0.75 <Transition> {i + 1} 0.25 </State>")
    lines += [f"<State> {n_states} </State>", "</TopologyEntry>",
              "<TopologyEntry>", "<ForPhones>", str(sil_phone), "</ForPhones>"]
    p = 1.0 / (n_sil - 1)
    lines.append("<State> 0 <PdfClass> 0 " + " ".join(f"<Transition> {j} {p}" for j in range(n_sil - 1)) + " </State>")
    for i in range(1, n_sil - 1):
        lines.append(f"<State> {i} <PdfClass> {i} " + " ".join(f"<Transition> {j} {p}" for j in range(1, n_sil))
                     + " </State>")
    last = n_sil - 1
    lines += [f"<State> {last} <PdfClass> {last} <Transition> {last} 0.75 <Transition> {n_sil} 0.25 </State>",
              f"<State> {n_sil} </State>", "</TopologyEntry>", "</Topology>"]
    return "\n".join(lines) + "\n"


def _mle_update(gmm, post: np.ndarray, x: np.ndarray, min_occ: float, min_var: float = 1e-3) -> None:
    """Maximum-likelihood update of one diagonal GMM from frame posteriors ``post[frames, comps]``.

    As Kaldi's MleDiagGmmUpdate: weights, means and variances (floored at ``min_var``);
    components with less than ``min_occ`` frames of occupancy are removed (unless it is the last).
    """
    occ = post.sum(axis=0)
    keep = occ >= min_occ
    if not keep.any():
        return  # too little data: leave the pdf as it is
    m1 = post.T @ x
    m2 = post.T @ (x * x)
    occ_k = occ[keep][:, None]
    mean = m1[keep] / occ_k
    var = np.maximum(m2[keep] / occ_k - mean * mean, min_var)
    w = occ[keep] / occ[keep].sum()
    if not keep.all():
        gmm.resize(int(keep.sum()), x.shape[1])
    gmm.set_weights(w.astype(np.float32))
    gmm.set_invvars((1.0 / var).astype(np.float32))
    gmm.set_means(mean.astype(np.float32))
    gmm.compute_gconsts()


def _boost(khg, am, pdfs, boost: float):
    """A copy of ``am`` whose silence pdfs are ``boost`` times likelier (Kaldi's gmm-boost-silence)."""
    out = khg.AmDiagGmm()
    out.copy_from_am_diag_gmm(am)
    if boost != 1.0:
        for p in pdfs:
            g = out.get_pdf(p)
            g.set_weights((np.asarray(g.weights) * boost).astype(np.float32))
            g.compute_gconsts()
    return out


def _log(on: bool, msg: str) -> None:
    if on:
        print(msg, file=sys.stderr)

