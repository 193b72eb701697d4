"""The metric registry returns the textbook values on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from fitting_room.recommender.metrics import METRICS


def test_perfect_fit_predictions_score_auc_one_and_accuracy_one():
    y = np.array([0, 1, 2, 1, 0, 2])
    m = METRICS["fit_classification"](y, np.eye(3)[y])
    assert m["auc_macro"] == 1.0 and m["accuracy"] == 1.0 and m["macro_f1"] == 1.0


def test_recall_and_ndcg_at_k_match_hand_computation():
    m = METRICS["ranking"]([np.array([5, 1, 9]), np.array([2, 3, 4])], [{1, 7}, {8}], k=3)
    assert m["recall_at_3"] == pytest.approx((0.5 + 0.0) / 2)
    ndcg_first = (1 / np.log2(3)) / (1 + 1 / np.log2(3))
    assert m["ndcg_at_3"] == pytest.approx(ndcg_first / 2)


def test_fit_rate_evidence_splits_by_advised_size():
    y = np.array([1, 1, 0, 2])
    m = METRICS["fit_rate_evidence"](y, np.array([4.0, 6, 8, 10]), np.array([4.0, 6, 6, 6]))
    assert m["fit_rate_advised_size"] == 1.0
    assert m["fit_rate_other_size"] == 0.0
    assert m["fit_rate_base"] == 0.5
