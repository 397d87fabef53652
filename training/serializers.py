"""Output shapes shared by the REST API, the websocket snapshot/events and the pages' embedded
JSON, so a session looks the same wherever it is read. Read-only; no writes, no access rules."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from training.models import Dataset, DatasetVersion, EpochMetric, ModelVersion, TrainingSession

STATUS_HELP = "One of: {}."


def _status_field(model) -> serializers.CharField:
    # A plain string (not an enum) so the several `status` fields of this app do not collide
    # in the OpenAPI components.
    return serializers.CharField(
        read_only=True, help_text=STATUS_HELP.format(", ".join(model.Status.values))
    )


class DatasetVersionSerializer(serializers.ModelSerializer):
    status = _status_field(DatasetVersion)
    source = serializers.CharField(read_only=True, help_text="upload, server_folder or feedback")
    dataset_id = serializers.IntegerField(read_only=True)
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    task = serializers.CharField(source="dataset.task", read_only=True)
    team_id = serializers.IntegerField(source="dataset.team_id", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = DatasetVersion
        fields = (
            "id",
            "dataset_id",
            "dataset_name",
            "task",
            "team_id",
            "number",
            "sha256",
            "archive_sha256",
            "archive_name",
            "size_bytes",
            "source",
            "status",
            "error",
            "class_counts",
            "image_count",
            "group_column",
            "id_column",
            "created_at",
            "processed_at",
            "url",
        )
        read_only_fields = fields

    def get_url(self, obj: DatasetVersion) -> str:
        return reverse("training:dataset-version-detail", args=[obj.pk])


class DatasetVersionReportSerializer(DatasetVersionSerializer):
    report = serializers.JSONField(read_only=True)

    class Meta(DatasetVersionSerializer.Meta):
        fields = (*DatasetVersionSerializer.Meta.fields, "report")
        read_only_fields = fields


class DatasetSerializer(serializers.ModelSerializer):
    team_id = serializers.IntegerField(read_only=True)
    versions = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = ("id", "team_id", "name", "task", "description", "created_at", "versions")
        read_only_fields = fields

    @extend_schema_field(DatasetVersionSerializer(many=True))
    def get_versions(self, obj: Dataset) -> list[dict]:
        versions = obj.versions.select_related("dataset").order_by("-number")
        return DatasetVersionSerializer(versions, many=True).data


class EpochMetricSerializer(serializers.ModelSerializer):
    class Meta:
        model = EpochMetric
        fields = (
            "epoch",
            "stage",
            "train_loss",
            "val_loss",
            "train_accuracy",
            "accuracy",
            "balanced_accuracy",
            "macro_f1",
            "lr",
            "duration_s",
            "per_class",
            "confusion_matrix",
            "classes",
        )
        read_only_fields = fields


class TrainingSessionSerializer(serializers.ModelSerializer):
    """The session as the page, the API and the websocket show it (no epochs, no log)."""

    status = _status_field(TrainingSession)
    team_id = serializers.IntegerField(read_only=True)
    dataset_version_id = serializers.IntegerField(read_only=True, allow_null=True)
    dataset = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)
    cloned_from_id = serializers.IntegerField(read_only=True, allow_null=True)
    task = serializers.CharField(read_only=True)
    url = serializers.SerializerMethodField()
    ws_path = serializers.CharField(read_only=True)

    class Meta:
        model = TrainingSession
        fields = (
            "id",
            "name",
            "team_id",
            "task",
            "dataset_version_id",
            "dataset",
            "created_by",
            "status",
            "cancel_requested",
            "stage",
            "epoch",
            "total_epochs",
            "step",
            "total_steps",
            "fraction",
            "eta_s",
            "images_per_s",
            "last_loss",
            "best_epoch",
            "best_metrics",
            "test_metrics",
            "classes",
            "heartbeat_at",
            "started_at",
            "finished_at",
            "error",
            "attempt",
            "auto_resumes",
            "cloned_from_id",
            "created_at",
            "url",
            "ws_path",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.DictField())
    def get_dataset(self, obj: TrainingSession) -> dict:
        snapshot = obj.config.get("dataset", {})
        return {
            "name": snapshot.get("name"),
            "number": snapshot.get("number"),
            "sha256": snapshot.get("sha256"),
        }

    def get_url(self, obj: TrainingSession) -> str:
        return reverse("training:session-detail", args=[obj.pk])


class TrainingSessionDetailSerializer(TrainingSessionSerializer):
    config = serializers.JSONField(read_only=True)
    epochs = serializers.SerializerMethodField()
    log_tail = serializers.JSONField(read_only=True)

    class Meta(TrainingSessionSerializer.Meta):
        fields = (*TrainingSessionSerializer.Meta.fields, "config", "epochs", "log_tail")
        read_only_fields = fields

    @extend_schema_field(EpochMetricSerializer(many=True))
    def get_epochs(self, obj: TrainingSession) -> list[dict]:
        return EpochMetricSerializer(obj.epochs.order_by("epoch"), many=True).data


class ModelVersionSerializer(serializers.ModelSerializer):
    status = _status_field(ModelVersion)
    team_id = serializers.IntegerField(read_only=True)
    source_session_id = serializers.IntegerField(read_only=True, allow_null=True)
    source_session_name = serializers.CharField(
        source="source_session.name", default=None, read_only=True
    )
    url = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = (
            "id",
            "task",
            "version",
            "team_id",
            "source_session_id",
            "source_session_name",
            "classes",
            "metrics",
            "card",
            "is_production",
            "production_requested",
            "status",
            "error",
            "created_at",
            "promoted_at",
            "url",
        )
        read_only_fields = fields

    def get_url(self, obj: ModelVersion) -> str:
        return reverse("training:model-detail", args=[obj.pk])


def session_summary(session: TrainingSession) -> dict:
    return dict(TrainingSessionSerializer(session).data)


def epoch_dict(metric: EpochMetric) -> dict:
    return dict(EpochMetricSerializer(metric).data)
