"""explain_ser.pipeline / checkpoint: one per-clip path, whoever asks; in-memory models; the input rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from _env import EXAMPLES, needs_tiny
from explain_ser.audio import Clip, load_audio
from explain_ser.checkpoint import Checkpoint, read_config
from explain_ser.errors import InputError
from explain_ser.inputs import RECOMMENDED

pytestmark = needs_tiny


def _model(seed=0):
    from explain_ser.model import SERModel

    torch.manual_seed(seed)
    return SERModel(labels=["calm", "happy", "sad"], dim=384, taps=[2], n_taps=5, pooler="qkv",
                    pooler_hparams={"n_heads": 2}).eval()


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_encoder):
    from explain_ser.checkpoint import save_checkpoint

    enc = {"source": "tiny.en", "weights_hash": tiny_encoder.weights_hash, "dim": 384, "n_taps": 5, "window": "trim"}
    d = tmp_path_factory.mktemp("ck") / "c"
    save_checkpoint(_model(), d, enc, training={"corpus": "ravdess", "speakers": ["a"]})
    return d


def test_config_is_read_in_one_place_and_refuses_bad_files(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(InputError, match="unreadable checkpoint config"):
        read_config(tmp_path)
    (tmp_path / "config.json").write_text('{"format": "other/9"}')
    with pytest.raises(InputError, match="unknown checkpoint format"):
        Checkpoint.load(tmp_path)


def test_in_memory_model_is_explained_exactly_like_its_saved_copy(saved, tiny_encoder):
    from explain_ser.api import Explainer

    clip = load_audio(EXAMPLES / "calm_statement.wav")
    disk = Explainer(saved, encoder=tiny_encoder, cache=False).attribute(clip, methods=("ig",), align=False,
                                                                        prosody=False)
    mem = Explainer.from_model(_model(), tiny_encoder, language="en", cache=False).attribute(
        clip, methods=("ig",), align=False, prosody=False)
    np.testing.assert_array_equal(disk.probabilities, mem.probabilities)
    pd.testing.assert_frame_equal(disk.frames, mem.frames)
    assert Checkpoint.load(saved).language == "en"  # known from the corpus name when not recorded


def test_report_worker_and_attribute_share_one_path(saved, tiny_encoder, tmp_path):
    from explain_ser.api import Explainer
    from explain_ser.batch import AnnotationStore, run_corpus

    ex = Explainer(saved, encoder=tiny_encoder, cache=False)
    path = EXAMPLES / "calm_statement.wav"
    manifest = pd.DataFrame({"path": [str(path)], "clip_id": ["calm_statement"], "speaker": ["s1"],
                             "emotion": ["calm"]})
    frames, meta, _ = run_corpus(manifest, ex, tmp_path / "work", methods=("ig",), deletion=False,
                                 annotations=AnnotationStore(tmp_path / "ann"), progress=False)
    res = ex.attribute(load_audio(path), methods=("ig",))
    for col in ("att_mean", "attr_ig", "word", "phone", "f0"):
        np.testing.assert_array_equal(frames[col].to_numpy(), res.frames[col].to_numpy())
    assert meta["predicted"].iloc[0] == res.predicted and meta["language"].iloc[0] == "en"


def test_input_rule_keeps_the_clip_grid_and_ignores_padding(tiny_encoder):
    """A checkpoint that trims silence: padded and unpadded clips get the same prediction; the FrameTable
    stays on the padded clip's grid with zero attention where the model saw nothing."""
    from explain_ser.api import Explainer

    ex = Explainer.from_model(_model(), tiny_encoder, input_rule=RECOMMENDED, cache=False)
    speech = load_audio(EXAMPLES / "calm_statement.wav").samples
    room = (1e-3 * np.random.default_rng(0).standard_normal(3200)).astype(np.float32)  # 0.2 s of -60 dBFS
    # a recording with some room tone at its ends (as real ones have: more than the rule's 0.1 s margin)
    clip = Clip(samples=np.concatenate([room, speech, room]), rate=16000, clip_id="room")
    pad = np.zeros(32000, np.float32)  # 2 s = 100 frames
    padded = Clip(samples=np.concatenate([pad, clip.samples, pad]), rate=16000, clip_id="padded")
    a = ex.attribute(clip, methods=(), align=False, prosody=False)
    b = ex.attribute(padded, methods=(), align=False, prosody=False)
    np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-5)
    assert len(b.frames) == padded.n_frames
    seen = b.frames["model_input"].to_numpy()
    first = int(np.argmax(seen))
    assert first >= 100 and not seen[:first].any()
    assert b.frames["att_mean"].to_numpy()[~seen].sum() == 0.0
    assert abs(b.frames["att_mean"].sum() - 1.0) < 1e-6
    assert b.summary["model_input"]["first_frame"] == first
    assert b.summary["frames_for_80pct"] == pytest.approx(a.summary["frames_for_80pct"], abs=1e-6)


def test_the_stages_compose_to_explain_clip_on_a_trimmed_clip(tiny_encoder):
    """model_input -> maps -> annotate -> assemble is explain_clip (issue 26): the model's arrays are on its
    own grid, placed on the clip's at model_input's offset; deep IG runs on the prepared input."""
    from explain_ser.pipeline import (ClipOptions, annotate, assemble, explain_clip, maps, model_input,
                                      plan_annotation)

    ck = Checkpoint.from_model(_model(), tiny_encoder, input_rule=RECOMMENDED)
    speech = load_audio(EXAMPLES / "calm_statement.wav").samples
    clip = Clip(samples=np.concatenate([np.zeros(16000, np.float32), speech]), rate=16000, clip_id="padded")
    opts = ClipOptions(methods=("saliency",), align=False, prosody=False, deep=True, ig_steps=2)
    inp = model_input(clip, ck, tiny_encoder)
    assert inp.first_frame >= 45 and inp.n_frames == inp.features.shape[1] < clip.n_frames
    assert inp.mel is not None and inp.prepared is not clip
    mp = maps(ck.model, inp, opts.methods, deep=True, ig_steps=2)
    assert {len(v) for v in [*mp.attention.values(), *mp.attributions.values()]} == {inp.n_frames}
    assert "ig_mel" in mp.attributions and mp.deep["map"].shape[1] == 2 * inp.n_frames
    ann = annotate(clip, plan_annotation(clip, opts, default_language=ck.language))
    staged = assemble(inp, mp, ann, ck)
    whole = explain_clip(clip, ck, tiny_encoder, opts)
    pd.testing.assert_frame_equal(staged.frames, whole.frames)
    assert staged.summary == whole.summary
    lo, hi = inp.span
    np.testing.assert_array_equal(whole.frames["att_mean"].to_numpy()[lo:hi], mp.attention["mean"])
    with pytest.raises(ValueError, match="ModelInput"):
        maps(ck.model, inp.features, (), deep=True)


def test_plan_annotation_takes_the_manifest_transcript_and_ignores_an_empty_cell():
    from explain_ser.pipeline import ClipOptions, plan_annotation

    clip = Clip(samples=np.zeros(16000, np.float32), rate=16000, clip_id="c")
    assert plan_annotation(clip, ClipOptions(), {"transcript": float("nan")}).transcript is None
    assert plan_annotation(clip, ClipOptions(transcript="given"), {"transcript": "row"}).transcript == "given"
    p = plan_annotation(clip, ClipOptions(language="fr"), {"language": "de"}, default_language="en")
    assert (p.language, p.language_source) == ("fr", "option")


def test_a_deep_method_by_name_is_the_deep_flag(tiny_encoder):
    from explain_ser.pipeline import maps, model_input

    ck = Checkpoint.from_model(_model(), tiny_encoder, input_rule=RECOMMENDED)
    inp = model_input(EXAMPLES / "calm_statement.wav", ck, tiny_encoder)
    by_name = maps(ck.model, inp, ("saliency", "ig_mel"), ig_steps=2)
    by_flag = maps(ck.model, inp, ("saliency",), deep=True, ig_steps=2)
    assert list(by_name.attributions) == list(by_flag.attributions) == ["saliency", "ig_mel"]
    np.testing.assert_allclose(by_name.attributions["ig_mel"], by_flag.attributions["ig_mel"], atol=1e-6)
    with pytest.raises(ValueError, match="one deep method"):
        maps(ck.model, inp, ("ig_mel",), deep=True)


# ---- one default vocalization tagger for the library and the commands -----------------------------------------

def test_library_and_cli_give_the_same_vocalization_tags(tmp_path):
    """``Explainer.attribute`` (and so ``explain_clip`` with default ``ClipOptions``) tags with the commands'
    default trained tagger, and ``"rules"`` selects the rule-based tags in both: the same tags, frame by frame,
    as ``explain-ser attribute`` on an example clip with a laugh and a breath."""
    from explain_ser.api import Explainer
    from explain_ser.cli import main
    from explain_ser.frames import load_frame_table
    from explain_ser.pipeline import ClipOptions, plan_annotation
    from explain_ser.tagger import DEFAULT_TAGGER

    wav = EXAMPLES / "laugh_breath.wav"
    ex = Explainer("ravdess-tiny.en")
    assert plan_annotation(load_audio(wav), ClipOptions()).tagger == DEFAULT_TAGGER
    tags = {}
    for choice in (None, "rules"):
        out = tmp_path / str(choice)
        assert main(["attribute", str(wav), "--methods", "none", "--no-prosody", "--out", str(out), "--quiet"]
                    + ([] if choice is None else ["--tagger", choice])) == 0
        cli = load_frame_table(out / "laugh_breath.frames.csv")
        lib = ex.attribute(wav, methods=(), prosody=False, tagger=choice)
        assert lib.frames["vocalization"].tolist() == cli["vocalization"].tolist(), choice
        assert np.allclose(lib.frames["vocalization_conf"], cli["vocalization_conf"], equal_nan=True, atol=1e-6)
        used = (lib.info.get("vocalization_tagger") or {}).get("name")
        assert used == (DEFAULT_TAGGER if choice is None else None)
        tags[choice] = lib.frames["vocalization"].tolist()
    assert any(tags[None]) and any(tags["rules"])
    assert tags[None] != tags["rules"]  # the two taggers differ here, so the comparison above can tell them apart


def test_the_frame_table_says_the_clips_language(tmp_path):
    """The language decided for a clip (code, how, Whisper's probability) is on every row of its FrameTable, in
    the CSV and JSON ``attribute`` writes and reads back; a given ``--language`` shows as ``option``."""
    import json

    from explain_ser.cli import main
    from explain_ser.frames import LANGUAGE_COLUMNS, load_frame_table

    wav = EXAMPLES / "calm_statement.wav"
    assert main(["attribute", str(wav), "--methods", "none", "--no-prosody", "--out", str(tmp_path / "a"),
                 "--quiet"]) == 0
    t = load_frame_table(tmp_path / "a" / "calm_statement.frames.csv")
    summary = json.loads((tmp_path / "a" / "calm_statement.summary.json").read_text())["language"]
    assert list(t.columns[t.columns.get_loc("language"):][:4]) == [*LANGUAGE_COLUMNS, "word"]
    assert t["language"].eq(summary["language"]).all() and t["language_source"].eq(summary["source"]).all()
    if summary["source"] == "identified":  # Whisper base installed: its probability too
        assert np.allclose(t["language_p"], summary["probability"])
    else:
        assert t["language_p"].isna().all()
    assert main(["attribute", str(wav), "--methods", "none", "--no-prosody", "--language", "English", "--format",
                 "json", "--out", str(tmp_path / "b"), "--quiet"]) == 0
    rows = json.loads((tmp_path / "b" / "calm_statement.frames.json").read_text())
    assert {(r["language"], r["language_source"], r["language_p"]) for r in rows} == {("en", "option", None)}
