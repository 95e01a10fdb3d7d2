"""Issue 28: levers for accuracy on new speakers, compared by CV on the lockbox's DEV actors only.

The shipped recipe (QKV, 4 additive heads, learned mix of taps 2 + 3, input at -23 LUFS untrimmed, one noise,
one padding and one join copy per clip, 8 epochs, last 4 averaged, label smoothing 0.1, input dropout 0.1) is
trained on 3 of the 4 dev folds (``train --lockbox dev --folds speakers --k 3``: 9 actors) and scored on the 4th,
with one thing changed at a time (environment variables, so each lever is one run):

- ``VARIANT=base`` (default) | ``lora<r>`` (low-rank adapters, rank r, on every linear layer of Whisper's third
  block, fed by the cached tap 2, whose output replaces tap 3) | ``full`` (the same block fully fine-tuned);
  ``LR_BLOCK``: the block's learning rate (default: the pooler's 1e-3);
- ``SOURCE`` (tiny.en | base), ``TAPS`` ("2,3"), ``SPEEDS`` (e.g. "0.9,1.1": speed copies), ``RULE``
  (loud | asrec), ``AUGMENT`` ("noise,pad,join"), ``SEED``; ``TAG`` names the output files.

Each fold's test probabilities go to ``OUT/P_<TAG>_fold<i>.npy`` (``--score`` prints UA per fold and their mean
for one or more tags; ``a+b`` averages the probabilities of two runs, an ensemble of the two recipes;
``a:0,2,3`` averages the test clips' copies 0, 2 and 3 — original, then speed copies, then augmentation kinds in
``AUGMENT`` order — test-time augmentation). No locked
actor is loaded: the lockbox is opened only for a final candidate, with ``explain-ser evaluate --lockbox locked``.

    VARIANT=lora8 TAG=lora8 python analyses/dev_levers.py run --folds 0,1,2,3 --out results/dev_levers
    python analyses/dev_levers.py score base base345 base+base345 --out results/dev_levers

A block run on a padded batch with its key mask gives the real frames exactly what the block gives the clip
alone (which is what the encoder does in its trimmed window):

>>> torch.manual_seed(0) is not None
True
>>> import whisper.model as wm
>>> wb = wm.ResidualAttentionBlock(8, 2)
>>> blk = MaskedBlock(wb, rank=2).eval()
>>> x = torch.randn(1, 5, 8)
>>> pad = torch.cat([x, torch.randn(1, 3, 8)], 1)
>>> mask = torch.tensor([[True] * 5 + [False] * 3])
>>> bool(torch.allclose(blk(pad, mask)[:, :5], wb(x), atol=1e-5))
True
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

MANIFEST = "../shared/corpora/ravdess/manifest.csv"


class LoRALinear(nn.Module):
    """``W x + b + (alpha / r) B A x`` with W, b frozen (B starts at zero: the block starts as Whisper's)."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.weight = nn.Parameter(base.weight.detach().clone(), requires_grad=False)
        self.bias = None if base.bias is None else nn.Parameter(base.bias.detach().clone(), requires_grad=False)
        self.A = nn.Parameter(torch.randn(rank, base.in_features) / math.sqrt(base.in_features))
        self.B = nn.Parameter(torch.zeros(base.out_features, rank))
        self.scale = alpha / rank

    def forward(self, x):
        return F.linear(x, self.weight, self.bias) + (x @ self.A.t() @ self.B.t()) * self.scale


class MaskedBlock(nn.Module):
    """Whisper's ``ResidualAttentionBlock`` re-run with a key padding mask (Whisper's own takes none), its
    linear layers LoRA-adapted (``rank`` > 0) or fully trainable (``rank`` = 0)."""

    def __init__(self, wb, rank: int = 8, alpha: float | None = None):
        super().__init__()
        self.n_head = wb.attn.n_head
        if rank > 0:
            def wrap(layer):
                return LoRALinear(layer, rank, alpha or 2.0 * rank)
        else:
            def wrap(layer):
                return copy.deepcopy(layer)
        self.q, self.k, self.v, self.o = (wrap(wb.attn.query), wrap(wb.attn.key), wrap(wb.attn.value),
                                          wrap(wb.attn.out))
        self.ln1, self.ln2 = copy.deepcopy(wb.attn_ln), copy.deepcopy(wb.mlp_ln)
        self.fc1, self.fc2 = wrap(wb.mlp[0]), wrap(wb.mlp[2])
        for p in (*self.ln1.parameters(), *self.ln2.parameters()):
            p.requires_grad_(rank == 0)

    def forward(self, x, mask=None):
        B, T, D = x.shape
        h = self.ln1(x)
        q, k, v = (f(h).view(B, T, self.n_head, -1).transpose(1, 2) for f in (self.q, self.k, self.v))
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=None if mask is None else mask[:, None, None, :])
        x = x + self.o(a.transpose(1, 2).reshape(B, T, D))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class TunedTap(nn.Module):
    """Taps (t, t+1) -> (t, block(t)): the pooler model sees the adapted block's output as its second tap."""

    def __init__(self, ser, block):
        super().__init__()
        self.ser, self.block = ser, block

    def forward(self, x, mask):
        t = x[:, 0].float()
        return self.ser(torch.stack([t, self.block(t, mask)], 1), mask)


def env(name, default):
    return os.environ.get(name, default)


def load():
    from explain_ser.inputs import InputRule
    from explain_ser.splits import make_folds
    from explain_ser.sweep import load_corpus

    taps = [int(t) for t in env("TAPS", "2,3").split(",")]
    corpus = load_corpus(MANIFEST, source=env("SOURCE", "tiny.en"), taps=taps, progress=False,
                         speeds=tuple(float(s) for s in env("SPEEDS", "").split(",") if s),
                         augment=tuple(a for a in env("AUGMENT", "noise,pad,join").split(",") if a), augment_seed=0,
                         input_rule=InputRule(loudness=-23.0) if env("RULE", "loud") == "loud" else None,
                         lockbox="dev")
    folds = make_folds(corpus.manifest, "speakers", k=3, n_val=0, seed=0)
    return corpus, taps, folds


def train_fold(corpus, taps, fold, variant: str, seed: int, epochs: int = 8, average: int = 4,
               lr: float = 1e-3, lr_block: float | None = None):
    from explain_ser.network import SERModel
    from explain_ser.train import set_seed

    data, n = corpus.data, len(corpus.y)
    copies = len(data) // n
    y = np.tile(corpus.y, copies)
    set_seed(seed)
    rng = np.random.default_rng(seed)
    train = np.concatenate([fold.train + c * n for c in range(copies)])
    ser = SERModel(labels=corpus.labels, dim=corpus.encoder["dim"], taps=taps, n_taps=None, pooler="qkv",
                   pooler_hparams={"n_heads": 4, "query": "learned", "tanh_bound": False, "score": "additive",
                                   "score_hidden": 128}, hidden=256, dropout=0.3, input_dropout=0.1)
    ser.set_standardization(*data.standardization(train, None))
    groups = [{"params": list(ser.parameters()), "lr": lr}]
    model = ser
    if variant != "base":
        from explain_ser.weights import load_whisper

        assert taps == [2, 3] and env("SOURCE", "tiny.en") == "tiny.en", "the block lever adapts tiny.en's block 3"
        block = MaskedBlock(load_whisper("tiny.en").encoder.blocks[2], rank=0 if variant == "full" else int(variant[4:]))
        model = TunedTap(ser, block)
        groups.append({"params": [p for p in block.parameters() if p.requires_grad], "lr": lr_block or lr,
                       "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups, lr=lr, weight_decay=1e-2)
    total = None
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(train)
        for b in range(0, len(order), 32):
            idx = order[b:b + 32]
            x, mask = data.batch(idx, None)
            loss = F.cross_entropy(model(x, mask), torch.as_tensor(y[idx]), label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch >= epochs - average:
            state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            total = state if total is None else {k: total[k] + v if v.is_floating_point() else v
                                                 for k, v in state.items()}
    model.load_state_dict({k: v / average if v.is_floating_point() else v for k, v in total.items()})
    model.eval()
    per_copy = []  # the test clips' copies too (original, speeds..., augment kinds), for test-time averaging
    with torch.no_grad():
        for c in range(copies):
            idx, probs = fold.test + c * n, []
            for b in range(0, len(idx), 64):
                x, mask = data.batch(idx[b:b + 64], None)
                probs.append(torch.softmax(model(x, mask), -1).numpy())
            per_copy.append(np.concatenate(probs))
    return np.stack(per_copy)


def score(tags, out: Path) -> list[str]:
    from _common import dev_split

    from explain_ser.metrics import classification_metrics

    _, labels, y, folds = dev_split(MANIFEST)
    lines, first = [], None
    for spec in tags:
        row = []
        for i, fold in enumerate(folds):
            parts = [t.partition(":") for t in spec.split("+")]  # "tag:0,2,3": mean over those copies (TTA)
            files = [(out / f"P_{t}_fold{i}.npy", out / f"PC_{t}_fold{i}.npy", c) for t, _, c in parts]
            if not all((f if not c else fc).exists() for f, fc, c in files):
                row.append(None)
                continue
            pred = sum(np.load(fc)[[int(k) for k in c.split(",")]].sum(0) if c else np.load(f)
                       for f, fc, c in files).argmax(1)
            row.append(100 * classification_metrics(y[fold.test], pred, labels=range(len(labels)))["ua"])
        done = [r for r in row if r is not None]
        cells = " ".join("  -  " if r is None else f"{r:5.1f}" for r in row)
        first = first if lines else row  # the first tag is the reference of the paired column
        diff = [r - f for r, f in zip(row, first) if r is not None and f is not None]
        lines.append(f"{spec:40s} {cells}   mean {np.mean(done):5.1f} ({len(done)} folds)   "
                     f"vs {tags[0]} on the same folds {np.mean(diff):+5.1f}" if done else f"{spec}: none")
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["run", "score"])
    p.add_argument("tags", nargs="*")
    p.add_argument("--folds", default="0,1,2,3")
    p.add_argument("--out", default="analyses/results/dev_levers")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.what == "score":
        print("\n".join(score(args.tags, out)))
        return 0
    torch.set_num_threads(1)
    variant, tag = env("VARIANT", "base"), env("TAG", env("VARIANT", "base"))
    corpus, taps, folds = load()
    lr_block = float(env("LR_BLOCK", "0")) or None
    for i in (int(f) for f in args.folds.split(",")):
        t0 = time.time()
        per_copy = train_fold(corpus, taps, folds[i], variant, seed=int(env("SEED", "0")), lr_block=lr_block)
        np.save(out / f"P_{tag}_fold{i}.npy", per_copy[0])
        np.save(out / f"PC_{tag}_fold{i}.npy", per_copy)
        print(f"{tag} fold{i}: {time.time() - t0:.0f} s", flush=True)
    print("\n".join(score([tag], out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
