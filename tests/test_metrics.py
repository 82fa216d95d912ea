"""Metrics against values computed by hand on tiny examples."""

import numpy as np
import pytest

from model_training.metrics import classification_scores, expected_calibration_error, mean_f1_favor_against


def test_classification_scores_by_hand():
    gold = ["a", "a", "a", "b", "b", "c"]
    predicted = ["a", "a", "b", "b", "c", "c"]
    scores = classification_scores(gold, predicted, ["a", "b", "c"])
    # a: P 2/2, R 2/3, F1 0.8; b: P 1/2, R 1/2, F1 0.5; c: P 1/2, R 1/1, F1 2/3.
    assert scores["per_class"]["a"] == {"precision": 1.0, "recall": 0.6667, "f1": 0.8, "support": 3}
    assert scores["per_class"]["b"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert scores["per_class"]["c"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1}
    assert scores["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3, abs=1e-4)
    assert scores["accuracy"] == pytest.approx(4 / 6, abs=1e-4)
    assert scores["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_nlpcc_metric_ignores_none():
    gold = ["FAVOR", "FAVOR", "AGAINST", "AGAINST", "NONE"]
    predicted = ["FAVOR", "NONE", "AGAINST", "FAVOR", "NONE"]
    # FAVOR: P 1/2, R 1/2 -> 0.5; AGAINST: P 1/1, R 1/2 -> 2/3; mean 0.5833.
    assert mean_f1_favor_against(gold, predicted) == pytest.approx(0.5833, abs=1e-4)


def test_expected_calibration_error_by_hand():
    confidence = np.array([0.95, 0.95, 0.65, 0.65, 0.65, 0.65])
    correct = np.array([1, 0, 1, 1, 1, 0])
    result = expected_calibration_error(confidence, correct, bins=10)
    # bin 0.9-1.0: conf 0.95, acc 0.5, weight 2/6; bin 0.6-0.7: conf 0.65, acc 0.75, weight 4/6.
    assert result["ece"] == pytest.approx(2 / 6 * 0.45 + 4 / 6 * 0.10, abs=1e-4)
    assert [(b["n"], b["accuracy"]) for b in result["bins"]] == [(4, 0.75), (2, 0.5)]
