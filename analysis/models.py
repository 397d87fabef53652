"""Analyses: one photo of one person, the model's answer and the advice shown, kept as history."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


def analysis_image_path(instance: Analysis, filename: str) -> str:
    # Never the client's file name: analysis/<user_id>/<uuid>.jpg (always re-encoded JPEG).
    return f"analysis/{instance.owner_id}/{instance.uid}.jpg"


def analysis_thumb_path(instance: Analysis, filename: str) -> str:
    return f"analysis/{instance.owner_id}/{instance.uid}.thumb.jpg"


def analysis_gradcam_path(instance: Analysis, filename: str) -> str:
    return f"analysis/{instance.owner_id}/{instance.uid}.gradcam.png"


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class Analysis(models.Model):
    class GradcamStatus(models.TextChoices):
        NONE = "", "Not requested"
        PENDING = "pending", "Being computed"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="analyses"
    )
    task = models.CharField(max_length=60, db_index=True)
    image = models.ImageField(upload_to=analysis_image_path)
    thumbnail = models.ImageField(upload_to=analysis_thumb_path, blank=True)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    probabilities = models.JSONField(default=dict)  # class key -> calibrated probability
    top_class = models.CharField(max_length=100)
    top_probability = models.FloatField()
    severity = models.CharField(max_length=10, choices=Severity.choices, blank=True)
    uncertain = models.BooleanField(default=False)
    uncertain_reasons = models.JSONField(default=list, blank=True)
    ood_score = models.FloatField(null=True, blank=True)
    advice = models.JSONField(default=dict, blank=True)  # what the person was told, as shown
    quality = models.JSONField(default=dict, blank=True)  # measures + overridden warnings
    model_version = models.ForeignKey(
        "training.ModelVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="analyses",
    )
    model_label = models.CharField(max_length=120)
    model_card_sha = models.CharField(max_length=64, blank=True)
    gradcam = models.FileField(upload_to=analysis_gradcam_path, blank=True)
    gradcam_status = models.CharField(max_length=10, choices=GradcamStatus.choices, blank=True)
    note = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "analyses"
        indexes = [
            models.Index(
                fields=["owner", "task", "-created_at"], name="analysis_owner_task_created"
            )
        ]

    def __str__(self) -> str:
        return f"{self.task}: {self.top_class} ({self.created_at:%Y-%m-%d})"

    @property
    def top_percent(self) -> int:
        return round(self.top_probability * 100)

    @property
    def sorted_probabilities(self) -> list[tuple[str, float]]:
        return sorted(self.probabilities.items(), key=lambda kv: -kv[1])
