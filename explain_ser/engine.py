"""The one engine for batch work: Dask distributed.

Every batch command over clips (``extract``, ``align``, ``report``, ``attribute``, ``faithfulness`` with
its randomisation check, annotation) runs them through :func:`map_clips`: one task per clip, on a
:class:`distributed.Client` or, without one, in this process (the same task function, no Dask).
Training runs through :func:`map_tasks`: ``sweep`` as one task per (tap x pooler, fold) and ``train``'s
cross-validation as one task per fold (:func:`explain_ser.train.run_fold`), the features sent once to
each worker; every such task must succeed, and its result does not depend on where it ran. (These two
default to ``--jobs 1``, and :func:`jobs_within_memory` keeps a local cluster within the memory its
copies of the features need.) Where the client comes from is decided once, by :func:`cluster_from_args`
/ :func:`engine`:

- ``--jobs N`` (N > 1): a ``LocalCluster`` of N worker processes with one thread each (the default on
  one machine; each worker holds its own model, and torch runs single-threaded there because the
  Nanny sets ``OMP_NUM_THREADS=1``; :func:`local_cluster`); ``--jobs 1`` and single-item runs stay in
  this process;
- ``--scheduler ADDRESS``: a cluster that is already running (``dask scheduler`` + ``dask worker``);
- ``--cluster slurm|pbs [--cluster-config FILE]``: a dask-jobqueue cluster of ``--jobs`` workers
  (jobqueue's own config in ``~/.config/dask/jobqueue.yaml`` applies; FILE adds or overrides
  keyword arguments of ``SLURMCluster``/``PBSCluster``).

Faults. A clip whose input is bad (:class:`~explain_ser.errors.InputError` inside a :func:`stage`) is a
*failure*: it is not retried, the others go on, and it ends up in ``failures.csv`` (clip, stage,
message; :func:`write_failures`). Any other exception is retried by Dask (``retries``) before it is
recorded the same way. A worker that dies mid-task (killed, out of memory) is not an exception: the
scheduler hands its tasks to the other workers (up to ``distributed.scheduler.allowed-failures``
deaths per task), so such a run finishes with the same results. Tasks write their outputs atomically to
shared caches and work dirs, so a clip is either done or absent, and a rerun skips what is done.

Workers load heavy state (encoder, checkpoint) once per process through :func:`resident`, keyed by what
identifies it (checkpoint directory, cache roots), not once per task.

>>> results, failures = map_clips(len, ["ab", "abc"], client=None, progress=False)
>>> results, failures
([2, 3], [])
>>> def load(path):
...     with stage("audio"):
...         raise InputError(path, "not an audio file")
>>> map_clips(load, ["x.wav"], keys=["x"], progress=False)
([None], [{'clip': 'x', 'stage': 'audio', 'message': 'x.wav: not an audio file'}])
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .errors import InputError

__all__ = ["add_engine_args", "check_engine_args", "cluster_from_args", "engine", "local_cluster", "default_jobs",
           "jobs_within_memory", "map_clips", "map_tasks", "stage", "ClipFailed", "StageError", "resident",
           "write_failures", "report_failures", "FAILURES", "EXIT_FAILED"]

FAILURES = "failures.csv"
EXIT_FAILED = 1  # some clips failed (listed in failures.csv); 0: all done, 2: bad input, nothing done
CLUSTER_KINDS = ("slurm", "pbs")


# ---- per-clip errors ----------------------------------------------------------------------------------

class ClipFailed(Exception):
    """This clip cannot be done (bad audio, nothing to align): recorded as a failure, never retried."""

    def __init__(self, stage: str, message: str):
        super().__init__(stage, message)  # args = (stage, message): pickles across processes as is
        self.stage, self.message = stage, message

    def __str__(self):
        return f"{self.stage}: {self.message}"


class StageError(Exception):
    """An unexpected error in a stage of a clip's task (retried by Dask, then recorded)."""

    def __init__(self, stage: str, message: str):
        super().__init__(stage, message)
        self.stage, self.message = stage, message

    def __str__(self):
        return f"{self.stage}: {self.message}"


@contextlib.contextmanager
def stage(name: str):
    """Name the stage of a clip's task that the block runs (``audio``, ``encode``, ``align``, ``explain``,
    ``write``): an :class:`InputError` inside becomes :class:`ClipFailed`, anything else :class:`StageError`."""
    try:
        yield
    except (ClipFailed, StageError):
        raise
    except InputError as err:
        raise ClipFailed(name, str(err)) from None
    except Exception as err:
        raise StageError(name, f"{type(err).__name__}: {err}") from err


class _Failed:
    """What a task returns instead of raising when its clip failed (so Dask does not retry it)."""

    __slots__ = ("stage", "message")

    def __init__(self, stage: str, message: str):
        self.stage, self.message = stage, message


def _run_one(item, fn: Callable):
    try:
        return fn(item)
    except ClipFailed as err:
        return _Failed(err.stage, err.message)


# ---- state that a worker process loads once ------------------------------------------------------------

_RESIDENT: dict = {}
_RESIDENT_LOCK = threading.Lock()


def resident(key, factory: Callable[[], object]):
    """``factory()`` made once per process and ``key`` (hashable: e.g. the checkpoint directory and cache
    roots), then reused by every task this process runs. The lock serialises the first load, so a worker
    with several threads still loads a model once.

    >>> resident(("doc", 1), lambda: object()) is resident(("doc", 1), lambda: object())
    True
    """
    with _RESIDENT_LOCK:
        if key not in _RESIDENT:
            _RESIDENT[key] = factory()
        return _RESIDENT[key]


# ---- where the workers come from -----------------------------------------------------------------------

def default_jobs() -> int:
    """Worker processes when ``--jobs`` is not given: the cores, at most 4 (each holds a model)."""
    return max(1, min(4, os.cpu_count() or 1))


def add_engine_args(parser, jobs: int | None = None) -> None:
    """``--jobs``, ``--scheduler``, ``--cluster`` and ``--cluster-config`` for a batch command.

    ``jobs``: the command's own default for ``--jobs`` (None: the cores, :func:`default_jobs`). Training
    commands keep 1: every worker holds a copy of the features, and a training run often shares the
    machine with others (``--threads``), so more processes are asked for, not taken.
    """
    g = parser.add_argument_group("engine (Dask)")
    default = f"the cores, at most 4, here {default_jobs()}" if jobs is None else str(jobs)
    g.add_argument("--jobs", type=int, default=jobs, metavar="N",
                   help=f"worker processes of a local Dask cluster (default: {default}; 1 = in this process); "
                        f"with --cluster: workers to start")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="use a running Dask cluster, e.g. tcp://10.0.0.5:8786 (caches and outputs on a shared "
                        "filesystem)")
    g.add_argument("--cluster", default=None, choices=CLUSTER_KINDS,
                   help="start workers as batch jobs through dask-jobqueue (pip install 'explain_ser[cluster]')")
    g.add_argument("--cluster-config", default=None, metavar="YAML",
                   help="keyword arguments of the dask-jobqueue cluster (cores, memory, queue, walltime, "
                        "job_script_prologue, ...)")


def _read_cluster_config(path) -> dict:
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise InputError(p, f"unreadable cluster config ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise InputError(p, "a cluster config is a mapping of keyword arguments (cores: 4, memory: 8GB, ...)")
    return data


def _jobqueue_cluster(kind: str, config: dict):
    import dask_jobqueue  # a missing package is reported by the CLI in one line (exit 3)

    cls = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}[kind]
    try:
        return cls(**config)
    except (TypeError, ValueError) as e:  # unknown keyword, or a required one (cores, memory) missing
        raise InputError(f"--cluster {kind}", f"cannot configure the cluster ({e})") from None


@contextlib.contextmanager
def engine(jobs: int | None = None, scheduler: str | None = None, cluster: str | None = None,
           cluster_config=None, n_items: int | None = None) -> Iterator:
    """A :class:`distributed.Client`, or None for work in this process.

    ``scheduler``: connect to a running cluster. ``cluster``: ``slurm``/``pbs`` through dask-jobqueue,
    scaled to ``jobs`` workers (default 1). Otherwise a ``LocalCluster`` of ``jobs`` processes (default
    :func:`default_jobs`), never more than ``n_items``; one worker (or one clip) runs in this process,
    where starting a cluster would only add its start-up and a second copy of the model.

    >>> with engine(jobs=1) as client:
    ...     client is None
    True
    """
    _check(jobs, scheduler, cluster, cluster_config)
    from distributed import Client

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as e:
            raise InputError(scheduler, f"no Dask scheduler answers there ({e})") from None
        with client:
            _announce(client)
            yield client
        return
    if cluster is not None:
        conf = _read_cluster_config(cluster_config) if cluster_config else {}
        with _jobqueue_cluster(cluster, conf) as jq:
            jq.scale(jobs or 1)
            with Client(jq) as client:
                _announce(client)
                yield client
        return
    n = jobs if jobs is not None else default_jobs()
    if n_items is not None:
        n = min(n, n_items)
    if n <= 1:
        yield None
        return
    with local_cluster(n) as lc, Client(lc) as client:
        _announce(client)
        yield client


def _announce(client, file=None) -> None:
    """One stderr line with the scheduler and its dashboard (served when ``bokeh`` is installed), so a long
    run can be watched; the line says how to get the dashboard when it is not served."""
    import importlib.util

    link = client.dashboard_link
    served = importlib.util.find_spec("bokeh") is not None
    print(f"explain-ser: note: Dask scheduler {client.scheduler.address}; dashboard "
          + (link if served else f"{link} once bokeh is installed (pip install 'bokeh>=3.1')"),
          file=file or sys.stderr)


@contextlib.contextmanager
def local_cluster(n: int):
    """The ``LocalCluster`` of ``--jobs n``: n worker processes of one thread each.

    Processes: torch and the aligners hold the GIL. One thread each: one clip at a time per worker, and
    torch single-threaded there (the Nanny sets OMP_NUM_THREADS=1), so N workers use N cores. ":0": the
    scheduler's HTTP endpoint on a free port (a second run on the machine must not clash on 8787).

    Two Dask defaults cost a task its time inside the worker (an encoder pass is many small torch calls),
    and are off here:

    - the Nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (glibc hands freed memory back to the
      system at once, against unmanaged-memory growth), so every clip's encoder pass faults its buffers in
      afresh. Measured on 60 RAVDESS clips, one thread, in one process: 50 ms/clip without it, 60-78 ms
      with it. A worker here holds one model and frees per-clip buffers, so glibc's default is kept
      (unless MALLOC_TRIM_THRESHOLD_ is set in this environment, which the workers then inherit);
    - the statistical profiler samples the task's stack every 10 ms for the dashboard, taking the GIL
      from it: with it, 83-92 ms/clip inside the task vs 65-69 without (same clips, one worker, machine
      under load ~3, so read the order of magnitude, not the digits).

    ``--scheduler`` and ``--cluster`` workers are started elsewhere; the same two keys can be set in their
    Dask config (``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: null``,
    ``distributed.worker.profile.enabled: false``).
    """
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                          "distributed.worker.profile.enabled": False}):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=logging.ERROR)
    with cluster:
        yield cluster


def _check(jobs, scheduler, cluster, cluster_config) -> None:
    if jobs is not None and jobs < 1:
        raise InputError("--jobs", "must be at least 1")
    if sum(x is not None for x in (scheduler, cluster)) > 1:
        raise InputError("--scheduler", "give either --scheduler or --cluster, not both")
    if cluster_config is not None and cluster is None:
        raise InputError("--cluster-config", "needs --cluster slurm or --cluster pbs")


def check_engine_args(args) -> None:
    """Refuse contradictory engine options before slow work (loading a corpus), not after it."""
    _check(getattr(args, "jobs", None), getattr(args, "scheduler", None), getattr(args, "cluster", None),
           getattr(args, "cluster_config", None))


def jobs_within_memory(args, nbytes: int, available: int | None = None, file=None) -> None:
    """Lower ``args.jobs`` so that a local cluster whose every worker holds a copy of ``nbytes`` (the
    training features :func:`map_tasks` sends to each) fits in the memory available now, with a one-line
    note; below two workers, the work stays in this process. A remote cluster (``--scheduler``,
    ``--cluster``) is left alone: its memory is elsewhere.

    Room is kept for one more copy (sending the data serialises it here) and 10 % per worker.

    >>> import argparse
    >>> a = argparse.Namespace(jobs=2, scheduler=None, cluster=None)
    >>> jobs_within_memory(a, nbytes=8 << 30, available=12 << 30, file=sys.stdout)
    explain-ser: note: --jobs 2 -> 1 (in this process): every worker would hold its own copy of the 8.0 GB of features, and 12.0 GB are free
    >>> a.jobs
    1
    """
    if getattr(args, "scheduler", None) is not None or getattr(args, "cluster", None) is not None:
        return
    wanted = args.jobs if args.jobs is not None else default_jobs()
    if wanted <= 1:
        return
    if available is None:
        import psutil  # a dependency of distributed

        available = psutil.virtual_memory().available
    fits = int((0.9 * available - nbytes) // (1.1 * max(nbytes, 1)))
    if fits >= wanted:
        return
    args.jobs = fits if fits >= 2 else 1
    where = "in this process" if args.jobs == 1 else f"{args.jobs} workers"
    print(f"explain-ser: note: --jobs {wanted} -> {args.jobs} ({where}): every worker would hold its own copy of the "
          f"{nbytes / 2**30:.1f} GB of features, and {available / 2**30:.1f} GB are free", file=file or sys.stderr)


def cluster_from_args(args, n_items: int | None = None):
    """:func:`engine` configured by a command's ``--jobs/--scheduler/--cluster/--cluster-config``."""
    return engine(jobs=getattr(args, "jobs", None), scheduler=getattr(args, "scheduler", None),
                  cluster=getattr(args, "cluster", None), cluster_config=getattr(args, "cluster_config", None),
                  n_items=n_items)


# ---- clips are tasks -----------------------------------------------------------------------------------

def map_clips(fn: Callable, items: Sequence, client=None, keys: Sequence[str] | None = None, desc: str = "clips",
              progress: bool = True, retries: int = 1) -> tuple[list, list[dict]]:
    """Run ``fn(item)`` for every item, one task each; returns ``(results, failures)``.

    ``results`` is in the order of ``items`` (None where the clip failed); ``failures`` lists
    ``{"clip", "stage", "message"}`` in the same order (``keys`` name the clips; default: the positions).
    With a ``client`` the tasks run on its workers (``fn`` must be importable there: a module-level
    function of explain_ser) and are retried ``retries`` times on unexpected errors; without one they run
    here, one after the other, with the same failure handling (and no retries: nothing else can fail).
    """
    from tqdm.auto import tqdm

    items = list(items)
    keys = [str(i) for i in range(len(items))] if keys is None else [str(k) for k in keys]
    assert len(keys) == len(items), "one key per item"
    results: list = [None] * len(items)
    errors: dict[int, tuple[str, str]] = {}
    bar = tqdm(total=len(items), desc=desc, unit="clip", disable=not progress or len(items) < 2)
    if client is None:
        for i, item in enumerate(items):
            try:
                out = _run_one(item, fn)
            except StageError as err:
                out = _Failed(err.stage, err.message)
            except Exception as err:  # a bug outside any stage: still one clip, still recorded
                out = _Failed("task", f"{type(err).__name__}: {err}")
            if isinstance(out, _Failed):
                errors[i] = (out.stage, out.message)
            else:
                results[i] = out
            bar.update(1)
    else:
        from distributed import as_completed

        # pure=False: every run recomputes (tasks write files; Dask must not reuse an old key's result)
        futures = client.map(_run_one, items, fn=fn, pure=False, retries=retries)
        position = {f.key: i for i, f in enumerate(futures)}
        for fut in as_completed(futures):
            i = position[fut.key]
            if fut.status == "finished":
                out = fut.result()
                if isinstance(out, _Failed):
                    errors[i] = (out.stage, out.message)
                else:
                    results[i] = out
            else:  # retries used up, or KilledWorker after too many worker deaths on this clip
                err = fut.exception()
                errors[i] = (getattr(err, "stage", None) or "task",
                             getattr(err, "message", None) or f"{type(err).__name__}: {err}")
            fut.release()  # the result is here now; free it on the worker
            bar.update(1)
    bar.close()
    failures = [{"clip": keys[i], "stage": s, "message": m} for i, (s, m) in sorted(errors.items())]
    return results, failures


# ---- work that must all succeed: the folds of a cross-validation -----------------------------------------

def map_tasks(fn: Callable, items: Sequence, client=None, shared=None, on_done: Callable | None = None) -> list:
    """``fn(item, shared)`` for every item, one task each, where every task must succeed (a fold of a
    cross-validation is not a bad clip to skip): the results in the order of ``items``; the first error
    is raised here, with its traceback, and the other tasks are cancelled. ``on_done(i, result)`` is
    called as each finishes (in completion order).

    ``shared`` is what every task reads (the training features): with a ``client`` it is sent ONCE to
    every worker (``client.scatter(..., broadcast=True)``) and the tasks get it from their own worker's
    memory; a worker that starts later (the Nanny's replacement of a killed one) copies it from a peer
    when it is given a task. It is released when the tasks are done. Without a client, ``fn`` runs here,
    one item after the other, on ``shared`` itself.

    >>> map_tasks(divmod, [7, 9], shared=4)
    [(1, 3), (2, 1)]
    """
    items = list(items)
    results: list = [None] * len(items)
    if client is None:
        for i, item in enumerate(items):
            results[i] = fn(item, shared)
            if on_done is not None:
                on_done(i, results[i])
        return results
    from distributed import as_completed

    # hash=False: a content hash of a large tensor costs a pass over it, and the key only has to be unique
    [ref] = client.scatter([shared], broadcast=True, hash=False)  # a list: ``shared`` may itself be one
    # pure=False: a task's key never matches an earlier run's; retries=0: an exception here is
    # deterministic (a worker's death is not an exception: the scheduler reruns its tasks elsewhere)
    futures = client.map(fn, items, [ref] * len(items), pure=False, retries=0)
    position = {f.key: i for i, f in enumerate(futures)}
    try:
        for fut in as_completed(futures):
            i = position[fut.key]
            results[i] = fut.result()  # re-raises the task's exception
            fut.release()
            if on_done is not None:
                on_done(i, results[i])
    finally:
        client.cancel(futures)
        ref.release()
    return results


def write_failures(out_dir, failures: list[dict]) -> Path | None:
    """``<out_dir>/failures.csv`` (clip, stage, message) written atomically; a stale one from an earlier
    run is removed when nothing failed. Returns the path written, or None."""
    import pandas as pd

    from .atomic import write_text

    path = Path(out_dir) / FAILURES
    if not failures:
        path.unlink(missing_ok=True)
        return None
    table = pd.DataFrame(failures, columns=["clip", "stage", "message"])
    write_text(path, table.to_csv(index=False))
    return path


def report_failures(out_dir, failures: list[dict], total: int, file=None) -> int:
    """Write ``failures.csv``, print one line per failed clip and a count on stderr; the exit code
    (0 when nothing failed, :data:`EXIT_FAILED` otherwise)."""
    import sys

    file = file or sys.stderr
    path = write_failures(out_dir, failures)
    for f in failures:
        print(f"explain-ser: failed: {f['clip']} ({f['stage']}): {f['message']}", file=file)
    if path is not None:
        print(f"explain-ser: {len(failures)} of {total} clips failed (listed in {path})", file=file)
        return EXIT_FAILED
    return 0
