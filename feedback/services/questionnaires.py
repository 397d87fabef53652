"""Questionnaire services: activate a version (the one people see for its target) and start a
new version from an existing one. Called by admin actions."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from feedback.models import Question, Questionnaire


@transaction.atomic
def questionnaire_activate(*, questionnaire: Questionnaire) -> Questionnaire:
    """Make it the active questionnaire of its target; the previous one stops being shown
    (responses already given keep their version and stay editable)."""
    if not questionnaire.questions.exists():
        raise ValidationError(f"“{questionnaire}” has no questions: add some before activating it.")
    list(Questionnaire.objects.select_for_update().filter(target=questionnaire.target))
    Questionnaire.objects.filter(target=questionnaire.target, is_active=True).exclude(
        pk=questionnaire.pk
    ).update(is_active=False)
    if not questionnaire.is_active:
        questionnaire.is_active = True
        questionnaire.save(update_fields=["is_active", "updated_at"])
    return questionnaire


@transaction.atomic
def questionnaire_deactivate(*, questionnaire: Questionnaire) -> Questionnaire:
    questionnaire.is_active = False
    questionnaire.save(update_fields=["is_active", "updated_at"])
    return questionnaire


@transaction.atomic
def questionnaire_new_version(*, questionnaire: Questionnaire) -> Questionnaire:
    """A copy with the next version number, inactive, to edit freely: the questions of a version
    that has responses are locked so its answers keep their meaning."""
    number = (
        Questionnaire.objects.filter(target=questionnaire.target).aggregate(n=Max("version"))["n"]
        or 0
    ) + 1
    copy = Questionnaire.objects.create(
        target=questionnaire.target,
        title=questionnaire.title,
        intro=questionnaire.intro,
        version=number,
        is_active=False,
    )
    Question.objects.bulk_create(
        Question(
            questionnaire=copy,
            key=q.key,
            text=q.text,
            help_text=q.help_text,
            kind=q.kind,
            choices=q.choices,
            required=q.required,
            order=q.order,
        )
        for q in questionnaire.questions.order_by("order", "pk")
    )
    return copy
