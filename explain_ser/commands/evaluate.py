"""``explain-ser evaluate``: a checkpoint on a labelled manifest: UA, WA, macro-F1, recall, confusion."""

from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser("evaluate", help="score a checkpoint on a labelled manifest (UA, WA, macro-F1, confusion)")
    p.add_argument("manifest", help="manifest CSV or corpus directory with an emotion column")
    p.add_argument("--checkpoint", default="ravdess-tiny.en", help="shipped name or directory (default ravdess-tiny.en)")
    p.add_argument("--cache", default=None, help="feature cache directory")
    p.add_argument("--predictions", default=None, metavar="CSV", help="write per-clip predictions here")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    import json

    import numpy as np
    import pandas as pd

    from ..atomic import write_path
    from ..checkpoint import Checkpoint
    from ..corpora import load_manifest_or_dir
    from ..errors import InputError
    from ..features import FeatureStore, features_for_manifest
    from ..metrics import classification_metrics
    from ..model import predict_proba

    ck = Checkpoint.load(args.checkpoint)
    df = load_manifest_or_dir(args.manifest).reset_index(drop=True)
    if "emotion" not in df.columns or df["emotion"].isna().any():
        raise InputError(args.manifest, "every clip needs an 'emotion' label to be evaluated")
    encoder = ck.encoder()  # carries the checkpoint's input rule into the feature path
    model = ck.model
    unknown = sorted(set(df["emotion"].astype(str)) - set(model.labels))
    if unknown:
        raise InputError(args.manifest, f"emotions {unknown} are not among the checkpoint's labels {model.labels}")
    feats = features_for_manifest(df, encoder, FeatureStore(args.cache), layers=model.taps, progress=not args.quiet)
    probs = predict_proba(model, feats)
    pred = [model.labels[i] for i in probs.argmax(1)]
    m = classification_metrics(df["emotion"].astype(str), pred, labels=model.labels)
    if args.predictions:
        out = pd.DataFrame({"clip_id": df.get("clip_id", pd.Series(range(len(df)))), "emotion": df["emotion"],
                            "predicted": pred, "confidence": probs.max(1).round(4)})
        for i, lab in enumerate(model.labels):
            out[f"p_{lab}"] = probs[:, i].round(4)
        write_path(args.predictions, lambda tmp: out.to_csv(tmp, index=False), suffix=".csv")
    if args.json:
        print(json.dumps({"checkpoint": str(args.checkpoint), "manifest": str(args.manifest), **m}, indent=2))
        return 0
    print(f"{args.checkpoint} on {args.manifest} ({m['n']} clips): UA {100 * m['ua']:.1f}  WA {100 * m['wa']:.1f}  "
          f"macro-F1 {100 * m['macro_f1']:.1f}")
    width = max(len(lab) for lab in model.labels)
    print("recall: " + "  ".join(f"{k} {100 * v:.0f}" for k, v in m["recall"].items() if not np.isnan(v)))
    print("confusion (rows = true, columns = predicted):")
    print(" " * (width + 1) + " ".join(f"{lab[:5]:>5}" for lab in model.labels))
    for lab, row in zip(model.labels, m["confusion"]):
        print(f"{lab:>{width}} " + " ".join(f"{v:5d}" for v in row))
    return 0
