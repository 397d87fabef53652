"""Comparing runs: the config keys whose values differ, and the final metrics side by side.
Pure functions over rows already loaded (and access-checked) by selectors."""

from __future__ import annotations

from typing import Any

from training.models import TrainingSession

IGNORED_PREFIXES = ("versions.", "dataset.class_counts.")
METRIC_ROWS = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "roc_auc", "loss")


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key in sorted(data):
            out.update(flatten(data[key], f"{prefix}{key}."))
        return out if out or not prefix else {prefix[:-1]: {}}
    return {prefix[:-1]: data}


def config_diff(sessions: list[TrainingSession], *, everything: bool = False) -> list[dict]:
    """[{"key": "train.lr", "values": [0.001, 0.0003], "differs": True}, ...]; by default only
    the keys that differ (library versions are shown too when they differ)."""
    flat = [flatten(s.config) for s in sessions]
    keys = sorted(set().union(*flat)) if flat else []
    rows = []
    for key in keys:
        values = [f.get(key) for f in flat]
        differs = any(v != values[0] for v in values[1:])
        if key.startswith(IGNORED_PREFIXES) and not differs:
            continue
        if differs or everything:
            rows.append({"key": key, "values": values, "differs": differs})
    return rows


def metrics_table(sessions: list[TrainingSession]) -> list[dict]:
    """Final figures per run: best validation epoch and the test set (measured once, at the end
    with the best checkpoint)."""
    rows = []
    for split, attr in (("validation (best epoch)", "best_metrics"), ("test", "test_metrics")):
        for name in METRIC_ROWS:
            values = [(getattr(s, attr) or {}).get(name) for s in sessions]
            if any(v is not None for v in values):
                rows.append({"split": split, "metric": name, "values": values})
    rows.append(
        {"split": "run", "metric": "best_epoch", "values": [s.best_epoch for s in sessions]}
    )
    rows.append(
        {"split": "run", "metric": "epochs", "values": [s.epochs.count() for s in sessions]}
    )
    return rows
