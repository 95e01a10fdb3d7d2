"""Atomic file writes: write to a temporary file in the target's folder, then rename over it.

A killed run never leaves a half-written output, and a reader sees the old file or the new one.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
>>> write_text(p, "hello")
>>> p.read_text(), sorted(x.name for x in p.parent.iterdir())
('hello', ['a.txt'])
>>> oct(p.stat().st_mode & 0o777) == oct(0o666 & ~_umask())   # not mkstemp's private 0600
True
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Callable


@contextlib.contextmanager
def temporary_beside(path: str | os.PathLike, suffix: str = ".tmp"):
    """Yield a temporary path in ``path``'s folder; on success move it onto ``path``, else delete it.

    ``suffix`` lets writers that pick a format from the name (savefig, np.savez) see the right one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes the file private (0600); an output gets the permissions any new file would get
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read the umask is to set it: put it straight back
    os.umask(mask)
    return mask


def write_path(path: str | os.PathLike, writer: Callable[[str], object], suffix: str = ".tmp") -> Path:
    """Call ``writer(tmp_path)`` (a function that writes a file by name), then move it to ``path``."""
    with temporary_beside(path, suffix) as tmp:
        writer(str(tmp))
    return Path(path)


def write_stream(path: str | os.PathLike, writer: Callable, mode: str = "wb") -> Path:
    """Like :func:`write_path` for writers that take an open file object."""

    def by_name(tmp):
        with open(tmp, mode) as fh:
            writer(fh)

    return write_path(path, by_name)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_stream(path, lambda fh: fh.write(text), mode="w")


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    write_stream(path, lambda fh: fh.write(data))


def safe_stem(name: str) -> str:
    """A clip id as a file-name stem: anything but letters, digits, ``-_.`` becomes ``_``.

    >>> safe_stem("spk 1/clip:3")
    'spk_1_clip_3'
    """
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name)) or "clip"
