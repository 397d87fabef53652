"""ml.metrics against scikit-learn's reference implementations."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score, roc_auc_score

from ml.metrics import classification_metrics, metrics_from_dict, softmax

CLASSES = ("akiec", "bcc", "mel", "nv")


@pytest.fixture
def predictions():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    logits = rng.normal(0, 1, (300, 4))
    logits[np.arange(300), y] += 1.2  # better than chance, not perfect
    return y, softmax(logits)


def test_metrics_match_scikit_learn(predictions) -> None:
    y, probs = predictions
    pred = probs.argmax(1)
    m = classification_metrics(y, classes=CLASSES, probs=probs, loss=0.5)
    assert m.accuracy == pytest.approx((pred == y).mean())
    assert m.balanced_accuracy == pytest.approx(balanced_accuracy_score(y, pred))
    assert m.macro_f1 == pytest.approx(f1_score(y, pred, average="macro"))
    assert m.weighted_f1 == pytest.approx(f1_score(y, pred, average="weighted"))
    assert m.confusion_matrix == confusion_matrix(y, pred).tolist()
    assert m.roc_auc == pytest.approx(roc_auc_score(y, probs, multi_class="ovr", average="macro"))
    assert m.per_class["mel"].support == int((y == 2).sum())
    assert m.get("loss") == 0.5
    assert m.get("macro_f1") == m.macro_f1


def test_absent_classes_do_not_break_balanced_accuracy_or_auc() -> None:
    y = np.array([0, 0, 1, 1])
    probs = np.array([[0.9, 0.05, 0.05], [0.4, 0.5, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1]])
    m = classification_metrics(y, classes=("a", "b", "c"), probs=probs)
    assert m.balanced_accuracy == pytest.approx(0.75)  # mean recall over classes present
    assert m.per_class["c"].support == 0
    assert m.per_class["c"].roc_auc is None
    assert m.confusion_matrix == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]


def test_metrics_round_trip_through_json(predictions) -> None:
    y, probs = predictions
    m = classification_metrics(y, classes=CLASSES, probs=probs)
    assert metrics_from_dict(json.loads(json.dumps(m.to_dict()))) == m


def test_metrics_need_predictions_or_probabilities() -> None:
    with pytest.raises(ValueError, match="y_pred or probs"):
        classification_metrics([0, 1], classes=("a", "b"))
