"""Admin for the advice tables: inlines, search, filters, bulk activate/deactivate, CSV import and
export, the missing-advice warning, and the preview of what a person would see."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.clickjacking import xframe_options_sameorigin
from import_export.admin import ImportExportModelAdmin

from recommendations import coverage, services
from recommendations.forms import AdvicePreviewForm, ProductAdminForm
from recommendations.models import (
    Condition,
    Product,
    ProductCategory,
    Severity,
    SeverityRule,
    SkinType,
    Tip,
)
from recommendations.resources import (
    ConditionResource,
    ProductCategoryResource,
    ProductResource,
    SeverityRuleResource,
    TipResource,
)


class AdviceAdmin(ImportExportModelAdmin):
    """Import writes rows, so it needs the add and change permissions (django-import-export
    would otherwise let any staff member import); export needs the view permission."""

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)


def _severities(obj: Tip | Product) -> str:
    return ", ".join(obj.severity_labels) or "none"


class SeverityRuleInline(admin.StackedInline):
    model = SeverityRule
    extra = 1
    max_num = 1
    fields = (("mode", "fixed_severity"), ("medium_from", "high_from"), "rationale")


class TipInline(admin.TabularInline):
    model = Tip.conditions.through
    extra = 0
    autocomplete_fields = ("tip",)
    verbose_name = "tip"
    verbose_name_plural = "tips (edit their text and severities under Tips)"


class ProductInline(admin.TabularInline):
    model = Product.conditions.through
    extra = 0
    autocomplete_fields = ("product",)
    verbose_name = "product"
    verbose_name_plural = "products (edit them under Products)"


@admin.register(Condition)
class ConditionAdmin(AdviceAdmin):
    resource_classes = [ConditionResource]
    # Adds a "Preview" button; import-export wraps it with its Import / Export buttons.
    change_list_template = "admin/recommendations/condition/change_list.html"
    list_display = (
        "display_name",
        "task",
        "key",
        "risk_level",
        "refer_to_dermatologist",
        "severity_summary",
        "tip_count",
        "product_count",
        "updated_at",
    )
    list_filter = ("task", "risk_level", "refer_to_dermatologist", "severity_rule__mode")
    search_fields = ("display_name", "key", "task", "description")
    ordering = ("task", "order", "display_name")
    readonly_fields = ("preview_links", "updated_at")
    fieldsets = (
        (None, {"fields": (("task", "key"), "display_name", "order")}),
        ("Texts", {"fields": ("description", "causes", "symptoms", "when_to_see_doctor")}),
        (
            "Risk and referral",
            {"fields": ("risk_level", "refer_to_dermatologist", "refer_above_probability")},
        ),
        ("Preview", {"fields": ("preview_links", "updated_at")}),
    )
    inlines = [SeverityRuleInline, TipInline, ProductInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Condition]:
        return (
            super()
            .get_queryset(request)
            .select_related("severity_rule")
            .annotate(
                _tips=Count("tips", distinct=True), _products=Count("products", distinct=True)
            )
        )

    @admin.display(description="severity rule", ordering="severity_rule__mode")
    def severity_summary(self, obj: Condition) -> str:
        rule = getattr(obj, "severity_rule", None)
        if rule is None:
            return "default (medium ≥ 0.5, high ≥ 0.8)"
        if rule.mode == SeverityRule.Mode.FIXED:
            return f"always {rule.get_fixed_severity_display()}"
        return f"medium ≥ {rule.medium_from:g}, high ≥ {rule.high_from:g}"

    @admin.display(description="tips", ordering="_tips")
    def tip_count(self, obj: Condition) -> int:
        return obj._tips

    @admin.display(description="products", ordering="_products")
    def product_count(self, obj: Condition) -> int:
        return obj._products

    @admin.display(description="what a user sees")
    def preview_links(self, obj: Condition) -> str:
        if not obj.pk:
            return "Save first."
        base = reverse("admin:recommendations_condition_preview")
        return format_html_join(
            " · ",
            '<a href="{}?{}">{}</a>',
            (
                (base, urlencode({"condition": obj.pk, "severity": value}), f"at {label}")
                for value, label in Severity.choices
            ),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("preview/", view(self.preview_view), name="recommendations_condition_preview"),
            path(
                "preview/frame/",
                view(xframe_options_sameorigin(self.preview_frame_view)),
                name="recommendations_condition_preview_frame",
            ),
            *super().get_urls(),
        ]

    def _preview(self, request: HttpRequest) -> tuple[AdvicePreviewForm, object]:
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = AdvicePreviewForm(request.GET or None)
        if not form.is_valid():
            return form, None
        data = form.cleaned_data
        advice = services.advice_preview(
            task=data["condition"].task,
            condition_key=data["condition"].key,
            severity=data["severity"],
            skin_type=data["skin_type"],
            probability=data["probability"],
        )
        return form, advice

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        form, advice = self._preview(request)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Preview: what would a user see?",
            "form": form,
            "advice": advice,
            "frame_url": f"{reverse('admin:recommendations_condition_preview_frame')}?"
            f"{request.GET.urlencode()}",
        }
        return TemplateResponse(request, "admin/recommendations/condition/preview.html", context)

    def preview_frame_view(self, request: HttpRequest) -> HttpResponse:
        form, advice = self._preview(request)
        context = {"form": form, "advice": advice}
        return TemplateResponse(
            request, "admin/recommendations/condition/preview_frame.html", context
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        missing = coverage.missing_advice()
        if missing and request.method == "GET":
            items = format_html_join(
                "; ", "{}: {}", ((task, ", ".join(keys)) for task, keys in missing.items())
            )
            messages.warning(
                request,
                format_html(
                    "Production models have classes without advice (people see a generic text): "
                    "{}. Add a condition for each.",
                    items,
                ),
            )
        return super().changelist_view(request, extra_context)


@admin.register(SeverityRule)
class SeverityRuleAdmin(AdviceAdmin):
    resource_classes = [SeverityRuleResource]
    list_display = ("condition", "mode", "medium_from", "high_from", "fixed_severity")
    list_filter = ("mode", "fixed_severity", "condition__task")
    search_fields = ("condition__display_name", "condition__key", "rationale")
    ordering = ("condition__task", "condition__order", "condition__display_name")
    list_select_related = ("condition",)
    autocomplete_fields = ("condition",)


class _ActiveActions:
    """Bulk activate/deactivate through the service the rest of the code uses."""

    def set_active(self, queryset: QuerySet, active: bool) -> int:
        raise NotImplementedError

    def _set(self, request: HttpRequest, queryset: QuerySet, active: bool) -> None:
        count = self.set_active(queryset, active)
        word = "activated" if active else "deactivated"
        self.message_user(request, f"{count} {self.opts.verbose_name_plural} {word}.")

    @admin.action(description="Activate selected %(verbose_name_plural)s", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set(request, queryset, True)

    @admin.action(description="Deactivate selected %(verbose_name_plural)s", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set(request, queryset, False)


@admin.register(Tip)
class TipAdmin(_ActiveActions, AdviceAdmin):
    resource_classes = [TipResource]
    list_display = ("__str__", "condition_list", "severities", "order", "is_active")
    list_editable = ("order", "is_active")
    list_filter = ("is_active", "for_low", "for_medium", "for_high", "conditions__task")
    search_fields = ("text", "conditions__display_name", "conditions__key")
    ordering = ("order", "pk")
    filter_horizontal = ("conditions",)
    actions = ("activate", "deactivate")
    fields = ("text", "conditions", ("for_low", "for_medium", "for_high"), "order", "is_active")

    def set_active(self, queryset: QuerySet, active: bool) -> int:
        return services.tip_set_active(tips=queryset, active=active)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tip]:
        return super().get_queryset(request).prefetch_related("conditions")

    @admin.display(description="conditions")
    def condition_list(self, obj: Tip) -> str:
        return ", ".join(f"{c.task}/{c.key}" for c in obj.conditions.all())

    @admin.display(description="severities")
    def severities(self, obj: Tip) -> str:
        return _severities(obj)


class SuitsSkinTypeFilter(admin.SimpleListFilter):
    title = "suits skin type"
    parameter_name = "suits"

    def lookups(self, request, model_admin):
        return SkinType.choices

    def queryset(self, request, queryset):
        from recommendations.selectors import skin_type_q

        return queryset.filter(skin_type_q(self.value())) if self.value() else queryset


@admin.register(Product)
class ProductAdmin(_ActiveActions, AdviceAdmin):
    resource_classes = [ProductResource]
    form = ProductAdminForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("name", "category", "skin_types_display", "severities", "order", "is_active")
    list_editable = ("order", "is_active")
    list_filter = (
        "is_active",
        "category",
        SuitsSkinTypeFilter,
        "for_low",
        "for_medium",
        "for_high",
        "conditions__task",
    )
    search_fields = ("name", "key_ingredients", "usage", "conditions__display_name")
    ordering = ("category__order", "category__name", "order", "name")
    list_select_related = ("category",)
    filter_horizontal = ("conditions",)
    actions = ("activate", "deactivate")
    fieldsets = (
        (None, {"fields": ("name", "category", "key_ingredients", "usage", "link")}),
        ("Who sees it", {"fields": ("conditions", ("for_low", "for_medium", "for_high"))}),
        ("Skin types", {"fields": ("skin_types",)}),
        (None, {"fields": ("order", "is_active")}),
    )

    def set_active(self, queryset: QuerySet, active: bool) -> int:
        return services.product_set_active(products=queryset, active=active)

    @admin.display(description="skin types")
    def skin_types_display(self, obj: Product) -> str:
        return obj.skin_types.replace(",", ", ") or "all"

    @admin.display(description="severities")
    def severities(self, obj: Product) -> str:
        return _severities(obj)


class CategoryProductInline(admin.TabularInline):
    model = Product
    fields = ("name", "order", "is_active")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    extra = 0
    show_change_link = True


@admin.register(ProductCategory)
class ProductCategoryAdmin(AdviceAdmin):
    resource_classes = [ProductCategoryResource]
    list_display = ("name", "slug", "order", "product_count")
    list_editable = ("order",)
    search_fields = ("name", "slug", "description")
    ordering = ("order", "name")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [CategoryProductInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProductCategory]:
        return super().get_queryset(request).annotate(_products=Count("products"))

    @admin.display(description="products", ordering="_products")
    def product_count(self, obj: ProductCategory) -> int:
        return obj._products
