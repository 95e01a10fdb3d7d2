"""``explain-ser evaluate``: a checkpoint on a labelled manifest: UA (with a speaker-bootstrap CI), WA, macro-F1,
recall, confusion; ``--classes`` scores the shared classes of another corpus (argmax over them), ``--lockbox``
the lockbox's actors, ``--speaker-norm`` each speaker's clips with the speaker's mean log-probability removed
(:mod:`explain_ser.speaker_norm`: only for speakers whose clips span the emotions)."""

from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser("evaluate", help="score a checkpoint on a labelled manifest (UA, WA, macro-F1, confusion)")
    p.add_argument("manifest", help="manifest CSV or corpus directory with an emotion column")
    p.add_argument("--checkpoint", default="ravdess-tiny.en", help="shipped name or directory (default ravdess-tiny.en)")
    p.add_argument("--cache", default=None, help="feature cache directory")
    p.add_argument("--classes", default=None, metavar="LIST",
                   help="score only these emotions, e.g. angry,happy,neutral,sad (EmoBox's cross-corpus track): clips "
                        "of other emotions are left out and the prediction is the argmax over these classes; names "
                        "match across corpora (anger = angry)")
    p.add_argument("--lockbox", default=None, choices=["locked", "dev"],
                   help="score only the lockbox's locked (or dev) actors (explain_ser/lockbox.json); opening the "
                        "locked ones is for a final candidate, logged in RESULTS.md")
    p.add_argument("--speaker-norm", action="store_true",
                   help="remove each speaker's mean log-probability before the argmax (needs a speaker column and "
                        "many clips per speaker that span the emotions; hurts when most of a speaker's clips share one "
                        "emotion: see explain_ser.speaker_norm)")
    p.add_argument("--n-boot", type=int, default=2000, help="speaker-bootstrap replicates for the UA CI (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
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
    from ..labels import map_labels
    from ..metrics import classification_metrics, ua_speaker_ci
    from ..model import predict_proba

    ck = Checkpoint.load(args.checkpoint)
    model = ck.model
    classes = _shared_classes(args.classes, model.labels)  # checked before any audio is read
    df = load_manifest_or_dir(args.manifest).reset_index(drop=True)
    if "emotion" not in df.columns or df["emotion"].isna().any():
        raise InputError(args.manifest, "every clip needs an 'emotion' label to be evaluated")
    if args.speaker_norm and df["speaker"].astype(str).str.strip().isin(["", "nan", "None"]).any():
        raise InputError(args.manifest, "--speaker-norm needs a 'speaker' for every clip")
    if args.lockbox:
        from ..splits import lockbox_subset

        df = lockbox_subset(df, args.lockbox, name=str(args.manifest))
    _warn_if_seen(ck, args.manifest, df)
    labels = model.labels
    truth = df["emotion"].astype(str)
    if classes is not None:  # EmoBox cross-corpus: the clips of the shared classes, argmax over them
        truth = pd.Series(map_labels(truth, classes), index=df.index)
        left_out = int(truth.isna().sum())
        df, truth = df[truth.notna()].reset_index(drop=True), truth[truth.notna()].reset_index(drop=True)
        if df.empty:
            raise InputError(args.manifest, f"has no clip of the classes {classes}")
        labels = classes
    else:
        left_out = 0
        unknown = sorted(set(truth) - set(model.labels))
        if unknown:
            raise InputError(args.manifest, f"emotions {unknown} are not among the checkpoint's labels {model.labels}")
    encoder = ck.encoder()  # carries the checkpoint's input rule into the feature path
    feats = features_for_manifest(df, encoder, FeatureStore(args.cache), layers=model.taps, progress=not args.quiet)
    probs = predict_proba(model, feats)[:, [model.labels.index(c) for c in labels]]
    if args.speaker_norm:
        probs = _speaker_normalised(probs, df["speaker"], args.manifest)
    pred = [labels[i] for i in probs.argmax(1)]
    m = classification_metrics(truth, pred, labels=labels)
    ci = (ua_speaker_ci(truth, pred, df["speaker"], labels, n_boot=args.n_boot, seed=args.seed)
          if "speaker" in df.columns else None)
    if args.predictions:
        out = pd.DataFrame({"clip_id": df.get("clip_id", pd.Series(range(len(df)))),
                            **({"speaker": df["speaker"]} if "speaker" in df.columns else {}), "emotion": truth,
                            "predicted": pred, "confidence": probs.max(1).round(4)})
        for i, lab in enumerate(labels):
            out[f"p_{lab}"] = probs[:, i].round(4)
        write_path(args.predictions, lambda tmp: out.to_csv(tmp, index=False), suffix=".csv")
    if args.json:
        print(json.dumps({"checkpoint": str(args.checkpoint), "manifest": str(args.manifest), "classes": labels,
                          "lockbox": args.lockbox, "speaker_norm": bool(args.speaker_norm), "left_out": left_out,
                          **m, "ua_ci": ci}, indent=2))
        return 0
    scope = (f", classes {','.join(labels)}: argmax over them, {left_out} clips of other emotions left out"
             if classes is not None else "") + (f", lockbox {args.lockbox} actors" if args.lockbox else "") + (
        ", speaker-normalised" if args.speaker_norm else "")
    print(f"{args.checkpoint} on {args.manifest} ({m['n']} clips{scope}): UA {100 * m['ua']:.1f}  "
          f"WA {100 * m['wa']:.1f}  macro-F1 {100 * m['macro_f1']:.1f}")
    if ci is not None:
        print(f"UA {100 * ci['ua']:.1f}, 95% CI {100 * ci['low']:.1f}-{100 * ci['high']:.1f} (bootstrap over "
              f"{ci['n_speakers']} speakers, {ci['n_boot']} replicates, seed {ci['seed']})")
    else:
        print("no speaker column: no speaker-bootstrap CI")
    width = max(len(lab) for lab in labels)
    print("recall: " + "  ".join(f"{k} {100 * v:.0f}" for k, v in m["recall"].items() if not np.isnan(v)))
    print("confusion (rows = true, columns = predicted):")
    print(" " * (width + 1) + " ".join(f"{lab[:5]:>5}" for lab in labels))
    for lab, row in zip(labels, m["confusion"]):
        print(f"{lab:>{width}} " + " ".join(f"{v:5d}" for v in row))
    return 0


def _speaker_normalised(probs, speakers, manifest):
    """Probabilities with each speaker's mean log-probability removed, and one warning line per kind of speaker the
    normalisation does not suit (too few clips; most clips predicted as one class before it)."""
    import sys

    import numpy as np

    from ..speaker_norm import MIN_CLIPS, center_by_speaker

    spk = np.asarray(speakers.astype(str))
    few = sorted(s for s in set(spk) if (spk == s).sum() < MIN_CLIPS)
    lopsided = sorted(s for s in set(spk) if np.bincount(probs[spk == s].argmax(1)).max() > 0.5 * (spk == s).sum())
    if few:
        print(f"explain-ser: warning: {manifest}: {len(few)} speaker(s) with fewer than {MIN_CLIPS} clips "
              f"({', '.join(few[:3])}{', ...' if len(few) > 3 else ''}): their mean is a poor estimate of the voice",
              file=sys.stderr)
    if lopsided:
        print(f"explain-ser: warning: {manifest}: {len(lopsided)} speaker(s) with most clips predicted as one class "
              f"({', '.join(lopsided[:3])}{', ...' if len(lopsided) > 3 else ''}): --speaker-norm assumes a speaker's "
              "clips span the emotions and removes a class a speaker mostly shows", file=sys.stderr)
    return center_by_speaker(probs, spk)


def _shared_classes(spec, model_labels) -> list | None:
    """``--classes`` as the checkpoint's own label names (``angry`` finds EmoDB's ``anger``); None without it.

    >>> _shared_classes("angry,sad", ["anger", "boredom", "sadness"])
    ['anger', 'sadness']
    """
    from ..errors import InputError
    from ..labels import map_labels

    if spec is None:
        return None
    names = [c.strip() for c in str(spec).split(",") if c.strip()]
    mapped = map_labels(names, model_labels)
    unknown = [n for n, m in zip(names, mapped) if m is None]
    if unknown or len(names) < 2:
        raise InputError(f"--classes {spec}", f"{'unknown class ' + repr(unknown[0]) if unknown else 'give at least two classes'}"
                                              f" (the checkpoint's classes: {', '.join(model_labels)})")
    if len(set(mapped)) != len(mapped):
        raise InputError(f"--classes {spec}", "names a class twice")
    return mapped


def _warn_if_seen(ck, manifest, df) -> None:
    """One warning line when the checkpoint trained on clips of this corpus (its own or an --extra-train one):
    its score here is then no held-out, let alone cross-corpus, number."""
    import sys

    from ..corpora import corpus_name

    t = ck.training if isinstance(ck.training, dict) else {}
    seen = {str(t.get("corpus", "")).lower()} | {str(x.get("corpus", "")).lower() for x in t.get("extra", []) or []}
    name = corpus_name(manifest).lower()
    trained_speakers = set(map(str, t.get("speakers", []) or []))
    if name not in seen - {""}:
        return
    if "speaker" in df.columns and name == str(t.get("corpus", "")).lower() and trained_speakers:
        shared = set(df["speaker"].astype(str)) & trained_speakers
        if not shared:  # same corpus, other speakers: held out by speaker (the lockbox case)
            return
        what = f"{len(shared)} of these speakers were trained on"
    else:
        what = f"the checkpoint was trained on clips of this corpus ({name})"
    print(f"explain-ser: warning: {manifest}: {what}; this is not a held-out score", file=sys.stderr)
