"""Figure: one clip explained — waveform, log-mel with attention, heads, IG and occlusion, words,
phones, vocalizations and F0. Uses the project's own example clip (espeak-ng speech with a planted
laugh and breath; no corpus audio) and the shipped RAVDESS checkpoint.
"""

from __future__ import annotations

from _common import ROOT, save


def main(checkpoint: str = "ravdess-tiny.en", clip: str = "examples/laugh_breath.wav"):
    from explain_ser.api import Explainer

    res = Explainer(checkpoint).attribute(ROOT / clip)
    save(res.figure(), "example_clip")
    print(res.predicted, {k: round(v, 3) for k, v in res.summary["frames_for_80pct"].items()})


if __name__ == "__main__":
    main()
