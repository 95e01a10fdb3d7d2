import numpy as np
import pytest

from _env import needs_tiny
from explain_ser.audio import Clip
from explain_ser.encoder import Encoder
from explain_ser.errors import InputError

pytestmark = needs_tiny


@pytest.fixture(scope="module")
def full_encoder(tiny_model):
    return Encoder("tiny.en", window="full", model=tiny_model)


def noise_clip(seconds, seed=0):
    rng = np.random.default_rng(seed)
    return Clip.from_array((0.05 * rng.standard_normal(int(seconds * 16000))).astype(np.float32), 16000, "noise")


@pytest.mark.parametrize("seconds", [0.02, 0.05, 0.99, 1.0, 3.33])
def test_trim_and_full_give_the_same_frame_count(tiny_encoder, full_encoder, seconds):
    clip = noise_clip(seconds)
    a, b = tiny_encoder.encode(clip), full_encoder.encode(clip)
    assert a.shape == b.shape == (5, int(seconds * 16000) // 320, 384)


def test_taps_and_ln_post(tiny_encoder, full_encoder, example_clip):
    import torch
    import whisper

    feats = full_encoder.encode(example_clip)
    mel = whisper.log_mel_spectrogram(torch.from_numpy(example_clip.samples), padding=480_000)[:, :3000]
    with torch.no_grad():
        ref = full_encoder.model.embed_audio(mel[None])[0, : example_clip.n_frames].numpy()
    # the last tap is whisper's own encoder output (ln_post applied)
    assert np.abs(feats[-1] - ref).max() < 1e-4
    # inner taps carry no layer norm: their per-frame scale differs from 1
    assert abs(np.std(feats[2], axis=-1).mean() - 1.0) > 0.1


def test_trim_differs_from_full_but_stays_close(tiny_encoder, full_encoder, example_clip):
    a, b = tiny_encoder.encode(example_clip), full_encoder.encode(example_clip)
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    assert cos[0].mean() > 0.99  # the input tap only differs at the last frame's conv edge
    assert 0.85 < cos[-1].mean() < 0.999  # not interchangeable, as the design notes warn


def test_deterministic_and_batch_independent(tiny_encoder, example_clip):
    other = noise_clip(example_clip.duration, seed=5)
    alone = tiny_encoder.encode(example_clip)
    assert np.array_equal(alone, tiny_encoder.encode(example_clip))
    # the same bits whatever the clip is encoded with (a clip of the same length, a copy of itself): features
    # are cached by audio, so a batch's last-bit noise would reach whoever reads the cache next
    batched = tiny_encoder.encode_batch([other, example_clip, example_clip])
    assert np.array_equal(batched[1], alone) and np.array_equal(batched[2], alone)


def test_long_clip_is_encoded_in_windows(tiny_encoder):
    x = noise_clip(31.0, seed=1).samples.copy()
    x[30 * 16000 :] *= 0.3  # keep the loudest frame (Whisper's mel normaliser) in the first window
    clip = Clip.from_array(x, 16000)
    feats = tiny_encoder.encode(clip)
    assert feats.shape[1] == 1550
    head = tiny_encoder.encode(Clip.from_array(x[: 30 * 16000], 16000))
    # the convolutional input tap is local: only the window's last frame sees different mel context
    assert np.abs(feats[0, :1499] - head[0, :1499]).max() < 1e-4
    cos = (feats[-1, :1500] * head[-1]).sum(-1) / np.linalg.norm(feats[-1, :1500], axis=-1) / np.linalg.norm(head[-1], axis=-1)
    assert cos.mean() > 0.999


def test_bad_window_mode(tiny_model):
    with pytest.raises(InputError, match="window"):
        Encoder("tiny.en", window="sliding", model=tiny_model)
