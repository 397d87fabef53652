from django.contrib import admin

from training.models import Dataset, DatasetVersion, EpochMetric, ModelVersion, TrainingSession


class DatasetVersionInline(admin.TabularInline):
    model = DatasetVersion
    extra = 0
    fields = ("number", "source", "status", "image_count", "sha256", "created_at")
    readonly_fields = fields
    show_change_link = True


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "task", "created_by", "created_at")
    list_filter = ("task",)
    search_fields = ("name", "team__name", "task")
    ordering = ("-created_at",)
    inlines = [DatasetVersionInline]


@admin.register(DatasetVersion)
class DatasetVersionAdmin(admin.ModelAdmin):
    list_display = ("dataset", "number", "source", "status", "image_count", "created_at")
    list_filter = ("status", "source")
    search_fields = ("dataset__name", "sha256", "archive_sha256")
    ordering = ("-created_at",)
    readonly_fields = ("report", "class_counts")


@admin.register(TrainingSession)
class TrainingSessionAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "status", "epoch", "total_epochs", "attempt", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "team__name")
    ordering = ("-created_at",)
    readonly_fields = ("config", "log_tail", "best_metrics", "test_metrics", "result")


@admin.register(EpochMetric)
class EpochMetricAdmin(admin.ModelAdmin):
    list_display = ("session", "epoch", "stage", "val_loss", "accuracy", "macro_f1")
    search_fields = ("session__name",)
    ordering = ("session", "epoch")


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("task", "version", "team", "status", "is_production", "created_at")
    list_filter = ("task", "status", "is_production")
    search_fields = ("task", "team__name")
    ordering = ("task", "-version")
