"""``explain-ser sweep``: every encoder tap x every pooler, cross-validated, to a CSV."""

from __future__ import annotations


def add_parser(sub):
    from .train import add_training_args

    p = sub.add_parser("sweep", help="cross-validate every tap x pooler and write a CSV")
    add_training_args(p)
    p.add_argument("--taps", default="all", help="taps to sweep: all (default), 1,2,3 or 1-3")
    p.add_argument("--poolers", default="mean,mhaap,qkv,qkv-tanh,mqmha,transformer",
                   help="comma-separated pooler names")
    p.add_argument("--out", default="sweep.csv", help="CSV to write (rows appended as they finish)")
    p.set_defaults(func=run)


def run(args) -> int:
    import time

    import pandas as pd

    from ..sweep import parse_taps, pooler_spec, sweep
    from .train import common_setup

    poolers = [p.strip() for p in args.poolers.split(",") if p.strip()]
    for p in poolers:
        pooler_spec(p)  # validates the names before any work
    corpus, folds, config, head = common_setup(args)
    taps = parse_taps(args.taps, corpus.encoder["n_taps"])
    rows = []

    def write(row):
        rows.append(row)
        pd.DataFrame(rows).to_csv(args.out, index=False)

    t0 = time.perf_counter()
    sweep(corpus, folds, taps, poolers, config, model_kwargs=head, progress=not args.quiet, on_row=write)
    print(f"{len(rows)} configurations x {len(folds)} {folds[0].kind} folds in {time.perf_counter() - t0:.0f} s "
          f"-> {args.out}")
    return 0
