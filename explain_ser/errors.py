"""User-facing errors.

Anything the user can fix (a bad file, a wrong option, a model that does not fit)
raises :class:`InputError` with one line that names the file or value and the
problem. The CLI prints it as ``explain-ser: error: <message>`` and exits with
code 2, never with a traceback.

>>> str(InputError("clip.wav", "file not found"))
'clip.wav: file not found'
"""

from __future__ import annotations


class InputError(Exception):
    """A problem with user input, reported as one line: ``<what>: <problem>``."""

    def __init__(self, what: object, problem: str | None = None):
        self.what = str(what)
        self.problem = problem
        super().__init__(self.what if problem is None else f"{self.what}: {problem}")
