from django.contrib import admin

from analysis.models import Analysis


@admin.register(Analysis)
class AnalysisAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "owner",
        "task",
        "top_class",
        "top_probability",
        "severity",
        "uncertain",
        "model_label",
        "created_at",
    )
    list_filter = ("task", "severity", "uncertain")
    search_fields = ("owner__username", "top_class")
    ordering = ("-created_at",)
    readonly_fields = [f.name for f in Analysis._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
