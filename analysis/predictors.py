"""Which model answers a task, and its predictor (ONNX Runtime, loaded once per process).

The production version in the training registry wins; otherwise the default bundle shipped in
settings.MODELS_DIR/<task>/. Never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings


class NoModelForTask(Exception):
    pass


@dataclass(frozen=True)
class ModelRef:
    task: str
    bundle_dir: Path
    label: str  # shown to people: "lesions v3" or "lesions (default model shipped with v…)"
    model_version_id: int | None  # registry row, None for a shipped default


def _registry_production(task: str) -> Any | None:
    """Read on every analysis: memoised per process until the registry changes
    (skinplatform.memo; a promotion bumps it)."""
    from skinplatform.memo import memoised
    from training.selectors import production_model_for_task

    return memoised("registry", ("production", task), lambda: production_model_for_task(task))


def _default_dirs() -> dict[str, Path]:
    root = Path(settings.MODELS_DIR)
    if not root.is_dir():
        return {}
    return {
        p.name: p
        for p in sorted(root.iterdir())
        if (p / "card.json").is_file() and (p / "model.onnx").is_file()
    }


def available_task_slugs() -> set[str]:
    from training.models import ModelVersion

    production = ModelVersion.objects.filter(is_production=True, status=ModelVersion.Status.READY)
    return set(_default_dirs()) | set(production.values_list("task", flat=True))


def _bundle_dir(version: Any) -> Path:
    path = Path(version.bundle_path)
    return path if path.is_absolute() else Path(settings.MEDIA_ROOT) / path


def resolve(task: str) -> ModelRef:
    version = _registry_production(task)
    if version is not None and version.bundle_path:
        return ModelRef(task, _bundle_dir(version), f"{task} v{version.version}", version.pk)
    bundle = _default_dirs().get(task)
    if bundle is None:
        raise NoModelForTask(f"No model answers the task {task!r}.")
    return ModelRef(task, bundle, f"{task} (default model)", None)


def predictor_for(ref: ModelRef):
    from ml.inference import load_predictor

    return load_predictor(ref.bundle_dir, threads=settings.ONNX_THREADS)


def resolve_for_analysis(analysis: Any) -> ModelRef:
    """The model that answered this analysis (its registry version if it still exists, else
    the shipped default for its task)."""
    version = analysis.model_version
    if version is not None and version.bundle_path:
        return ModelRef(analysis.task, _bundle_dir(version), analysis.model_label, version.pk)
    bundle = _default_dirs().get(analysis.task)
    if bundle is None:
        raise NoModelForTask("The model that answered this analysis is no longer available.")
    return ModelRef(analysis.task, bundle, analysis.model_label, None)
