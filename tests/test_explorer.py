"""The Streamlit explorer (apps/explorer.py) through Streamlit's AppTest, its helpers, and `explain-ser explore`.

AppTest runs the script in this process, so the Explainer (Whisper tiny.en + checkpoint) is loaded
once (``st.cache_resource``) and shared by the tests. Without a shipped ``ravdess-tiny.en`` checkpoint
an untrained one is written to a temp dir: these tests check the app's flows, not the model.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _env import EXAMPLES, ROOT, needs_tiny

APP = ROOT / "apps" / "explorer.py"
sys.path.insert(0, str(ROOT / "apps"))

import _explorer_sources as src  # noqa: E402

from explain_ser.errors import InputError  # noqa: E402

TIMEOUT = 180  # seconds per AppTest run (a clip is explained on first view: 2-15 s on 2 cores)


# ---------------------------------------------------------------------------------------------
# fixtures


def make_checkpoint(out: Path) -> str:
    """An untrained 4-head MHAAP checkpoint on tiny.en tap 3 (only the app's flows are tested)."""
    import torch

    from explain_ser.model import SERModel, save_checkpoint
    from explain_ser.weights import resolve_source, source_hash

    torch.manual_seed(0)
    model = SERModel(labels=["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"],
                     dim=384, taps=[3], n_taps=5, pooler="mhaap", pooler_hparams={"n_heads": 4}).eval()
    enc = {"source": "tiny.en", "weights_hash": source_hash(resolve_source("tiny.en")), "dim": 384, "n_taps": 5,
           "window": "trim"}
    return str(save_checkpoint(model, out, encoder=enc, training={"note": "untrained, for tests"}))


@pytest.fixture(scope="session")
def explorer_checkpoints(tmp_path_factory):
    """Extra checkpoint paths for EXPLAIN_SER_CHECKPOINTS ("" when a shipped one exists)."""
    from explain_ser.model import available_checkpoints

    if available_checkpoints():
        return ""
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "untrained-tiny.en")


@pytest.fixture(scope="session")
def report_dir(tmp_path_factory):
    """A real report (write_report over a synthetic corpus) whose clips are the three examples,
    copied into report/audio/ with relative paths in clip_meta."""
    from explain_ser import report

    out = tmp_path_factory.mktemp("report")
    frames, meta = report.synthetic_corpus(n_speakers=1, clips_per_speaker=3, seed=1,
                                           emotions=("calm", "happy", "sad"))
    names = ["calm_statement", "excited_question", "laugh_breath"]
    ids = dict(zip(meta["clip_id"], names))
    frames["clip_id"] = frames["clip_id"].map(ids)
    meta["clip_id"] = meta["clip_id"].map(ids)
    meta["path"] = [f"audio/{n}.wav" for n in names]
    (out / "audio").mkdir()
    for n in names:
        shutil.copy(EXAMPLES / f"{n}.wav", out / "audio" / f"{n}.wav")
        shutil.copy(EXAMPLES / f"{n}.txt", out / "audio" / f"{n}.txt")  # same sound + transcript: cache hit
    # the explorer reads the tables only: skip rasterising PNGs and the HTML page to save ~5 s
    mp = pytest.MonkeyPatch()
    from explain_ser import report_html

    mp.setattr(report_html, "save_png", lambda fig, path: Path(path))
    mp.setattr(report_html, "_page", lambda *a, **k: "")
    try:
        report.write_report(frames, meta, out, n_boot=20, n_perm=20)
    finally:
        mp.undo()
    return out


@pytest.fixture
def app_env(monkeypatch, explorer_checkpoints):
    for var in ("EXPLAIN_SER_REPORT", "EXPLAIN_SER_MANIFEST", "EXPLAIN_SER_AUDIO_ROOTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EXPLAIN_SER_CHECKPOINTS", explorer_checkpoints)
    return monkeypatch


def new_app(**state):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for k, v in state.items():
        at.session_state[k] = v
    return at


def assert_clean(at):
    assert not at.exception, [e.value for e in at.exception]


def chart_spec(at, key: str) -> dict:
    for el in at.get("plotly_chart"):
        if el.proto.id.endswith(f"-{key}"):
            return json.loads(el.proto.spec)
    raise AssertionError(f"no plotly chart {key!r}")


def trace_names(spec: dict) -> list[str]:
    return [t.get("name", "") for t in spec["data"]]


def metric(at, label: str) -> str:
    vals = [m.value for m in at.metric if m.label == label]
    assert vals, f"no metric {label!r}: {[m.label for m in at.metric]}"
    return vals[0]


# ---------------------------------------------------------------------------------------------
# AppTest flows


@needs_tiny
def test_clip_view_select_toggle_play(app_env):
    at = new_app().run()
    assert_clean(at)
    at_labels = at.session_state["_catalogue"]
    assert set(at_labels["clip_id"]) >= {"calm_statement", "excited_question", "laugh_breath"}
    pred = metric(at, "Predicted")
    assert pred in json.dumps(chart_spec(at, "probabilities"))
    names = trace_names(chart_spec(at, "spectrogram"))
    heads = [n for n in names if n.startswith("attention ") and n != "attention mean"]
    assert heads, names  # every head of the checkpoint's pooler is drawn (h0.. or q0h0.. for MQMHA)
    first = heads[0]
    assert {"attention mean", first, "attribution ig", "attribution occlusion", "F0 (Hz)"} <= set(names)
    assert any(n == "words" for n in names)  # the word tier was drawn

    # toggle heads: only the mean remains over the spectrogram
    at.multiselect(key="heads").set_value(["mean"]).run()
    assert_clean(at)
    names = trace_names(chart_spec(at, "spectrogram"))
    assert "attention mean" in names and first not in names

    # select another clip (searchable selectbox over the catalogue)
    at.selectbox(key="clip").set_value("examples:excited_question").run()
    assert_clean(at)
    assert any("excited_question" in h.value for h in at.subheader)
    # play the second top segment: a second audio player holds just that stretch
    assert len(at.get("audio")) == 2
    segs = at.selectbox(key="segment").options
    assert at.selectbox(key="segment").value == segs[0]  # a new clip starts at its top segment
    if len(segs) > 1:
        at.selectbox(key="segment").set_value(segs[1]).run()
        assert_clean(at)
        assert at.selectbox(key="segment").value == segs[1]
    assert [b.label for b in at.get("download_button")] == ["FrameTable (CSV)", "Figure (PNG)"]


@needs_tiny
def test_corpus_view_opens_clip_and_compare(app_env, report_dir):
    app_env.setenv("EXPLAIN_SER_REPORT", str(report_dir))
    at = new_app(view="Corpus").run()
    assert_clean(at)
    assert not at.error, [e.value for e in at.error]
    keys = {el.proto.id for el in at.get("plotly_chart")}
    assert len(keys) >= 6  # confusion, k strip, 2 coverage, 2 k distributions, enrichment
    # open a clip from the corpus view: the clip view shows it, with the corpus curve
    at.selectbox(key="corpus_pick").set_value("excited_question")
    at.button(key="open_pick").click().run()
    assert_clean(at)
    assert at.session_state["view"] == "Clip" and at.session_state["clip"] == "report:excited_question"
    assert metric(at, "True label") == "happy"  # the report's label travels with the clip
    names = trace_names(chart_spec(at, "clip_coverage"))
    assert "corpus mean (mean head)" in names and any(n.startswith("corpus median k@0.8") for n in names)

    # filter to wrong predictions: the clip list shrinks accordingly
    cat = at.session_state["_catalogue"]
    at.radio(key="f_correct").set_value("wrong").run()
    assert_clean(at)
    wrong = cat[(cat["predicted"] != "") & (cat["emotion"] != "") & (cat["predicted"] != cat["emotion"])]
    if len(wrong):
        assert len(at.selectbox(key="clip").options) == len(wrong)
    else:
        assert any("No clip matches" in w.value for w in at.warning)

    # compare view: two heads of one checkpoint (or two checkpoints) side by side on the same clip
    at.radio(key="f_correct").set_value("all").run()
    at.radio(key="view").set_value("Compare").run()
    assert_clean(at)
    assert len([m for m in at.metric if m.label == "Predicted"]) == 2
    names = trace_names(chart_spec(at, "cmp_overlay"))
    assert len(names) == 2 and names[0] != names[1]
    at.selectbox(key="cmpB_head").set_value("mean").run()
    assert_clean(at)


@needs_tiny
def test_upload_good_and_bad(app_env):
    at = new_app(source="Upload").run()
    assert_clean(at)
    assert not at.metric  # nothing explained before an upload
    up = at.sidebar.get("file_uploader")[0]

    up.set_value(("notes.wav", b"this is not audio at all" * 10, "audio/wav"))
    at.run()
    assert_clean(at)
    assert any("not a wav audio file" in e.value for e in at.error), [e.value for e in at.error]

    at.sidebar.get("file_uploader")[0].set_value(("big.wav", b"RIFF\0\0\0\0WAVE" + bytes(21 * 2**20), "audio/wav"))
    at.run()
    assert any("limit is 20 MB" in e.value for e in at.error), [e.value for e in at.error]

    # right header, broken body: the library's decoder refuses it, the app says so
    at.sidebar.get("file_uploader")[0].set_value(("broken.wav", b"RIFF\x10\0\0\0WAVEfmt garbage", "audio/wav"))
    at.run()
    assert_clean(at)
    assert any("broken.wav" in e.value for e in at.error), [e.value for e in at.error]

    data = (EXAMPLES / "excited_question.wav").read_bytes()
    at.sidebar.get("file_uploader")[0].set_value(("excited_question.wav", data, "audio/wav"))
    at.text_input(key="upload_transcript").set_value((EXAMPLES / "excited_question.txt").read_text())
    at.run()
    assert_clean(at)
    assert not at.error
    assert any("excited_question" in h.value for h in at.subheader)
    assert "transcript:" in " ".join(c.value for c in at.caption)
    metric(at, "Predicted")


# ---------------------------------------------------------------------------------------------
# helpers: paths, catalogue, uploads


def test_paths_outside_the_allowed_roots_are_refused(tmp_path):
    inside, outside = tmp_path / "corpus", tmp_path / "elsewhere"
    inside.mkdir(), outside.mkdir()
    for d in (inside, outside):
        shutil.copy(EXAMPLES / "calm_statement.wav", d / "a.wav")
    (inside / "link.wav").symlink_to(outside / "a.wav")
    manifest = inside / "manifest.csv"
    pd.DataFrame({"path": ["a.wav", str(outside / "a.wav"), "../elsewhere/a.wav", "link.wav", "missing.wav"],
                  "clip_id": ["ok", "abs_out", "dotdot", "symlink", "missing"],
                  "emotion": ["calm"] * 5}).to_csv(manifest, index=False)
    from explain_ser.corpora import read_manifest

    cfg = src.Config(manifest=manifest.resolve())
    cat = src.catalogue(cfg, read_manifest(manifest)).set_index("clip_id")
    assert cat.loc["ok", "available"]
    for cid in ("abs_out", "dotdot", "symlink"):
        assert not cat.loc[cid, "available"] and "outside" in cat.loc[cid, "note"]
    assert not cat.loc["missing", "available"] and cat.loc["missing", "note"] == "audio file missing"
    with pytest.raises(InputError, match="outside the directories"):
        src.allowed_path(inside / ".." / "elsewhere" / "a.wav", cfg.roots)
    with pytest.raises(InputError, match="outside"):
        src.allowed_path("/etc/passwd", cfg.roots)
    assert src.allowed_path(EXAMPLES / "laugh_breath.wav", cfg.roots).is_file()  # examples/ always readable
    # --audio-root widens the allowed set explicitly
    cfg2 = src.Config(manifest=manifest.resolve(), audio_roots=[outside.resolve()])
    assert src.catalogue(cfg2, read_manifest(manifest)).set_index("clip_id").loc["abs_out", "available"]


def test_config_from_argv_and_environment(tmp_path):
    env = {"EXPLAIN_SER_REPORT": str(tmp_path), "EXPLAIN_SER_CHECKPOINTS": f"/x/a{__import__('os').pathsep}/x/b"}
    cfg = src.load_config([], env)
    assert cfg.report == tmp_path.resolve() and cfg.checkpoints == ["/x/a", "/x/b"] and cfg.manifest is None
    cfg = src.load_config(["--manifest", str(tmp_path / "m.csv"), "--checkpoint", "/c", "--audio-root", "/r"], {})
    assert cfg.manifest == (tmp_path / "m.csv").resolve() and cfg.checkpoints == ["/c"]
    assert Path("/r").resolve() in cfg.roots and src.EXAMPLES in cfg.roots


def test_check_upload():
    wav = (EXAMPLES / "calm_statement.wav").read_bytes()
    assert src.check_upload("x.wav", wav) == "wav"
    assert src.check_upload("x.flac", b"fLaC" + bytes(40)) == "flac"
    assert src.check_upload("x.mp3", b"ID3" + bytes(40)) == "mp3"
    with pytest.raises(InputError, match="unsupported file type '.txt'"):
        src.check_upload("notes.txt", b"hello")
    with pytest.raises(InputError, match="not a wav audio file"):
        src.check_upload("x.wav", b"<html>" + bytes(40))
    with pytest.raises(InputError, match="empty"):
        src.check_upload("x.wav", b"")
    with pytest.raises(InputError, match="limit is 1 MB"):
        src.check_upload("x.wav", wav[:12] + bytes(2 * 2**20), max_mb=1)


def test_catalogue_filters_and_labels():
    cat = pd.DataFrame({"key": list("abcd"), "source": "report", "clip_id": list("abcd"), "path": "",
                        "transcript": "", "speaker": ["1", "1", "2", "2"], "gender": "",
                        "emotion": ["sad", "happy", "sad", "happy"], "predicted": ["sad", "sad", "", "happy"],
                        "k08": [0.2, 0.5, np.nan, 0.7], "available": True, "note": ""})
    assert src.filter_catalogue(cat, emotions=["sad"])["key"].tolist() == ["a", "c"]
    assert src.filter_catalogue(cat, correctness="wrong")["key"].tolist() == ["b"]
    assert src.filter_catalogue(cat, correctness="correct")["key"].tolist() == ["a", "d"]
    assert src.filter_catalogue(cat, speakers=["2"], k_range=(0.0, 0.6))["key"].tolist() == ["c"]  # NaN kept
    assert src.label_of(cat.iloc[1]) == "b · true happy · pred sad ✗ · spk 1 · k@0.8 0.50 · [report]"


# ---------------------------------------------------------------------------------------------
# the command


def test_explore_command(tmp_path, capsys, report_dir, monkeypatch):
    from explain_ser import cli
    from explain_ser.commands import explore

    assert cli.main(["explore", "--print-command", "--report", str(report_dir), "--port", "8600"]) == 0
    cmd = capsys.readouterr().out.split()
    assert cmd[1:5] == ["-m", "streamlit", "run", str(APP)]
    assert cmd[cmd.index("--server.port") + 1] == "8600" and cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.maxUploadSize") + 1] == "20"
    assert cmd[cmd.index("--") + 1:] == ["--report", str(report_dir.resolve())]

    # a report made by `explain-ser report` names its manifest: the command offers it to the app
    manifest = tmp_path / "m" / "manifest.csv"
    manifest.parent.mkdir()
    manifest.write_text("path,emotion\na.wav,sad\n")
    rep2 = tmp_path / "rep2"
    shutil.copytree(report_dir / "tables", rep2 / "tables")
    (rep2 / "report.json").write_text(json.dumps({"corpus": {"manifest": str(manifest)}}))
    assert cli.main(["explore", "--print-command", "--report", str(rep2)]) == 0
    cap = capsys.readouterr()
    assert cap.out.split()[-2:] == ["--manifest", str(manifest.resolve())] and "report's manifest" in cap.err

    assert cli.main(["explore", "--report", str(tmp_path)]) == 2
    assert "not an explain-ser report directory" in capsys.readouterr().err
    assert cli.main(["explore", "--manifest", str(tmp_path / "none.csv")]) == 2
    assert "manifest not found" in capsys.readouterr().err

    # a package installed without its source checkout has no apps/ beside it: a clear error
    fake = tmp_path / "site-packages" / "explain_ser" / "commands" / "explore.py"
    monkeypatch.setattr(explore, "__file__", str(fake))
    with pytest.raises(InputError, match="explorer app is not here"):
        explore.app_path()
    assert cli.main(["explore", "--print-command"]) == 2
    assert "source checkout" in capsys.readouterr().err


def test_catalogue_of_a_written_report_and_its_manifest(tmp_path, report_dir):
    """The tables write_report wrote, read as the app reads them, merged with a manifest: under pandas 3
    the float k@0.8 once went into a column made as "" (a str column) and raised (issue 18)."""
    from explain_ser.corpora import read_manifest

    report = src.read_report(report_dir)
    metrics = report["clip_metrics"]
    k = metrics[metrics["head"] == "mean"].set_index("clip_id")["k@0.8"]
    meta = report["clip_meta"].set_index("clip_id")
    manifest = tmp_path / "manifest.csv"
    # calm_statement without a label (the report's fills it), excited_question with its own speaker,
    # one clip the report has not seen; laugh_breath stays a report-only row
    pd.DataFrame({"path": [str(report_dir / "audio" / f"{n}.wav") for n in ("calm_statement", "excited_question")]
                  + [str(EXAMPLES / "calm_statement.wav")],
                  "clip_id": ["calm_statement", "excited_question", "unseen"], "speaker": ["", "s9", "s9"],
                  "emotion": ["", "happy", "sad"]}).to_csv(manifest, index=False)
    cfg = src.Config(report=report_dir.resolve(), manifest=manifest.resolve())
    cat = src.catalogue(cfg, read_manifest(manifest), report)

    assert cat["k08"].dtype == "float64" and cat["available"].dtype == bool
    for c in ("key", "source", "clip_id", "path", "transcript", "speaker", "gender", "emotion", "predicted", "note"):
        assert pd.api.types.is_string_dtype(cat[c]) and not cat[c].isna().any(), c
    assert cat["key"].is_unique
    rows = cat.set_index("key")
    both = rows.loc["manifest:calm_statement"]
    assert both["source"] == "manifest+report" and both["k08"] == pytest.approx(k["calm_statement"])
    assert both["predicted"] == meta.loc["calm_statement", "predicted"] != ""
    assert both["emotion"] == meta.loc["calm_statement", "emotion"] and both["speaker"] == meta.loc["calm_statement", "speaker"]
    mine = rows.loc["manifest:excited_question"]
    assert mine["speaker"] == "s9" and mine["emotion"] == "happy" and mine["k08"] == pytest.approx(k["excited_question"])
    unseen = rows.loc["manifest:unseen"]
    assert unseen["source"] == "manifest" and np.isnan(unseen["k08"]) and unseen["predicted"] == ""
    alone = rows.loc["report:laugh_breath"]
    assert alone["k08"] == pytest.approx(k["laugh_breath"]) and alone["available"]
    assert alone["path"] == str(report_dir.resolve() / "audio" / "laugh_breath.wav")
    assert {"examples:calm_statement", "examples:laugh_breath"} <= set(rows.index)
    assert len(cat) == 3 + 3 + 1  # examples, manifest rows, the report clip the manifest lacks

    # the report alone: one row per report clip, with k@0.8; the helpers take every row
    alone = src.catalogue(src.Config(report=report_dir.resolve()), None, report)
    assert alone.loc[alone["source"] == "report", "k08"].notna().sum() == len(meta)
    assert [src.label_of(r) for _, r in alone.iterrows()]
    lo = float(k.min())
    kept = src.filter_catalogue(alone, k_range=(lo, lo))
    assert k.idxmin() in set(kept["clip_id"]) and (kept["k08"].isna() | (kept["k08"] == lo)).all()


def test_unlabelled_clips_stay_in_the_k_strip(report_dir):
    """A clip without a true emotion is a point of its own group, not lost (pandas 3 keeps NaN through astype(str))."""
    import _explorer_figures as figs

    cm = src.read_report(report_dir)["clip_metrics"].copy()
    cm.loc[cm["clip_id"] == "laugh_breath", "emotion"] = np.nan
    fig = figs.k_strip_figure(cm, by="emotion")
    points = {c for tr in fig.data for c in tr.customdata}
    assert points == set(cm["clip_id"]) and "(none)" in [tr.name for tr in fig.data]
    assert fig.layout.xaxis.range == (-0.5, len(fig.data) - 0.5)


# ---------------------------------------------------------------------------------------------
# the recording view: an `explain-ser timeline` output of a long project-made recording


LONG_EXAMPLE = ("calm_statement", "excited_question", "laugh_breath", "calm_statement")


def long_example(path: Path, pause: float = 1.2, rate: int = 22_050) -> Path:
    """A project-made recording of ~17 s: the example clips (espeak-ng speech, sox laugh and breath) one after
    another with ``pause`` s of silence between them, stored at 22.05 kHz (resampled on reading, as a user's
    recording would be)."""
    import soundfile as sf

    from explain_ser.audio import resample

    parts = []
    for name in LONG_EXAMPLE:
        x, sr = sf.read(EXAMPLES / f"{name}.wav", dtype="float32")
        parts += [x, np.zeros(int(pause * sr), np.float32)]
    sf.write(path, resample(np.concatenate(parts), 16_000, rate), rate)
    return path


def cli(*args: str) -> list[str]:
    """The installed ``explain-ser`` console script (as a user runs it), else ``python -m explain_ser.cli``."""
    exe = Path(sys.executable).with_name("explain-ser")
    return [str(exe), *args] if exe.is_file() else [sys.executable, "-m", "explain_ser.cli", *args]


def make_timeline(tmp: Path, *options: str) -> tuple[Path, list[str]]:
    """(timeline directory, checkpoint args): `explain-ser timeline` run as a user runs it on the long example."""
    import subprocess

    from explain_ser.model import available_checkpoints

    rec = long_example(tmp / "session.wav")
    ckpt = [] if available_checkpoints() else ["--checkpoint", make_checkpoint(tmp / "untrained-tiny.en")]
    out = tmp / "timeline"
    proc = subprocess.run(cli("timeline", str(rec), "--out", str(out), "--quiet", *ckpt, *options),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return out, ckpt


@pytest.fixture(scope="module")
def timeline_dir(tmp_path_factory):
    return make_timeline(tmp_path_factory.mktemp("timeline"), "--methods", "none")[0]


@needs_tiny
def test_recording_view_opens_an_utterance_as_the_timeline_explained_it(app_env, timeline_dir, tiny_encoder):
    import explain_ser.timeline_files as tl

    app_env.setenv("EXPLAIN_SER_TIMELINE", str(timeline_dir))
    seg = pd.read_csv(timeline_dir / "session.segments.csv")
    assert len(seg) >= 3  # the example clips are utterances of their own
    at = new_app(view="Recording").run()
    assert_clean(at)
    assert not at.error, [e.value for e in at.error]
    assert any(f"{len(seg)} utterances" in h.value for h in at.subheader)
    spec = chart_spec(at, "timeline")
    bars = [t for t in spec["data"] if t["type"] == "bar"]
    # every utterance is one bar, in its emotion's trace, as tall as its confidence
    got = sorted((int(i), round(y, 6)) for t in bars for i, y in zip(t["customdata"], t["y"]))
    assert got == [(i, round(c, 6)) for i, c in enumerate(seg["confidence"])]
    assert {t["name"] for t in bars} == set(seg["emotion"])
    heat = next(t for t in spec["data"] if t["type"] == "heatmap")
    assert heat["y"][0] == "mean" and len(heat["y"]) >= 2  # attention of the mean and every head on top
    frames = pd.read_parquet(timeline_dir / "session.frames.parquet")
    assert max(v for row in heat["z"] for v in row if v is not None) > 1.0  # peaks above uniform, as stored

    # open the second utterance: the clip view shows the stretch of the recording the timeline explained
    i = 1
    at.selectbox(key="utt_pick").set_value(i)
    at.button(key="open_utt").click().run()
    assert_clean(at)
    assert at.session_state["view"] == "Clip" and at.session_state["source"] == "Recording"
    clip_id = f"session@{seg['start'][i]:.2f}"
    assert any(f"Clip {clip_id}" in h.value for h in at.subheader)
    assert metric(at, "Predicted") == seg["emotion"][i]
    assert any(f"Utterance #{i + 1} of session.wav" in c.value for c in at.caption)
    # ... the very samples the timeline cut (its second pass reads the whole recording in blocks) ...
    from explain_ser.api import Explainer
    from explain_ser.vad import stream_blocks

    rec = tl.read_recording(timeline_dir, "session")
    clip = tl.utterance_clip(rec.audio, seg.iloc[i], "session")
    whole = np.concatenate(list(stream_blocks(rec.audio)))
    a, b = (round(seg[c][i] * 16_000) for c in ("heard_start", "heard_end"))
    assert np.array_equal(clip.samples, whole[a:b])
    # ... so the library on them gives the timeline's probabilities and attention (the timeline computes its
    # features in float32; without the feature cache, which keeps float16, they agree to float32 precision)
    ck = at.session_state["checkpoint"]
    res = Explainer(ck, encoder=tiny_encoder, cache=False).attribute(clip, methods=(), align=False, prosody=False)
    assert res.clip.clip_id == clip_id
    assert np.allclose(res.probabilities, seg.filter(like="prob_").iloc[i].to_numpy(), atol=1e-5)
    stored = frames.loc[frames["segment"] == i, "att_mean"].to_numpy()
    assert np.allclose(res.attention["mean"], stored, atol=1e-6)
    # the sidebar lists the recording's utterances; the way back leads to the recording view
    assert len(at.selectbox(key="utterance").options) == len(seg)
    at.button(key="back_to_recording").click().run()
    assert_clean(at)
    assert at.session_state["view"] == "Recording" and chart_spec(at, "timeline")


@needs_tiny
def test_an_utterance_is_explained_in_the_language_the_timeline_was_told(app_env, tmp_path, timeline_dir):
    tdir = tmp_path / "tl"
    shutil.copytree(timeline_dir, tdir)
    summary = json.loads((tdir / "session.summary.json").read_text())
    assert summary["per_utterance"]["language"] is None  # no --language: the checkpoint's
    summary["per_utterance"]["language"] = "de"  # as `timeline --language de` records it
    (tdir / "session.summary.json").write_text(json.dumps(summary))
    app_env.setenv("EXPLAIN_SER_TIMELINE", str(tdir))
    at = new_app(view="Clip", source="Recording", recording="session", utterance=0, methods=[], prosody=False).run()
    assert_clean(at)
    assert any("Utterance #1 of session.wav" in c.value for c in at.caption)
    assert "language: de" in " ".join(c.value for c in at.caption), [c.value for c in at.caption]


@needs_tiny
def test_timeline_reader_refuses_what_is_no_timeline(tmp_path, timeline_dir):
    import explain_ser.timeline_files as tl

    with pytest.raises(InputError, match="not an explain-ser timeline directory"):
        tl.check_timeline_dir(tmp_path)
    with pytest.raises(InputError, match="timeline directory not found"):
        tl.check_timeline_dir(tmp_path / "none")
    bad = tmp_path / "bad"
    shutil.copytree(timeline_dir, bad)
    (bad / "session.summary.json").write_text("{not json")
    with pytest.raises(InputError, match="unreadable timeline summary"):
        tl.check_timeline_dir(bad)
    shutil.copy(timeline_dir / "session.summary.json", bad / "session.summary.json")
    pd.read_csv(timeline_dir / "session.segments.csv").drop(columns=["heard_start"]).to_csv(
        bad / "session.segments.csv", index=False)
    with pytest.raises(InputError, match="missing heard_start"):
        tl.check_timeline_dir(bad)
    # a recording moved after the run is found in an --audio-root; elsewhere it is reported missing
    moved, tl2 = tmp_path / "moved", tmp_path / "tl2"
    moved.mkdir()
    shutil.copytree(timeline_dir, tl2)
    summary = json.loads((tl2 / "session.summary.json").read_text())
    shutil.copy(summary["recording"], moved / "session.wav")
    (tl2 / "session.summary.json").write_text(json.dumps({**summary, "recording": str(tmp_path / "gone" / "session.wav")}))
    assert tl.read_recording(tl2, "session").audio is None
    assert tl.read_recording(tl2, "session", [moved]).audio == (moved / "session.wav").resolve()
    roots = src.Config(timeline=tl2, audio_roots=[moved]).roots
    assert (moved / "session.wav").resolve() in roots and tl2.resolve() in roots
    # the recording a summary names is readable, its directory is not
    other = Path(summary["recording"]).parent / "other.wav"
    assert Path(summary["recording"]).resolve() in src.Config(timeline=timeline_dir).roots
    with pytest.raises(InputError, match="outside"):
        src.allowed_path(other, src.Config(timeline=timeline_dir).roots)


# ---------------------------------------------------------------------------------------------
# a manifest clip is explained with its row, as `report` explains it (issue 26: the explorer dropped the row)


@needs_tiny
def test_a_manifest_clip_is_explained_in_its_rows_language_as_report_does(app_env, tmp_path, tiny_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(EXAMPLES / "calm_statement.wav", corpus / "kinder.wav")  # no transcript beside it
    manifest = corpus / "manifest.csv"
    pd.DataFrame({"path": ["kinder.wav"], "clip_id": ["kinder"], "emotion": ["calm"], "language": ["de"],
                  "transcript": ["Die Kinder reden an der Tür."]}).to_csv(manifest, index=False)
    app_env.setenv("EXPLAIN_SER_MANIFEST", str(manifest))
    at = new_app(clip="manifest:kinder", methods=[], prosody=False).run()
    assert_clean(at)
    assert any("Clip kinder" in h.value for h in at.subheader)
    notes = " ".join(c.value for c in at.caption)
    # the checkpoint was trained on English: without the row the clip would be explained as English speech
    assert "language: de (manifest)" in notes and "Die Kinder reden an der Tür." in notes

    # the same as the report's worker: Explainer.attribute with the manifest row
    from explain_ser.api import Explainer
    from explain_ser.corpora import read_manifest

    row = read_manifest(manifest).iloc[0].to_dict()
    res = Explainer(at.session_state["checkpoint"], encoder=tiny_encoder).attribute(
        str(corpus / "kinder.wav"), methods=(), prosody=False, manifest_row=row)
    assert res.info["language"] == {"language": "de", "source": "manifest"}
    assert f"aligner: {res.summary['alignment']['backend'] or 'none'}" in notes


# ---------------------------------------------------------------------------------------------
# the vocalization tagger control


@needs_tiny
def test_tagger_control_offers_rules_shipped_and_given_taggers(app_env, tmp_path):
    from explain_ser.tagger import DEFAULT_TAGGER, RULES, available_taggers, resolve_tagger

    shipped = available_taggers()
    if not shipped:
        pytest.skip("no shipped vocalization tagger")
    mine = tmp_path / "my-tagger"
    shutil.copytree(resolve_tagger(shipped[0]), mine)
    app_env.setenv("EXPLAIN_SER_TAGGERS", str(mine))
    at = new_app(methods=[], prosody=False).run()
    assert_clean(at)
    box = at.selectbox(key="tagger")
    labels = box.options  # AppTest lists the labels shown (directory names)
    assert box.value == DEFAULT_TAGGER and labels[0] == Path(DEFAULT_TAGGER).name  # the library's, whatever it is
    assert f"vocalizations: {Path(DEFAULT_TAGGER).name}" in " ".join(c.value for c in at.caption)
    assert {RULES, *shipped, mine.name} <= set(labels)
    for choice in (RULES, str(mine)):
        at.selectbox(key="tagger").set_value(choice).run()
        assert_clean(at)
        shown = f"vocalizations: {Path(choice).name}"
        assert shown in " ".join(c.value for c in at.caption), [c.value for c in at.caption]


# ---------------------------------------------------------------------------------------------
# `explain-ser explore --timeline`, and stopping it


@needs_tiny
def test_explore_command_with_a_timeline(tmp_path, capsys, timeline_dir):
    from explain_ser import cli

    assert cli.main(["explore", "--print-command", "--timeline", str(timeline_dir)]) == 0
    cmd = capsys.readouterr().out.split()
    extra = cmd[cmd.index("--") + 1:]
    assert extra[:2] == ["--timeline", str(timeline_dir.resolve())]
    # the checkpoint the timeline was made with is offered to the app when it is a directory
    made_with = json.loads((timeline_dir / "session.summary.json").read_text())["checkpoint"]
    from explain_ser.model import available_checkpoints

    assert ("--checkpoint" in extra) == (made_with not in available_checkpoints())

    (tmp_path / "empty").mkdir()
    for bad, problem in ((tmp_path / "empty", "not an explain-ser timeline directory"),
                         (tmp_path / "none", "timeline directory not found")):
        assert cli.main(["explore", "--print-command", "--timeline", str(bad)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"explain-ser: error: {bad}: {problem}") and err.count("\n") == 1
    assert cli.main(["explore", "--print-command", "--tagger", str(tmp_path / "none")]) == 2
    assert "no such tagger" in capsys.readouterr().err


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:  # ended meanwhile
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


def _port_free(port: int) -> bool:
    """Nothing listens on ``port`` (SO_REUSEADDR: a closed connection's TIME_WAIT does not count, a listener does)."""
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_explore_passes_sigterm_and_sigint_to_its_server_and_waits(tmp_path, sig):
    """`kill PID` (a process manager, a test harness) used to stop `explain-ser explore` alone and leave its
    Streamlit server running on the port; now the signal is passed on and the command waits for the server."""
    import signal
    import subprocess
    import time

    from test_explorer_browser import free_port, wait_healthy

    port = free_port()
    log = tmp_path / "explore.log"
    proc = subprocess.Popen(cli("explore", "--headless", "--port", str(port)), cwd=ROOT, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    server: list[int] = []
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, timeout=120)
        server = _children(proc.pid)
        assert server and not _port_free(port)
        proc.send_signal(getattr(signal, sig))  # to `explain-ser explore` only, not its process group
        assert proc.wait(60) == 128 + getattr(signal, sig)
        end = time.monotonic() + 10
        while time.monotonic() < end and (any(Path(f"/proc/{p}").exists() for p in server) or not _port_free(port)):
            time.sleep(0.1)
        assert not [p for p in server if Path(f"/proc/{p}").exists()], log.read_text()
        assert _port_free(port)
    finally:  # a failure leaves nothing behind either (the server is in the command's process group)
        import contextlib
        import os

        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
