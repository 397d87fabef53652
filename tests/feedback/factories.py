"""Rows the feedback tests need, made directly (no model pipeline): analyses with a real JPEG in
MEDIA_ROOT, training runs, registry versions, consent and dataset grants."""

from __future__ import annotations

import io

import factory
import numpy as np
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from accounts import services as accounts_services
from analysis.models import Analysis
from feedback.models import DatasetGrant
from tests.factories import TeamFactory, UserFactory
from training.models import Dataset, DatasetVersion, ModelVersion, TrainingSession

LESION_CLASSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")


def jpeg(seed: int, size: int = 96) -> bytes:
    """A distinct, textured JPEG (no two seeds alike: validation flags duplicates)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 215, size=3)
    noise = rng.normal(0, 40, size=(size, size, 3))
    arr = np.clip(base + noise, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(arr).save(out, "JPEG", quality=90)
    return out.getvalue()


_seed = iter(range(10_000, 10**9))


def make_analysis(
    owner,
    *,
    task: str = "lesions",
    top: str = "nv",
    classes: tuple[str, ...] = LESION_CLASSES,
    model_version: ModelVersion | None = None,
    model_label: str | None = None,
    model_card_sha: str = "",
    created_at=None,
) -> Analysis:
    rest = (1.0 - 0.6) / max(len(classes) - 1, 1)
    probabilities = {c: (0.6 if c == top else rest) for c in classes}
    analysis = Analysis(
        owner=owner,
        task=task,
        probabilities=probabilities,
        top_class=top,
        top_probability=0.6,
        model_version=model_version,
        model_label=model_label
        or (f"{task} v{model_version.version}" if model_version else f"{task} (default model)"),
        model_card_sha=model_card_sha,
    )
    analysis.image.save("photo.jpg", ContentFile(jpeg(next(_seed), size=96)), save=False)
    analysis.width = analysis.height = 96
    analysis.save()
    if created_at is not None:
        Analysis.objects.filter(pk=analysis.pk).update(created_at=created_at)
    return analysis


def set_consent(user, consent: bool) -> None:
    accounts_services.profile_update(user=user, consent_photos_for_training=consent)


def grant(team, by=None) -> DatasetGrant:
    return DatasetGrant.objects.create(team=team, granted_by=by, note="tests")


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dataset

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"dataset {n}")
    task = "lesions"


class DatasetVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DatasetVersion

    dataset = factory.SubFactory(DatasetFactory)
    number = factory.Sequence(lambda n: n + 1)
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    status = DatasetVersion.Status.READY
    processed_at = factory.LazyFunction(timezone.now)


class TrainingSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrainingSession

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"run {n}")
    config = factory.LazyFunction(lambda: {"task": "lesions"})
    status = TrainingSession.Status.DONE
    finished_at = factory.LazyFunction(timezone.now)


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelVersion

    team = factory.SubFactory(TeamFactory)
    task = "lesions"
    version = factory.Sequence(lambda n: n + 1)
    status = ModelVersion.Status.READY
    classes = factory.LazyFunction(lambda: list(LESION_CLASSES))
    metrics = factory.LazyFunction(
        lambda: {
            "best_epoch": 3,
            "val": {"accuracy": 0.8, "balanced_accuracy": 0.7, "macro_f1": 0.68, "n": 100},
            "test": {"accuracy": 0.75, "balanced_accuracy": 0.66, "macro_f1": 0.6, "n": 120},
        }
    )


__all__ = ["UserFactory", "TeamFactory"]
