"""Cross-validation folds over a manifest: speaker-independent by default.

- ``"speakers"``: leave-k-speakers-out. Speakers are sorted, split by gender and dealt alternately
  (male, female, male, ...) so consecutive chunks of k are gender-balanced; RAVDESS' 18 actors with k=3 give
  6 folds (Actor_01-03, 04-06, ...), the full 24 with k=4 also 6 folds.
- ``"loso"``: leave-one-speaker-out (EmoDB: 10 folds).
- ``"emobox"``: EmoBox's own RAVDESS folds (Ma et al. 2024, ``data/ravdess/fold_<i>``: 6 folds of 4 actors
  over all 24), so numbers sit beside EmoBox's table. A manifest with fewer actors runs on the folds' actors
  it has (RAVDESS' 18 actors here: folds of 2-4 actors), which :func:`emobox_coverage` reports.
- ``"random"``: stratified random folds, speaker-DEPENDENT. Only when asked; every fold is labelled
  ``kind="random"`` and results from it must not be compared with speaker-independent ones.

The **lockbox** (``explain_ser/lockbox.json``, drawn once by :func:`draw_lockbox`): 6 of RAVDESS' 18 actors,
gender-balanced, are locked away from every recipe comparison; recipes are compared by CV on the other 12
(``train --lockbox dev``) and the locked actors are scored only for a final candidate
(``evaluate --lockbox locked``), each opening logged in RESULTS.md.

In each speaker fold the validation speakers used for early stopping are drawn from the training speakers
(gender-balanced, seeded), never from the test fold.

>>> import pandas as pd
>>> df = pd.DataFrame({"speaker": [f"s{i:02d}" for i in range(6) for _ in range(2)],
...                    "gender": [g for g in ["male", "female"] * 3 for _ in range(2)]})
>>> [f.test_speakers for f in make_folds(df, "speakers", k=2)]
[['s00', 's01'], ['s02', 's03'], ['s04', 's05']]
>>> make_folds(df, "speakers", k=2)[0].val_speakers
['s04', 's05']
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = ["Fold", "make_folds", "speaker_order", "pick_validation_speakers", "fold_table", "SCHEMES",
           "EMOBOX_RAVDESS_FOLDS", "emobox_coverage", "draw_lockbox", "load_lockbox", "lockbox_subset",
           "LOCKBOX_FILE"]

SCHEMES = ("speakers", "loso", "emobox", "random")

# EmoBox's RAVDESS test folds (github.com/emo-box/EmoBox, data/ravdess/fold_<i>/ravdess_test_fold_<i>.jsonl,
# read 2026-12-07): actor numbers per fold. Folds 1-5 were read from their test files; fold 6 holds the
# four actors no other fold tests (each file lists 240 clips = 4 actors).
EMOBOX_RAVDESS_FOLDS = ((1, 11, 20, 21), (4, 10, 12, 14), (8, 9, 19, 23), (3, 5, 7, 24), (2, 15, 16, 18),
                        (6, 13, 17, 22))

LOCKBOX_FILE = Path(__file__).with_name("lockbox.json")


@dataclass
class Fold:
    """One fold: row positions (into the manifest) of train / val / test, and who is where."""

    name: str
    kind: str  # "speakers", "loso" or "random"
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    test_speakers: list[str] = field(default_factory=list)
    val_speakers: list[str] = field(default_factory=list)

    @property
    def speaker_independent(self) -> bool:
        return self.kind != "random"


def _natural(s: str):
    """Sort key that puts speaker '3' before '10'."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def _genders(df: pd.DataFrame) -> dict[str, str]:
    spk = df["speaker"].astype(str)
    if "gender" not in df.columns:
        return {s: "unknown" for s in spk.unique()}
    g = df["gender"].astype(str).str.lower().groupby(spk).first()
    return {str(k): v for k, v in g.items()}


def speaker_order(df: pd.DataFrame, seed: int | None = None) -> list[str]:
    """Speakers interleaved by gender (sorted within gender, or shuffled with ``seed``)."""
    genders = _genders(df)
    groups: dict[str, list[str]] = {}
    for s in sorted(genders, key=_natural):
        groups.setdefault(genders[s], []).append(s)
    rng = np.random.default_rng(seed) if seed is not None else None
    lists = []
    for g in sorted(groups, key=lambda g: (g not in ("male", "m"), g)):  # male first: Actor_01 is male
        lst = list(groups[g])
        if rng is not None:
            rng.shuffle(lst)
        lists.append(lst)
    order = []
    for i in range(max(len(lst) for lst in lists)):
        order += [lst[i] for lst in lists if i < len(lst)]
    return order


def pick_validation_speakers(train_speakers, genders: dict[str, str], n: int = 2, seed: int = 0) -> list[str]:
    """``n`` speakers from ``train_speakers`` for early stopping, alternating genders, seeded.

    >>> pick_validation_speakers(["a", "b", "c", "d"], {"a": "m", "b": "f", "c": "m", "d": "f"}, 2, seed=0)
    ['c', 'd']
    """
    rng = np.random.default_rng(seed)
    by_g: dict[str, list[str]] = {}
    for s in sorted(train_speakers, key=_natural):
        by_g.setdefault(genders.get(s, "unknown"), []).append(s)
    for lst in by_g.values():
        rng.shuffle(lst)
    out, gs = [], sorted(by_g)
    i = 0
    while len(out) < min(n, len(train_speakers) - 1):
        lst = by_g[gs[i % len(gs)]]
        if lst:
            out.append(lst.pop())
        i += 1
    return sorted(out, key=_natural)


def make_folds(df: pd.DataFrame, scheme: str = "speakers", k: int = 3, n_folds: int = 5, n_val: int = 2,
               seed: int = 0, shuffle_speakers: bool = False) -> list[Fold]:
    """Folds for ``df`` (needs a ``speaker`` column; ``gender`` is used for balancing when present).

    ``k`` speakers per test fold (scheme "speakers"); ``n_folds`` for "random"; ``n_val`` validation speakers
    per fold (for "random", a stratified 10 % of the training rows instead). ``seed`` drives the validation
    choice (and the speaker order when ``shuffle_speakers``).
    """
    if scheme not in SCHEMES:
        raise InputError(scheme, f"unknown fold scheme (choose from {', '.join(SCHEMES)})")
    if "speaker" not in df.columns:
        raise InputError("manifest", "has no 'speaker' column, so speaker-independent folds are impossible")
    speakers = df["speaker"].astype(str).to_numpy()
    genders = _genders(df)
    all_idx = np.arange(len(df))
    if scheme == "random":
        from sklearn.model_selection import StratifiedKFold, train_test_split

        y = df["emotion"].astype(str).to_numpy()
        skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        folds = []
        for i, (tr, te) in enumerate(skf.split(all_idx, y)):
            tr, va = train_test_split(tr, test_size=0.1, stratify=y[tr], random_state=seed)
            folds.append(Fold(f"random{i}", "random", np.sort(tr), np.sort(va), te))
        return folds
    order = speaker_order(df, seed if shuffle_speakers else None)
    if scheme == "emobox":
        cov = emobox_coverage(df)["folds"]
        names = [f"emobox{i + 1}" for i, c in enumerate(cov) if c]  # EmoBox's own fold numbers
        chunks = [c for c in cov if c]
        if len(chunks) < 2:
            raise InputError("--folds emobox", f"the manifest has actors of {len(chunks)} EmoBox fold(s); CV needs 2")
    else:
        if scheme == "loso":
            k = 1
        if k < 1 or k >= len(order):
            raise InputError(f"k={k}", f"needs 1 <= k < number of speakers ({len(order)})")
        chunks = [order[i : i + k] for i in range(0, len(order), k)]
        if len(chunks) > 1 and len(chunks[-1]) < k:  # a short last chunk joins the one before
            last = chunks.pop()
            chunks[-1] = chunks[-1] + last
        names = [f"fold{i}" for i in range(len(chunks))]
    folds = []
    for i, test_spk in enumerate(chunks):
        rest = [s for s in order if s not in test_spk]
        val_spk = pick_validation_speakers(rest, genders, n_val, seed=seed * 1000 + i)
        is_test, is_val = np.isin(speakers, test_spk), np.isin(speakers, val_spk)
        folds.append(Fold(names[i], scheme, all_idx[~is_test & ~is_val], all_idx[is_val], all_idx[is_test],
                          sorted(test_spk, key=_natural), val_spk))
    for f in folds:  # the rule this module exists for
        assert not set(speakers[f.test]) & set(speakers[f.train]) and not set(speakers[f.val]) & set(speakers[f.test])
        assert not set(speakers[f.val]) & set(speakers[f.train])
    return folds


def fold_table(df: pd.DataFrame, folds: list[Fold]) -> pd.DataFrame:
    """One row per (fold, clip): fold, kind, role (train/val/test), clip_id, speaker — written next to results."""
    rows = []
    cid = df["clip_id"].astype(str).to_numpy() if "clip_id" in df.columns else np.arange(len(df)).astype(str)
    spk = df["speaker"].astype(str).to_numpy()
    for f in folds:
        for role, idx in (("train", f.train), ("val", f.val), ("test", f.test)):
            rows += [(f.name, f.kind, role, cid[i], spk[i]) for i in idx]
    return pd.DataFrame(rows, columns=["fold", "kind", "role", "clip_id", "speaker"])


def _actor_number(speaker: str) -> int | None:
    """RAVDESS actor number of a speaker id ('Actor_07', '07', '7' -> 7), None without digits."""
    digits = re.findall(r"\d+", str(speaker))
    return int(digits[-1]) if digits else None


def emobox_coverage(df: pd.DataFrame) -> dict:
    """The manifest's speakers in each EmoBox RAVDESS fold (``folds``: lists, possibly empty) and the
    EmoBox actors it lacks (``missing``). A speaker that is no RAVDESS actor 1-24 is an :class:`InputError`.

    >>> df = pd.DataFrame({"speaker": ["Actor_01", "Actor_04", "Actor_11"]})
    >>> cov = emobox_coverage(df)
    >>> cov["folds"][:2], len(cov["missing"])
    ([['Actor_01', 'Actor_11'], ['Actor_04']], 21)
    """
    speakers = sorted(df["speaker"].astype(str).unique(), key=_natural)
    number = {s: _actor_number(s) for s in speakers}
    strangers = [s for s, n in number.items() if n is None or not 1 <= n <= 24]
    if strangers:
        raise InputError("--folds emobox", f"EmoBox's folds are RAVDESS actors 1-24; speakers {strangers[:3]} are not")
    folds = [[s for s in speakers if number[s] in fold] for fold in EMOBOX_RAVDESS_FOLDS]
    present = set(number.values())
    return {"folds": folds, "missing": [n for fold in EMOBOX_RAVDESS_FOLDS for n in fold if n not in present]}


def draw_lockbox(df: pd.DataFrame, n_locked: int = 6, seed: int = 20261207) -> dict:
    """Draw the locked speakers once: ``n_locked / 2`` of each gender (sorted, then ``rng.choice``).

    >>> df = pd.DataFrame({"speaker": [f"A{i}" for i in range(8)], "gender": ["male", "female"] * 4})
    >>> box = draw_lockbox(df, n_locked=2, seed=0)
    >>> len(box["locked"]), len(box["dev"]), sorted(df.set_index("speaker").loc[box["locked"], "gender"])
    (2, 6, ['female', 'male'])
    """
    genders = _genders(df)
    groups = sorted({g for g in genders.values()}, key=lambda g: (g not in ("male", "m"), g))
    if len(groups) != 2 or n_locked % 2:
        raise InputError("lockbox", "needs two genders and an even number of locked speakers")
    rng = np.random.default_rng(seed)
    locked = []
    for g in groups:
        members = sorted((s for s, gg in genders.items() if gg == g), key=_natural)
        locked += rng.choice(members, n_locked // 2, replace=False).tolist()
    locked = sorted(locked, key=_natural)
    return {"seed": seed, "locked": locked,
            "dev": sorted((s for s in genders if s not in locked), key=_natural)}


def load_lockbox(path=None) -> dict:
    """The project's lockbox (``explain_ser/lockbox.json``): ``corpus``, ``locked``, ``dev``, ``seed``, ``rule``."""
    return json.loads(Path(path or LOCKBOX_FILE).read_text())


def lockbox_subset(df: pd.DataFrame, part: str, name: str = "manifest", box: dict | None = None) -> pd.DataFrame:
    """Rows of ``df`` whose speaker is in the lockbox's ``part`` ("dev" or "locked"), re-indexed.

    Every speaker of that part must be in ``df``: a manifest that lacks one is not the corpus the lockbox
    was drawn from, and scoring it would quietly change what "lockbox UA" means (:class:`InputError`).

    >>> box = {"dev": ["a", "b"], "locked": ["c"]}
    >>> df = pd.DataFrame({"speaker": ["a", "b", "c", "c"]})
    >>> lockbox_subset(df, "locked", box=box)["speaker"].tolist()
    ['c', 'c']
    """
    box = box or load_lockbox()
    if part not in ("dev", "locked"):
        raise InputError(f"--lockbox {part}", "choose dev or locked")
    if "speaker" not in df.columns:
        raise InputError(name, "has no 'speaker' column, so the lockbox cannot be applied")
    want = list(box[part])
    have = set(df["speaker"].astype(str))
    missing = [s for s in want if s not in have]
    if missing:
        raise InputError(name, f"lockbox {part} speaker(s) {', '.join(missing)} missing from the manifest "
                               f"(the lockbox holds {box.get('corpus', 'RAVDESS')}'s speakers)")
    return df[df["speaker"].astype(str).isin(want)].reset_index(drop=True)
