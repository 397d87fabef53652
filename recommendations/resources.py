"""CSV (and other tablib formats) import/export of the advice tables (django-import-export).

Rows are matched by natural keys, so a file exported here imports back into the same rows or
into another installation: conditions by (task, key), severity rules by their condition
("task/key"), categories by slug, products by name; tips by id (they have no natural key).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from import_export import fields, resources, widgets

from recommendations.models import Condition, Product, ProductCategory, SeverityRule, Tip


def _parse_ref(ref: str) -> tuple[str, str]:
    task, sep, key = ref.strip().partition("/")
    if not sep or not task or not key:
        raise ValueError(f"{ref!r} is not a condition reference; write task/key, e.g. lesions/mel.")
    return task.strip(), key.strip()


def _ref(condition: Condition) -> str:
    return f"{condition.task}/{condition.key}"


class ConditionRefWidget(widgets.ForeignKeyWidget):
    """One condition as "task/key"."""

    def __init__(self, **kwargs) -> None:
        super().__init__(Condition, **kwargs)

    def clean(self, value, row=None, **kwargs) -> Condition | None:
        if not value:
            return None
        task, key = _parse_ref(str(value))
        try:
            return Condition.objects.get(task=task, key=key)
        except Condition.DoesNotExist as exc:
            raise ValueError(f"No condition {task}/{key}.") from exc

    def render(self, value, obj=None, **kwargs) -> str:
        return _ref(value) if value is not None else ""


class ConditionRefsWidget(widgets.ManyToManyWidget):
    """Several conditions as "task/key, task/key"; an unknown reference is an error, not a
    silent drop."""

    def __init__(self, **kwargs) -> None:
        super().__init__(Condition, separator=",", **kwargs)

    def clean(self, value, row=None, **kwargs) -> QuerySet[Condition]:
        refs = [_parse_ref(part) for part in str(value or "").split(self.separator) if part.strip()]
        if not refs:
            return Condition.objects.none()
        query = Q()
        for task, key in refs:
            query |= Q(task=task, key=key)
        found = Condition.objects.filter(query)
        unknown = set(refs) - {(c.task, c.key) for c in found}
        if unknown:
            listed = ", ".join(f"{t}/{k}" for t, k in sorted(unknown))
            raise ValueError(f"Unknown condition(s): {listed}.")
        return found

    def render(self, value, obj=None, **kwargs) -> str:
        if value is None:
            return ""
        return ", ".join(_ref(c) for c in value.order_by("task", "key"))


class _Base(resources.ModelResource):
    class Meta:
        abstract = True
        clean_model_instances = True  # model clean(): the same rules as the admin forms
        skip_unchanged = True
        report_skipped = True


class ConditionResource(_Base):
    class Meta(_Base.Meta):
        model = Condition
        import_id_fields = ("task", "key")
        fields = (
            "task",
            "key",
            "display_name",
            "description",
            "causes",
            "symptoms",
            "when_to_see_doctor",
            "risk_level",
            "refer_to_dermatologist",
            "refer_above_probability",
            "order",
        )
        export_order = fields


class SeverityRuleResource(_Base):
    condition = fields.Field(
        attribute="condition", column_name="condition", widget=ConditionRefWidget()
    )

    class Meta(_Base.Meta):
        model = SeverityRule
        import_id_fields = ("condition",)
        fields = ("condition", "mode", "medium_from", "high_from", "fixed_severity", "rationale")
        export_order = fields


class TipResource(_Base):
    conditions = fields.Field(
        attribute="conditions", column_name="conditions", widget=ConditionRefsWidget()
    )

    class Meta(_Base.Meta):
        model = Tip
        fields = (
            "id",
            "text",
            "conditions",
            "for_low",
            "for_medium",
            "for_high",
            "order",
            "is_active",
        )
        export_order = fields


class ProductCategoryResource(_Base):
    class Meta(_Base.Meta):
        model = ProductCategory
        import_id_fields = ("slug",)
        fields = ("slug", "name", "description", "order")
        export_order = fields


class ProductResource(_Base):
    category = fields.Field(
        attribute="category",
        column_name="category",
        widget=widgets.ForeignKeyWidget(ProductCategory, field="slug"),
    )
    conditions = fields.Field(
        attribute="conditions", column_name="conditions", widget=ConditionRefsWidget()
    )

    class Meta(_Base.Meta):
        model = Product
        import_id_fields = ("name",)
        fields = (
            "name",
            "category",
            "key_ingredients",
            "skin_types",
            "usage",
            "conditions",
            "for_low",
            "for_medium",
            "for_high",
            "link",
            "order",
            "is_active",
        )
        export_order = fields
