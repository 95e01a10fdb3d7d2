"""Issue 28: make a model trained on the lockbox's dev actors usable where a cross-validation run is expected.

``explain-ser pointing-game score --cv-run DIR`` and ``explain-ser robustness --cv-run DIR`` score every clip
with "the fold model that never heard its speaker". A model trained on the 12 dev actors
(``train --lockbox dev --final-only``) never heard the 6 locked actors, so it is exactly that model for them:
this script writes a run-shaped directory with one "fold", ``folds/locked/`` (a copy of the checkpoint whose
config names the locked actors as its test speakers), and its ``cv_predictions.csv`` on the locked clips.

    python analyses/lockbox_run.py CHECKPOINT_DIR OUT_DIR [--manifest ../shared/corpora/ravdess/manifest.csv]

Opening the lockbox this way is an opening like ``evaluate --lockbox locked``: log it in RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path


def make_run(checkpoint: Path, out: Path, manifest: str) -> Path:
    from explain_ser.checkpoint import Checkpoint
    from explain_ser.corpora import load_manifest_or_dir
    from explain_ser.errors import InputError
    from explain_ser.features import FeatureStore, features_for_manifest
    from explain_ser.model import predict_proba
    from explain_ser.oof import predictions_frame
    from explain_ser.splits import Fold, load_lockbox, lockbox_subset

    box = load_lockbox()
    ck = Checkpoint.load(checkpoint)
    seen = set(map(str, ck.training.get("speakers", [])))
    if seen & set(box["locked"]):
        raise InputError(checkpoint, f"was trained on locked speakers {sorted(seen & set(box['locked']))}")
    fold_dir = out / "folds" / "locked"
    fold_dir.mkdir(parents=True, exist_ok=True)
    for f in Path(checkpoint).iterdir():
        if f.is_file():
            shutil.copy(f, fold_dir / f.name)
    cfg = json.loads((fold_dir / "config.json").read_text())
    cfg["fold"] = {"name": "locked", "test": list(box["locked"]), "val": []}
    (fold_dir / "config.json").write_text(json.dumps(cfg, indent=2))
    df = lockbox_subset(load_manifest_or_dir(manifest).reset_index(drop=True), "locked", name=manifest)
    probs = predict_proba(ck.model, features_for_manifest(df, ck.encoder(), FeatureStore(None),
                                                          layers=ck.model.taps, progress=False))
    import numpy as np

    labels = list(ck.model.labels)
    y = np.array([labels.index(e) for e in df["emotion"].astype(str)])
    fold = Fold("locked", "speakers", np.array([], int), np.array([], int), np.arange(len(df)), list(box["locked"]))
    predictions_frame(df, [fold], labels, y, probs).to_csv(out / "cv_predictions.csv", index=False)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--manifest", default="../shared/corpora/ravdess/manifest.csv")
    a = p.parse_args(argv)
    print(make_run(a.checkpoint, a.out, a.manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
