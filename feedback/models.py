"""Feedback: questionnaires (edited in the admin), people's responses about one analysis result or
one finished training run, the corrections derived from "what is it really?" answers, the teams
allowed to use those corrections as training data, and the folders imported for them.

Rows only: every write lives in feedback.services.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

# Values of a "what is it really?" answer that are not one of the model's classes. A colon never
# appears in a dataset's class folder names, so these cannot collide with a class key.
CORRECTION_UNKNOWN = ":unknown"
CORRECTION_OTHER = ":other"


class Target(models.TextChoices):
    ANALYSIS = "analysis", "An analysis result"
    TRAINING_SESSION = "training_session", "A finished training run"


class Questionnaire(models.Model):
    target = models.CharField(max_length=20, choices=Target.choices)
    title = models.CharField(max_length=120)
    intro = models.TextField(blank=True, help_text="Shown above the questions.")
    version = models.PositiveIntegerField(default=1)
    is_active = models.BooleanField(
        default=False,
        help_text="The active questionnaire of a target is the one people see. One per target.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["target", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["target", "version"], name="feedback_questionnaire_unique_version"
            ),
            models.UniqueConstraint(
                fields=["target"],
                condition=Q(is_active=True),
                name="feedback_questionnaire_one_active_per_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} (v{self.version})"


class Question(models.Model):
    class Kind(models.TextChoices):
        RATING = "rating", "Rating 1-5"
        SINGLE = "single", "Single choice"
        MULTIPLE = "multiple", "Multiple choice"
        TEXT = "text", "Free text"
        CORRECTION = "correction", "What is it really? (the classes of the model that answered)"

    CHOICE_KINDS = (Kind.SINGLE, Kind.MULTIPLE)

    questionnaire = models.ForeignKey(
        Questionnaire, on_delete=models.CASCADE, related_name="questions"
    )
    key = models.SlugField(
        max_length=40,
        help_text="A stable short name (API and CSV): keep it when a new version rewords the text.",
    )
    text = models.CharField(max_length=300)
    help_text = models.CharField(max_length=300, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    choices = models.TextField(
        blank=True, help_text="Single and multiple choice only: one choice per line."
    )
    required = models.BooleanField(default=False)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["questionnaire", "order", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["questionnaire", "key"], name="feedback_question_unique_key"
            ),
        ]

    def __str__(self) -> str:
        return self.text

    @property
    def choice_list(self) -> list[str]:
        return [line.strip() for line in self.choices.splitlines() if line.strip()]

    def clean(self) -> None:
        choices = self.choice_list
        if self.kind in self.CHOICE_KINDS:
            if len(choices) < 2:
                raise ValidationError({"choices": "Give at least two choices, one per line."})
            if len(set(choices)) != len(choices):
                raise ValidationError({"choices": "Each choice must appear once."})
        elif choices:
            raise ValidationError(
                {"choices": "Only single and multiple choice questions list choices."}
            )
        if (
            self.kind == self.Kind.CORRECTION
            and self.questionnaire_id
            and self.questionnaire.target != Target.ANALYSIS
        ):
            raise ValidationError(
                {"kind": "“What is it really?” only makes sense about an analysis result."}
            )


class Response(models.Model):
    """One person's answers about one target: an analysis (its owner) or a finished training run
    (a member of its team). One per person and target; editing replaces the answers."""

    questionnaire = models.ForeignKey(
        Questionnaire, on_delete=models.PROTECT, related_name="responses"
    )
    respondent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback_responses"
    )
    analysis = models.ForeignKey(
        "analysis.Analysis",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="feedback_responses",
    )
    training_session = models.ForeignKey(
        "training.TrainingSession",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="feedback_responses",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(analysis__isnull=False) & Q(training_session__isnull=True))
                | (Q(analysis__isnull=True) & Q(training_session__isnull=False)),
                name="feedback_response_one_target",
            ),
            models.UniqueConstraint(
                fields=["respondent", "analysis"],
                condition=Q(analysis__isnull=False),
                name="feedback_response_one_per_user_analysis",
            ),
            models.UniqueConstraint(
                fields=["respondent", "training_session"],
                condition=Q(training_session__isnull=False),
                name="feedback_response_one_per_user_session",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.respondent} on {self.target_label}"

    @property
    def target(self) -> str:
        return Target.ANALYSIS if self.analysis_id else Target.TRAINING_SESSION

    @property
    def target_id(self) -> int:
        return self.analysis_id or self.training_session_id

    @property
    def target_label(self) -> str:
        if self.analysis_id:
            return f"analysis {self.analysis_id}"
        return f"training run {self.training_session_id}"


class Answer(models.Model):
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    rating = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    # single: one value; multiple: several; correction: one class key or CORRECTION_* value.
    choices = models.JSONField(default=list, blank=True)
    text = models.TextField(blank=True, max_length=2000)

    class Meta:
        ordering = ["response", "question__order", "question__pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["response", "question"], name="feedback_answer_one_per_question"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.question.key}: {self.display_value}"

    @property
    def display_value(self) -> str:
        if self.rating is not None:
            return str(self.rating)
        parts = list(self.choices)
        if self.text:
            parts.append(self.text)
        return "; ".join(parts)


class Correction(models.Model):
    """What the owner of an analysis says it really is: derived from a "what is it really?"
    answer, kept in step with it. The labels of the feedback dataset and the source of the
    accuracy people report for each model."""

    class Verdict(models.TextChoices):
        CONFIRMED = "confirmed", "Same as the model's answer"
        CORRECTED = "corrected", "Another of the model's classes"
        OTHER = "other", "Something else (none of the classes)"
        UNKNOWN = "unknown", "Does not know"

    answer = models.OneToOneField(Answer, on_delete=models.CASCADE, related_name="correction")
    analysis = models.OneToOneField(
        "analysis.Analysis", on_delete=models.CASCADE, related_name="feedback_correction"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback_corrections"
    )
    task = models.CharField(max_length=60, db_index=True)
    model_version = models.ForeignKey(
        "training.ModelVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="feedback_corrections",
    )
    model_label = models.CharField(max_length=120)
    model_card_sha = models.CharField(max_length=64, blank=True)
    predicted_class = models.CharField(max_length=100)
    corrected_class = models.CharField(
        max_length=100, blank=True, help_text="A class key of the model; empty for other/unknown."
    )
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-pk"]
        indexes = [models.Index(fields=["task", "verdict"], name="feedback_correction_task")]

    def __str__(self) -> str:
        return f"{self.task}: {self.predicted_class} -> {self.corrected_class or self.verdict}"

    @property
    def agrees(self) -> bool | None:
        """Whether the model was right; None when the person does not know."""
        if self.verdict == self.Verdict.UNKNOWN:
            return None
        return self.verdict == self.Verdict.CONFIRMED

    @property
    def is_label(self) -> bool:
        """Usable as a training label: one of the model's classes."""
        return bool(self.corrected_class)


class DatasetGrant(models.Model):
    """Staff allow a team to use the feedback dataset: that team's owners may then export it and
    import it into the team's training workspace. Without a grant nobody can (any user can
    create a team and so become an owner; consenting people's photos need a gate)."""

    team = models.OneToOneField(
        "accounts.Team", on_delete=models.CASCADE, related_name="feedback_dataset_grant"
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True, help_text="Why, for the record.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team__name"]
        verbose_name = "feedback dataset grant"

    def __str__(self) -> str:
        return f"{self.team} may use the feedback dataset"


class DatasetSnapshot(models.Model):
    """A folder of feedback photos materialised for an import (a folder per class), read in
    place by the training dataset version created for it."""

    task = models.CharField(max_length=60)
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.CASCADE, related_name="feedback_snapshots"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Deleting the dataset version (or its dataset) deletes the snapshot and then its folder.
    dataset_version = models.OneToOneField(
        "training.DatasetVersion", on_delete=models.CASCADE, related_name="feedback_snapshot"
    )
    path = models.CharField(max_length=500)
    image_count = models.PositiveIntegerField(default=0)
    class_counts = models.JSONField(default=dict, blank=True)
    removed_count = models.PositiveIntegerField(
        default=0, help_text="Photos removed later (consent withdrawn, analysis deleted)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"feedback {self.task} for {self.team} ({self.created_at:%Y-%m-%d %H:%M})"
