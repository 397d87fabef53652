"""Recommendations REST API: read-only conditions, products and product categories for any
authenticated caller (admins edit them in the Django admin)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers

from recommendations import selectors
from recommendations.models import (
    Condition,
    Product,
    ProductCategory,
    Severity,
    SeverityRule,
    SkinType,
    Tip,
)


# Plain strings (values in the description): drf-spectacular would otherwise name the same choice
# set once per field name ("severities", "fixed_severity", ...) and warn about it.
def _values_field(values: list[str], **kwargs) -> serializers.CharField:
    return serializers.CharField(help_text="One of: " + ", ".join(values) + ".", **kwargs)


class SeverityRuleSerializer(serializers.ModelSerializer):
    fixed_severity = serializers.CharField(
        read_only=True, help_text="low, medium or high when the mode is fixed; otherwise empty."
    )

    class Meta:
        model = SeverityRule
        fields = ("mode", "medium_from", "high_from", "fixed_severity")


class ConditionSerializer(serializers.ModelSerializer):
    severity_rule = SeverityRuleSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Condition
        fields = (
            "id",
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
            "severity_rule",
        )


class TipSerializer(serializers.ModelSerializer):
    severities = serializers.ListField(child=_values_field(Severity.values))

    class Meta:
        model = Tip
        fields = ("id", "text", "severities")


class ProductCategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = ProductCategory
        fields = ("id", "slug", "name", "description", "order")


class ConditionRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Condition
        fields = ("id", "task", "key")


class ProductSerializer(serializers.ModelSerializer):
    category = ProductCategorySerializer(read_only=True)
    key_ingredients = serializers.ListField(child=serializers.CharField(), source="ingredient_list")
    skin_types = serializers.ListField(
        child=_values_field(SkinType.values),
        source="skin_type_list",
        help_text="Fitzpatrick types the product suits; empty: every skin type.",
    )
    severities = serializers.ListField(child=_values_field(Severity.values))
    conditions = ConditionRefSerializer(many=True, read_only=True)

    class Meta:
        model = Product
        fields = (
            "id",
            "name",
            "category",
            "key_ingredients",
            "skin_types",
            "usage",
            "link",
            "severities",
            "conditions",
        )


class ConditionDetailSerializer(ConditionSerializer):
    tips = TipSerializer(many=True, read_only=True, help_text="Active tips, in display order.")
    products = ProductSerializer(many=True, read_only=True, help_text="Active products.")

    class Meta(ConditionSerializer.Meta):
        fields = (*ConditionSerializer.Meta.fields, "tips", "products")


class ConditionFilterSerializer(serializers.Serializer):
    task = serializers.SlugField(required=False, help_text="Only this task, e.g. lesions.")
    key = serializers.CharField(required=False, help_text="Only this class key, e.g. mel.")


class ProductFilterSerializer(serializers.Serializer):
    condition = serializers.IntegerField(required=False, help_text="Condition id.")
    task = serializers.SlugField(required=False, help_text="For a condition of this task.")
    key = serializers.CharField(required=False, help_text="For a condition with this class key.")
    skin_type = serializers.ChoiceField(
        SkinType.choices,
        required=False,
        help_text="Products that suit this Fitzpatrick type (including those for every type).",
    )
    severity = serializers.ChoiceField(Severity.choices, required=False)
    category = serializers.SlugField(required=False, help_text="Category slug, e.g. sunscreen.")


def _filters(serializer_class: type[serializers.Serializer], request) -> dict:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@extend_schema_view(get=extend_schema(parameters=[ConditionFilterSerializer]))
class ConditionListApi(generics.ListAPIView):
    serializer_class = ConditionSerializer

    def get_queryset(self) -> QuerySet[Condition]:
        filters = _filters(ConditionFilterSerializer, self.request)
        conditions = selectors.condition_list(task=filters.get("task", ""))
        if "key" in filters:
            conditions = conditions.filter(key=filters["key"])
        return conditions


class ConditionDetailApi(generics.RetrieveAPIView):
    serializer_class = ConditionDetailSerializer

    def get_queryset(self) -> QuerySet[Condition]:
        return selectors.condition_detail_queryset()


@extend_schema_view(get=extend_schema(parameters=[ProductFilterSerializer]))
class ProductListApi(generics.ListAPIView):
    serializer_class = ProductSerializer

    def get_queryset(self) -> QuerySet[Product]:
        filters = _filters(ProductFilterSerializer, self.request)
        return selectors.product_list(
            condition_id=filters.get("condition"),
            task=filters.get("task", ""),
            key=filters.get("key", ""),
            skin_type=filters.get("skin_type", ""),
            severity=filters.get("severity", ""),
            category=filters.get("category", ""),
        )


class ProductDetailApi(generics.RetrieveAPIView):
    serializer_class = ProductSerializer

    def get_queryset(self) -> QuerySet[Product]:
        return selectors.product_list()


class ProductCategoryListApi(generics.ListAPIView):
    serializer_class = ProductCategorySerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[ProductCategory]:
        return selectors.product_category_list()
