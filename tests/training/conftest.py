"""Fixtures of the training tests: synthetic zips, a READY dataset version made by the real
pipeline (upload -> q2 task -> extraction -> ml.data validation), tiny training configs."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.training.factories import make_zip

# One frozen epoch + one fine-tune epoch on 32 px inputs: a couple of seconds on a CPU.
TINY_TRAIN = {
    "image_size": 32,
    "batch_size": 4,
    "eval_batch_size": 8,
    "frozen_epochs": 1,
    "finetune_epochs": 1,
    "unfreeze_blocks": 1,
    "patience": 0,
    "val_fraction": 0.25,
    "test_fraction": 0.25,
}


def upload_of(path: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes(), content_type="application/zip")


@pytest.fixture
def zip_path(tmp_path) -> Path:
    return make_zip(tmp_path / "two-classes.zip")


@pytest.fixture
def ready_version(team, user, zip_path, django_capture_on_commit_callbacks):
    """A dataset version that went through the real upload, extraction and validation."""
    from training import services

    with django_capture_on_commit_callbacks(execute=True):
        version, created = services.dataset_upload(
            team=team, user=user, name="colours", task="colours", archive=upload_of(zip_path)
        )
    assert created
    version.refresh_from_db()
    assert version.status == "ready", version.error
    return version


@pytest.fixture
def fast_training(settings):
    """Quicker heartbeats and sweeps for tests that exercise them."""
    settings.TRAINING_HEARTBEAT_S = 0.2
    settings.TRAINING_PROGRESS_INTERVAL_S = 0.05
    settings.TORCH_THREADS = 1
    return settings


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Presence lists and cancel flags live in the cache; ids restart between tests."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
