"""Emotion timelines of long recordings (calls, sessions, interviews), in flat memory and linear time.

One recording goes through two passes over its blocks (:func:`explain_ser.vad.stream_blocks`), and is
never held whole:

1. segmentation (:func:`explain_ser.vad.segment_recording`): speech spans, cut at pauses and at most
   30 s long (Whisper's window), on the recording's 20 ms grid; optionally cut again at the speaker
   turns of a diarizer's RTTM or TextGrid (:func:`read_turns`, :func:`split_at_turns`);
2. every utterance, with up to ``context`` s of the pause around it (:func:`with_context`: the shipped
   models were trained on clips with about 1 s of room tone around the speech), through the one per-clip
   path (:func:`explain_ser.pipeline.explain_clip`, the checkpoint's input rule applied there): emotion
   probabilities, per-head attention, attributions,
   prosody, and words/phones with ``align=True``. Its FrameTable is moved to recording time and
   appended to the recording's, one Parquet row group per utterance, then dropped: one utterance's
   encoder and attribution tensors at a time.

Written per recording, each file to a temporary name and renamed when the recording is done (a killed
run leaves the previous outputs or none, never half a file):

==============================  ===================================================================
``<rec>.segments.csv``          ``start, end, [speaker,] emotion, confidence, prob_<class>...``, then
                                ``att_k80`` (share of the frames heard holding 80 % of the mean
                                attention), ``top_start, top_end`` (the most attended stretch),
                                ``heard_start, heard_end`` (the utterance with its context),
                                ``language, language_source, language_p`` (the utterance's language,
                                decided by the per-clip path: given, identified from its audio with
                                ``align`` or ``identify_language``, else the checkpoint's, assumed) and,
                                with ``align``, ``text``
``<rec>.frames.parquet``        the FrameTable of the whole recording (``.csv`` with ``fmt="csv"``):
                                the frames the model heard (the rest of the pauses has no rows),
                                ``frame``/``start``/``end`` in recording time, ``segment`` = the row of
                                ``segments.csv``, ``speech`` = inside the utterance (else context)
``<rec>.TextGrid``              tiers ``utterances`` (the emotion), ``speakers`` with turns, and
                                ``words``, ``phones``, ``vocalizations`` with ``align``
``<rec>.summary.json``          duration, speech, emotion and language shares of the speech time,
                                per speaker
``<rec>.timeline.html``         one self-contained page (plotly inlined, no network): emotion bands,
                                class probabilities, per-head attention, the segments
``<rec>.timeline.png``          the same as a static figure (``plot=True``)
``<rec>.speakers.csv``          per-speaker summaries (with turns)
==============================  ===================================================================

Speaker turns (:func:`read_turns`): an RTTM file (``SPEAKER <file> <chan> <start> <dur> ... <name> ...``)
or a TextGrid, either with a tier named ``speaker``/``speakers``/``turns`` whose labels are the
speakers, or with one interval tier per speaker (the tier name is the speaker).

>>> import tempfile, os
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "call.rttm")
>>> _ = open(p, "w").write("SPEAKER call 1 0.00 2.50 <NA> <NA> A <NA> <NA>\\n"
...                        "SPEAKER call 1 2.50 3.00 <NA> <NA> B <NA> <NA>\\n")
>>> turns = read_turns(p)
>>> [(t.start, t.end, t.speaker) for t in turns]
[(0.0, 2.5, 'A'), (2.5, 5.5, 'B')]
>>> from explain_ser.vad import Span
>>> [(s.start, s.end, s.speaker) for s in split_at_turns([Span(50, 200)], turns)]   # 1.0-4.0 s
[(1.0, 2.5, 'A'), (2.5, 4.0, 'B')]
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import temporary_beside, write_path, write_text
from .errors import InputError
from .jsonio import dumps
from .timegrid import SAMPLE_RATE, SAMPLES_PER_FRAME
from .timeline_files import BIN_FRAMES
from .turns import Turn, read_rttm, read_turn_textgrid, read_turns, split_at_turns  # noqa: F401  (re-exported)
from .vad import Segmentation, Span, segment_recording, stream_blocks

__all__ = ["Turn", "read_turns", "read_rttm", "read_turn_textgrid", "split_at_turns", "with_context", "TimelineOptions",
           "explain_recording", "timeline", "speaker_summary"]

# attention is summarised per BIN_FRAMES (0.1 s) for the figures (an hour: 36 000 bins); the reader of a
# timeline directory (explain_ser.timeline_files) bins the stored frames the same way


@dataclass(frozen=True)
class TimelineOptions:
    """What to compute per utterance and what to write (defaults: ``explain-ser timeline``'s)."""

    methods: tuple = ("ig",)
    align: bool = False  # words/phones per utterance (Whisper transcribes: slow)
    aligner: str = "auto"
    language: str | None = None  # None: identified per utterance with align or identify_language, else assumed
    # identify each utterance's language from its audio also without ``align`` (``align`` always does: the
    # language picks the aligner), so a recording that switches language shows it. Off by default: one Whisper
    # base pass per utterance (~1.4 s of CPU each) takes a timeline from ~9x to ~2x real time (BENCHMARKS.md)
    identify_language: bool = False
    prosody: bool = True
    ig_steps: int = 32
    vad: str = "silero"
    min_pause: float = 0.3
    min_speech: float = 0.25
    # seconds of the recording around each utterance that the model also hears (at most half the pause to a
    # neighbour, none across a speaker turn). The shipped checkpoints were trained on whole RAVDESS/EmoDB
    # clips, ~1 s of room tone around the speech: cut tight to the speech, the shipped default got 74 % of
    # the segments of a joined RAVDESS recording right, with 0.25 s 92 %, with 0.5 s all 66 (training
    # speakers; benchmarks/bench_timeline.py --contexts)
    context: float = 1.0
    max_len: float = 30.0
    fmt: str = "parquet"  # FrameTable format: parquet or csv
    plot: bool = False  # the PNG; the HTML page is always written
    html: bool = True
    tagger: str | None = None  # the vocalization tagger (pipeline.vocalization_tagger: None default, "rules")

    def clip_options(self):
        from .pipeline import ClipOptions

        return ClipOptions(methods=tuple(self.methods), align=self.align, aligner=self.aligner,
                           language=self.language, identify_language=self.identify_language, prosody=self.prosody,
                           ig_steps=self.ig_steps, tagger=self.tagger,
                           display_mel=False)  # no per-utterance figure: the mel is not kept


# ---- incremental writers -------------------------------------------------------------------------------------

class _FrameWriter:
    """The recording's FrameTable, appended one utterance at a time (Parquet: one row group each)."""

    def __init__(self, path: Path, fmt: str):
        self.path, self.fmt = path, fmt
        self.columns: list[str] | None = None
        self.schema = None
        self.writer = None
        self.rows = 0

    def append(self, table: pd.DataFrame) -> None:
        if self.columns is None:
            self.columns = list(table.columns)
        else:  # every utterance in the first one's columns and types (a column it lacked stays empty)
            table = table.reindex(columns=self.columns)
        if self.fmt == "csv":
            table.to_csv(self.path, mode="a", header=self.rows == 0, index=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self.writer is None:
                tab = pa.Table.from_pandas(table, preserve_index=False)
                self.schema = tab.schema
                self.writer = pq.ParquetWriter(str(self.path), self.schema)
            else:
                tab = pa.Table.from_pandas(table, schema=self.schema, preserve_index=False)
            self.writer.write_table(tab)
        self.rows += len(table)

    def close(self, empty_columns) -> None:
        if self.fmt == "csv":
            if self.rows == 0:
                pd.DataFrame(columns=list(empty_columns)).to_csv(self.path, index=False)
            return
        if self.writer is None:  # no speech: an empty table that still reads
            pd.DataFrame(columns=list(empty_columns)).to_parquet(self.path, index=False)
        else:
            self.writer.close()
            self.writer = None

    def abort(self) -> None:
        """Release the Parquet file after an error (the temporary file is then deleted)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class _CsvRows:
    def __init__(self, path: Path, columns: list[str]):
        self.fh = open(path, "w", encoding="utf-8", newline="")
        self.columns = columns
        pd.DataFrame(columns=columns).to_csv(self.fh, index=False)

    def append(self, row: dict) -> None:
        pd.DataFrame([row], columns=self.columns).to_csv(self.fh, header=False, index=False)
        self.fh.flush()

    def close(self) -> None:
        if not self.fh.closed:
            self.fh.close()


# ---- one recording ----------------------------------------------------------------------------------------

def with_context(spans: list[Span], n_frames: int, context: float) -> list[Span]:
    """The stretch of the recording the model hears for each utterance: ``context`` s either side, at most
    half the pause to a neighbour (none between two pieces of one span cut at a speaker turn), within the
    recording.

    >>> [(c.start, c.end) for c in with_context([Span(50, 100), Span(110, 200), Span(200, 240)], 260, 1.0)]
    [(0.0, 2.1), (2.1, 4.0), (4.0, 5.2)]
    """
    c = int(round(context / 0.02))
    out = []
    for k, sp in enumerate(spans):
        gap_before = sp.first_frame - (spans[k - 1].end_frame if k else 0)
        gap_after = (spans[k + 1].first_frame if k + 1 < len(spans) else n_frames) - sp.end_frame
        before = min(c, gap_before if k == 0 else gap_before - gap_before // 2)
        after = min(c, gap_after if k + 1 == len(spans) else gap_after // 2)
        out.append(Span(sp.first_frame - max(0, before), sp.end_frame + max(0, after), sp.speaker))
    return out


def _utterances(seg: Segmentation, spans: list[Span], heard: list[Span], block_seconds: float | None = None):
    """(span, heard span, samples heard) for each utterance, from a second pass over the recording's
    blocks; holds at most one utterance with its context plus one block."""
    from .vad import BLOCK_SECONDS

    buf = np.zeros(0, np.float32)
    buf_start = 0  # recording sample of buf[0]
    k = 0
    for block in stream_blocks(seg.path, block_seconds=block_seconds or BLOCK_SECONDS):
        buf = np.concatenate([buf, block]) if len(buf) else block
        while k < len(spans) and buf_start + len(buf) >= heard[k].end_sample:
            h = heard[k]
            yield spans[k], h, buf[h.first_sample - buf_start : h.end_sample - buf_start]
            k += 1
        # drop what no later utterance needs, but never more than has been read: when a block ends inside
        # a pause, the next utterance starts in a block still to come
        keep_from = min(heard[k].first_sample if k < len(heard) else buf_start + len(buf), buf_start + len(buf))
        if keep_from > buf_start:
            buf = buf[keep_from - buf_start :]
            buf_start = keep_from
        if k == len(spans):
            return
    if k < len(spans):  # the file changed between the passes
        raise InputError(seg.path, f"audio ended at {buf_start / SAMPLE_RATE:.2f} s, before the utterance at "
                                   f"{spans[k].start:.2f} s found by the first pass (was the file changed?)")


def _recording_frames(res, sp: Span, heard: Span, index: int, stem: str, word_offset: int) -> pd.DataFrame:
    """An utterance's FrameTable on the recording's grid (frame, start, end, word_index shifted);
    ``speech`` marks the utterance's own frames, the rest is the context the model also heard."""
    t = res.frames
    t = t.drop(columns=["clip_id"]).copy()
    g = t["frame"].to_numpy(np.int64) + heard.first_frame
    t["frame"] = g
    t["start"] = g * SAMPLES_PER_FRAME / SAMPLE_RATE
    t["end"] = (g + 1) * SAMPLES_PER_FRAME / SAMPLE_RATE
    if "word_index" in t:
        wi = t["word_index"].to_numpy()
        t["word_index"] = np.where(wi >= 0, wi + word_offset, -1)
    if "model_input" not in t:
        t["model_input"] = True
    t["speech"] = (g >= sp.first_frame) & (g < sp.end_frame)
    t.insert(0, "segment", np.int64(index))
    t.insert(0, "clip_id", stem)
    if sp.speaker is not None:
        t.insert(2, "speaker", sp.speaker)
    return t


def _shifted(intervals, offset: float, lo: float, hi: float):
    out = []
    for iv in intervals or []:
        s, e = max(lo, iv.start + offset), min(hi, iv.end + offset)
        if e > s:
            out.append((round(s, 6), round(e, 6), iv.label))
    return out


class _AttentionBins:
    """Per-head attention relative to uniform (w x frames seen: 1 = uniform), averaged per 0.1 s."""

    def __init__(self):
        self.heads: list[str] | None = None
        self.parts: list[tuple[np.ndarray, np.ndarray]] = []  # (bin index, [heads, bins] values)

    def add(self, res, heard: Span) -> None:
        if self.heads is None:
            self.heads = list(res.attention)
        first, last = res.span or (0, res.clip.n_frames)
        seen = max(1, last - first)
        w = np.stack([np.asarray(res.attention[h], np.float64) for h in self.heads]) * seen
        g = heard.first_frame + np.arange(w.shape[1])
        b = g // BIN_FRAMES
        ub, inv = np.unique(b, return_inverse=True)
        sums = np.zeros((len(self.heads), len(ub)))
        np.add.at(sums.T, inv, w.T)
        counts = np.bincount(inv, minlength=len(ub))
        self.parts.append((ub, sums, counts))

    def grid(self, n_bins: int) -> np.ndarray:
        """``[heads, n_bins]``, NaN where nobody speaks."""
        h = len(self.heads or [])
        s, c = np.zeros((h, n_bins)), np.zeros(n_bins)
        for ub, sums, counts in self.parts:
            ok = ub < n_bins
            s[:, ub[ok]] += sums[:, ok]
            c[ub[ok]] += counts[ok]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(c > 0, s / c, np.nan)


def explain_recording(path, checkpoint, encoder, out_dir, options: TimelineOptions = TimelineOptions(),
                      turns: list[Turn] | None = None, segmentation: Segmentation | None = None,
                      store=None, progress: bool = False, command: str | None = None) -> dict:
    """Explain every utterance of one recording and write its timeline files (see the module docstring).

    ``checkpoint``: a :class:`~explain_ser.checkpoint.Checkpoint`; ``encoder``: its encoder;
    ``segmentation``: a pass already made (the CLI segments every recording before loading the model,
    so a bad file fails before anything is written). Returns ``{"files": {...}, "summary": {...}}``.
    """
    from tqdm.auto import tqdm

    from .attribution import safe_stem
    from .audio import Clip
    from .pipeline import explain_clip
    from .threads import single_thread

    p = Path(path)
    seg = segmentation or segment_recording(p, vad=options.vad, min_pause=options.min_pause,
                                            min_speech=options.min_speech, max_len=options.max_len)
    spans = split_at_turns(seg.spans, turns, options.min_speech) if turns is not None else list(seg.spans)
    heard = with_context(spans, seg.n_samples // SAMPLES_PER_FRAME, options.context)
    stem = safe_stem(p.stem)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = list(checkpoint.labels)
    copts = options.clip_options()
    seg_cols = ["start", "end"] + (["speaker"] if turns is not None else []) + ["emotion", "confidence"] + [
        f"prob_{c}" for c in labels] + ["att_k80", "top_start", "top_end", "heard_start", "heard_end",
                                         "language", "language_source", "language_p"] + (
        ["text"] if options.align else [])
    ext = "csv" if options.fmt == "csv" else "parquet"
    files = {"segments": out / f"{stem}.segments.csv", "frames": out / f"{stem}.frames.{ext}",
             "textgrid": out / f"{stem}.TextGrid", "summary": out / f"{stem}.summary.json"}
    if options.html:
        files["html"] = out / f"{stem}.timeline.html"
    if options.plot:
        files["plot"] = out / f"{stem}.timeline.png"
    if turns is not None:
        files["speakers"] = out / f"{stem}.speakers.csv"
    rows: list[dict] = []
    tiers: dict[str, list] = {"words": [], "phones": [], "vocalizations": []}
    bins = _AttentionBins()
    t0 = time.perf_counter()
    bar = tqdm(total=round(seg.duration, 1), unit="s", desc=f"{stem} (audio s)", disable=not progress,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]")
    # every file under a temporary name until the whole recording is done: the segment and frame tables
    # grow as utterances come, the rest is written at the end; an error anywhere leaves no new file
    with contextlib.ExitStack() as stack:
        tmp_segments = stack.enter_context(temporary_beside(files["segments"], ".csv"))
        tmp_frames = stack.enter_context(temporary_beside(files["frames"], f".{ext}"))
        seg_writer = _CsvRows(tmp_segments, seg_cols)
        stack.callback(seg_writer.close)
        frames = _FrameWriter(tmp_frames, options.fmt)
        stack.callback(frames.abort)
        word_offset = 0
        for i, (sp, hd, samples) in enumerate(_utterances(seg, spans, heard)):
            clip = Clip(samples=np.ascontiguousarray(samples), rate=SAMPLE_RATE, path=None,
                        clip_id=f"{stem}@{sp.start:.2f}")
            # an utterance's tensors are small, and one thread gives the same bits on a busy or an idle
            # machine (the log-mel's STFT and Praat run outside the encoder's own single-thread rule)
            with single_thread():
                res = explain_clip(clip, checkpoint, encoder, copts, store=store)
            table = _recording_frames(res, sp, hd, i, stem, word_offset)
            if res.alignment is not None:
                word_offset += len(res.alignment.words)
                for name in tiers:  # in the context too: a word the VAD cut short is still a word
                    tiers[name] += _shifted(getattr(res.alignment, name), hd.start, hd.start, hd.end)
            frames.append(table)
            bins.add(res, hd)
            rows.append(_segment_row(res, sp, hd, labels, options.align))
            seg_writer.append(rows[-1])
            del res, table, clip  # one utterance's tensors at a time
            bar.update(round(sp.end, 1) - bar.n)
        frames.close(["clip_id", "segment", "frame", "start", "end"])
        seg_writer.close()
        bar.update(bar.total - bar.n)
        bar.close()
        seconds = time.perf_counter() - t0
        segments = pd.DataFrame(rows, columns=seg_cols)
        summary = _summary(seg, segments, labels, checkpoint, options, turns is not None, files)
        spk = None
        if turns is not None:
            spk = speaker_summary(segments, labels)
            write_path(files["speakers"], lambda tmp: spk.to_csv(tmp, index=False), suffix=".csv")
        _write_textgrid(files["textgrid"], seg.duration, segments, tiers if options.align else None)
        heat = bins.grid(-(-seg.n_samples // (SAMPLES_PER_FRAME * BIN_FRAMES)))
        heads = bins.heads or []
        from .timeline_view import timeline_figure, timeline_html

        if options.plot:
            from .figure_style import save_figure

            fig = timeline_figure(segments, heat, heads, labels, seg.duration, title=p.name,
                                  bin_seconds=BIN_FRAMES * SAMPLES_PER_FRAME / SAMPLE_RATE)
            write_path(files["plot"], lambda tmp: save_figure(fig, tmp), suffix=".png")
        if options.html:
            page = timeline_html(segments, heat, heads, labels, seg.duration, summary, speakers=spk, title=p.name,
                                 command=command, bin_seconds=BIN_FRAMES * SAMPLES_PER_FRAME / SAMPLE_RATE)
            write_text(files["html"], page)
        write_text(files["summary"], dumps(summary) + "\n")
    return {"files": files, "summary": summary, "seconds": seconds, "segments": segments}


def _segment_row(res, sp: Span, heard: Span, labels, align: bool) -> dict:
    probs = np.asarray(res.probabilities, np.float64)
    k = int(np.argmax(probs))
    row = {"start": sp.start, "end": sp.end}
    if sp.speaker is not None:
        row["speaker"] = sp.speaker
    row.update({"emotion": labels[k], "confidence": round(float(probs[k]), 6)})
    row.update({f"prob_{c}": round(float(v), 6) for c, v in zip(labels, probs)})
    s = res.summary
    row["att_k80"] = round(float(s["frames_for_80pct"].get("mean", np.nan)), 4)
    top = (s.get("top_segments") or [None])[0]
    row["top_start"] = round(heard.start + top["start"], 2) if top else np.nan
    row["top_end"] = round(heard.start + top["end"], 2) if top else np.nan
    row["heard_start"], row["heard_end"] = heard.start, heard.end
    lang = res.info.get("language") or {}  # decided by the per-clip path (pipeline.plan_annotation/annotate)
    row["language"], row["language_source"] = lang.get("language", ""), lang.get("source", "")
    row["language_p"] = np.nan if lang.get("probability") is None else float(lang["probability"])
    if align:
        row["text"] = (res.alignment.transcript if res.alignment is not None else "") or ""
    return row


def speaker_summary(segments: pd.DataFrame, labels) -> pd.DataFrame:
    """Per speaker: segments, speech seconds, the emotion holding most of their speech time, each
    emotion's share of it, and the mean class probabilities weighted by segment length.

    >>> seg = pd.DataFrame({"start": [0, 2, 5], "end": [2, 3, 9], "speaker": ["A", "B", "A"],
    ...                     "emotion": ["sad", "angry", "angry"], "prob_sad": [.8, .2, .3], "prob_angry": [.2, .8, .7]})
    >>> speaker_summary(seg, ["sad", "angry"])[["speaker", "segments", "speech_s", "emotion", "share_angry"]].values.tolist()
    [['A', 2, 6.0, 'angry', 0.6667], ['B', 1, 1.0, 'angry', 1.0]]
    """
    rows = []
    for spk, g in segments.groupby("speaker", sort=True):
        d = (g["end"] - g["start"]).to_numpy(np.float64)
        total = float(d.sum())
        row = {"speaker": spk, "segments": len(g), "speech_s": round(total, 2)}
        share = {c: float(d[(g["emotion"] == c).to_numpy()].sum() / total) if total else 0.0 for c in labels}
        row["emotion"] = max(labels, key=lambda c: share[c])
        row.update({f"share_{c}": round(share[c], 4) for c in labels})
        row.update({f"prob_{c}": round(float(np.average(g[f"prob_{c}"], weights=d)) if total else np.nan, 4)
                    for c in labels if f"prob_{c}" in g})
        rows.append(row)
    return pd.DataFrame(rows)


def _summary(seg: Segmentation, segments: pd.DataFrame, labels, checkpoint, options, has_turns, files) -> dict:
    d = (segments["end"] - segments["start"]).to_numpy(np.float64) if len(segments) else np.zeros(0)
    speech = float(d.sum())
    shares = {c: round(float(d[(segments["emotion"] == c).to_numpy()].sum() / speech), 4) if speech else 0.0
              for c in labels}
    langs = segments["language"].astype(str).to_numpy() if "language" in segments else np.array([], dtype=str)
    language_shares = {c: round(float(d[langs == c].sum() / speech), 4)  # most speech first
                       for c in sorted(set(langs) - {""}, key=lambda c: (-d[langs == c].sum(), c))} if speech else {}
    out = {
        "recording": seg.path, "duration_s": round(seg.duration, 3), "speech_s": round(speech, 3),
        "n_segments": int(len(segments)),
        "emotion_share_of_speech": shares,
        "language_share_of_speech": language_shares,  # each utterance's language (segments.csv: language*)
        "mean_probabilities": {c: round(float(np.average(segments[f"prob_{c}"], weights=d)), 4) if speech else None
                               for c in labels},
        "checkpoint": checkpoint.name, "labels": labels,
        "segmentation": {"vad": seg.vad, "min_pause_s": options.min_pause, "min_speech_s": options.min_speech,
                         "max_len_s": options.max_len, "notes": seg.notes},
        # language: the --language given (None: each utterance's own), so a viewer explains an utterance as this
        # run did
        "per_utterance": {"methods": list(options.methods), "align": options.align, "prosody": options.prosody,
                          "context_s": options.context, "input_rule": checkpoint.input_rule.describe(),
                          "language": options.language, "identify_language": options.identify_language},
        "audio": {"source_rate": seg.source_rate, "channels": seg.channels},
        "files": {k: Path(v).name for k, v in files.items()},
    }
    if has_turns and len(segments):
        out["speakers"] = speaker_summary(segments, labels).set_index("speaker").to_dict(orient="index")
    return out


def _write_textgrid(path: Path, duration: float, segments: pd.DataFrame, align_tiers: dict | None) -> None:
    from praatio import textgrid as ptg

    dur = round(duration, 6)
    tg = ptg.Textgrid()
    utt = [(round(s, 6), min(dur, round(e, 6)), str(emo))
           for s, e, emo in zip(segments["start"], segments["end"], segments["emotion"])]
    tg.addTier(ptg.IntervalTier("utterances", utt, 0.0, dur))
    if "speaker" in segments:
        spk = [(a, b, str(s) or "?") for (a, b, _), s in zip(utt, segments["speaker"])]
        tg.addTier(ptg.IntervalTier("speakers", spk, 0.0, dur))
    for name, ivs in (align_tiers or {}).items():
        tg.addTier(ptg.IntervalTier(name, [(s, min(e, dur), lab) for s, e, lab in ivs if min(e, dur) > s], 0.0, dur))
    write_path(path, lambda tmp: tg.save(tmp, format="long_textgrid", includeBlankSpaces=True), suffix=".TextGrid")


# ---- the one-call form ----------------------------------------------------------------------------------

def timeline(recording, out_dir, checkpoint="ravdess-tiny.en", turns=None, **options) -> dict:
    """Timeline of one recording with a shipped or saved checkpoint (loads Whisper).

    >>> res = timeline("call.wav", "out", methods=())               # doctest: +SKIP
    >>> res["segments"][["start", "end", "emotion"]].head(2)        # doctest: +SKIP
    """
    from .checkpoint import Checkpoint

    ck = checkpoint if hasattr(checkpoint, "model") else Checkpoint.load(checkpoint)
    opts = TimelineOptions(**options)
    tr = read_turns(turns, Path(recording).stem) if turns is not None else None
    return explain_recording(recording, ck, ck.encoder(), out_dir, opts, turns=tr)
