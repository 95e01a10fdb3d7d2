"""Content-addressed on-disk cache of encoder features.

An entry holds every tap of one clip, ``[n_taps, n_frames, dim]`` in float16, keyed
by the clip's audio hash, the weights hash and the window mode (all taps are always
stored, so the layer set is not part of the key). Entries are written to a temporary
file and renamed into place, so a killed run never leaves a half-written entry and
concurrent runs on one cache are safe (the last identical rename wins). Each entry
has a small JSON sidecar with its shape and CRC-32; an entry whose file is truncated,
unreadable or does not match its sidecar is treated as a miss and recomputed. Reads
are memory-mapped.

>>> import numpy as np, tempfile
>>> store = FeatureStore(tempfile.mkdtemp())
>>> key = store.key("a" * 64, "w" * 64, "trim")
>>> store.put(key, np.ones((5, 10, 4), dtype=np.float32))
>>> store.load(key).shape
(5, 10, 4)
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .atomic import write_stream
from .audio import Clip, load_audio

FORMAT_VERSION = 1


class FeatureStore:
    """On-disk feature cache (default: ``<user cache>/features``)."""

    def __init__(self, root: str | os.PathLike | None = None):
        if root is None:
            from .weights import cache_dir

            root = cache_dir() / "features"
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(audio_sha256: str, weights_hash: str, window: str) -> str:
        """Cache key of one clip under one encoder and window mode."""
        import hashlib

        return hashlib.sha256(f"v{FORMAT_VERSION}|{audio_sha256}|{weights_hash}|{window}".encode()).hexdigest()

    def _paths(self, key: str) -> tuple[Path, Path]:
        d = self.root / key[:2]
        return d / f"{key}.npy", d / f"{key}.json"

    def load(self, key: str) -> np.ndarray | None:
        """The cached array (memory-mapped, float16) or None when missing or corrupt."""
        data_path, meta_path = self._paths(key)
        try:
            meta = json.loads(meta_path.read_text())
            arr = np.load(data_path, mmap_mode="r")
        except (OSError, ValueError, EOFError):
            return None
        if list(arr.shape) != meta.get("shape") or zlib.crc32(arr.tobytes()) != meta.get("crc32"):
            return None
        return arr

    def put(self, key: str, features: np.ndarray) -> None:
        """Store ``features`` atomically (sidecar first, then the data file)."""
        data_path, meta_path = self._paths(key)
        data_path.parent.mkdir(parents=True, exist_ok=True)
        arr = np.ascontiguousarray(features, dtype=np.float16)
        meta = {"shape": list(arr.shape), "crc32": zlib.crc32(arr.tobytes()), "version": FORMAT_VERSION}
        write_stream(meta_path, lambda fh: fh.write(json.dumps(meta).encode()))
        write_stream(data_path, lambda fh: np.save(fh, arr))

    def get(self, clip: Clip, encoder, mel=None) -> np.ndarray:
        """All taps of ``clip`` under ``encoder``: from the cache, or computed (from ``mel`` when given) and stored."""
        return self.get_many([clip], encoder, mels=None if mel is None else [mel])[0]

    def get_many(self, clips: Sequence[Clip], encoder, mels: Sequence | None = None) -> list[np.ndarray]:
        """Like :meth:`get` for many clips; the misses are encoded together."""
        keys = [self.key(c.sha256, encoder.weights_hash, encoder.window) for c in clips]
        out: list = [self.load(k) for k in keys]
        todo = [i for i, a in enumerate(out) if a is None or a.shape[1] != clips[i].n_frames]
        self.hits += len(clips) - len(todo)
        self.misses += len(todo)
        if todo:
            batch = [clips[i] for i in todo]
            # mels only when the caller has them: an encoder need not accept them otherwise
            encoded = (encoder.encode_batch(batch) if mels is None else
                       encoder.encode_batch(batch, mels=[mels[i] for i in todo]))
            for i, feats in zip(todo, encoded):
                self.put(keys[i], feats)
                out[i] = self.load(keys[i])
        return out


def prepared_features(clips: Sequence[Clip], encoder, store: FeatureStore | None = None,
                      mels: Sequence | None = None) -> list[np.ndarray]:
    """Encoder taps ``[n_taps, n_frames, dim]`` of clips that are already the model's input: through the
    cache (float16, memory-mapped) or, with ``store=None``, from the encoder (float32). ``mels``: their
    log-mels when the caller has them (used on a cache miss only). The one place features are computed:
    :func:`features_of` (training, evaluation, augmented copies) and the per-clip stage
    :func:`explain_ser.pipeline.model_input` both come here.
    """
    if store is None:
        return encoder.encode_batch(list(clips)) if mels is None else encoder.encode_batch(list(clips), mels=list(mels))
    return store.get_many(list(clips), encoder, mels=None if mels is None else list(mels))


def features_of(clips: Sequence[Clip], encoder, store: FeatureStore | None = None) -> list[np.ndarray]:
    """Features of the model's input for each clip: ``encoder.input_rule`` applied
    (:func:`explain_ser.inputs.prepare`), then :func:`prepared_features` (the cache, or the encoder when
    ``store`` is None).

    Training, evaluation and perturbed copies all come through here, so they see what explaining sees.
    """
    from .inputs import prepare

    rule = getattr(encoder, "input_rule", None)
    ready = [c if rule is None or rule.is_identity else prepare(c, rule).clip for c in clips]
    return prepared_features(ready, encoder, store)


def features_for_manifest(
    manifest,
    encoder,
    store: FeatureStore | None = None,
    layers: Iterable[int] | None = None,
    progress: bool = True,
    batch: int = 32,
) -> list[np.ndarray]:
    """Features of every clip of a manifest (DataFrame with a ``path`` column), in order.

    Returns arrays ``[n_selected_taps, n_frames, dim]`` (float16, memory-mapped when
    ``layers`` is None). Clips are loaded, prepared by ``encoder.input_rule`` (:func:`features_of`)
    and encoded ``batch`` at a time.
    """
    from tqdm.auto import tqdm

    store = store or FeatureStore()
    paths = list(manifest["path"])
    sel = None if layers is None else list(layers)
    out: list[np.ndarray] = []
    with tqdm(total=len(paths), desc=f"features {encoder.source}/{encoder.window}", unit="clip", disable=not progress) as bar:
        for b in range(0, len(paths), batch):
            clips = [load_audio(p) for p in paths[b : b + batch]]
            for arr in features_of(clips, encoder, store):
                out.append(arr if sel is None else np.asarray(arr[sel]))
            bar.update(len(clips))
    return out
