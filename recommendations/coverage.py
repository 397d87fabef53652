"""Which production classes lack advice. Other apps tell us their classes through
register_class_source(fn); recommendations never imports them (training registers its promoted
models here). A built-in source reads the shipped bundles' MODELS_DIR/<task>/card.json."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from recommendations.models import Condition

logger = logging.getLogger(__name__)

ClassSource = Callable[[], dict[str, list[str]]]
_sources: list[ClassSource] = []


def register_class_source(fn: ClassSource) -> ClassSource:
    """Add fn() -> {task: [class keys in production]}; idempotent, usable as a decorator."""
    if fn not in _sources:
        _sources.append(fn)
    return fn


def unregister_class_source(fn: ClassSource) -> None:
    if fn in _sources:
        _sources.remove(fn)


def shipped_model_classes() -> dict[str, list[str]]:
    """Classes of the default bundles: every MODELS_DIR/<task>/card.json (missing folder: none)."""
    models_dir = Path(getattr(settings, "MODELS_DIR", "") or "")
    if not models_dir.is_dir():
        return {}
    found: dict[str, list[str]] = {}
    for card_path in sorted(models_dir.glob("*/card.json")):
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
            task = str(card.get("task") or card_path.parent.name)
            classes = [str(c) for c in card["classes"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.warning("Ignoring unreadable model card %s: %s", card_path, exc)
            continue
        found.setdefault(task, []).extend(classes)
    return found


register_class_source(shipped_model_classes)


def production_classes() -> dict[str, list[str]]:
    """The union of every source, each task's keys sorted and unique. A failing source is
    logged and skipped: a broken registry must not take the admin index down."""
    merged: dict[str, set[str]] = {}
    for source in list(_sources):
        try:
            classes = source()
        except Exception:
            logger.exception("Class source %r failed", source)
            continue
        for task, keys in classes.items():
            merged.setdefault(task, set()).update(keys)
    return {task: sorted(keys) for task, keys in sorted(merged.items())}


def missing_advice() -> dict[str, list[str]]:
    """task -> class keys in production that have no Condition row (tasks with none left out)."""
    classes = production_classes()
    if not classes:
        return {}
    written = set(Condition.objects.filter(task__in=classes).values_list("task", "key").distinct())
    missing = {
        task: [key for key in keys if (task, key) not in written] for task, keys in classes.items()
    }
    return {task: keys for task, keys in missing.items() if keys}
