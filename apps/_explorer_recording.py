"""The explorer's **Recording** view: an ``explain-ser timeline`` output directory, one recording at a time.

The view shows the recording's utterances as bars in their emotion's colour (height: the model's
confidence) under the attention of every head, and the class probabilities; selecting a bar, a table
row or the "Open" button opens that utterance in the clip view. The utterance is the very stretch of
the recording the timeline explained (the utterance with the pause around it the model heard), read
by :func:`explain_ser.timeline_files.utterance_clip`, and is explained under the timeline's checkpoint by the
library, as every other clip is. Nothing here computes: tables come from the timeline run.

The functions take the app's :class:`_explorer_sources.Config`: the app is a script that Streamlit
re-runs, and its configuration may change between runs (tests set the environment), so nothing here
holds it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

import _explorer_figures as figs
import _explorer_sources as src
import explain_ser.timeline_files as tl
from explain_ser.errors import InputError


def utterance_label(i: int, row) -> str:
    """What the utterance selector shows: number, times, emotion, confidence, language and the words if aligned."""
    text = str(row.get("text", "") or "").strip()
    words = f" · “{text[:40]}{'…' if len(text) > 40 else ''}”" if text else ""
    spk = f" · {row['speaker']}" if str(row.get("speaker", "") or "") else ""
    lang = f" · {row['language']}" if str(row.get("language", "") or "") else ""
    return f"#{i + 1} {float(row['start']):.2f}-{float(row['end']):.2f} s · {row['emotion']} {float(row['confidence']):.2f}" \
           f"{spk}{lang}{words}"


def _stamp(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


# ---------------------------------------------------------------------------------------------
# cached reads


@st.cache_data(show_spinner=False)
def _load(directory: str, stem: str, stamp: float, audio_roots: tuple) -> tl.Recording:
    return tl.read_recording(directory, stem, audio_roots)


def load_recording(config, stem: str) -> tl.Recording:
    """Recording ``stem`` of the timeline directory (re-read when its segments table changes)."""
    return _load(str(config.timeline), stem, _stamp(config.timeline / f"{stem}.segments.csv"),
                 tuple(map(str, config.audio_roots)))


@st.cache_data(max_entries=8, show_spinner="Reading the recording's attention ...")
def _heat(directory: str, stem: str, stamp: float, audio_roots: tuple):
    rec = tl.read_recording(directory, stem, audio_roots)
    return tl.attention_heat(tl.read_attention(rec), int(round(rec.duration / tl.FRAME_SECONDS)) + 1)


def load_heat(config, stem: str):
    return _heat(str(config.timeline), stem, _stamp(config.timeline / f"{stem}.segments.csv"),
                 tuple(map(str, config.audio_roots)))


@st.cache_resource(max_entries=32, show_spinner="Reading the utterance from the recording ...")
def cut_utterance(path: str, mtime: float, size: int, stem: str, start: float, heard_start: float,
                  heard_end: float):
    """One utterance's samples, as the timeline run cut them (the recording is read up to its end only)."""
    return tl.utterance_clip(Path(path), {"start": start, "heard_start": heard_start, "heard_end": heard_end}, stem)


# ---------------------------------------------------------------------------------------------
# opening an utterance


def timeline_checkpoint(rec: tl.Recording, checkpoints: list[str]) -> str | None:
    """The entry of the checkpoint list the timeline was made with (a shipped name or a directory), or None."""
    if rec.checkpoint in checkpoints:
        return rec.checkpoint
    from explain_ser.model import resolve_checkpoint

    try:
        want = resolve_checkpoint(rec.checkpoint).resolve()
    except InputError:
        return None
    for c in checkpoints:
        try:
            if resolve_checkpoint(c).resolve() == want:
                return c
        except InputError:
            continue
    return None


def open_utterance(config, stem: str, index: int):
    """Callback: show utterance ``index`` of recording ``stem`` in the clip view, under the timeline's checkpoint."""
    st.session_state.update({"view": "Clip", "source": "Recording", "recording": stem, "_recording": stem,
                             "utterance": int(index), "_utterance": int(index)})
    ck = timeline_checkpoint(load_recording(config, stem), st.session_state.get("_checkpoints", []))
    if ck is not None:
        st.session_state["checkpoint"] = ck


def _open_from_figure(config):
    sel = st.session_state.get("timeline")
    points = (sel or {}).get("selection", {}).get("points", []) if sel else []
    ids = [p.get("customdata") for p in points if p.get("customdata") is not None]
    if ids:
        i = ids[0][0] if isinstance(ids[0], (list, tuple)) else ids[0]
        open_utterance(config, st.session_state["recording"], int(i))


def _open_from_table(config):
    sel = st.session_state.get("utt_table")
    rows = (sel or {}).get("selection", {}).get("rows", []) if sel else []
    if rows:
        open_utterance(config, st.session_state["recording"], int(rows[0]))


# ---------------------------------------------------------------------------------------------
# sidebar


def remembered(key: str, options: list):
    """Keep a selector's value while its widget is not drawn (Streamlit forgets the state of a widget that is
    not on the page): restore it from ``_<key>`` if that is still an option, else take the first option."""
    if st.session_state.get(key) not in options:
        saved = st.session_state.get(f"_{key}")
        st.session_state[key] = saved if saved in options else options[0]


def recording_selector(config, sb) -> str | None:
    """The sidebar's recording selector; the chosen recording's stem, or None when there is none."""
    stems = tl.list_recordings(config.timeline) if config.timeline is not None else []
    if not stems:
        sb.warning("No recording: start with `explain-ser explore --timeline DIR` (a directory written by "
                   "`explain-ser timeline`).")
        return None
    remembered("recording", stems)
    stem = sb.selectbox(f"Recording ({len(stems)})", stems, key="recording")
    st.session_state["_recording"] = stem
    return stem


def utterance_selector(config, sb) -> bool:
    """Recording and utterance selectors (the clip source "Recording"); False when there is nothing to open."""
    stem = recording_selector(config, sb)
    if stem is None:
        return False
    rec = load_recording(config, stem)
    if not len(rec.segments):
        sb.warning("No utterance was found in this recording.")
        return False
    idx = list(range(len(rec.segments)))
    remembered("utterance", idx)
    st.session_state["_utterance"] = sb.selectbox(f"Utterance ({len(idx)})", idx, key="utterance",
                                                  format_func=lambda i: utterance_label(i, rec.segments.iloc[i]))
    return True


def current_utterance(config, file_digest):
    """(cache key, Clip, "", view row, manifest row pairs) of the utterance chosen in the sidebar, or None.
    The manifest row carries the timeline's words (with ``--align``) as the transcript to align and the
    language the timeline was told (``--language``; none: the checkpoint's, as the timeline did)."""
    stem, i = st.session_state.get("recording"), int(st.session_state.get("utterance", 0))
    rec = load_recording(config, stem)
    row = rec.segments.iloc[i]
    if rec.audio is None:
        st.warning(f"{stem}: the recording {rec.summary.get('recording')} is not where the timeline found it; "
                   "start the explorer with --audio-root DIR (the directory that holds it now).")
        return None
    path = src.allowed_path(rec.audio, config.roots)
    st_ = path.stat()
    clip = cut_utterance(str(path), st_.st_mtime, st_.st_size, stem, float(row["start"]), float(row["heard_start"]),
                         float(row["heard_end"]))
    # the row the library plans the annotation from: the timeline's words (with --align) and its --language
    lang = (rec.summary.get("per_utterance") or {}).get("language")
    text = str(row.get("text", "") or "").strip()
    manifest_row = tuple((k, v) for k, v in (("language", lang), ("transcript", text)) if v)
    view_row = pd.Series({"emotion": "", "recording": rec, "index": i, "segment": row})
    first, end = tl.heard_frames(row)
    key = f"{file_digest(str(path), st_.st_mtime, st_.st_size)}:{clip.clip_id}:{first}-{end}"
    return key, clip, "", view_row, manifest_row


# ---------------------------------------------------------------------------------------------
# views


def utterance_note(res, row):
    """In the clip view: where an utterance comes from, what the timeline said, and the way back."""
    rec, seg, i = row["recording"], row["segment"], row["index"]
    c1, c2 = st.columns([4, 1])
    c1.caption(f"Utterance #{i + 1} of {Path(str(rec.summary.get('recording'))).name}: "
               f"{seg['start']:.2f}-{seg['end']:.2f} s (the model heard {seg['heard_start']:.2f}-"
               f"{seg['heard_end']:.2f} s, with the pause around it). The timeline said {seg['emotion']} "
               f"{float(seg['confidence']):.2f} with {Path(rec.checkpoint).name}.")
    used = Path(str(res.summary.get("checkpoint", ""))).name
    if rec.checkpoint and Path(rec.checkpoint).name != used:
        c1.warning(f"Explained with {used}, not the timeline's checkpoint {Path(rec.checkpoint).name}: the numbers "
                   "differ from the timeline's.")
    c2.button("Back to the recording", key="back_to_recording",
              on_click=lambda: st.session_state.update({"view": "Recording"}))


def recording_view(config):
    if config.timeline is None:
        st.info("The recording view reads a timeline directory: start with `explain-ser explore --timeline DIR` "
                "(written by `explain-ser timeline`).")
        return
    stem = st.session_state.get("recording")
    if stem is None:
        return
    rec = load_recording(config, stem)
    seg, s = rec.segments, rec.summary
    st.subheader(f"Recording {Path(str(s.get('recording'))).name}  ·  {rec.duration:.1f} s  ·  "
                 f"{len(seg)} utterances")
    shares = ", ".join(f"{c} {100 * v:.0f} %" for c, v in sorted((s.get("emotion_share_of_speech") or {}).items(),
                                                                  key=lambda kv: -kv[1]) if v > 0)
    per = s.get("per_utterance") or {}
    st.caption(f"{s.get('speech_s', 0):.1f} s of speech ({(s.get('segmentation') or {}).get('vad', '?')} VAD); "
               f"checkpoint {Path(rec.checkpoint).name}; {per.get('context_s', '?')} s of context per utterance. "
               f"Share of the speech time per predicted emotion: {shares or 'no speech found'}.")
    if rec.audio is None:
        st.warning(f"The recording {s.get('recording')} is not where the timeline found it: utterances cannot be "
                   "played or opened (start with --audio-root DIR, the directory that holds it now).")
    else:
        st.audio(str(src.allowed_path(rec.audio, config.roots)))
    heat, heads, step = load_heat(config, stem)
    selected = st.session_state.get("utterance") if st.session_state.get("_recording") == stem else None
    st.plotly_chart(figs.recording_figure(seg, heat, heads, step, rec.labels, rec.duration, selected=selected),
                    key="timeline", on_select=lambda: _open_from_figure(config), selection_mode=("points", "box"),
                    config={"displaylogo": False, "scrollZoom": True})
    if not len(seg):
        st.info("No utterance was found in this recording.")
        return
    labels = [utterance_label(i, seg.iloc[i]) for i in range(len(seg))]
    pick = st.columns([3, 1])
    pick[0].selectbox("Open utterance", list(range(len(seg))), key="utt_pick", label_visibility="collapsed",
                      format_func=lambda i: labels[i])
    pick[1].button("Open in clip view", key="open_utt", disabled=rec.audio is None,
                   on_click=lambda: open_utterance(config, stem, st.session_state["utt_pick"]))
    st.markdown("**Utterances** (select a row to open it)")
    shown = [c for c in ("start", "end", "speaker", "emotion", "confidence", "att_k80", "top_start", "top_end", "text")
             if c in seg]
    st.dataframe(seg[shown], hide_index=True, key="utt_table", on_select=lambda: _open_from_table(config),
                 selection_mode="single-row",
                 column_config={"confidence": st.column_config.ProgressColumn("confidence", format="%.2f",
                                                                              min_value=0.0, max_value=1.0)})
