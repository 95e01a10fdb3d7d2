"""``explain-ser extract``: fill the feature cache for a manifest, a directory or clips (one task per clip)."""

from __future__ import annotations

from ..engine import add_engine_args


def add_parser(sub):
    p = sub.add_parser("extract", help="encode clips with the frozen Whisper encoder into the feature cache")
    p.add_argument("target", nargs="+", help="manifest CSV, corpus directory, or audio files")
    p.add_argument("--model", default="tiny.en", help="Whisper source (default: tiny.en, bundled)")
    p.add_argument("--window", default="trim", choices=["trim", "full"], help="window mode (default: trim)")
    p.add_argument("--cache", default=None, help="feature cache directory (default: user cache)")
    p.add_argument("--save", default=None, metavar="NPY", help="also write the features of a single clip to this .npy file")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="where failures.csv goes when clips fail (default: the feature cache directory)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_engine_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import time

    import numpy as np
    import pandas as pd

    from ..batch import extract_features
    from ..corpora import find_duplicates, load_manifest_or_dir
    from ..engine import cluster_from_args, report_failures
    from ..errors import InputError
    from ..features import FeatureStore

    manifests = [load_manifest_or_dir(t) for t in args.target]
    manifest = pd.concat(manifests, ignore_index=True)
    if args.save and len(manifest) != 1:
        raise InputError(args.save, "--save needs exactly one clip")
    from ..weights import resolve_source

    resolve_source(args.model)  # an unknown source is bad input (exit 2) before any worker starts
    store = FeatureStore(args.cache)
    t0 = time.perf_counter()
    with cluster_from_args(args, n_items=len(manifest)) as client:
        done, failures = extract_features(manifest, args.model, args.window, store.root, client=client,
                                          progress=not args.quiet)
    dt = time.perf_counter() - t0
    if len(manifest) == 1 and failures:  # one named clip: bad input, nothing done (exit 2)
        raise InputError(failures[0]["message"])
    shape = (f"{int(done['n_frames'].sum())} frames x {int(done['n_taps'].iloc[0])} taps x "
             f"{int(done['dim'].iloc[0])} dims " if len(done) else "")
    n_cached = int(done["cached"].sum()) if len(done) else 0
    print(f"{len(done)} clips, {shape}({n_cached} cached, {len(done) - n_cached} computed) in {dt:.1f} s "
          f"-> {store.root}")
    if len(manifest) > 1:
        for group in find_duplicates(manifest):
            print(f"note: identical audio files: {', '.join(group)}")
    if args.save:
        from pathlib import Path

        from ..atomic import write_stream
        from ..audio import load_audio
        from ..encoder import Encoder
        from ..features import features_of

        feats = features_of([load_audio(manifest["path"].iloc[0])], Encoder(args.model, window=args.window), store)
        out = Path(args.save)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_stream(out, lambda fh: np.save(fh, np.asarray(feats[0], dtype=np.float32)))
        print(f"wrote {out} {tuple(feats[0].shape)}")
    return report_failures(args.out or store.root, failures, len(manifest))
