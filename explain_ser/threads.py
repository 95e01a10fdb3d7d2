"""Thread control for small tensor work.

Pooler-level computations (attention, IG over pooled features, occlusion, deletion curves) work on
tensors of a few hundred kB. With torch's default intra-op thread pool, each tiny operation pays a
thread synchronisation, which on a busy machine costs far more than the work: measured here with the
2 cores oversubscribed, 32 interpolation steps of a [1, 115, 384] input took 1.1 s with 2 threads
and 2 ms with 1. :func:`single_thread` runs such blocks on one thread and restores the setting.

>>> import torch
>>> n = torch.get_num_threads()
>>> with single_thread():
...     torch.get_num_threads()
1
>>> torch.get_num_threads() == n
True
"""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run the block with ``n`` intra-op threads (None: leave the setting alone), then restore it."""
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def single_thread():
    """:func:`torch_threads` with one thread."""
    return torch_threads(1)
