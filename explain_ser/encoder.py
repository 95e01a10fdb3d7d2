"""Frozen Whisper encoder with every layer tapped in one forward pass.

Taps, for an encoder of ``n`` blocks (``n + 1`` taps in all):

- tap 0: the input to the first block (GELU(conv2(GELU(conv1(mel)))) + positional embedding);
- tap i (1 <= i < n): the residual stream after block i;
- tap n: the output of the last block **with** ``ln_post`` applied, i.e. exactly what
  openai-whisper's ``embed_audio`` returns (the same convention as Hugging Face's
  ``hidden_states``). No other tap has a layer norm.

Window modes (a checkpoint records its mode and is only fed that mode; the two are
not interchangeable, cosine ~0.96 on the same frames):

- ``trim`` (default): the log-mel is cut to the clip's frames and the positional
  embedding sliced to match; attention runs over the clip only. Fast.
- ``full``: the clip is zero-padded to Whisper's 30 s window (as EmoBox and s3prl do)
  and the outputs are cropped back to the clip's frames.

Both modes give :func:`explain_ser.timegrid.n_frames` frames. The log-mel is computed
once for the whole clip with 30 s of zero padding appended (so its normalisation is the
same in both modes); clips longer than 30 s are encoded window by window and the
frames concatenated.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .audio import Clip
from .errors import InputError
from .timegrid import MEL_PER_FRAME, WINDOW_FRAMES, WINDOW_SAMPLES, window_spans

WINDOW_MODES = ("trim", "full")
TRIM_PAD_SAMPLES = 1600  # 0.1 s: more than the 200-sample half window of the STFT


class Encoder:
    """A frozen Whisper encoder returning all taps as ``[n_taps, frames, dim]``.

    >>> enc = Encoder("tiny.en")  # doctest: +SKIP
    >>> enc.encode(clip).shape  # a 3 s clip  # doctest: +SKIP
    (5, 150, 384)
    """

    def __init__(self, source: str = "tiny.en", window: str = "trim", model=None, input_rule=None):
        if window not in WINDOW_MODES:
            raise InputError(window, f"unknown window mode (choose {' or '.join(WINDOW_MODES)})")
        from .inputs import AS_RECORDED

        # how clips are prepared before this encoder (explain_ser.inputs); applied by the feature path
        # (explain_ser.features.features_of), never inside encode(), which always takes samples as given
        self.input_rule = input_rule or AS_RECORDED
        from .weights import load_whisper, resolve_source, source_hash

        self.source = str(source)
        self.window = window
        self.model = model if model is not None else load_whisper(source)
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.weights_hash = source_hash(resolve_source(source)) if model is None else "in-memory"
        enc = self.model.encoder
        self.dim = int(enc.ln_post.normalized_shape[0])
        self.n_taps = len(enc.blocks) + 1
        self.n_mels = int(self.model.dims.n_mels)

    def __repr__(self):
        return f"Encoder({self.source!r}, window={self.window!r}, taps={self.n_taps}, dim={self.dim})"

    def mel(self, clip: Clip) -> torch.Tensor:
        """Log-mel ``[n_mels, mel_frames]`` of the clip followed by zero padding.

        Full mode appends Whisper's 30 s of zeros. Trim mode appends only 0.1 s: the
        mel frames it keeps are identical either way, because Whisper's dynamic-range
        floor (max - 8) depends on the maximum only, which zeros never raise, and each
        kept frame's 400-sample STFT window ends at most 200 samples past the clip.
        """
        import whisper

        # a copy: a Clip may wrap a read-only buffer, which torch.from_numpy warns about
        audio = torch.tensor(clip.samples, dtype=torch.float32)
        pad = WINDOW_SAMPLES if self.window == "full" else TRIM_PAD_SAMPLES
        return whisper.log_mel_spectrogram(audio, n_mels=self.n_mels, padding=pad)

    def forward_mel(self, mel: torch.Tensor, n_frames: int) -> list[torch.Tensor]:
        """All taps for one window: ``mel`` is ``[B, n_mels, 2 * n_in]`` where ``n_in`` is
        ``n_frames`` (trim) or 1500 (full). Returns ``n_taps`` tensors ``[B, n_frames, dim]``.

        Differentiable when called with grad enabled (used by deep attributions).
        """
        enc = self.model.encoder
        assert mel.shape[-1] % MEL_PER_FRAME == 0, "mel length must be even"
        x = F.gelu(enc.conv1(mel))
        x = F.gelu(enc.conv2(x)).permute(0, 2, 1)
        n_in = x.shape[1]
        assert n_in <= enc.positional_embedding.shape[0], "longer than Whisper's window"
        x = x + enc.positional_embedding[:n_in]
        taps = [x]
        for block in enc.blocks:
            x = block(x)
            taps.append(x)
        taps[-1] = enc.ln_post(x)
        return [t[:, :n_frames] for t in taps]

    def window_mel(self, mel: torch.Tensor, first: int, count: int) -> torch.Tensor:
        """The mel slice the encoder sees for frames ``first .. first+count`` in this mode."""
        start = first * MEL_PER_FRAME
        width = count if self.window == "trim" else WINDOW_FRAMES
        return mel[:, start : start + width * MEL_PER_FRAME]

    @torch.no_grad()
    def encode(self, clip: Clip, mel: torch.Tensor | None = None):
        """All taps of one clip as a float32 numpy array ``[n_taps, n_frames, dim]``.

        ``mel``: the clip's :meth:`mel`, when the caller already has it (it is not computed twice).
        """
        return self.encode_batch([clip], mels=None if mel is None else [mel])[0]

    def encode_batch(self, clips: list[Clip], mels: list | None = None):
        """Encode clips, one window per forward pass: a batch of B windows takes other matrix
        kernels than a batch of one, so a window's features would differ in the last bits with
        what it was batched with (two copies of one clip, batched by ``train``, then changed a
        later report's permutation p-value through the shared cache). On this CPU a 30 s window
        is already a [1500, 384] matrix, so batching saved little.

        The forward pass always runs on one intra-op thread, so a clip's features are the same bits
        whoever computes them (a Dask worker, this process, a busy or an idle machine): with torch's
        pool the summation order follows the thread count, and float16 cache entries then differed in
        the last bit between a worker and the main process. One thread is also the faster choice on a
        busy machine (measured on 2 cores at load ~9: 1.34 s with 2 threads vs 0.08 s with 1 for a
        3.9 s clip); idle it costs 57 ms instead of 31 ms. See :mod:`explain_ser.threads`.
        """
        from .threads import single_thread

        with single_thread():
            return self._encode_batch(clips, mels)

    @torch.no_grad()
    def _encode_batch(self, clips: list[Clip], mels: list | None = None):
        for clip in clips:  # every clip checked before any is encoded
            if clip.n_frames == 0:
                raise InputError(clip.path or clip.clip_id, "clip too short for one encoder frame")
        out = []
        for i, clip in enumerate(clips):
            mel = self.mel(clip) if mels is None or mels[i] is None else mels[i]
            parts = []
            for first, count in window_spans(len(clip.samples)):  # in order: frame indices stay global
                window = self.window_mel(mel, first, count)[None]  # [1, n_mels, 2 * n_in]: one window per pass
                parts.append(torch.stack(self.forward_mel(window, count), dim=1)[0, :, :count])  # [taps, count, D]
            out.append(torch.cat(parts, dim=1).float().numpy())
        return out
