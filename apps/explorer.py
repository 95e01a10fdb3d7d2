"""explain_ser attention explorer (Streamlit): listen, look and compare.

Run it with ``explain-ser explore [--report DIR] [--manifest CSV] [--timeline DIR]`` or directly::

    streamlit run apps/explorer.py -- --report out/report --manifest data/manifest.csv

Views: **Clip** (spectrogram with per-head attention, attributions, word/phone/vocalization tiers,
F0/intensity, probabilities, coverage curve, top segments you can play, downloads), **Recording**
(an ``explain-ser timeline`` output: each recording's utterances with their emotion and confidence,
the attention of every head on top; select an utterance to open it in the clip view), **Corpus**
(a report directory's coverage, enrichment, k@0.8 and confusion; select a point to open its clip)
and **Compare** (two checkpoints, or two heads of one, on the same clip).

The app holds no analysis of its own: every number comes from :mod:`explain_ser` (the
:class:`explain_ser.api.Explainer`, :mod:`explain_ser.coverage`, the report's and the timeline's
tables). A clip from a manifest or a report is explained with its row (language, transcript), as
``explain-ser report`` explains it; an utterance of a timeline is the very stretch of the recording
the timeline explained. It reads audio only from ``examples/``, the manifest's and the report's
directories, the timeline directory and the recordings it names (and ``--audio-root``).
"""

from __future__ import annotations

import io
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

import _explorer_calls as calls  # noqa: E402
import _explorer_figures as figs  # noqa: E402
import _explorer_recording as recording  # noqa: E402
import _explorer_sources as src  # noqa: E402
from explain_ser import plots  # noqa: E402
from explain_ser.errors import InputError  # noqa: E402
from explain_ser.ordering import natural_key  # noqa: E402

st.set_page_config(page_title="explain_ser explorer", page_icon="🎧", layout="wide")

METHODS = ("ig", "occlusion")
VIEWS = ("Clip", "Recording", "Corpus", "Compare")
SAMPLE_RATE = 16_000
CONFIG = src.load_config()


# ---------------------------------------------------------------------------------------------
# cached library calls


@st.cache_resource(max_entries=16, show_spinner=False)
def decode_upload(digest: str, name: str, _data: bytes):
    """An uploaded file as a Clip, decoded by the library (written to a private temp file first)."""
    from explain_ser.audio import load_audio

    suffix = Path(name).suffix.lower()
    with tempfile.TemporaryDirectory(prefix="explain_ser_upload_") as d:
        f = Path(d) / f"upload{suffix}"
        f.write_bytes(_data)
        try:
            clip = load_audio(f)
        except InputError as err:  # name the user's file, not our temp copy
            raise InputError(name, (err.problem or "").replace(str(f), name) or "not a readable audio file") from None
    return replace(clip, path=None, clip_id=Path(name).stem or "upload")


@st.cache_data(max_entries=1024, show_spinner=False)
def file_digest(path: str, mtime: float, size: int) -> str:
    """sha256 of an (allowed) audio file's bytes: the explanation cache key."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@st.cache_data(max_entries=1024, show_spinner=False)
def sidecar_transcript(path: str, stamp: float) -> str:
    """The transcript in ``clip.txt`` beside ``clip.wav`` (as ``explain-ser attribute`` reads it), or ""."""
    from explain_ser.pipeline import transcript_beside

    src.allowed_path(Path(path).with_suffix(".txt"), CONFIG.roots)  # the sidecar, too, must lie in the roots
    try:
        return transcript_beside(path) or ""
    except InputError:  # an unreadable sidecar: explain without a transcript, as the CLI would refuse it
        return ""


@st.cache_data(show_spinner=False)
def load_report(path: str, stamp: float) -> dict:
    return src.read_report(Path(path))


@st.cache_data(show_spinner=False)
def load_manifest(path: str, stamp: float) -> pd.DataFrame:
    from explain_ser.corpora import read_manifest

    return read_manifest(path)


@st.cache_data(show_spinner=False)
def checkpoint_names(extra: tuple) -> list[str]:
    from explain_ser.model import available_checkpoints

    names = available_checkpoints()
    from explain_ser.api import DEFAULT_CHECKPOINT  # the library's default comes first

    if DEFAULT_CHECKPOINT in names:
        names = [DEFAULT_CHECKPOINT] + [n for n in names if n != DEFAULT_CHECKPOINT]
    return names + [e for e in extra if e not in names]


def figure_png(res) -> bytes:
    fig = res.figure()
    buf = io.BytesIO()
    plots.save_figure(fig, buf, format="png")
    return buf.getvalue()


def _stamp(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


# ---------------------------------------------------------------------------------------------
# inputs: report, manifest, catalogue


def load_inputs():
    report = manifest = None
    if CONFIG.report is not None:
        try:
            report = load_report(str(CONFIG.report), _stamp(CONFIG.report / "tables" / "clip_metrics.csv"))
        except InputError as err:
            st.sidebar.error(f"Report not loaded: {err}")
    if CONFIG.manifest is not None:
        try:
            manifest = load_manifest(str(CONFIG.manifest), _stamp(CONFIG.manifest))
        except InputError as err:
            st.sidebar.error(f"Manifest not loaded: {err}")
    return report, manifest, src.catalogue(CONFIG, manifest, report)


def open_clip(clip_id: str):
    """Callback: show ``clip_id`` in the clip view (filters cleared so that it is listed)."""
    cat = st.session_state.get("_catalogue")
    if cat is None:
        return
    rows = cat[cat["clip_id"].astype(str) == str(clip_id)]
    # the report's own row first (it carries the true label and k@0.8), then any playable one
    rank = rows["source"].str.contains("report").astype(int) * 2 + rows["available"].astype(int) * 3
    rows = rows.loc[rank.sort_values(ascending=False, kind="stable").index]
    if not len(rows):
        st.session_state["_notice"] = f"clip {clip_id} is not in the catalogue"
        return
    st.session_state.update({"clip": rows.iloc[0]["key"], "view": "Clip", "source": "Library",
                             "f_emotion": [], "f_speaker": [], "f_correct": "all"})
    st.session_state.pop("f_k", None)


def _open_from_chart():
    sel = st.session_state.get("k_strip")
    points = (sel or {}).get("selection", {}).get("points", []) if sel else []
    ids = [p.get("customdata") for p in points if p.get("customdata")]
    if ids:
        cid = ids[0][0] if isinstance(ids[0], (list, tuple)) else ids[0]
        open_clip(str(cid))


def _open_from_table():
    sel = st.session_state.get("clip_table")
    rows = (sel or {}).get("selection", {}).get("rows", []) if sel else []
    table = st.session_state.get("_clip_table_ids")
    if rows and table is not None:
        open_clip(str(table[rows[0]]))


# ---------------------------------------------------------------------------------------------
# sidebar


def sidebar(cat: pd.DataFrame, checkpoints: list[str]):
    sb = st.sidebar
    sb.title("explain_ser explorer")
    sb.radio("View", VIEWS, key="view", horizontal=True)
    if not checkpoints:
        sb.error("No checkpoint installed. Start with `explain-ser explore --checkpoint DIR`.")
        return None
    sb.selectbox("Checkpoint", checkpoints, key="checkpoint", format_func=lambda c: Path(c).name,
                 help="shipped checkpoints and --checkpoint directories")
    with sb.expander("Explanation options"):
        st.multiselect("Attribution methods", list(METHODS), key="methods")
        st.checkbox("Align words / phones / vocalizations", key="align")
        st.checkbox("Prosody (F0, intensity)", key="prosody")
        taggers = calls.tagger_names(tuple(CONFIG.taggers))
        recording.remembered("tagger", taggers)
        st.selectbox("Vocalization tagger", taggers, key="tagger", format_func=lambda t: Path(t).name,
                     help="the library's default first; 'rules': the rule-based tags between words; then the "
                          "shipped taggers and directories given with --tagger")
    if st.session_state.get("view") == "Recording":
        return "recording" if recording.recording_selector(CONFIG, sb) else None
    sources = ("Library", "Upload") + (("Recording",) if CONFIG.timeline is not None else ())
    if st.session_state.get("source") not in sources:
        st.session_state["source"] = "Library"
    sb.radio("Clip source", sources, key="source", horizontal=True,
             help="Library: examples/, the manifest and the report given at launch. Recording: an utterance of "
                  "the timeline given at launch.")
    if st.session_state.get("source") == "Recording":
        return "recording" if recording.utterance_selector(CONFIG, sb) else None
    if st.session_state.get("source") == "Upload":
        sb.file_uploader(f"Audio file ({', '.join(src.UPLOAD_TYPES)}; at most {src.MAX_UPLOAD_MB} MB)",
                         type=list(src.UPLOAD_TYPES), key="upload", max_upload_size=src.MAX_UPLOAD_MB)
        sb.text_input("Transcript (optional; improves the alignment)", key="upload_transcript")
        return "upload"
    with sb.expander("Filter clips", expanded=False):
        emotions = sorted({e for e in cat["emotion"] if e}, key=natural_key)
        speakers = sorted({s for s in cat["speaker"] if s}, key=natural_key)
        if emotions:
            st.multiselect("True emotion", emotions, key="f_emotion")
        if speakers:
            st.multiselect("Speaker", speakers, key="f_speaker")
        if (cat["predicted"] != "").any():
            st.radio("Prediction", ("all", "correct", "wrong"), key="f_correct", horizontal=True)
        k = cat["k08"].dropna()
        if len(k) > 1 and k.max() > k.min():
            lo, hi = float(np.floor(k.min() * 100) / 100), float(np.ceil(k.max() * 100) / 100)
            cur = st.session_state.get("f_k")
            if cur is None or cur[0] < lo or cur[1] > hi:
                st.session_state["f_k"] = (lo, hi)
            st.slider("k@0.8 (report, mean head)", lo, hi, step=0.01, key="f_k")
    shown = src.filter_catalogue(cat, st.session_state.get("f_emotion", []), st.session_state.get("f_speaker", []),
                                 st.session_state.get("f_correct", "all"), st.session_state.get("f_k"))
    options = list(shown["key"])
    if not options:
        sb.warning("No clip matches the filters.")
        return None
    if st.session_state.get("clip") not in options:
        first_available = shown[shown["available"]]
        st.session_state["clip"] = (first_available if len(first_available) else shown).iloc[0]["key"]
    labels = dict(zip(cat["key"], cat.apply(src.label_of, axis=1)))
    sb.selectbox(f"Clip ({len(options)} of {len(cat)}; type to search)", options, key="clip",
                 format_func=lambda k: labels.get(k, k))
    return "library"


# ---------------------------------------------------------------------------------------------
# the current clip


def manifest_row(row) -> tuple:
    """The catalogue row's columns the library reads from a manifest row (language, transcript), non-empty."""
    return tuple((k, str(row[k])) for k in ("language", "transcript") if k in row and str(row[k]).strip())


def current_clip(mode: str | None, cat: pd.DataFrame):
    """(cache key, Clip or path, typed transcript, catalogue row or None, manifest row pairs); None when there is
    nothing to show."""
    if mode == "recording":
        return recording.current_utterance(CONFIG, file_digest)
    if mode == "upload":
        up = st.session_state.get("upload")
        if up is None:
            st.info(f"Upload an audio file ({', '.join(src.UPLOAD_TYPES)}, at most {src.MAX_UPLOAD_MB} MB) "
                    "in the sidebar.")
            return None
        data = up.getvalue()
        try:
            src.check_upload(up.name, data)
            import hashlib

            digest = hashlib.sha256(data).hexdigest()
            clip = decode_upload(digest, up.name, data)
        except InputError as err:
            st.error(f"Cannot use this upload. {err}")
            return None
        return f"{digest}:{clip.clip_id}", clip, st.session_state.get("upload_transcript", "").strip(), None, ()
    if mode != "library":
        return None
    row = cat[cat["key"] == st.session_state.get("clip")]
    if not len(row):
        return None
    row = row.iloc[0]
    if not row["available"]:
        st.warning(f"{row['clip_id']}: {row['note']}. Its report metrics:")
        report = st.session_state.get("_report") or {}
        if "clip_metrics" in report:
            st.dataframe(report["clip_metrics"][report["clip_metrics"]["clip_id"].astype(str) == row["clip_id"]],
                         hide_index=True)
        return None
    path = src.allowed_path(row["path"], CONFIG.roots)
    # the same sound under the same name is explained once, wherever it is stored (e.g. a report's copy); the
    # key holds the transcript beside the file, which the library reads when the row has none
    st_ = path.stat()
    beside = "" if row["transcript"] else sidecar_transcript(str(path), _stamp(path.with_suffix(".txt")))
    key = f"{file_digest(str(path), st_.st_mtime, st_.st_size)}:{path.stem}:{beside}"
    return key, str(path), "", row, manifest_row(row)


def run_explain(checkpoint: str, clip_info):
    key, clip, transcript, _, row = clip_info
    methods = tuple(m for m in METHODS if m in st.session_state.get("methods", METHODS))
    tagger = st.session_state.get("tagger") or calls.default_tagger()
    with st.spinner(f"Explaining with {Path(checkpoint).name} ..."):
        if isinstance(clip, str):
            clip = calls.load_clip(key, clip)
        return calls.explain(checkpoint, key, transcript or "", row, methods, bool(st.session_state.get("align", True)),
                       bool(st.session_state.get("prosody", True)), tagger, clip)


# ---------------------------------------------------------------------------------------------
# views


def clip_view(res, row, report):
    heads_all = ["mean"] + [h for h in res.attention if h != "mean"]
    true = row["emotion"] if row is not None and row["emotion"] else None
    st.subheader(f"Clip {res.clip.clip_id}  ·  {res.clip.duration:.2f} s  ·  {res.clip.n_frames} frames")
    if row is not None and "recording" in row:
        recording.utterance_note(res, row)
    c1, c2, c3 = st.columns([1.2, 1, 1.3])
    with c1:
        st.audio(res.clip.samples, sample_rate=SAMPLE_RATE)
        m1, m2, m3 = st.columns(3)
        m1.metric("Predicted", res.predicted, help="argmax of the classifier's probabilities")
        m2.metric("True label", true or "–", help="from the manifest or the report")
        k = res.summary.get("concentration", {}).get("mean", {}).get("k@0.8")
        m3.metric("k@0.8", f"{k:.2f}" if k is not None else "n/a",
                  help="mean head: fraction of frames holding 80 % of the attention (uniform: 0.80)")
        al = res.summary.get("alignment") or {}
        lang = res.info.get("language") or {}
        notes = [f"language: {lang.get('language')} ({lang.get('source')})", f"aligner: {al.get('backend') or 'none'}"]
        tagger = (res.info.get("vocalization_tagger") or {}).get("name")
        notes.append(f"vocalizations: {tagger or 'rules'}")
        if al.get("transcript"):
            notes.append(f"transcript: “{al['transcript']}”")
        if res.info.get("alignment_error"):
            notes.append(f"alignment failed: {res.info['alignment_error']}")
        st.caption(" · ".join(notes))
    with c2:
        st.plotly_chart(figs.probability_figure(res.labels, res.probabilities), key="probabilities",
                        config={"displaylogo": False})
    with c3:
        if st.session_state.get("heads") is None:
            st.session_state["heads"] = heads_all
        else:
            st.session_state["heads"] = [h for h in st.session_state["heads"] if h in heads_all]
        st.multiselect("Attention heads", heads_all, key="heads",
                       help="the mean over heads is black; click legend entries to hide lines too")
        st.caption(f"checkpoint: {res.summary.get('checkpoint', '')} · pooler {res.summary.get('pooler')} · "
                   f"taps {res.summary.get('taps')}")
    heads = st.session_state.get("heads", heads_all)
    st.plotly_chart(figs.clip_figure(res, heads), key="spectrogram", config={"displaylogo": False, "scrollZoom": True})

    left, right = st.columns([1, 1.3])
    with left:
        st.markdown("**Coverage: this clip vs uniform and the corpus**")
        corpus = median_k = None
        if report is not None:
            cc = report.get("coverage_curves")
            if cc is not None:
                corpus = cc[(cc["grouping"] == "head") & (cc["head"].astype(str) == "mean")]
                corpus = corpus.assign(head="mean (mean head)")  # the legend says which corpus curve it is
            cm = report.get("clip_metrics")
            if cm is not None:
                median_k = float(cm.loc[cm["head"].astype(str) == "mean", "k@0.8"].median())
        lo, hi = res.span or (0, res.clip.n_frames)  # coverage over the frames the model saw
        clip_curves = {h: res.attention[h][lo:hi] for h in heads if h in res.attention}
        st.plotly_chart(plots.coverage_plotly(corpus, by="head", clips=clip_curves, median_k=median_k,
                                              height=380, width=None), key="clip_coverage",
                        config={"displaylogo": False})
        if report is None:
            st.caption("Start with --report DIR to draw the corpus curve.")
    with right:
        st.markdown("**Top attended segments** (mean head, top 15 % frames)")
        segs = res.summary.get("top_segments", [])
        if segs:
            table = pd.DataFrame([{"start (s)": s["start"], "end (s)": s["end"], "mass": s["mass"],
                                   "words": " ".join(s.get("words", [])), "phones": " ".join(s.get("phones", [])),
                                   "vocalizations": " ".join(s.get("vocalizations", []))} for s in segs])
            st.dataframe(table, hide_index=True, column_config={"mass": st.column_config.ProgressColumn(
                "mass", format="%.3f", min_value=0.0, max_value=float(max(table["mass"].max(), 1e-9)))})
            names = [f"#{i + 1}: {g['start']:.2f}-{g['end']:.2f} s ({' '.join(g.get('words', [])) or '-'})"
                     for i, g in enumerate(segs)]
            if st.session_state.get("segment") not in names:  # a new clip: start from its top segment
                st.session_state["segment"] = names[0]
            seg = segs[names.index(st.selectbox("Play a segment", names, key="segment"))]
            pad = 0.1  # a little context either side
            a = int(max(0.0, seg["start"] - pad) * SAMPLE_RATE)
            b = int(min(res.clip.duration, seg["end"] + pad) * SAMPLE_RATE)
            st.audio(res.clip.samples[a:b], sample_rate=SAMPLE_RATE)
            st.caption(f"segment ±{pad:.1f} s of context")
        else:
            st.caption("no segments")
        d1, d2 = st.columns(2)
        stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in res.clip.clip_id) or "clip"
        d1.download_button("FrameTable (CSV)", res.frames.to_csv(index=False), file_name=f"{stem}.frames.csv",
                           mime="text/csv", key="dl_csv")
        d2.download_button("Figure (PNG)", lambda: figure_png(res), file_name=f"{stem}.png", mime="image/png",
                           key="dl_png")
    with st.expander("FrameTable"):
        st.dataframe(res.frames, hide_index=True, height=300)


def corpus_view(report, cat):
    if report is None:
        st.info("The corpus view reads a report directory: start with `explain-ser explore --report DIR` "
                "(written by `explain-ser report`).")
        return
    st.subheader(f"Corpus report: {CONFIG.report.name}")
    cm = report["clip_metrics"]
    # group by emotion only when the corpus is labelled: one "" group says nothing
    by = "emotion" if "emotion" in cm and (cm["emotion"].astype(str) != "").any() else "head"
    top = st.columns(2)
    with top[0]:
        if "classification" in report:
            st.markdown("**Classification**")
            st.dataframe(report["classification"], hide_index=True)
        if "confusion" in report:
            st.plotly_chart(plots.confusion_plotly(src.confusion_matrix(report["confusion"]),
                                                   title="Confusion matrix (row %)"), key="confusion")
    with top[1]:
        st.markdown("**k@0.8 per clip**: box- or lasso-select a point to open that clip")
        st.plotly_chart(figs.k_strip_figure(cm, by=by), key="k_strip",
                        on_select=_open_from_chart, selection_mode=("points", "box", "lasso"))
        ids = cm.loc[cm["head"].astype(str) == "mean", "clip_id"].astype(str).tolist()
        pick = st.columns([3, 1])
        choice = pick[0].selectbox("Open clip", ids, key="corpus_pick", label_visibility="collapsed")
        pick[1].button("Open in clip view", on_click=lambda: open_clip(st.session_state["corpus_pick"]),
                       key="open_pick", disabled=choice is None)
    cc = report.get("coverage_curves")
    mid = st.columns(2)
    if cc is not None:
        if (cc["grouping"] == "emotion").any():
            mid[0].plotly_chart(plots.coverage_plotly(cc[cc["grouping"] == "emotion"], by="emotion",
                                                      title="Coverage by emotion (mean head, 95 % CI)"),
                                key="cov_emotion")
        mid[1].plotly_chart(plots.coverage_plotly(cc[cc["grouping"] == "head"], by="head",
                                                  title="Coverage by head (95 % CI)"), key="cov_head")
    low = st.columns(2)
    low[0].plotly_chart(plots.k_distribution_plotly(cm, by=by,
                                                    title="k@0.8 per clip (mean head)"), key="k_box")
    low[1].plotly_chart(plots.k_distribution_plotly(cm, by="head", head=None, title="k@0.8 per head"), key="k_head")
    if "enrichment" in report:
        enr = report["enrichment"]
        fams = sorted(enr["family"].astype(str).unique())
        default = [f for f in fams if f != "phone"] or fams
        st.session_state.setdefault("enr_families", default)
        chosen = st.multiselect("Enrichment families", fams, key="enr_families")
        heads = sorted(enr["head"].astype(str).unique(), key=natural_key)
        if st.session_state.get("enr_head") not in heads:
            st.session_state["enr_head"] = "mean" if "mean" in heads else heads[0]
        head = st.selectbox("Head", heads, key="enr_head")
        st.plotly_chart(plots.enrichment_plotly(enr, head=head, families=chosen,
                                                title="Attention enrichment (grey: circular-shift null; "
                                                      "* BH q<0.05)"), key="enrichment")
    st.markdown("**Clips** (select a row to open it)")
    table = cm[cm["head"].astype(str) == "mean"].drop(columns=["head"]).reset_index(drop=True)
    st.session_state["_clip_table_ids"] = table["clip_id"].astype(str).tolist()
    st.dataframe(table, hide_index=True, key="clip_table", on_select=_open_from_table, selection_mode="single-row")


def compare_view(clip_info, checkpoints):
    st.subheader("Compare: two checkpoints (or two heads) on one clip")
    cols = st.columns(2)
    results = []
    # defaults: two checkpoints when there are two, else two heads (h0, h1) of the one checkpoint
    for side, default_ckpt in (("A", checkpoints[0]), ("B", checkpoints[min(1, len(checkpoints) - 1)])):
        if st.session_state.get(f"cmp{side}_ckpt") not in checkpoints:
            st.session_state[f"cmp{side}_ckpt"] = default_ckpt
    one_ckpt = st.session_state["cmpA_ckpt"] == st.session_state["cmpB_ckpt"]
    for side, col in zip(("A", "B"), cols):
        with col:
            ck = st.selectbox(f"Checkpoint {side}", checkpoints, key=f"cmp{side}_ckpt",
                              format_func=lambda c: Path(c).name)
            res = run_explain(ck, clip_info)
            heads = ["mean"] + [h for h in res.attention if h != "mean"]
            if st.session_state.get(f"cmp{side}_head") not in heads:
                want = ("h0" if side == "A" else "h1") if one_ckpt else "mean"
                st.session_state[f"cmp{side}_head"] = want if want in heads else "mean"
            head = st.selectbox(f"Head {side}", heads, key=f"cmp{side}_head")
            st.caption(f"pooler {res.summary.get('pooler')} · taps {res.summary.get('taps')}")
            conc = res.summary.get("concentration", {}).get(head, {})
            m = st.columns(3)
            m[0].metric("Predicted", res.predicted)
            m[1].metric("p", f"{float(np.max(res.probabilities)):.2f}")
            m[2].metric(f"k@0.8 ({head})", f"{conc.get('k@0.8', float('nan')):.2f}")
            st.plotly_chart(figs.clip_figure(res, [head], methods=[], tiers=("word",), prosody=False, height=360),
                            key=f"cmp{side}_fig")
            st.plotly_chart(figs.probability_figure(res.labels, res.probabilities, height=220), key=f"cmp{side}_prob")
            results.append((f"{side}: {Path(ck).name} / {head}", res, head))
    both = st.columns(2)
    both[0].markdown("**Attention over time**")
    both[0].plotly_chart(figs.attention_overlay_figure(results), key="cmp_overlay")
    both[1].markdown("**Coverage curves**")
    cov = plots.coverage_plotly(clips={label: res.attention[head][slice(*(res.span or (0, None)))]
                                       for label, res, head in results},
                                clip_prefix="", clip_colors={label: plots.HEAD_PALETTE[i % len(plots.HEAD_PALETTE)]
                                                             for i, (label, _, _) in enumerate(results)},
                                height=380, width=None)
    both[1].plotly_chart(cov, key="cmp_coverage")


# ---------------------------------------------------------------------------------------------
# main


DEFAULTS = {"view": "Clip", "source": "Library", "methods": list(METHODS), "align": True, "prosody": True,
            "f_emotion": [], "f_speaker": [], "f_correct": "all"}


def main():
    for k, v in DEFAULTS.items():
        st.session_state.setdefault(k, v)
    report, manifest, cat = load_inputs()
    st.session_state["_catalogue"] = cat
    st.session_state["_report"] = report
    checkpoints = checkpoint_names(tuple(CONFIG.checkpoints))
    st.session_state["_checkpoints"] = checkpoints
    try:
        mode = sidebar(cat, checkpoints)
    except InputError as err:  # a timeline file changed under the app
        st.error(str(err))
        return
    notice = st.session_state.pop("_notice", None)
    if notice:
        st.warning(notice)
    view = st.session_state.get("view", "Clip")
    if view == "Corpus":
        corpus_view(report, cat)
        return
    if view == "Recording":
        try:
            recording.recording_view(CONFIG)
        except InputError as err:
            st.error(str(err))
        return
    if not checkpoints:
        st.error("No checkpoint to explain with.")
        return
    try:
        info = current_clip(mode, cat)
        if info is None:
            return
        if view == "Compare":
            compare_view(info, checkpoints)
        else:
            res = run_explain(st.session_state["checkpoint"], info)
            clip_view(res, info[3], report)
    except InputError as err:
        st.error(str(err))


main()
