import multiprocessing as mp

import numpy as np
import pytest

from explain_ser.features import FeatureStore


class FakeEncoder:
    """Counts calls; returns features that depend on the clip only."""

    weights_hash, window, source, n_taps, dim = "w" * 64, "trim", "fake", 3, 4

    def __init__(self):
        self.calls = 0

    def encode_batch(self, clips):
        self.calls += len(clips)
        return [np.full((3, c.n_frames, 4), c.samples[:100].sum(), np.float32) for c in clips]


def clip(seed):
    from explain_ser.audio import Clip

    return Clip.from_array(np.random.default_rng(seed).standard_normal(16000).astype(np.float32) * 0.1, 16000)


def test_hit_miss_and_float16_storage(tmp_path):
    store, enc = FeatureStore(tmp_path), FakeEncoder()
    a = store.get(clip(0), enc)
    b = store.get(clip(0), enc)
    assert enc.calls == 1 and store.hits == 1 and store.misses == 1
    assert a.dtype == np.float16 and a.shape == (3, 50, 4) and np.array_equal(a, b)
    assert isinstance(b, np.memmap)
    store.get(clip(1), enc)
    assert enc.calls == 2


def test_key_separates_weights_and_window():
    k = FeatureStore.key
    assert len({k("a", "w", "trim"), k("a", "w", "full"), k("a", "v", "trim"), k("b", "w", "trim")}) == 4


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete_meta", "garbage"])
def test_corrupt_entry_is_recomputed(tmp_path, damage):
    store, enc = FeatureStore(tmp_path), FakeEncoder()
    good = np.array(store.get(clip(0), enc))
    data = next(tmp_path.rglob("*.npy"))
    raw = data.read_bytes()
    if damage == "truncate":
        data.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        data.write_bytes(raw[:-10] + bytes(b ^ 0xFF for b in raw[-10:]))
    elif damage == "delete_meta":
        next(tmp_path.rglob("*.json")).unlink()
    else:
        data.write_bytes(b"garbage")
    again = store.get(clip(0), enc)
    assert enc.calls == 2 and np.array_equal(again, good)


def _writer(root, seed, n):
    store, enc = FeatureStore(root), FakeEncoder()
    for _ in range(n):
        store.get(clip(seed), enc)
        store.put(FeatureStore.key(clip(seed).sha256, enc.weights_hash, "trim"), enc.encode_batch([clip(seed)])[0])


def test_concurrent_writers_leave_valid_entries(tmp_path):
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(tmp_path, s % 2, 15)) for s in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    store, enc = FeatureStore(tmp_path), FakeEncoder()
    for s in (0, 1):
        want = FakeEncoder().encode_batch([clip(s)])[0].astype(np.float16)
        assert np.array_equal(store.get(clip(s), enc), want)
    assert enc.calls == 0  # both entries valid, nothing recomputed
    assert not list(tmp_path.rglob("*.tmp"))
