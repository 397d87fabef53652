from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from feedback import services
from feedback.models import (
    CORRECTION_OTHER,
    CORRECTION_UNKNOWN,
    Answer,
    Correction,
    Question,
    Response,
)
from feedback.services import AnswerInput
from tests.feedback.conftest import answers
from tests.feedback.factories import TrainingSessionFactory, make_analysis
from training.models import TrainingSession

pytestmark = pytest.mark.django_db

DOCTOR_YES = "Yes, a doctor said the same"


def submit(user, analysis=None, session=None, **kwargs):
    return services.feedback_response_submit(
        user=user, analysis=analysis, training_session=session, answers=answers(**kwargs)
    )


# ---------------------------------------------------------------- one response per user per target
def test_submit_creates_then_edits_the_same_response(user, analysis, analysis_questionnaire):
    response, created = submit(user, analysis, helpful=2, comments="unclear")
    assert created
    again, created_again = submit(user, analysis, helpful=5, doctor=[DOCTOR_YES])
    assert not created_again
    assert again.pk == response.pk
    assert Response.objects.filter(respondent=user, analysis=analysis).count() == 1
    stored = {a.question.key: a for a in again.answers.select_related("question")}
    assert set(stored) == {"helpful", "doctor"}  # the comment left out is no longer answered
    assert stored["helpful"].rating == 5
    assert stored["doctor"].choices == [DOCTOR_YES]


def test_database_refuses_a_second_response_per_user_and_analysis(
    user, analysis, analysis_questionnaire
):
    Response.objects.create(
        questionnaire=analysis_questionnaire, respondent=user, analysis=analysis
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Response.objects.create(
            questionnaire=analysis_questionnaire, respondent=user, analysis=analysis
        )


def test_database_refuses_a_second_response_per_user_and_session(
    user, finished_session, session_questionnaire
):
    Response.objects.create(
        questionnaire=session_questionnaire, respondent=user, training_session=finished_session
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Response.objects.create(
            questionnaire=session_questionnaire, respondent=user, training_session=finished_session
        )


def test_database_refuses_a_response_about_two_targets_or_none(
    user, analysis, finished_session, analysis_questionnaire
):
    with pytest.raises(IntegrityError), transaction.atomic():
        Response.objects.create(
            questionnaire=analysis_questionnaire,
            respondent=user,
            analysis=analysis,
            training_session=finished_session,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Response.objects.create(questionnaire=analysis_questionnaire, respondent=user)


def test_team_members_each_answer_once_about_the_same_run(
    user, member_user, viewer_user, finished_session, session_questionnaire
):
    for person in (user, member_user, viewer_user):
        submit(person, session=finished_session, charts=4)
        submit(person, session=finished_session, charts=3)
    assert Response.objects.filter(training_session=finished_session).count() == 3


def test_an_edit_keeps_the_version_answered_after_a_new_one_is_activated(
    user, analysis, analysis_questionnaire
):
    response, _ = submit(user, analysis, helpful=3)
    v2 = services.questionnaire_new_version(questionnaire=analysis_questionnaire)
    v2.questions.filter(key="helpful").update(text="Was it useful?")
    services.questionnaire_activate(questionnaire=v2)
    edited, created = submit(user, analysis, helpful=4)
    assert not created
    assert edited.questionnaire_id == analysis_questionnaire.pk
    other = make_analysis(user)
    fresh, _ = submit(user, other, helpful=4)
    assert fresh.questionnaire_id == v2.pk


# ---------------------------------------------------------------- who may answer
def test_only_the_owner_answers_about_an_analysis(
    other_user, staff_user, member_user, analysis, analysis_questionnaire
):
    for person in (other_user, staff_user, member_user):
        with pytest.raises(PermissionDenied):
            submit(person, analysis, helpful=4)
    assert not Response.objects.exists()


def test_only_team_members_answer_about_a_run(
    other_user, staff_user, finished_session, session_questionnaire
):
    for person in (other_user, staff_user):
        with pytest.raises(PermissionDenied):
            submit(person, session=finished_session, charts=4)


@pytest.mark.parametrize("status", [TrainingSession.Status.QUEUED, TrainingSession.Status.RUNNING])
def test_a_run_that_has_not_ended_cannot_be_answered(user, team, status, session_questionnaire):
    session = TrainingSessionFactory(team=team, status=status, finished_at=None)
    with pytest.raises(ValidationError, match="not ended"):
        submit(user, session=session, charts=4)


@pytest.mark.parametrize(
    "status", [TrainingSession.Status.FAILED, TrainingSession.Status.CANCELLED]
)
def test_a_failed_or_cancelled_run_can_be_answered(user, team, status, session_questionnaire):
    session = TrainingSessionFactory(team=team, status=status)
    _, created = submit(user, session=session, charts=2)
    assert created


def test_no_active_questionnaire_means_nothing_to_answer(user, analysis, analysis_questionnaire):
    services.questionnaire_deactivate(questionnaire=analysis_questionnaire)
    with pytest.raises(ValidationError, match="no questionnaire"):
        submit(user, analysis, helpful=4)


def test_a_target_must_be_exactly_one(user, analysis, finished_session):
    with pytest.raises(ValueError, match="exactly one"):
        services.feedback_response_submit(user=user, answers={})
    with pytest.raises(ValueError, match="exactly one"):
        services.feedback_response_submit(
            user=user, analysis=analysis, training_session=finished_session, answers={}
        )


# ---------------------------------------------------------------- validation by kind
@pytest.mark.parametrize(
    ("given", "key"),
    [
        ({"helpful": AnswerInput(rating=6)}, "helpful"),
        ({"helpful": AnswerInput(rating=0)}, "helpful"),
        ({"helpful": AnswerInput(choices=("4",))}, "helpful"),
        ({"helpful": AnswerInput(rating=3), "doctor": AnswerInput(choices=("Maybe",))}, "doctor"),
        (
            {
                "helpful": AnswerInput(rating=3),
                "doctor": AnswerInput(choices=(DOCTOR_YES, "I haven't seen a doctor about it")),
            },
            "doctor",
        ),
        (
            {"helpful": AnswerInput(rating=3), "photo_issues": AnswerInput(choices=("x",))},
            "photo_issues",
        ),
        ({"helpful": AnswerInput(rating=3), "really": AnswerInput(choices=("dog",))}, "really"),
        (
            {"helpful": AnswerInput(rating=3), "really": AnswerInput(choices=("mel", "nv"))},
            "really",
        ),
        (
            {"helpful": AnswerInput(rating=3), "really": AnswerInput(choices=("mel",), text="hm")},
            "really",
        ),
        ({"helpful": AnswerInput(rating=3), "comments": AnswerInput(rating=2)}, "comments"),
        ({"helpful": AnswerInput(rating=3), "comments": AnswerInput(text="x" * 2001)}, "comments"),
        ({"doctor": AnswerInput(choices=(DOCTOR_YES,))}, "helpful"),  # required rating missing
        ({"helpful": AnswerInput(rating=3), "nope": AnswerInput(text="?")}, "answers"),
    ],
)
def test_invalid_answers_are_refused_by_question(
    user, analysis, analysis_questionnaire, given, key
):
    with pytest.raises(ValidationError) as exc:
        services.feedback_response_submit(user=user, analysis=analysis, answers=given)
    assert key in exc.value.message_dict
    assert not Response.objects.exists()


def test_an_empty_response_is_refused(user, finished_session, session_questionnaire):
    Question.objects.filter(questionnaire=session_questionnaire).update(required=False)
    with pytest.raises(ValidationError, match="at least one"):
        services.feedback_response_submit(user=user, training_session=finished_session, answers={})


def test_multiple_choice_keeps_the_questionnaire_order_without_duplicates(
    user, analysis, analysis_questionnaire
):
    response, _ = submit(
        user,
        analysis,
        helpful=3,
        photo_issues=["Wrong part of the skin", "Blurry or dark photo", "Blurry or dark photo"],
    )
    answer = response.answers.get(question__key="photo_issues")
    assert answer.choices == ["Blurry or dark photo", "Wrong part of the skin"]


def test_a_correction_question_is_refused_about_a_run(session_questionnaire):
    question = Question(
        questionnaire=session_questionnaire, key="really", text="?", kind="correction"
    )
    with pytest.raises(ValidationError, match="analysis"):
        question.clean()


# ---------------------------------------------------------------- corrections
@pytest.mark.parametrize(
    ("value", "verdict", "corrected"),
    [
        ("nv", Correction.Verdict.CONFIRMED, "nv"),
        ("mel", Correction.Verdict.CORRECTED, "mel"),
        (CORRECTION_OTHER, Correction.Verdict.OTHER, ""),
        (CORRECTION_UNKNOWN, Correction.Verdict.UNKNOWN, ""),
    ],
)
def test_a_what_is_it_really_answer_derives_a_correction(
    user, analysis, analysis_questionnaire, value, verdict, corrected
):
    response, _ = submit(user, analysis, helpful=4, really=value)
    correction = Correction.objects.get(analysis=analysis)
    assert correction.answer == response.answers.get(question__key="really")
    assert (correction.verdict, correction.corrected_class) == (verdict, corrected)
    assert correction.predicted_class == "nv"
    assert correction.task == "lesions"
    assert correction.user == user
    assert correction.model_label == analysis.model_label
    assert (
        correction.agrees
        is {
            "confirmed": True,
            "corrected": False,
            "other": False,
            "unknown": None,
        }[verdict]
    )


def test_something_else_may_be_described(user, analysis, analysis_questionnaire):
    response, _ = services.feedback_response_submit(
        user=user,
        analysis=analysis,
        answers={
            "helpful": AnswerInput(rating=2),
            "really": AnswerInput(choices=(CORRECTION_OTHER,), text="a tick bite"),
        },
    )
    assert response.answers.get(question__key="really").text == "a tick bite"
    assert Correction.objects.get().verdict == Correction.Verdict.OTHER


def test_editing_the_correction_updates_it_and_removing_it_deletes_it(
    user, analysis, analysis_questionnaire
):
    submit(user, analysis, helpful=4, really="nv")
    submit(user, analysis, helpful=4, really="mel")
    correction = Correction.objects.get(analysis=analysis)
    assert correction.verdict == Correction.Verdict.CORRECTED
    assert correction.corrected_class == "mel"
    submit(user, analysis, helpful=4)
    assert not Correction.objects.exists()
    assert not Answer.objects.filter(question__key="really").exists()


def test_the_correction_offers_the_classes_of_the_model_that_answered(user, analysis_questionnaire):
    analysis = make_analysis(
        user, task="acne-severity", top="mild", classes=("clear", "mild", "severe")
    )
    with pytest.raises(ValidationError):
        submit(user, analysis, helpful=4, really="mel")  # a lesion class: not this model's
    submit(user, analysis, helpful=4, really="severe")
    assert Correction.objects.get().corrected_class == "severe"


def test_deleting_the_analysis_deletes_response_and_correction(
    user, analysis, analysis_questionnaire
):
    submit(user, analysis, helpful=4, really="mel")
    analysis.delete()
    assert not Response.objects.exists()
    assert not Correction.objects.exists()
