"""Recommendations forms: the admin's product form (skin types as tick boxes) and the preview
form ("what would a user see for condition X at severity Y with skin type Z")."""

from __future__ import annotations

from django import forms
from django.db import models

from recommendations.models import Condition, Product, Severity, SkinType, parse_skin_types


def _formfield(field: models.Field, **kwargs) -> forms.Field | None:
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)


class ProductAdminForm(forms.ModelForm):
    skin_types = forms.MultipleChoiceField(
        label="Suitable skin types",
        choices=SkinType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick none if the product suits every skin type.",
    )

    class Meta:
        model = Product
        formfield_callback = _formfield
        fields = (
            "name",
            "category",
            "key_ingredients",
            "usage",
            "link",
            "conditions",
            "for_low",
            "for_medium",
            "for_high",
            "skin_types",
            "order",
            "is_active",
        )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and "skin_types" not in self.data:
            self.initial["skin_types"] = self.instance.skin_type_list

    def clean_skin_types(self) -> str:
        return ",".join(parse_skin_types(",".join(self.cleaned_data["skin_types"])))


class AdvicePreviewForm(forms.Form):
    condition = forms.ModelChoiceField(
        queryset=Condition.objects.order_by("task", "order", "display_name"),
        help_text="Task and class the model would report.",
    )
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.MEDIUM)
    skin_type = forms.ChoiceField(
        choices=[("", "Not set: sees every product")] + list(SkinType.choices),
        required=False,
    )
    probability = forms.FloatField(
        required=False,
        min_value=0.0,
        max_value=1.0,
        help_text="Optional: the model's probability to show, between 0 and 1.",
    )
