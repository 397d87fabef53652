"""factory_boy factories of the training app, and synthetic image datasets (never real photos:
tests needing those use the shared_data fixture)."""

from __future__ import annotations

import functools
import io
import random
import zipfile
from pathlib import Path

import factory
from django.utils import timezone
from PIL import Image

from tests.factories import TeamFactory, UserFactory
from training.models import Dataset, DatasetVersion, EpochMetric, ModelVersion, TrainingSession

PALETTE = {
    "blue": (40, 60, 200),
    "red": (200, 50, 40),
    "green": (40, 180, 60),
    "grey": (128, 128, 128),
}


@functools.cache
def synthetic_image(label: str, index: int, size: int = 48, fmt: str = "PNG") -> bytes:
    """A small image whose colour carries its class, with noise so no two are alike."""
    rng = random.Random(f"{label}-{index}")
    base = PALETTE.get(label, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    image = Image.new("RGB", (size, size), base)
    pixels = image.load()
    for _ in range(size * size // 3):
        x, y = rng.randrange(size), rng.randrange(size)
        pixels[x, y] = tuple(max(0, min(255, c + rng.randint(-80, 80))) for c in base)
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def make_image_folder(root: Path, counts: dict[str, int], size: int = 48) -> Path:
    for label, n in counts.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            (root / label / f"{label}_{i:03d}.png").write_bytes(synthetic_image(label, i, size))
    return root


def make_zip(
    path: Path,
    counts: dict[str, int] | None = None,
    *,
    prefix: str = "",
    extra: dict[str, bytes] | None = None,
    size: int = 48,
) -> Path:
    """A folder-per-class zip of synthetic images (plus `extra` raw entries)."""
    counts = {"blue": 8, "red": 8} if counts is None else counts
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for label, n in counts.items():
            for i in range(n):
                archive.writestr(
                    f"{prefix}{label}/{label}_{i:03d}.png", synthetic_image(label, i, size)
                )
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dataset

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"dataset {n}")
    task = "lesions"
    created_by = factory.SubFactory(UserFactory)


class DatasetVersionFactory(factory.django.DjangoModelFactory):
    """A READY version; give storage_path a real folder when a test reads images."""

    class Meta:
        model = DatasetVersion

    dataset = factory.SubFactory(DatasetFactory)
    number = factory.Sequence(lambda n: n + 1)
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    status = DatasetVersion.Status.READY
    class_counts = factory.LazyFunction(lambda: {"blue": 8, "red": 8})
    image_count = 16
    processed_at = factory.LazyFunction(timezone.now)


def _config(version: DatasetVersion) -> dict:
    return {
        "schema": 1,
        "task": version.dataset.task,
        "train": {"backbone": "mobilenet_v2", "image_size": 32, "frozen_epochs": 1,
                  "finetune_epochs": 1, "lr": 0.001, "seed": 0},
        "label_mapping": {"rules": {}, "unmapped": "keep"},
        "classes": sorted(version.class_counts),
        "seed": 0,
        "dataset": {"version_id": version.pk, "name": version.dataset.name,
                    "number": version.number, "sha256": version.sha256},
        "versions": {"torch": "2.14.1"},
    }  # fmt: skip


class TrainingSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrainingSession

    dataset_version = factory.SubFactory(DatasetVersionFactory)
    team = factory.LazyAttribute(lambda o: o.dataset_version.dataset.team)
    name = factory.Sequence(lambda n: f"run {n}")
    config = factory.LazyAttribute(lambda o: _config(o.dataset_version))
    total_epochs = 2


class EpochMetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EpochMetric

    session = factory.SubFactory(TrainingSessionFactory)
    epoch = factory.Sequence(lambda n: n + 1)
    stage = "frozen"
    train_loss = 0.9
    val_loss = 0.8
    accuracy = 0.6
    balanced_accuracy = 0.55
    macro_f1 = 0.5
    classes = factory.LazyFunction(lambda: ["blue", "red"])
    per_class = factory.LazyFunction(
        lambda: {
            "blue": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2},
            "red": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2},
        }
    )
    confusion_matrix = factory.LazyFunction(lambda: [[1, 1], [1, 1]])


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelVersion

    source_session = factory.SubFactory(TrainingSessionFactory)
    team = factory.LazyAttribute(lambda o: o.source_session.team)
    task = "lesions"
    version = factory.Sequence(lambda n: n + 1)
    status = ModelVersion.Status.READY
    classes = factory.LazyFunction(lambda: ["blue", "red"])
    metrics = factory.LazyFunction(lambda: {"val": {"macro_f1": 0.7}, "test": {"macro_f1": 0.6}})
