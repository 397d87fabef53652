"""DRF serializers shared by the analysis API, the export and the history page."""

from __future__ import annotations

import copy

from django.urls import reverse
from rest_framework import serializers

from analysis.models import Analysis


class FieldsOnceMixin:
    """For read-only serializers. DRF's ModelSerializer works its fields out from the model
    again for every instance (~0.6 ms of every analysis answer on this CPU, more than rendering
    it): they are built once per class here, and each instance gets its own unbound copy to
    bind. A shallow copy: DRF's deep copy re-runs every field's __init__ (160 of the 260 us of
    an answer here); what a copy shares with the others (validators, error messages, a list
    field's child) is only read when a value is written out, and nothing here reads input."""

    def get_fields(self):
        built = type(self).__dict__.get("_fields_once")
        if built is None:
            built = super().get_fields()
            writable = sorted(name for name, field in built.items() if not field.read_only)
            if writable:
                raise TypeError(
                    f"{type(self).__name__}: FieldsOnceMixin is for read-only "
                    f"serializers; writable: {', '.join(writable)}"
                )
            type(self)._fields_once = built  # a race builds it twice, harmlessly
        return {name: copy.copy(field) for name, field in built.items()}


class AnalysisSerializer(FieldsOnceMixin, serializers.ModelSerializer):
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
