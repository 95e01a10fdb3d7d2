"""``explain-ser cv-select``: the selection-aware CV of a recipe search, from the out-of-fold predictions
(``cv_predictions.csv``) of its candidate runs on the same folds, without training again.

For each fold, the candidate with the best mean UA on the other folds is scored on that fold; the mean of
those scores estimates what "try these recipes, ship the winner" gives on new speakers. It is printed beside
the plain CV of the winner, which is optimistic whenever several candidates were compared on the same folds.
"""

from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser("cv-select", help="selection-aware (nested) CV of picking the best of several cross-validated runs")
    p.add_argument("runs", nargs="+", metavar="RUN",
                   help="training output directories (or their cv_predictions.csv), all on the same folds and clips")
    p.add_argument("--metric", default="ua", choices=["ua", "wa", "macro_f1"], help="what is selected on (default ua)")
    p.add_argument("--json", action="store_true", help="print the per-fold choices and estimates as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    import json

    from ..oof import nested_selection, read_predictions

    frames = [read_predictions(r) for r in args.runs]
    res = nested_selection(frames, args.runs, key=args.metric)
    if args.json:
        print(json.dumps({"runs": args.runs, **res}, indent=2))
        return 0
    pct = lambda d: f"{100 * d['mean']:.1f} ± {100 * d['std']:.1f}"
    width = max(len(r) for r in args.runs)
    name = args.metric.upper() if args.metric != "macro_f1" else "macro-F1"
    print(f"{len(args.runs)} candidates, {len(res['folds'])} folds ({name}, mean ± std over folds):")
    for r in args.runs:
        c = res["candidates"][r]
        print(f"  {r:<{width}}  CV {pct(c)}  per fold " + " ".join(f"{100 * v:.1f}" for v in c["per_fold"]))
    print("chosen on the other folds: " + "  ".join(f"{d['fold']}: {d['chosen']} ({100 * d['score']:.1f})"
                                                   for d in res["per_fold"]))
    print(f"selection-aware CV (nested): {name} {pct(res['nested'])}")
    print(f"plain CV of the winner ({res['winner']}): {name} {pct(res['winner_cv'])}  "
          f"(optimistic: selected on the same folds)")
    return 0
