"""``explain-ser sweep``: every encoder tap x every pooler, cross-validated, to a CSV.

One task per (tap x pooler, fold) on the Dask engine (``--jobs N``, ``--scheduler``, ``--cluster``; see
:mod:`explain_ser.engine`); ``--jobs 1``, the default, runs them in this process. The table is the same
either way.
"""

from __future__ import annotations


def add_parser(sub):
    from ..engine import add_engine_args
    from .train import add_training_args

    p = sub.add_parser("sweep", help="cross-validate every tap x pooler and write a CSV")
    add_training_args(p)
    p.add_argument("--taps", default="all", help="taps to sweep: all (default), 1,2,3 or 1-3")
    p.add_argument("--poolers", default="mean,mhaap,qkv,qkv-tanh,mqmha,transformer",
                   help="comma-separated pooler names")
    p.add_argument("--out", default="sweep.csv",
                   help="CSV to write (rows written as configurations finish, in table order at the end)")
    add_engine_args(p, jobs=1)
    p.set_defaults(func=run)


def run(args) -> int:
    import time

    import pandas as pd

    from ..atomic import write_text
    from ..engine import check_engine_args, cluster_from_args, jobs_within_memory
    from ..sweep import parse_taps, pooler_spec, sweep
    from .train import common_setup

    check_engine_args(args)
    poolers = [p.strip() for p in args.poolers.split(",") if p.strip()]
    for p in poolers:
        pooler_spec(p)  # validates the names before any work
    corpus, folds, config, head = common_setup(args)
    taps = parse_taps(args.taps, corpus.encoder["n_taps"])
    jobs_within_memory(args, corpus.data.x.nbytes)  # each worker holds the features
    rows = []

    def write(row):  # a long sweep keeps what is done if it is stopped
        rows.append(row)
        write_text(args.out, pd.DataFrame(rows).to_csv(index=False))

    t0 = time.perf_counter()
    with cluster_from_args(args, n_items=len(taps) * len(poolers) * len(folds)) as client:
        table = sweep(corpus, folds, taps, poolers, config, model_kwargs=head, progress=not args.quiet,
                      on_row=write, client=client)
    write_text(args.out, table.to_csv(index=False))  # table order, whatever order the rows finished in
    print(f"{len(table)} configurations x {len(folds)} {folds[0].kind} folds in {time.perf_counter() - t0:.0f} s "
          f"-> {args.out}")
    return 0
