"""``explain-ser explore``: launch the Streamlit attention explorer (``apps/explorer.py``).

The app lives outside the package, in the source checkout's ``apps/`` folder next to
``explain_ser/``; this command finds it there (nothing is copied) and runs
``python -m streamlit run apps/explorer.py`` with the report, manifest, timeline, checkpoints and
taggers passed after ``--``. Only the report directory, the manifest's directory, the timeline
directory and the recordings its summaries name, ``examples/`` and ``--audio-root`` directories are
ever read by the app.

The server is a child process: SIGTERM or SIGINT to this command is passed on to it, and the command
waits for it to end (a process manager or ``kill`` stops both, and the port is free afterwards).
"""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
from pathlib import Path

from ..errors import InputError

MAX_UPLOAD_MB = 20


def app_path() -> Path:
    """``apps/explorer.py`` of the source checkout that holds this package; InputError if absent."""
    pkg = Path(__file__).resolve().parents[1]
    app = pkg.parent / "apps" / "explorer.py"
    if not app.is_file():
        raise InputError(app, "the explorer app is not here: `explain-ser explore` runs from a source checkout "
                              "(git clone the repository and `pip install -e '.[explorer]'`), where apps/ sits "
                              "next to explain_ser/")
    return app


def report_manifest(report: Path) -> str | None:
    """The manifest ``explain-ser report`` recorded in ``report.json`` (if it still exists), else None."""
    try:
        corpus = json.loads((report / "report.json").read_text()).get("corpus")
    except (OSError, ValueError):
        return None
    m = corpus.get("manifest") if isinstance(corpus, dict) else None
    return str(m) if m and Path(m).is_file() else None


def timeline_checkpoints(directory: Path) -> list[str]:
    """Checkpoint directories (not shipped names) the recordings of a timeline directory were made with;
    InputError when ``directory`` is no ``explain-ser timeline`` output."""
    from ..model import available_checkpoints, resolve_checkpoint
    from ..timeline_files import check_timeline_dir, read_recording

    shipped = set(available_checkpoints())
    out = []
    for stem in check_timeline_dir(directory):
        name = read_recording(directory, stem).checkpoint
        if not name or name in shipped:
            continue
        try:
            out.append(str(resolve_checkpoint(name)))
        except InputError:  # moved since: the app says which checkpoint the numbers came from
            continue
    return list(dict.fromkeys(out))


def add_parser(sub):
    p = sub.add_parser("explore", help="interactive attention explorer in the browser (Streamlit)",
                       description="Launch the Streamlit explorer: clip, recording, corpus and compare views.")
    p.add_argument("--report", metavar="DIR", help="report directory (explain-ser report) for the corpus view")
    p.add_argument("--manifest", metavar="CSV", help="manifest of clips to browse (path, clip_id, speaker, emotion ...)")
    p.add_argument("--timeline", metavar="DIR",
                   help="output directory of explain-ser timeline for the recording view (its recordings' utterances "
                        "open in the clip view)")
    p.add_argument("--checkpoint", metavar="DIR", action="append", default=[],
                   help="extra checkpoint directory to offer besides the shipped ones (repeatable)")
    p.add_argument("--tagger", metavar="DIR", action="append", default=[],
                   help="extra vocalization tagger directory (explain-ser train-tagger) to offer besides the rules "
                        "and the shipped taggers (repeatable)")
    p.add_argument("--audio-root", metavar="DIR", action="append", default=[],
                   help="another directory the app may read audio from (manifest paths outside the manifest's "
                        "own directory; repeatable)")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.add_argument("--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    p.add_argument("--print-command", action="store_true", help="print the streamlit command line and exit")
    p.set_defaults(func=run)


def streamlit_command(args) -> list[str]:
    """The command line that runs the app; validates the inputs first (InputError on a bad one)."""
    app = app_path()
    if importlib.util.find_spec("streamlit") is None:
        raise InputError("streamlit", "not installed; pip install 'explain_ser[explorer]'")
    if not 0 < int(args.port) < 65536:
        raise InputError(f"--port {args.port}", "not a valid port")
    extra: list[str] = []
    if args.report:
        rep = Path(args.report).expanduser().resolve()
        if not rep.is_dir():
            raise InputError(args.report, "report directory not found")
        if not (rep / "tables" / "clip_metrics.csv").is_file():
            raise InputError(args.report, "not an explain-ser report directory (no tables/clip_metrics.csv)")
        extra += ["--report", str(rep)]
        if not args.manifest:  # the report's clips live where its manifest says: offer that manifest
            args.manifest = report_manifest(rep)
            if args.manifest:
                print(f"explain-ser: using the report's manifest {args.manifest} (pass --manifest to choose another)",
                      file=sys.stderr)
    if args.manifest:
        from ..corpora import read_manifest

        read_manifest(args.manifest)  # InputError on a missing or malformed manifest
        extra += ["--manifest", str(Path(args.manifest).expanduser().resolve())]
    from ..model import resolve_checkpoint

    checkpoints = [str(resolve_checkpoint(ck)) for ck in args.checkpoint]
    if args.timeline:
        tdir = Path(args.timeline).expanduser().resolve()
        extra += ["--timeline", str(tdir)]
        for ck in timeline_checkpoints(tdir):  # the utterances open under the checkpoint that made the timeline
            if ck not in checkpoints:
                checkpoints.append(ck)
    for ck in checkpoints:
        extra += ["--checkpoint", ck]
    for tg in args.tagger:
        from ..tagger import resolve_tagger

        extra += ["--tagger", str(resolve_tagger(tg).resolve())]
    for root in args.audio_root:
        r = Path(root).expanduser().resolve()
        if not r.is_dir():
            raise InputError(root, "audio root is not a directory")
        extra += ["--audio-root", str(r)]
    cmd = [sys.executable, "-m", "streamlit", "run", str(app),
           "--server.port", str(int(args.port)), "--server.address", args.address,
           "--server.maxUploadSize", str(MAX_UPLOAD_MB), "--browser.gatherUsageStats", "false",
           "--client.toolbarMode", "minimal"]
    if args.headless:
        cmd += ["--server.headless", "true"]
    return cmd + (["--"] + extra if extra else [])


def run(args) -> int:
    cmd = streamlit_command(args)
    if args.print_command:
        print(" ".join(cmd))
        return 0
    print(f"explain-ser: explorer on http://{args.address}:{args.port} (Ctrl+C to stop)", file=sys.stderr)
    return serve(cmd)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def serve(cmd: list[str], wait_after_signal: float = 15.0) -> int:
    """Run the server ``cmd`` until it ends; SIGTERM/SIGINT sent to this process are passed on to it and
    waited for (killed after ``wait_after_signal`` s if it does not stop), so nothing is left holding the
    port. Returns the server's exit code (128 + signal when this process was signalled, as a shell reports it).
    """
    import time

    proc = subprocess.Popen(cmd)
    got: list[tuple[int, float]] = []

    def forward(signum, frame):
        got.append((signum, time.monotonic()))
        if proc.poll() is None:
            proc.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in STOP_SIGNALS}
    try:
        while True:
            try:  # short waits: a signal handled meanwhile starts the clock for the server to stop
                code = proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if got and time.monotonic() - got[0][1] > wait_after_signal:  # it did not stop in time
                    proc.kill()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        if proc.poll() is None:  # an exception of our own: never leave the server behind
            proc.kill()
            proc.wait()
    return 128 + got[0][0] if got else code
