"""Acoustic features of the Kaldi trainer: 13 MFCCs + deltas + delta-deltas, per-utterance mean normalised.

25 ms window, 10 ms hop, ``snip_edges=False`` so frame t is centred on 10 t + 5 ms and covers
[10 t, 10 t + 10) ms; a seeded dither of one int16 step keeps digital silence finite and the result
deterministic. Kaldi's own feature code (``kaldi-native-fbank``), from ``pip install explain_ser[kaldi]``.
"""

from __future__ import annotations

import numpy as np

from explain_ser.align.base import AlignerUnavailable

INSTALL_HINT = "pip install 'explain_ser[kaldi]' (kaldi-hmm-gmm, kaldifst==1.7.17, kaldi-native-fbank)"
FRAME_SHIFT = 0.01  # s; Kaldi's 10 ms hop
DELTA_ORDER, DELTA_WINDOW = 2, 2  # Kaldi add-deltas defaults


def _require_kaldi():
    """Import Kaldi's modules (kaldi_hmm_gmm FIRST: importing kaldifst before it hangs)."""
    try:
        import kaldi_hmm_gmm as khg  # noqa: I001  (order matters)
        import kaldifst
        import kaldi_native_fbank as knf
    except ImportError as exc:
        raise AlignerUnavailable("kaldi", f"its Python packages are not installed ({exc.name}); {INSTALL_HINT}")
    return khg, kaldifst, knf



def features(samples: np.ndarray, rate: int = 16000) -> np.ndarray:
    """MFCC + deltas + delta-deltas with per-utterance mean normalisation, ``[frames, 39]``.

    Frame ``t`` covers ``[0.01 t, 0.01 (t + 1))`` s; there are ``round(len / 160)`` frames.
    """
    _, _, knf = _require_kaldi()
    assert rate == 16000, "the Kaldi aligner works on 16 kHz audio (explain_ser.audio.load_audio resamples)"
    x = np.asarray(samples, dtype=np.float32).ravel() * 32768.0  # Kaldi's int16 scale
    # seeded dither of one int16 step (Kaldi's default amount, but reproducible)
    x = x + np.random.default_rng(len(x)).standard_normal(len(x)).astype(np.float32)
    opts = knf.MfccOptions()
    opts.frame_opts.samp_freq = 16000
    opts.frame_opts.dither = 0.0
    opts.frame_opts.snip_edges = False
    opts.use_energy = False
    mfcc = knf.OnlineMfcc(opts)
    mfcc.accept_waveform(16000, x.tolist())
    mfcc.input_finished()
    n = mfcc.num_frames_ready
    if n == 0:
        return np.zeros((0, 39), np.float32)
    m = np.array([mfcc.get_frame(i) for i in range(n)], dtype=np.float32)
    m -= m.mean(axis=0, keepdims=True)
    return knf.compute_deltas(knf.DeltaOptions(order=DELTA_ORDER, window=DELTA_WINDOW), m).astype(np.float32)
