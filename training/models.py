"""Training: team datasets (versioned by content hash), training sessions with their progress and
per-epoch metrics, and the model registry. Rows only: writes live in training.services."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from accounts.models import Team

task_slug_validator = RegexValidator(
    r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
    "A task is a short slug: lower-case letters, digits and dashes (e.g. lesions, acne-severity).",
)


class Dataset(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=120)
    task = models.CharField(
        max_length=60,
        validators=[task_slug_validator],
        help_text="The task its models answer: lesions, acne-severity, facial, or your own slug.",
    )
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="dataset_unique_team_name"),
        ]

    def __str__(self) -> str:
        return self.name


class DatasetVersion(models.Model):
    class Source(models.TextChoices):
        UPLOAD = "upload", "Uploaded archive"
        SERVER_FOLDER = "server_folder", "Folder on the server"
        FEEDBACK = "feedback", "User feedback"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        EXTRACTING = "extracting", "Extracting"
        VALIDATING = "validating", "Validating"
        READY = "ready", "Ready"
        INVALID = "invalid", "Invalid"
        FAILED = "failed", "Failed"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    # Content hash over (relative path, file sha256) of every file: identical content, same hash,
    # whatever archive it came in. Empty until extraction has computed it.
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    # Hash of the uploaded archive bytes: re-uploading the very same file is recognised at once.
    archive_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    archive_name = models.CharField(max_length=255, blank=True)
    archive_path = models.CharField(max_length=500, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.UPLOAD)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    storage_path = models.CharField(max_length=500, blank=True)
    group_csv_path = models.CharField(max_length=500, blank=True)
    group_column = models.CharField(max_length=60, blank=True, default="lesion_id")
    id_column = models.CharField(max_length=60, blank=True, default="image_id")
    class_counts = models.JSONField(default=dict, blank=True)
    image_count = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["dataset", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "number"], name="dataset_version_unique_number"
            ),
            models.UniqueConstraint(
                fields=["dataset", "sha256"],
                condition=~Q(sha256=""),
                name="dataset_version_unique_content",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dataset} v{self.number}"

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY

    @property
    def is_processing(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.EXTRACTING, self.Status.VALIDATING)

    @property
    def team_id(self) -> int:
        return self.dataset.team_id


class TrainingSession(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="training_sessions")
    # SET_NULL: the config snapshot keeps the dataset's hash when the dataset is deleted.
    dataset_version = models.ForeignKey(
        DatasetVersion, on_delete=models.SET_NULL, null=True, related_name="training_sessions"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    name = models.CharField(max_length=120)
    config = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    # progress (written by training.progress, throttled)
    stage = models.CharField(max_length=40, blank=True)
    epoch = models.PositiveIntegerField(default=0)
    total_epochs = models.PositiveIntegerField(default=0)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    fraction = models.FloatField(default=0.0)
    eta_s = models.FloatField(null=True, blank=True)
    images_per_s = models.FloatField(null=True, blank=True)
    last_loss = models.FloatField(null=True, blank=True)
    best_epoch = models.PositiveIntegerField(null=True, blank=True)
    best_metrics = models.JSONField(default=dict, blank=True)
    test_metrics = models.JSONField(default=dict, blank=True)
    log_tail = models.JSONField(default=list, blank=True)
    # lifecycle
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # "host:pid" of the worker process that claimed the run: on the same host a dead pid means
    # the run lost its worker at once, without waiting for the heartbeat to go stale.
    worker_process = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    run_dir = models.CharField(max_length=500, blank=True)
    attempt = models.PositiveIntegerField(default=0)  # times a worker has claimed it
    auto_resumes = models.PositiveIntegerField(default=0)  # re-queued by the stale sweep
    classes = models.JSONField(default=list, blank=True)
    best_checkpoint = models.CharField(max_length=500, blank=True)
    result = models.JSONField(default=dict, blank=True)
    cloned_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="clones"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="session_status_heartbeat")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def is_resumable(self) -> bool:
        return self.status in (self.Status.FAILED, self.Status.CANCELLED)

    @property
    def task(self) -> str:
        return self.config.get("task", "")

    @property
    def ws_path(self) -> str:
        return f"/ws/training/{self.pk}/"


class EpochMetric(models.Model):
    session = models.ForeignKey(TrainingSession, on_delete=models.CASCADE, related_name="epochs")
    epoch = models.PositiveIntegerField()
    stage = models.CharField(max_length=40, blank=True)
    train_loss = models.FloatField(null=True, blank=True)
    val_loss = models.FloatField(null=True, blank=True)
    train_accuracy = models.FloatField(null=True, blank=True)
    accuracy = models.FloatField(null=True, blank=True)
    balanced_accuracy = models.FloatField(null=True, blank=True)
    macro_f1 = models.FloatField(null=True, blank=True)
    lr = models.FloatField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    per_class = models.JSONField(default=dict, blank=True)
    confusion_matrix = models.JSONField(default=list, blank=True)
    classes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["session", "epoch"]
        constraints = [
            models.UniqueConstraint(fields=["session", "epoch"], name="epoch_metric_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.session} epoch {self.epoch}"


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        EXPORTING = "exporting", "Exporting"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    task = models.CharField(max_length=60, validators=[task_slug_validator])
    version = models.PositiveIntegerField()
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="model_versions")
    source_session = models.ForeignKey(
        TrainingSession,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="model_versions",
    )
    checkpoint_path = models.CharField(max_length=500, blank=True)
    bundle_path = models.CharField(max_length=500, blank=True)
    classes = models.JSONField(default=list, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    card = models.JSONField(default=dict, blank=True)
    is_production = models.BooleanField(default=False)
    # The owner asked for production at promotion time: applied once the export is ready.
    production_requested = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.EXPORTING)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["task", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["task", "version"], name="model_version_unique"),
            models.UniqueConstraint(
                fields=["task"],
                condition=Q(is_production=True),
                name="model_version_one_production_per_task",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task} v{self.version}"

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY
