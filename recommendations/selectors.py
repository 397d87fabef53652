"""Recommendations selectors: every read with a rule in it (activity, severity and skin-type
matching, stable ordering). No writes; knows nothing of analyses or training."""

from __future__ import annotations

import re

from django.db.models import Prefetch, Q, QuerySet

from recommendations.models import Condition, Product, ProductCategory, Tip

# Documented, stable orders (README): tips by (order, id); products by routine position of their
# category, then position within it, then name, then id.
TIP_ORDER = ("order", "pk")
PRODUCT_ORDER = ("category__order", "category__name", "order", "name", "pk")


def condition_list(*, task: str = "") -> QuerySet[Condition]:
    conditions = Condition.objects.select_related("severity_rule")
    if task:
        conditions = conditions.filter(task=task)
    return conditions.order_by("task", "order", "display_name", "pk")


def condition_get(*, task: str, key: str) -> Condition | None:
    return Condition.objects.select_related("severity_rule").filter(task=task, key=key).first()


def condition_map(*, task: str) -> dict[str, Condition]:
    """Every condition of a task by class key (one query)."""
    return {c.key: c for c in condition_list(task=task)}


def condition_display_names(*, task: str) -> dict[str, str]:
    """class key -> display name, for pages that list every class's probability."""
    return dict(Condition.objects.filter(task=task).values_list("key", "display_name"))


def condition_task_list() -> list[str]:
    return list(Condition.objects.order_by("task").values_list("task", flat=True).distinct())


def condition_detail_queryset() -> QuerySet[Condition]:
    """Conditions with their active tips and products prefetched in display order."""
    return (
        Condition.objects.select_related("severity_rule")
        .prefetch_related(
            Prefetch("tips", queryset=Tip.objects.filter(is_active=True).order_by(*TIP_ORDER)),
            Prefetch(
                "products",
                queryset=Product.objects.filter(is_active=True)
                .select_related("category")
                .prefetch_related("conditions")
                .order_by(*PRODUCT_ORDER),
            ),
        )
        .order_by("task", "order", "display_name", "pk")
    )


def condition_detail_get(*, task: str, key: str) -> Condition | None:
    return condition_detail_queryset().filter(task=task, key=key).first()


def tip_list_for(*, condition: Condition, severity: str) -> QuerySet[Tip]:
    return condition.tips.filter(is_active=True, **{f"for_{severity}": True}).order_by(*TIP_ORDER)


def skin_type_q(skin_type: str) -> Q:
    """Products that suit a skin type: those listing it, and those listing none."""
    if not skin_type:
        return Q()
    pattern = rf"(^|,)\s*{re.escape(skin_type)}\s*(,|$)"
    return Q(skin_types="") | Q(skin_types__iregex=pattern)


def product_list_for(*, condition: Condition, severity: str, skin_type: str) -> QuerySet[Product]:
    return (
        condition.products.filter(is_active=True, **{f"for_{severity}": True})
        .filter(skin_type_q(skin_type))
        .select_related("category")
        .order_by(*PRODUCT_ORDER)
    )


def product_list(
    *,
    condition_id: int | None = None,
    task: str = "",
    key: str = "",
    skin_type: str = "",
    category: str = "",
    severity: str = "",
) -> QuerySet[Product]:
    """Active products, optionally narrowed; the read-only API's list."""
    products = Product.objects.filter(is_active=True).filter(skin_type_q(skin_type))
    if condition_id is not None:
        products = products.filter(conditions__pk=condition_id)
    if task:
        products = products.filter(conditions__task=task)
    if key:
        products = products.filter(conditions__key=key)
    if category:
        products = products.filter(category__slug=category)
    if severity:
        products = products.filter(**{f"for_{severity}": True})
    return (
        products.distinct()
        .select_related("category")
        .prefetch_related("conditions")
        .order_by(*PRODUCT_ORDER)
    )


def product_category_list() -> QuerySet[ProductCategory]:
    return ProductCategory.objects.order_by("order", "name")
