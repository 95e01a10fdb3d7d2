"""Per-speaker normalisation of a model's class scores: for users who score many clips of each speaker.

A new voice shifts every clip's scores the same way (a high voice reads as fearful, a loud one as angry). When a
speaker's clips cover the emotions evenly, that shift is the mean of the speaker's log-probabilities, and
removing it before the argmax takes the voice out of the decision:

    log q(c | clip) = log p(c | clip) - mean over the speaker's clips of log p(c | clip')   (then renormalised)

This is transductive (a clip's label depends on the speaker's other clips) and it ASSUMES the speaker's clips span
the emotions roughly evenly: a speaker heard mostly in one emotion has that emotion removed as if it were their
voice. Measured on the lockbox's dev actors (``analyses/speaker_norm_dev.py``, RESULTS.md 11): +6.2 UA points
when every emotion of every speaker is there (RAVDESS's design), +2.8 when a speaker's commonest emotion holds 37 %
of their clips, -6.6 at 60 % and -15.4 at 75 % (a speaker heard mostly neutral, as in most real recordings).
It is an option of ``evaluate`` (``--speaker-norm``), never applied to a single clip.

>>> import numpy as np
>>> p = np.array([[0.6, 0.4], [0.9, 0.1], [0.3, 0.7], [0.5, 0.5]])
>>> center_by_speaker(p, ["a", "a", "b", "b"]).argmax(1).tolist()   # each speaker's bias removed
[1, 0, 1, 0]
>>> bool(np.allclose(center_by_speaker(p, ["a", "a", "b", "b"]).sum(1), 1))
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["center_by_speaker", "MIN_CLIPS"]

#: fewer clips than this per speaker make the speaker's mean a poor estimate of the voice (evaluate warns)
MIN_CLIPS = 10
_FLOOR = 1e-9  # log of a probability that rounded to zero stays finite


def center_by_speaker(probs, speakers) -> np.ndarray:
    """Probabilities ``[n, C]`` with each speaker's mean log-probability removed, renormalised per clip."""
    logp = np.log(np.clip(np.asarray(probs, dtype=np.float64), _FLOOR, None))
    speakers = np.asarray([str(s) for s in speakers])
    if len(speakers) != len(logp):
        raise ValueError(f"{len(speakers)} speakers for {len(logp)} clips")
    out = logp.copy()
    for s in np.unique(speakers):
        m = speakers == s
        out[m] -= logp[m].mean(0)
    out = np.exp(out - out.max(1, keepdims=True))
    return out / out.sum(1, keepdims=True)
