"""Serializers shared by the feedback API views (output shapes). Kinds, targets and verdicts are
plain strings listed in their help text: drf-spectacular would otherwise name an enum per field
name across the whole schema and warn about clashes."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from feedback import selectors
from feedback.models import (
    CORRECTION_OTHER,
    CORRECTION_UNKNOWN,
    Answer,
    Question,
    Questionnaire,
    Response,
    Target,
)

KIND_HELP = "One of: " + ", ".join(Question.Kind.values) + "."
TARGET_HELP = "One of: " + ", ".join(Target.values) + "."
CHOICES_HELP = (
    "single: one choice; multiple: one or more; correction: one class key of the model that "
    f"answered, or {CORRECTION_OTHER!r} (something else) or {CORRECTION_UNKNOWN!r} (don't know)."
)


class FeedbackOptionSerializer(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()


class FeedbackQuestionSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(help_text=KIND_HELP)
    options = serializers.SerializerMethodField(
        help_text="What can be picked: 1-5 for a rating, the choices, or for a correction the "
        "classes of the model that answered plus “something else” and “I don't know”. Empty "
        "for free text."
    )

    class Meta:
        model = Question
        fields = ("key", "text", "help_text", "kind", "required", "options")

    @extend_schema_field(FeedbackOptionSerializer(many=True))
    def get_options(self, question: Question) -> list[dict]:
        options = selectors.question_options(question, self.context.get("analysis"))
        return FeedbackOptionSerializer(options, many=True).data


class FeedbackQuestionnaireSerializer(serializers.ModelSerializer):
    target = serializers.CharField(help_text=TARGET_HELP)
    questions = FeedbackQuestionSerializer(many=True, read_only=True)

    class Meta:
        model = Questionnaire
        fields = ("id", "target", "title", "intro", "version", "questions")


class FeedbackAnswerSerializer(serializers.ModelSerializer):
    question = serializers.CharField(source="question.key", help_text="The question's key.")
    kind = serializers.CharField(source="question.kind", help_text=KIND_HELP)
    choices = serializers.ListField(child=serializers.CharField(), help_text=CHOICES_HELP)

    class Meta:
        model = Answer
        fields = ("question", "kind", "rating", "choices", "text")


class FeedbackResponseSerializer(serializers.ModelSerializer):
    questionnaire_version = serializers.IntegerField(source="questionnaire.version")
    target = serializers.CharField(help_text=TARGET_HELP)
    target_id = serializers.IntegerField()
    answers = FeedbackAnswerSerializer(many=True, read_only=True)

    class Meta:
        model = Response
        fields = (
            "id",
            "questionnaire",
            "questionnaire_version",
            "target",
            "target_id",
            "created_at",
            "updated_at",
            "answers",
        )
