"""DRF serializers shared by the analysis API, the export and the history page."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from analysis.models import Analysis


class AnalysisSerializer(serializers.ModelSerializer):
    top_percent = serializers.IntegerField(read_only=True)
    model = serializers.CharField(source="model_label", read_only=True)
    model_version = serializers.IntegerField(source="model_version_id", read_only=True)
    image_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    gradcam_url = serializers.SerializerMethodField()
    not_a_diagnosis = serializers.SerializerMethodField()

    class Meta:
        model = Analysis
        fields = (
            "id",
            "uid",
            "task",
            "created_at",
            "top_class",
            "top_probability",
            "top_percent",
            "probabilities",
            "severity",
            "uncertain",
            "uncertain_reasons",
            "ood_score",
            "advice",
            "quality",
            "model",
            "model_version",
            "note",
            "gradcam_status",
            "image_url",
            "thumbnail_url",
            "gradcam_url",
            "not_a_diagnosis",
        )
        read_only_fields = fields

    def get_image_url(self, obj: Analysis) -> str:
        return reverse("analysis:photo", args=[obj.pk, "image"])

    def get_thumbnail_url(self, obj: Analysis) -> str:
        return reverse("analysis:photo", args=[obj.pk, "thumbnail"])

    def get_gradcam_url(self, obj: Analysis) -> str | None:
        if obj.gradcam_status != Analysis.GradcamStatus.READY:
            return None
        return reverse("analysis:photo", args=[obj.pk, "gradcam"])

    def get_not_a_diagnosis(self, obj: Analysis) -> str:
        return (obj.advice or {}).get("disclaimer", "This is not a diagnosis.")


def analysis_to_dict(analysis: Analysis) -> dict:
    data = dict(AnalysisSerializer(analysis).data)
    data["uid"] = str(data["uid"])
    return data
