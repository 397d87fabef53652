"""Admin for feedback: questionnaires with their ordered questions (locked once answered: start a
new version instead), activation, responses (read-only, CSV export), corrections, the teams
allowed to use the feedback dataset, imported folders, and the staff dashboard."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from feedback import aggregates, exports, services
from feedback.models import (
    Answer,
    Correction,
    DatasetGrant,
    DatasetSnapshot,
    Question,
    Questionnaire,
    Response,
    Target,
)

LOCKED_QUESTION_FIELDS = ("key", "kind", "choices")
PERIODS = {"30": 30, "90": 90, "365": 365, "all": None}


# ---------------------------------------------------------------- questionnaires
class QuestionFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        kinds = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("DELETE"):
                continue
            kinds.append(data.get("kind") or form.instance.kind)
        if kinds.count(Question.Kind.CORRECTION) > 1:
            raise ValidationError("A questionnaire asks “what is it really?” at most once.")
        if Question.Kind.CORRECTION in kinds and self.instance.target != Target.ANALYSIS:
            raise ValidationError("“What is it really?” only makes sense about an analysis result.")


class QuestionInline(admin.StackedInline):
    model = Question
    formset = QuestionFormSet
    extra = 0
    fields = (("key", "kind", "required", "order"), "text", "help_text", "choices")
    ordering = ("order", "pk")
    # "choices" (the only TextField): a short textarea, one choice per line.
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 4})}}

    @staticmethod
    def _answered(obj: Questionnaire | None) -> bool:
        return obj is not None and obj.pk is not None and obj.responses.exists()

    def get_readonly_fields(self, request: HttpRequest, obj: Questionnaire | None = None):
        return LOCKED_QUESTION_FIELDS if self._answered(obj) else ()

    def has_add_permission(self, request: HttpRequest, obj: Questionnaire | None = None) -> bool:
        return not self._answered(obj) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Questionnaire | None = None) -> bool:
        return not self._answered(obj) and super().has_delete_permission(request, obj)


@admin.register(Questionnaire)
class QuestionnaireAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "target",
        "version",
        "is_active",
        "question_count",
        "response_count",
        "updated_at",
    )
    list_filter = ("target", "is_active")
    search_fields = ("title", "intro")
    ordering = ("target", "-version")
    readonly_fields = ("version", "is_active")
    fields = ("target", "title", "intro", "version", "is_active")
    inlines = [QuestionInline]
    actions = ("activate", "deactivate", "new_version")
    change_list_template = "admin/feedback/questionnaire/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Questionnaire]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_questions=Count("questions", distinct=True),
                n_responses=Count("responses", distinct=True),
            )
        )

    @admin.display(description="questions", ordering="n_questions")
    def question_count(self, obj: Questionnaire) -> int:
        return obj.n_questions

    @admin.display(description="responses", ordering="n_responses")
    def response_count(self, obj: Questionnaire) -> int:
        return obj.n_responses

    def get_readonly_fields(self, request: HttpRequest, obj: Questionnaire | None = None):
        if obj is not None and obj.responses.exists():
            return (*self.readonly_fields, "target")
        return self.readonly_fields

    def save_model(self, request, obj: Questionnaire, form, change: bool) -> None:
        if not change:
            latest = Questionnaire.objects.filter(target=obj.target).order_by("-version").first()
            obj.version = latest.version + 1 if latest else 1
        super().save_model(request, obj, form, change)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if request.method == "GET" and obj is not None and obj.responses.exists():
            messages.info(
                request,
                "People have answered this version, so its questions' keys, kinds and choices "
                "are locked (their answers keep their meaning). To change them, use the action "
                "“Start a new version” in the list, edit the copy, then activate it.",
            )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Activate (replaces the active questionnaire of its target)")
    def activate(self, request: HttpRequest, queryset: QuerySet[Questionnaire]) -> None:
        chosen = list(queryset)
        if len({q.target for q in chosen}) != len(chosen):
            self.message_user(
                request, "Pick at most one questionnaire per target to activate.", messages.ERROR
            )
            return
        try:
            with transaction.atomic():
                for questionnaire in chosen:
                    services.questionnaire_activate(questionnaire=questionnaire)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        self.message_user(request, f"Activated {len(chosen)} questionnaire(s).")

    @admin.action(description="Deactivate (nobody is asked until another is activated)")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Questionnaire]) -> None:
        for questionnaire in queryset:
            services.questionnaire_deactivate(questionnaire=questionnaire)
        self.message_user(request, f"Deactivated {queryset.count()} questionnaire(s).")

    @admin.action(description="Start a new version (an inactive copy to edit)")
    def new_version(self, request: HttpRequest, queryset: QuerySet[Questionnaire]) -> None:
        copies = [services.questionnaire_new_version(questionnaire=q) for q in queryset]
        self.message_user(
            request,
            "Created " + ", ".join(str(c) for c in copies) + ": edit, then activate.",
        )

    # ------------------------------------------------------------ dashboard and CSV
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("dashboard/", view(self.dashboard_view), name="feedback_dashboard"),
            path("responses.csv", view(self.responses_csv_view), name="feedback_responses_csv"),
            *super().get_urls(),
        ]

    def _require_view(self, request: HttpRequest) -> None:
        if not (
            self.has_view_permission(request) and request.user.has_perm("feedback.view_response")
        ):
            raise PermissionDenied

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        self._require_view(request)
        models_ = aggregates.model_accuracy()
        filters = _dashboard_filters(request, models_)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Feedback dashboard",
            **filters,
            "models": [row.as_dict() for row in models_],
        }
        questionnaire = filters["questionnaire"]
        if questionnaire is not None:
            window = {
                "since": filters["since"],
                "until": None,
                "model": filters["model"],
            }
            context["stats"] = aggregates.questionnaire_aggregates(
                questionnaire=questionnaire, **window
            )
            context["over_time"] = aggregates.responses_over_time(
                questionnaire=questionnaire, bucket=filters["bucket"], **window
            )
            context["csv_url"] = (
                f"{reverse('admin:feedback_responses_csv')}?questionnaire={questionnaire.pk}"
            )
        return TemplateResponse(request, "admin/feedback/dashboard.html", context)

    def responses_csv_view(self, request: HttpRequest) -> HttpResponse:
        self._require_view(request)
        responses = Response.objects.all()
        questionnaire = request.GET.get("questionnaire", "")
        if questionnaire.isdigit():
            responses = responses.filter(questionnaire_id=int(questionnaire))
        return _csv_response(responses, "feedback-responses.csv")


def _csv_response(responses: QuerySet[Response], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        exports.responses_csv_lines(responses), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _dashboard_filters(request: HttpRequest, models_: list[aggregates.ModelAccuracy]) -> dict:
    questionnaires = list(Questionnaire.objects.order_by("target", "-version"))
    chosen = request.GET.get("questionnaire", "")
    questionnaire = next((q for q in questionnaires if str(q.pk) == chosen), None)
    if questionnaire is None:
        questionnaire = next(
            (q for q in questionnaires if q.is_active and q.target == Target.ANALYSIS),
            questionnaires[0] if questionnaires else None,
        )
    period = request.GET.get("period", "90")
    period = period if period in PERIODS else "90"
    days = PERIODS[period]
    bucket = request.GET.get("bucket", "week")
    return {
        "questionnaires": questionnaires,
        "questionnaire": questionnaire,
        "period": period,
        "periods": list(PERIODS),
        "since": timezone.now() - timedelta(days=days) if days else None,
        "bucket": bucket if bucket in aggregates.BUCKETS else "week",
        "buckets": list(aggregates.BUCKETS),
        "model": request.GET.get("model", ""),
        "model_choices": aggregates.model_choices(models_),
    }


# ---------------------------------------------------------------- responses
class AnswerInline(admin.TabularInline):
    model = Answer
    extra = 0
    fields = ("question", "rating", "choices", "text")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    """Read-only: people's answers are theirs to edit. Staff may delete one (spam)."""

    list_display = ("pk", "questionnaire", "respondent", "target_label", "created_at", "updated_at")
    list_filter = ("questionnaire", "created_at")
    search_fields = ("respondent__username",)
    ordering = ("-created_at",)
    list_select_related = ("questionnaire", "respondent")
    readonly_fields = ("questionnaire", "respondent", "analysis", "training_session")
    fields = readonly_fields
    inlines = [AnswerInline]
    actions = ("export_csv",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="Export selected responses as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Response]):
        return _csv_response(queryset, "feedback-responses.csv")


@admin.register(Correction)
class CorrectionAdmin(admin.ModelAdmin):
    list_display = (
        "analysis",
        "task",
        "model_label",
        "predicted_class",
        "corrected_class",
        "verdict",
        "user",
        "updated_at",
    )
    list_filter = ("task", "verdict", "model_label")
    search_fields = ("user__username", "predicted_class", "corrected_class")
    ordering = ("-updated_at",)
    list_select_related = ("analysis", "user")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


# ---------------------------------------------------------------- the feedback dataset
@admin.register(DatasetGrant)
class DatasetGrantAdmin(admin.ModelAdmin):
    list_display = ("team", "granted_by", "note", "created_at")
    search_fields = ("team__name", "note")
    autocomplete_fields = ("team",)
    fields = ("team", "note")
    ordering = ("team__name",)

    def save_model(self, request, obj: DatasetGrant, form, change: bool) -> None:
        if not change:
            obj.granted_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(DatasetSnapshot)
class DatasetSnapshotAdmin(admin.ModelAdmin):
    list_display = (
        "task",
        "team",
        "dataset_version",
        "image_count",
        "removed_count",
        "created_by",
        "created_at",
    )
    list_filter = ("task",)
    search_fields = ("team__name",)
    ordering = ("-created_at",)
    readonly_fields = (
        "task",
        "team",
        "created_by",
        "dataset_version",
        "path",
        "image_count",
        "class_counts",
        "removed_count",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Its dataset version reads the folder: delete the version (or dataset) in training.
        return False
