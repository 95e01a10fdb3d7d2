"""CLI subcommands: one module per command, each with ``add_parser(subparsers)`` and ``run(args)``."""

import shlex
import sys


def command_line(name: str | None = None) -> str | None:
    """This run as a user would retype it, for the provenance a checkpoint, card or report records:
    ``explain-ser train MANIFEST --out DIR``. With ``name``, None unless this process is that command
    (a command's ``run`` called from Python has no command line of its own).

    >>> saved, sys.argv = sys.argv, ["/venv/bin/explain-ser", "train", "a b.csv"]
    >>> command_line(), command_line("train"), command_line("report")
    ("explain-ser train 'a b.csv'", "explain-ser train 'a b.csv'", None)
    >>> sys.argv = saved
    """
    if name is not None and sys.argv[1:2] != [name]:
        return None
    return "explain-ser " + " ".join(shlex.quote(a) for a in sys.argv[1:])
