"""Model registry services: promote a finished run's best checkpoint to a numbered model version
of its task (exported to an ONNX bundle by a task), and the atomic production swap."""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from skinplatform.memo import bump
from training.models import ModelVersion, TrainingSession
from training.progress import clean_json
from training.services._common import enqueue_on_commit, require_owner

log = logging.getLogger("training")


class ExportUnavailable(RuntimeError):
    """ml.export is not part of this build yet."""


def registry_dir(task: str, version: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "registry" / task / str(version)


def export_bundle(*, session: TrainingSession, out_dir: Path, task: str) -> dict[str, Any]:
    """The one call into ml.export: the run's best checkpoint -> `out_dir/model.onnx` +
    `card.json` (parity-checked against PyTorch, calibrated on validation, scored on the
    held-out test split). Returns {"card": ..., "test": ..., "parity": ...}. Runs in a worker:
    ml.export imports torch and onnx."""
    try:
        from ml.export import export_run
    except ModuleNotFoundError as exc:
        if exc.name not in ("ml.export", "ml"):
            raise
        raise ExportUnavailable(
            "Export is not available: this build has no ml.export (ONNX exporter)."
        ) from exc
    from training.data import load_training_data

    # The run's own images with its label mapping applied (the raw folders may name classes
    # the mapping merged or dropped).
    report = export_run(
        Path(session.run_dir), out_dir, task=task, data=load_training_data(session)
    ).to_dict()
    return {
        "card": report["card"],
        "test": report.get("test_metrics") or {},
        "parity": report.get("parity") or {},
        "bundle_bytes": report.get("bundle_bytes"),
    }


def model_version_promote(
    *, session: TrainingSession, user: AbstractBaseUser, make_production: bool = False
) -> ModelVersion:
    """Owners only: the run's best checkpoint becomes the next version of its task; the export
    runs in a task and, if asked, the version becomes production once it is ready."""
    require_owner(user=user, team_id=session.team_id)
    if session.status != TrainingSession.Status.DONE:
        raise ValidationError(f"Only a finished run can be promoted; this one is {session.status}.")
    checkpoint = Path(session.best_checkpoint) if session.best_checkpoint else None
    if checkpoint is None or not checkpoint.is_file():
        raise ValidationError("This run has no best checkpoint on disk to promote.")
    existing = session.model_versions.exclude(status=ModelVersion.Status.FAILED).first()
    if existing is not None:
        raise ValidationError(f"This run is already in the registry as {existing}.")
    task = session.config.get("task") or ""
    for _ in range(3):  # two promotions racing for the same number: the loser takes the next one
        try:
            with transaction.atomic():
                number = (
                    ModelVersion.objects.filter(task=task).aggregate(n=Max("version"))["n"] or 0
                ) + 1
                version = ModelVersion.objects.create(
                    task=task,
                    version=number,
                    team_id=session.team_id,
                    source_session=session,
                    checkpoint_path=str(checkpoint),
                    bundle_path=str(registry_dir(task, number)),
                    classes=list(session.classes or session.config.get("classes", [])),
                    metrics={
                        "best_epoch": session.best_epoch,
                        "val": session.best_metrics,
                        "test": session.test_metrics,
                    },
                    production_requested=make_production,
                    created_by=user,
                )
                enqueue_on_commit(
                    "training.tasks.run_model_version_export",
                    version.pk,
                    task_name=f"export-{version.pk}-{uuid.uuid4().hex[:8]}",
                    group="export",
                )
                return version
        except IntegrityError:
            continue
    raise ValidationError("Could not allocate a version number; try again.")


def model_version_export(*, model_version_id: int) -> ModelVersion:
    version = ModelVersion.objects.select_related("source_session").get(pk=model_version_id)
    if version.status != ModelVersion.Status.EXPORTING:
        return version
    out_dir = Path(version.bundle_path)
    try:
        if version.source_session is None:
            raise ExportUnavailable("The source run of this version was deleted.")
        exported = export_bundle(session=version.source_session, out_dir=out_dir, task=version.task)
    except Exception as exc:
        shutil.rmtree(out_dir, ignore_errors=True)
        message = str(exc) if isinstance(exc, ExportUnavailable) else f"Export failed: {exc}"
        ModelVersion.objects.filter(pk=version.pk).update(
            status=ModelVersion.Status.FAILED, error=message[:4000]
        )
        bump("registry")
        version.refresh_from_db()
        if not isinstance(exc, ExportUnavailable):
            raise
        return version
    card = exported["card"] or {}
    metrics = {**version.metrics, "served_test": _served_summary(exported["test"])}
    ModelVersion.objects.filter(pk=version.pk).update(
        status=ModelVersion.Status.READY,
        card=clean_json(card),
        metrics=clean_json(metrics),
        classes=list(card.get("classes") or version.classes),
        error="",
    )
    bump("registry")
    version.refresh_from_db()
    if version.production_requested:
        _set_production(version)
    return version


def _served_summary(test: dict) -> dict:
    keys = ("n", "accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "roc_auc")
    return {k: test[k] for k in keys if test.get(k) is not None}


def model_version_set_production(
    *, model_version: ModelVersion, user: AbstractBaseUser
) -> ModelVersion:
    """Owners only: this version answers its task's analyses from now on (atomic swap)."""
    require_owner(user=user, team_id=model_version.team_id)
    if model_version.status != ModelVersion.Status.READY:
        raise ValidationError(
            f"Only a ready (exported) version can serve; this one is {model_version.status}."
        )
    return _set_production(model_version)


@transaction.atomic
def _set_production(model_version: ModelVersion) -> ModelVersion:
    # Lock the task's rows, clear the old flag, then set the new one: the partial unique
    # constraint (one production per task) holds at every statement.
    list(ModelVersion.objects.select_for_update().filter(task=model_version.task))
    ModelVersion.objects.filter(task=model_version.task, is_production=True).exclude(
        pk=model_version.pk
    ).update(is_production=False)
    ModelVersion.objects.filter(pk=model_version.pk).update(
        is_production=True, promoted_at=timezone.now()
    )
    bump("registry")  # update() sends no signal: analyses pick the new model on commit
    model_version.refresh_from_db()
    return model_version
