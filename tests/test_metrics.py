"""Metrics against hand-computed values."""

import math

import numpy as np
import pytest

from explain_ser.metrics import classification_metrics, format_mean_std, summarize_folds


def test_hand_computed():
    # true: 4 x a, 2 x b, 2 x c ; predictions: a: 3 right 1 -> b ; b: 1 right 1 -> c ; c: 2 right
    y = ["a"] * 4 + ["b"] * 2 + ["c"] * 2
    p = ["a", "a", "a", "b", "b", "c", "c", "c"]
    m = classification_metrics(y, p, labels=["a", "b", "c"])
    assert m["wa"] == pytest.approx(6 / 8)
    assert m["ua"] == pytest.approx((3 / 4 + 1 / 2 + 1) / 3)
    # F1: a: P=1, R=.75 -> 6/7 ; b: P=.5, R=.5 -> .5 ; c: P=2/3, R=1 -> .8
    assert m["macro_f1"] == pytest.approx((6 / 7 + 0.5 + 0.8) / 3)
    assert m["recall"] == {"a": 0.75, "b": 0.5, "c": 1.0}
    assert m["confusion"] == [[3, 1, 0], [0, 1, 1], [0, 0, 2]] and m["n"] == 8


def test_class_missing_from_truth_is_left_out_of_ua():
    m = classification_metrics([0, 0, 1], [0, 2, 1], labels=[0, 1, 2])
    assert math.isnan(m["recall"][2]) and m["ua"] == pytest.approx(0.75)
    assert m["confusion"][2] == [0, 0, 0]


def test_summary_and_format():
    s = summarize_folds([{"ua": 0.7, "wa": 0.8, "macro_f1": 0.6}, {"ua": 0.8, "wa": 0.8, "macro_f1": 0.7},
                         {"ua": 0.9, "wa": 0.8, "macro_f1": 0.8}])
    assert s["ua"] == {"mean": 0.8, "std": 0.1} and s["wa"]["std"] == 0
    assert format_mean_std(s, "ua") == "80.0 ± 10.0"
    assert summarize_folds([{"ua": 0.5, "wa": 0.5, "macro_f1": 0.5}])["ua"]["std"] == 0


def test_integer_labels_and_perfect():
    y = np.array([0, 1, 2, 1])
    m = classification_metrics(y, y, labels=range(3))
    assert m["ua"] == m["wa"] == m["macro_f1"] == 1.0
