"""Response services: submit or edit one person's answers about one target, and keep the derived
Correction in step with a "what is it really?" answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from accounts.selectors import team_role
from analysis.models import Analysis
from feedback import selectors
from feedback.models import (
    CORRECTION_OTHER,
    CORRECTION_UNKNOWN,
    Answer,
    Correction,
    Question,
    Questionnaire,
    Response,
)
from training.models import TrainingSession

TEXT_MAX = 2000
OTHER_TEXT_MAX = 200


@dataclass(frozen=True)
class AnswerInput:
    """One answer as given: a rating, choice values (single: one; correction: one class key or
    ":other"/":unknown") and/or text. All empty means the question was left unanswered."""

    rating: int | None = None
    choices: tuple[str, ...] = field(default_factory=tuple)
    text: str = ""

    @property
    def is_empty(self) -> bool:
        return self.rating is None and not self.choices and not self.text.strip()


def feedback_response_submit(
    *,
    user: AbstractBaseUser,
    answers: Mapping[str, AnswerInput],
    analysis: Analysis | None = None,
    training_session: TrainingSession | None = None,
) -> tuple[Response, bool]:
    """Create this person's response about the target, or replace the answers of the one they
    gave before (one per person and target). Returns (response, created)."""
    if (analysis is None) == (training_session is None):
        raise ValueError("Give exactly one target: an analysis or a training session.")
    _require_can_answer(user=user, analysis=analysis, training_session=training_session)
    with transaction.atomic():
        response = _existing(user=user, analysis=analysis, training_session=training_session)
        questionnaire = (
            response.questionnaire
            if response is not None
            else _open_questionnaire(analysis=analysis, training_session=training_session)
        )
        cleaned = _clean_answers(questionnaire, answers, analysis)
        created = response is None
        if created:
            response = _create(
                user=user,
                questionnaire=questionnaire,
                analysis=analysis,
                training_session=training_session,
            )
        else:
            response.save(update_fields=["updated_at"])
        _replace_answers(response, cleaned)
        if analysis is not None:
            _sync_correction(response, analysis, cleaned)
    return response, created


# ---------------------------------------------------------------- access
def _require_can_answer(
    *, user: AbstractBaseUser, analysis: Analysis | None, training_session: TrainingSession | None
) -> None:
    if not user.is_authenticated:
        raise PermissionDenied("Log in to answer.")
    if analysis is not None:
        if analysis.owner_id != user.pk:
            raise PermissionDenied("Only the person who asked for this analysis answers about it.")
        return
    if team_role(user=user, team_id=training_session.team_id) is None:
        raise PermissionDenied("Only members of the run's team answer about it.")
    if not selectors.session_is_finished(training_session):
        raise ValidationError("This run has not ended yet: answer once it has.")


def _existing(
    *, user: AbstractBaseUser, analysis: Analysis | None, training_session: TrainingSession | None
) -> Response | None:
    qs = Response.objects.select_for_update().select_related("questionnaire")
    if analysis is not None:
        return qs.filter(respondent=user, analysis=analysis).first()
    return qs.filter(respondent=user, training_session=training_session).first()


def _open_questionnaire(
    *, analysis: Analysis | None, training_session: TrainingSession | None
) -> Questionnaire:
    target = "analysis" if analysis is not None else "training_session"
    questionnaire = selectors.questionnaire_active(target=target)
    if questionnaire is None:
        raise ValidationError("There is no questionnaire to answer about this at the moment.")
    return questionnaire


def _create(
    *,
    user: AbstractBaseUser,
    questionnaire: Questionnaire,
    analysis: Analysis | None,
    training_session: TrainingSession | None,
) -> Response:
    try:
        with transaction.atomic():
            return Response.objects.create(
                questionnaire=questionnaire,
                respondent=user,
                analysis=analysis,
                training_session=training_session,
            )
    except IntegrityError as exc:
        # Two first submissions of the same person raced (two tabs): the other one won. Rare
        # enough to ask them to reload, which shows theirs to edit.
        raise ValidationError("You have just answered this; reload the page to edit it.") from exc


# ---------------------------------------------------------------- validation
def _clean_answers(
    questionnaire: Questionnaire, answers: Mapping[str, AnswerInput], analysis: Analysis | None
) -> dict[Question, AnswerInput]:
    questions = {q.key: q for q in questionnaire.questions.all()}
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(answers) - set(questions))
    if unknown:
        errors["answers"] = [f"Unknown question(s): {', '.join(unknown)}."]
    cleaned: dict[Question, AnswerInput] = {}
    for key, question in questions.items():
        given = answers.get(key) or AnswerInput()
        if given.is_empty:
            if question.required:
                errors[key] = ["This question needs an answer."]
            continue
        try:
            cleaned[question] = _clean_one(question, given, analysis)
        except ValidationError as exc:
            errors[key] = exc.messages
    if not errors and not cleaned:
        errors["answers"] = ["Answer at least one question."]
    if errors:
        raise ValidationError(errors)
    return cleaned


def _clean_one(question: Question, given: AnswerInput, analysis: Analysis | None) -> AnswerInput:
    kind = question.kind
    if kind == Question.Kind.RATING:
        if given.choices or given.text.strip():
            raise ValidationError("Give a rating from 1 to 5.")
        if given.rating is None or not 1 <= given.rating <= 5:
            raise ValidationError("Give a rating from 1 to 5.")
        return AnswerInput(rating=given.rating)
    if given.rating is not None:
        raise ValidationError("This question takes no rating.")
    if kind == Question.Kind.TEXT:
        return _clean_text(given)
    if kind == Question.Kind.CORRECTION:
        return _clean_correction(given, analysis)
    return _clean_choices(question, given)


def _clean_text(given: AnswerInput) -> AnswerInput:
    text = given.text.strip()
    if given.choices or not text:
        raise ValidationError("Write your answer as text.")
    if len(text) > TEXT_MAX:
        raise ValidationError(f"Keep it under {TEXT_MAX} characters.")
    return AnswerInput(text=text)


def _clean_choices(question: Question, given: AnswerInput) -> AnswerInput:
    allowed = question.choice_list
    chosen = list(dict.fromkeys(given.choices))
    if given.text.strip():
        raise ValidationError("Pick from the choices.")
    invalid = [c for c in chosen if c not in allowed]
    if invalid or not chosen:
        raise ValidationError(f"Pick from: {', '.join(allowed)}.")
    if question.kind == Question.Kind.SINGLE and len(chosen) != 1:
        raise ValidationError("Pick one choice.")
    return AnswerInput(choices=tuple(sorted(chosen, key=allowed.index)))


def _clean_correction(given: AnswerInput, analysis: Analysis | None) -> AnswerInput:
    if analysis is None:
        raise ValidationError("This question is about an analysis.")
    allowed = [o.value for o in selectors.correction_options(analysis)]
    if len(given.choices) != 1 or given.choices[0] not in allowed:
        raise ValidationError("Pick one of the classes, “something else” or “I don't know”.")
    value = given.choices[0]
    text = given.text.strip()
    if text and value != CORRECTION_OTHER:
        raise ValidationError("Describe it only when you pick “something else”.")
    if len(text) > OTHER_TEXT_MAX:
        raise ValidationError(f"Keep the description under {OTHER_TEXT_MAX} characters.")
    return AnswerInput(choices=(value,), text=text)


# ---------------------------------------------------------------- writes
def _replace_answers(response: Response, cleaned: dict[Question, AnswerInput]) -> None:
    response.answers.exclude(question__in=list(cleaned)).delete()
    for question, given in cleaned.items():
        Answer.objects.update_or_create(
            response=response,
            question=question,
            defaults={
                "rating": given.rating,
                "choices": list(given.choices),
                "text": given.text,
            },
        )


def _verdict(value: str, predicted: str) -> tuple[str, str]:
    """(verdict, corrected class key) of a "what is it really?" value."""
    if value == CORRECTION_UNKNOWN:
        return Correction.Verdict.UNKNOWN, ""
    if value == CORRECTION_OTHER:
        return Correction.Verdict.OTHER, ""
    if value == predicted:
        return Correction.Verdict.CONFIRMED, value
    return Correction.Verdict.CORRECTED, value


def _sync_correction(
    response: Response, analysis: Analysis, cleaned: dict[Question, AnswerInput]
) -> None:
    from feedback.services.datasets import feedback_snapshot_forget_analysis

    question = next((q for q in cleaned if q.kind == Question.Kind.CORRECTION), None)
    previous = Correction.objects.filter(analysis=analysis).first()
    if question is None:
        if previous is not None:
            previous.delete()  # post_delete takes its photo out of unused imported folders
        return
    verdict, corrected = _verdict(cleaned[question].choices[0], analysis.top_class)
    if previous is not None and previous.corrected_class and previous.corrected_class != corrected:
        # The label changed: copies filed under the old class in unused folders are wrong now.
        feedback_snapshot_forget_analysis(analysis_uid=str(analysis.uid))
    Correction.objects.update_or_create(
        analysis=analysis,
        defaults={
            "answer": response.answers.get(question=question),
            "user_id": analysis.owner_id,
            "task": analysis.task,
            "model_version_id": analysis.model_version_id,
            "model_label": analysis.model_label,
            "model_card_sha": analysis.model_card_sha,
            "predicted_class": analysis.top_class,
            "corrected_class": corrected,
            "verdict": verdict,
        },
    )
