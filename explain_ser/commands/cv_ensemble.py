"""``explain-ser cv-ensemble``: what averaging several cross-validated runs would score, from their
out-of-fold predictions (``cv_predictions.csv``), without training again."""

from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser("cv-ensemble", help="score the average of cross-validated runs' out-of-fold probabilities")
    p.add_argument("runs", nargs="+", metavar="RUN",
                   help="training output directories (or their cv_predictions.csv), all on the same folds")
    p.add_argument("--predictions", default=None, metavar="CSV", help="write the averaged per-clip predictions here")
    p.add_argument("--json", action="store_true", help="print per-fold and summary metrics as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    import json

    from ..atomic import write_path
    from ..metrics import format_mean_std, summarize_folds
    from ..oof import average, fold_scores, read_predictions

    frames = [read_predictions(r) for r in args.runs]
    scores = [fold_scores(f) for f in frames]
    mean = average(frames, names=args.runs)
    ens = fold_scores(mean)
    summary = summarize_folds(ens.to_dict("records"))
    if args.predictions:
        write_path(args.predictions, lambda tmp: mean.round(6).to_csv(tmp, index=False), suffix=".csv")
    if args.json:
        print(json.dumps({"runs": args.runs, "per_fold": ens.to_dict("records"), "summary": summary,
                          "runs_ua": [summarize_folds(s.to_dict("records"))["ua"] for s in scores]}, indent=2))
        return 0
    width = max(len(r) for r in args.runs)
    for r, s in zip(args.runs, scores):
        print(f"{r:<{width}}  UA {format_mean_std(summarize_folds(s.to_dict('records')), 'ua')}")
    print(f"{'average of ' + str(len(frames)):<{width}}  UA {format_mean_std(summary, 'ua')}  "
          f"WA {format_mean_std(summary, 'wa')}  macro-F1 {format_mean_std(summary, 'macro_f1')}  "
          f"({len(ens)} folds, {int(ens['n'].sum())} clips)")
    print("UA per fold: " + " ".join(f"{100 * u:.1f}" for u in ens["ua"]))
    return 0
