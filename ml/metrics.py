"""Classification metrics over numpy arrays, returned as dataclasses.

numpy + scikit-learn only; must not import torch or Django.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score

METRIC_NAMES = ("macro_f1", "balanced_accuracy", "accuracy", "weighted_f1", "roc_auc", "loss")
LOWER_IS_BETTER = frozenset({"loss"})


@dataclass(frozen=True)
class ClassMetrics:
    precision: float
    recall: float
    f1: float
    support: int
    roc_auc: float | None = None


@dataclass(frozen=True)
class Metrics:
    """Accuracy, balanced accuracy (mean recall over classes present), macro/weighted F1,
    per-class scores, the confusion matrix (rows = true, columns = predicted) and the macro
    one-vs-rest ROC AUC over classes with both positives and negatives."""

    classes: tuple[str, ...]
    n: int
    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    weighted_f1: float
    per_class: dict[str, ClassMetrics]
    confusion_matrix: list[list[int]]
    roc_auc: float | None = None
    loss: float | None = None
    extra: dict[str, float] = field(default_factory=dict)

    def get(self, name: str) -> float:
        value = getattr(self, name, None) if name in METRIC_NAMES else self.extra.get(name)
        if value is None:
            raise KeyError(f"metric {name!r} is not available")
        return float(value)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def classification_metrics(
    y_true: Sequence[int] | np.ndarray,
    *,
    classes: Sequence[str],
    y_pred: Sequence[int] | np.ndarray | None = None,
    probs: np.ndarray | None = None,
    loss: float | None = None,
) -> Metrics:
    """Metrics from integer labels and either predictions or class probabilities (or both)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    if y_pred is None:
        if probs is None:
            raise ValueError("give y_pred or probs")
        y_pred = np.asarray(probs).argmax(axis=1)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    labels = list(range(len(classes)))
    cm = (
        confusion_matrix(y_true, y_pred, labels=labels)
        if len(y_true)
        else np.zeros((len(labels),) * 2, int)
    )
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    aucs = (
        _per_class_auc(y_true, probs, len(classes)) if probs is not None else [None] * len(classes)
    )
    present = support > 0
    per_class = {
        c: ClassMetrics(
            float(precision[i]), float(recall[i]), float(f1[i]), int(support[i]), aucs[i]
        )
        for i, c in enumerate(classes)
    }
    known_aucs = [a for a in aucs if a is not None]
    total = int(support.sum())
    return Metrics(
        classes=tuple(classes),
        n=len(y_true),
        accuracy=float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        balanced_accuracy=float(recall[present].mean()) if present.any() else 0.0,
        macro_f1=float(f1[present].mean()) if present.any() else 0.0,
        weighted_f1=float((f1 * support).sum() / total) if total else 0.0,
        per_class=per_class,
        confusion_matrix=cm.astype(int).tolist(),
        roc_auc=float(np.mean(known_aucs)) if known_aucs else None,
        loss=None if loss is None else float(loss),
    )


def _per_class_auc(y_true: np.ndarray, probs: np.ndarray, k: int) -> list[float | None]:
    out: list[float | None] = []
    for c in range(k):
        positives = y_true == c
        if positives.all() or not positives.any():
            out.append(None)
            continue
        out.append(float(roc_auc_score(positives, probs[:, c])))
    return out


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of integer ``labels`` under softmax(``logits``)."""
    z = logits - logits.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def metric_or_none(metrics: Metrics, name: str) -> float | None:
    try:
        return metrics.get(name)
    except KeyError:
        return None


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def is_better(metric: str, value: float, best: float | None) -> bool:
    if best is None:
        return True
    return value < best if metric in LOWER_IS_BETTER else value > best


def metrics_from_dict(data: dict[str, Any]) -> Metrics:
    """Inverse of ``Metrics.to_dict()`` (checkpoints and events store plain dicts)."""
    fields = dict(data)
    fields["classes"] = tuple(fields["classes"])
    fields["per_class"] = {c: ClassMetrics(**m) for c, m in fields["per_class"].items()}
    return Metrics(**fields)
