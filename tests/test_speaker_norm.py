"""Per-speaker normalisation (``evaluate --speaker-norm``): a voice's constant shift of the scores is removed
exactly, nothing else, and the option fails cleanly without speakers."""

import json

import numpy as np
import pandas as pd
import pytest

from _env import EXAMPLES, needs_tiny
from explain_ser.speaker_norm import center_by_speaker
from test_extra_train import _corpus


def test_a_constant_shift_per_speaker_is_removed_exactly():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((40, 5))
    speakers = np.repeat(["a", "b", "c", "d"], 10)
    shift = {s: 3 * rng.standard_normal(5) for s in "abcd"}  # each voice pushes every clip the same way
    shifted = logits + np.stack([shift[s] for s in speakers])

    def softmax(z):
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    a, b = center_by_speaker(softmax(logits), speakers), center_by_speaker(softmax(shifted), speakers)
    assert np.allclose(a, b, atol=1e-9) and np.allclose(b.sum(1), 1)
    # without the normalisation the shift decides many clips; with it none
    assert (softmax(shifted).argmax(1) != softmax(logits).argmax(1)).sum() > 5
    # one speaker's clips never move another's
    only_a = center_by_speaker(softmax(shifted)[:10], speakers[:10])
    assert np.allclose(only_a, b[:10])
    with pytest.raises(ValueError, match="3 speakers for 40 clips"):
        center_by_speaker(softmax(logits), ["a", "b", "c"])


@needs_tiny
def test_cli_evaluate_speaker_norm(tmp_path, capsys):
    from explain_ser.cli import main

    wavs = sorted(EXAMPLES.glob("*.wav"))
    csv = _corpus(tmp_path / "mine", ["a", "b"], ["angry", "calm", "sad"], wavs)
    pred = tmp_path / "p.csv"
    assert main(["evaluate", csv, "--speaker-norm", "--predictions", str(pred), "--json", "--quiet"]) == 0
    cap = capsys.readouterr()
    out = json.loads(cap.out)
    assert out["speaker_norm"] is True and out["n"] == 6
    assert "fewer than 10 clips" in cap.err  # three clips a speaker: said, not refused
    p = pd.read_csv(pred)
    probs = p[[c for c in p.columns if c.startswith("p_")]].to_numpy()
    assert np.allclose(probs.sum(1), 1, atol=1e-3)
    # no speaker column: one line, exit 2, no predictions file
    df = pd.read_csv(csv).drop(columns="speaker")
    bad = tmp_path / "mine" / "nospeaker.csv"
    df.to_csv(bad, index=False)
    assert main(["evaluate", str(bad), "--speaker-norm", "--predictions", str(tmp_path / "q.csv"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs a 'speaker'" in err and str(bad) in err
    assert not (tmp_path / "q.csv").exists()
