"""``explain-ser extract``: fill the feature cache for a manifest, a directory or clips."""

from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser("extract", help="encode clips with the frozen Whisper encoder into the feature cache")
    p.add_argument("target", nargs="+", help="manifest CSV, corpus directory, or audio files")
    p.add_argument("--model", default="tiny.en", help="Whisper source (default: tiny.en, bundled)")
    p.add_argument("--window", default="trim", choices=["trim", "full"], help="window mode (default: trim)")
    p.add_argument("--cache", default=None, help="feature cache directory (default: user cache)")
    p.add_argument("--save", default=None, metavar="NPY", help="also write the features of a single clip to this .npy file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    import time

    import numpy as np
    import pandas as pd

    from ..corpora import find_duplicates, load_manifest_or_dir
    from ..encoder import Encoder
    from ..errors import InputError
    from ..features import FeatureStore, features_for_manifest

    manifests = [load_manifest_or_dir(t) for t in args.target]
    manifest = pd.concat(manifests, ignore_index=True)
    if args.save and len(manifest) != 1:
        raise InputError(args.save, "--save needs exactly one clip")
    encoder = Encoder(args.model, window=args.window)
    store = FeatureStore(args.cache)
    t0 = time.perf_counter()
    feats = features_for_manifest(manifest, encoder, store, progress=not args.quiet)
    dt = time.perf_counter() - t0
    frames = sum(f.shape[1] for f in feats)
    print(f"{len(feats)} clips, {frames} frames x {encoder.n_taps} taps x {encoder.dim} dims "
          f"({store.hits} cached, {store.misses} computed) in {dt:.1f} s -> {store.root}")
    if len(manifest) > 1:
        for group in find_duplicates(manifest):
            print(f"note: identical audio files: {', '.join(group)}")
    if args.save:
        from ..atomic import write_stream
        from pathlib import Path

        out = Path(args.save)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_stream(out, lambda fh: np.save(fh, np.asarray(feats[0], dtype=np.float32)))
        print(f"wrote {out} {tuple(feats[0].shape)}")
    return 0
