"""The model registry: promotion rules, version numbers per task, the production swap (one per
task, enforced by the database too), the selector analyses use, and the export to a bundle."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from tests.training.conftest import TINY_TRAIN
from tests.training.factories import ModelVersionFactory, TrainingSessionFactory
from training import services, tasks
from training.models import ModelVersion
from training.selectors import production_model_for_task

pytestmark = pytest.mark.django_db
HAS_EXPORT = importlib.util.find_spec("ml.export") is not None


@pytest.fixture
def finished(team, settings):
    checkpoint = Path(settings.MEDIA_ROOT) / "runs" / "1" / "checkpoints" / "best.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"weights")
    return TrainingSessionFactory(
        dataset_version__dataset__team=team,
        dataset_version__dataset__task="lesions",
        status="done",
        best_checkpoint=str(checkpoint),
        classes=["mel", "nv"],
        best_epoch=2,
        best_metrics={"macro_f1": 0.7},
        test_metrics={"macro_f1": 0.65},
    )


def test_owners_promote_finished_runs_into_numbered_versions(
    finished, user, member_user, django_capture_on_commit_callbacks
):
    with pytest.raises(PermissionDenied):
        services.model_version_promote(session=finished, user=member_user)
    with django_capture_on_commit_callbacks(execute=False) as held:
        version = services.model_version_promote(session=finished, user=user)
    # the export task, after commit (besides the registry memo's generation bump)
    enqueued = [c for c in held if "bump" not in c.__qualname__]
    assert len(enqueued) == 1, held
    assert (version.task, version.version, version.status) == ("lesions", 1, "exporting")
    assert version.classes == ["mel", "nv"]
    assert version.metrics == {
        "best_epoch": 2,
        "val": {"macro_f1": 0.7},
        "test": {"macro_f1": 0.65},
    }
    assert version.bundle_path.endswith("registry/lesions/1")
    with pytest.raises(ValidationError, match="already in the registry"):
        services.model_version_promote(session=finished, user=user)


def test_version_numbers_count_per_task_across_teams(finished, user, settings):
    ModelVersionFactory(task="lesions", version=4)
    ModelVersionFactory(task="acne-severity", version=9)
    version = services.model_version_promote(session=finished, user=user)
    assert version.version == 5


@pytest.mark.parametrize("status", ["running", "failed", "cancelled", "queued"])
def test_only_finished_runs_are_promoted(team, user, status):
    session = TrainingSessionFactory(dataset_version__dataset__team=team, status=status)
    with pytest.raises(ValidationError, match="Only a finished run"):
        services.model_version_promote(session=session, user=user)


def test_a_run_without_its_checkpoint_is_not_promoted(finished, user):
    Path(finished.best_checkpoint).unlink()
    with pytest.raises(ValidationError, match="no best checkpoint"):
        services.model_version_promote(session=finished, user=user)


def test_production_swap_keeps_one_per_task(team, user, member_user):
    session = TrainingSessionFactory(dataset_version__dataset__team=team)
    first = ModelVersionFactory(source_session=session, task="lesions", version=1)
    second = ModelVersionFactory(source_session=session, task="lesions", version=2)
    other_task = ModelVersionFactory(source_session=session, task="facial", version=1)
    with pytest.raises(PermissionDenied):
        services.model_version_set_production(model_version=first, user=member_user)
    services.model_version_set_production(model_version=first, user=user)
    services.model_version_set_production(model_version=other_task, user=user)
    assert production_model_for_task("lesions") == first
    services.model_version_set_production(model_version=second, user=user)
    assert production_model_for_task("lesions") == second
    assert production_model_for_task("facial") == other_task
    assert ModelVersion.objects.filter(is_production=True).count() == 2
    first.refresh_from_db()
    assert first.is_production is False


def test_the_database_refuses_two_production_versions_of_a_task(team):
    session = TrainingSessionFactory(dataset_version__dataset__team=team)
    ModelVersionFactory(source_session=session, task="lesions", is_production=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersionFactory(source_session=session, task="lesions", is_production=True)


def test_only_ready_versions_serve(team, user):
    session = TrainingSessionFactory(dataset_version__dataset__team=team)
    exporting = ModelVersionFactory(source_session=session, task="lesions", status="exporting")
    with pytest.raises(ValidationError, match="Only a ready"):
        services.model_version_set_production(model_version=exporting, user=user)
    assert production_model_for_task("lesions") is None
    assert production_model_for_task("no-such-task") is None


@pytest.mark.skipif(HAS_EXPORT, reason="ml.export is present: the real export test runs")
def test_without_an_exporter_the_version_fails_with_a_clear_message(
    finished, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        version = services.model_version_promote(session=finished, user=user, make_production=True)
    version.refresh_from_db()
    assert version.status == "failed"
    assert "no ml.export" in version.error
    assert production_model_for_task("lesions") is None


@pytest.mark.slow
@pytest.mark.skipif(not HAS_EXPORT, reason="ml.export (the ONNX exporter) is not in this build")
def test_a_real_run_promoted_to_production_becomes_an_onnx_bundle(
    ready_version, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        session = services.training_session_start(
            user=user, dataset_version=ready_version, train=TINY_TRAIN
        )
    tasks.run_training_session(session.pk)
    session.refresh_from_db()
    assert session.status == "done", session.error
    with django_capture_on_commit_callbacks(execute=True):
        version = services.model_version_promote(session=session, user=user, make_production=True)
    version.refresh_from_db()
    assert version.status == "ready", version.error
    bundle = Path(version.bundle_path)
    assert (bundle / "model.onnx").stat().st_size > 100_000
    card = json.loads((bundle / "card.json").read_text())
    assert card["task"] == "colours"
    assert card["classes"] == ["blue", "red"] == version.classes
    assert version.metrics["served_test"]["n"] == session.test_metrics["n"]
    assert production_model_for_task("colours") == version
