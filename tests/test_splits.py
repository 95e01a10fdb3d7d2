"""Fold construction: no speaker is ever shared between train, validation and test."""

import pandas as pd
import pytest

from explain_ser.errors import InputError
from explain_ser.splits import fold_table, make_folds, pick_validation_speakers, speaker_order


def corpus(n_spk=18, per=10):
    rows = []
    for s in range(1, n_spk + 1):
        for i in range(per):
            rows.append({"clip_id": f"{s}_{i}", "speaker": f"Actor_{s:02d}",
                         "gender": "male" if s % 2 else "female", "emotion": ["x", "y"][i % 2]})
    return pd.DataFrame(rows)


def check_disjoint(df, folds):
    spk = df["speaker"].to_numpy()
    tested = []
    for f in folds:
        tr, va, te = set(spk[f.train]), set(spk[f.val]), set(spk[f.test])
        assert not tr & va and not tr & te and not va & te
        assert len(f.train) + len(f.val) + len(f.test) == len(df)
        tested += list(te)
    assert sorted(tested) == sorted(set(spk)), "every speaker is tested exactly once"


def test_ravdess_like_six_folds_of_three_gender_balanced():
    df = corpus()
    folds = make_folds(df, "speakers", k=3)
    assert len(folds) == 6 and all(len(f.test_speakers) == 3 for f in folds)
    assert folds[0].test_speakers == ["Actor_01", "Actor_02", "Actor_03"]
    check_disjoint(df, folds)
    g = dict(zip(df.speaker, df.gender))
    males = []
    for f in folds:
        genders = [g[s] for s in f.test_speakers]
        males.append(genders.count("male"))
        assert sorted(set(genders)) == ["female", "male"]  # both genders in every 3-actor test fold
        assert sorted(g[s] for s in f.val_speakers) == ["female", "male"]
    assert sum(males) == 9 and sorted(males) == [1, 1, 1, 2, 2, 2]  # 9 + 9 actors, balanced across folds


def test_full_ravdess_six_folds_of_four():
    folds = make_folds(corpus(24), "speakers", k=4)
    assert len(folds) == 6 and all(len(f.test_speakers) == 4 for f in folds)


def test_loso_and_numeric_speakers():
    df = corpus(10)
    df["speaker"] = df["speaker"].str[-2:].astype(int)  # EmoDB speakers are numbers
    folds = make_folds(df, "loso")
    assert len(folds) == 10 and folds[0].test_speakers == ["1"]
    check_disjoint(df.assign(speaker=df.speaker.astype(str)), folds)


def test_short_last_chunk_is_merged():
    folds = make_folds(corpus(7), "speakers", k=3)
    assert [len(f.test_speakers) for f in folds] == [3, 4]


def test_random_is_labelled_and_never_default():
    df = corpus()
    folds = make_folds(df, "random", n_folds=5)
    assert all(f.kind == "random" and not f.speaker_independent for f in folds)
    assert make_folds(df)[0].speaker_independent


def test_validation_choice_is_seeded():
    g = {f"s{i}": "m" if i % 2 else "f" for i in range(10)}
    a = pick_validation_speakers(list(g), g, 2, seed=3)
    assert a == pick_validation_speakers(list(g), g, 2, seed=3) and len(set(a)) == 2


def test_speaker_order_interleaves_genders():
    order = speaker_order(corpus(6))
    assert order == ["Actor_01", "Actor_02", "Actor_03", "Actor_04", "Actor_05", "Actor_06"]


def test_errors():
    df = corpus(4)
    with pytest.raises(InputError):
        make_folds(df, "bogus")
    with pytest.raises(InputError):
        make_folds(df.drop(columns="speaker"))
    with pytest.raises(InputError):
        make_folds(df, "speakers", k=4)


def test_fold_table_roles():
    df = corpus(6, per=2)
    t = fold_table(df, make_folds(df, "speakers", k=2))
    assert set(t.role) == {"train", "val", "test"} and len(t) == 3 * len(df)
    assert (t[t.role == "test"].groupby("clip_id").size() == 1).all()
