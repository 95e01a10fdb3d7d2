"""analyses/dev_levers.py (issue 28): the adapted Whisper block the LoRA lever trains starts as Whisper's block
and gives a padded batch's real frames what the block gives the clip alone."""

import doctest
import importlib.util
from pathlib import Path

import torch

whisper_model = __import__("pytest").importorskip("whisper.model")

SPEC = importlib.util.spec_from_file_location("dev_levers", Path(__file__).parents[1] / "analyses" / "dev_levers.py")
dev_levers = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(dev_levers)


def test_docstring_examples():
    assert doctest.testmod(dev_levers).failed == 0


def test_lora_block_starts_as_whisper_and_learns_only_adapters():
    torch.manual_seed(1)
    wb = whisper_model.ResidualAttentionBlock(16, 4).eval()
    blk = dev_levers.MaskedBlock(wb, rank=4).eval()
    x = torch.randn(2, 7, 16)
    assert torch.allclose(blk(x), wb(x), atol=1e-5)
    trainable = {n for n, p in blk.named_parameters() if p.requires_grad}
    assert trainable and all(n.endswith((".A", ".B")) for n in trainable)
    full = dev_levers.MaskedBlock(wb, rank=0)
    assert all(p.requires_grad for p in full.parameters())
    # a changed adapter changes the output: the lever can learn
    blk.q.B.data.normal_()
    assert not torch.allclose(blk(x), wb(x), atol=1e-3)
