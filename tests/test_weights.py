"""CTranslate2 -> openai-whisper conversion, checked against ctranslate2 itself and by transcription."""

import json
import struct

import numpy as np
import pytest
import torch

from _env import EXAMPLES, needs_tiny
from explain_ser.errors import InputError
from explain_ser.weights import (
    ct2_to_whisper_state,
    read_ct2_model,
    resolve_source,
    source_hash,
)


def write_ct2(path, variables, version=6, aliases=()):
    """Write a model.bin in CTranslate2's layout (the reader's mirror image)."""
    with open(path, "wb") as fh:
        fh.write(struct.pack("<I", version))
        name = b"WhisperSpec\0"
        fh.write(struct.pack("<H", len(name)) + name + struct.pack("<I", 3))
        fh.write(struct.pack("<I", len(variables)))
        for k, arr in variables.items():
            b = k.encode() + b"\0"
            code = {np.dtype("float16"): 4, np.dtype("float32"): 0, np.dtype("int16"): 2, np.dtype("int8"): 1}[arr.dtype]
            fh.write(struct.pack("<H", len(b)) + b + struct.pack("<B", arr.ndim))
            fh.write(struct.pack("<" + "I" * arr.ndim, *arr.shape))
            fh.write(struct.pack("<BI", code, arr.nbytes) + arr.tobytes())
        fh.write(struct.pack("<I", len(aliases)))
        for a, t in aliases:
            for s in (a, t):
                b = s.encode() + b"\0"
                fh.write(struct.pack("<H", len(b)) + b)


def tiny_random_whisper_vars(rng, d=8, heads=2, n_enc=2, n_dec=1, vocab=51864, mels=80):
    """A miniature Whisper in CTranslate2 naming, with random weights."""
    f = lambda *s: rng.standard_normal(s).astype(np.float16)  # noqa: E731
    v = {"encoder/conv1/weight": f(d, mels, 3), "encoder/conv1/bias": f(d), "encoder/conv2/weight": f(d, d, 3),
         "encoder/conv2/bias": f(d), "encoder/position_encodings/encodings": f(1500, d),
         "encoder/num_heads": np.array(heads, np.int16), "encoder/layer_norm/gamma": f(d), "encoder/layer_norm/beta": f(d),
         "decoder/embeddings/weight": f(vocab, d), "decoder/position_encodings/encodings": f(448, d),
         "decoder/num_heads": np.array(heads, np.int16), "decoder/layer_norm/gamma": f(d), "decoder/layer_norm/beta": f(d)}
    for side, n in (("encoder", n_enc), ("decoder", n_dec)):
        for i in range(n):
            p = f"{side}/layer_{i}"
            for ln in ["self_attention", "ffn"] + (["attention"] if side == "decoder" else []):
                v[f"{p}/{ln}/layer_norm/gamma"], v[f"{p}/{ln}/layer_norm/beta"] = f(d), f(d)
            v[f"{p}/self_attention/linear_0/weight"], v[f"{p}/self_attention/linear_0/bias"] = f(3 * d, d), f(3 * d)
            v[f"{p}/self_attention/linear_1/weight"], v[f"{p}/self_attention/linear_1/bias"] = f(d, d), f(d)
            v[f"{p}/ffn/linear_0/weight"], v[f"{p}/ffn/linear_0/bias"] = f(4 * d, d), f(4 * d)
            v[f"{p}/ffn/linear_1/weight"], v[f"{p}/ffn/linear_1/bias"] = f(d, 4 * d), f(d)
            if side == "decoder":
                v[f"{p}/attention/linear_0/weight"], v[f"{p}/attention/linear_0/bias"] = f(d, d), f(d)
                v[f"{p}/attention/linear_1/weight"], v[f"{p}/attention/linear_1/bias"] = f(2 * d, d), f(2 * d)
                v[f"{p}/attention/linear_2/weight"], v[f"{p}/attention/linear_2/bias"] = f(d, d), f(d)
    return v


def test_reader_and_mapping_on_a_synthetic_model(tmp_path):
    rng = np.random.default_rng(0)
    v = tiny_random_whisper_vars(rng)
    write_ct2(tmp_path / "model.bin", v, aliases=[("decoder/projection/weight", "decoder/embeddings/weight")])
    got, spec = read_ct2_model([tmp_path / "model.bin"])
    assert spec == "WhisperSpec"
    assert np.array_equal(got["decoder/projection/weight"], v["decoder/embeddings/weight"])
    dims, sd = ct2_to_whisper_state(got, {})
    assert dims["n_audio_layer"] == 2 and dims["n_text_layer"] == 1 and dims["n_audio_state"] == 8
    assert dims["n_audio_head"] == 2 and dims["n_vocab"] == 51864
    # fused QKV split row-wise: the key rows and no key bias
    qkv = v["encoder/layer_1/self_attention/linear_0/weight"].astype(np.float32)
    assert np.array_equal(sd["encoder.blocks.1.attn.key.weight"].numpy(), qkv[8:16])
    assert "encoder.blocks.1.attn.key.bias" not in sd
    from whisper.model import ModelDimensions, Whisper

    model = Whisper(ModelDimensions(**dims))
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and all("alignment" in m for m in missing)


def test_split_model_bin_reads_like_one(tmp_path):
    v = tiny_random_whisper_vars(np.random.default_rng(1))
    write_ct2(tmp_path / "model.bin", v)
    raw = (tmp_path / "model.bin").read_bytes()
    (tmp_path / "model.bin.part1").write_bytes(raw[:12345])
    (tmp_path / "model.bin.part2").write_bytes(raw[12345:])
    a, _ = read_ct2_model([tmp_path / "model.bin"])
    b, _ = read_ct2_model([tmp_path / "model.bin.part1", tmp_path / "model.bin.part2"])
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_truncated_and_foreign_files_are_clear_errors(tmp_path):
    v = tiny_random_whisper_vars(np.random.default_rng(2))
    write_ct2(tmp_path / "model.bin", v)
    (tmp_path / "cut.bin").write_bytes((tmp_path / "model.bin").read_bytes()[:5000])
    with pytest.raises(InputError, match="truncated"):
        read_ct2_model([tmp_path / "cut.bin"])
    (tmp_path / "junk.bin").write_bytes(b"\x89PNG" + b"\0" * 100)
    with pytest.raises(InputError, match="not a CTranslate2"):
        read_ct2_model([tmp_path / "junk.bin"])
    with pytest.raises(InputError, match="not a CTranslate2 Whisper directory"):
        resolve_source(tmp_path)  # has model.bin but no config.json
    with pytest.raises(InputError, match="unknown Whisper source"):
        resolve_source("no-such-model")


def test_ct2_directory_converts_once_and_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLAIN_SER_CACHE", str(tmp_path / "cache"))
    d = tmp_path / "ct2"
    d.mkdir()
    write_ct2(d / "model.bin", tiny_random_whisper_vars(np.random.default_rng(3)))
    (d / "config.json").write_text(json.dumps({"alignment_heads": [[0, 1]]}))
    from explain_ser.weights import converted_path, load_whisper

    m = load_whisper(d)
    assert m.dims.n_audio_state == 8 and not m.is_multilingual
    path = converted_path(resolve_source(d))
    assert path.is_file()
    assert m.alignment_heads.to_dense()[0, 1] and m.alignment_heads.to_dense().sum() == 1
    mtime = path.stat().st_mtime_ns
    load_whisper(d)
    assert path.stat().st_mtime_ns == mtime  # second load hits the cache
    # the cached file is an ordinary openai-whisper checkpoint
    import whisper

    again = whisper.load_model(str(path), device="cpu")
    assert torch.equal(again.encoder.conv1.weight, m.encoder.conv1.weight)


@needs_tiny
def test_converted_tiny_matches_ctranslate2_encoder(tiny_model, example_clip):
    ctranslate2 = pytest.importorskip("ctranslate2")
    import whisper

    src = resolve_source("tiny.en")
    ref_model = ctranslate2.models.Whisper(str(src.paths[0].parent), device="cpu", compute_type="float32")
    mel = whisper.pad_or_trim(whisper.log_mel_spectrogram(torch.from_numpy(example_clip.samples)), 3000)
    ref = np.asarray(ref_model.encode(ctranslate2.StorageView.from_array(mel[None].numpy()), to_cpu=True))
    with torch.no_grad():
        ours = tiny_model.embed_audio(mel[None]).numpy()
    assert ref.shape == ours.shape == (1, 1500, 384)
    assert np.abs(ref - ours).max() <= 1e-3
    assert len(source_hash(src)) == 64


@needs_tiny
def test_converted_tiny_transcribes_the_example(tiny_model):
    text = (EXAMPLES / "calm_statement.txt").read_text().strip()
    result = tiny_model.transcribe(str(EXAMPLES / "calm_statement.wav"), language="en", fp16=False,
                                   word_timestamps=True, temperature=0.0)
    norm = lambda s: "".join(c for c in s.lower() if c.isalpha() or c == " ").split()  # noqa: E731
    assert norm(result["text"]) == norm(text)
    words = [w for s in result["segments"] for w in s["words"]]
    starts = [w["start"] for w in words]
    assert len(words) == len(norm(text)) and starts == sorted(starts)
