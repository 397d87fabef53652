"""Admin: seeded questionnaires, activation and versions, locked questions once answered, the
staff dashboard (access, content), the CSV export, grants."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from feedback import services
from feedback.models import DatasetGrant, Question, Questionnaire, Response, Target
from tests.factories import TeamFactory, UserFactory
from tests.feedback.conftest import answers
from tests.feedback.factories import make_analysis

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


def answered(user, really="mel", comments="fine", **kwargs):
    analysis = make_analysis(user, top="nv")
    services.feedback_response_submit(
        user=user,
        analysis=analysis,
        answers=answers(helpful=4, really=really, comments=comments, **kwargs),
    )
    return analysis


# ---------------------------------------------------------------- seeded content
def test_one_active_questionnaire_per_target_is_seeded(
    analysis_questionnaire, session_questionnaire
):
    kinds = dict(analysis_questionnaire.questions.values_list("key", "kind"))
    assert kinds == {
        "helpful": "rating",
        "doctor": "single",
        "really": "correction",
        "photo_issues": "multiple",
        "comments": "text",
    }
    assert analysis_questionnaire.questions.get(key="helpful").text == "Was this result helpful?"
    session_kinds = set(session_questionnaire.questions.values_list("kind", flat=True))
    assert "correction" not in session_kinds
    assert (
        session_questionnaire.questions.get(key="charts").text == "How useful were the live charts?"
    )
    for q in Question.objects.filter(kind__in=["single", "multiple"]):
        q.full_clean()
    assert Questionnaire.objects.filter(is_active=True).count() == 2


# ---------------------------------------------------------------- questionnaires
def test_activate_action_replaces_the_active_one(admin_client, analysis_questionnaire):
    v2 = services.questionnaire_new_version(questionnaire=analysis_questionnaire)
    assert (v2.version, v2.is_active) == (2, False)
    assert list(v2.questions.values_list("key", flat=True)) == list(
        analysis_questionnaire.questions.values_list("key", flat=True)
    )
    url = reverse("admin:feedback_questionnaire_changelist")
    admin_client.post(url, {"action": "activate", "_selected_action": [v2.pk]})
    analysis_questionnaire.refresh_from_db()
    v2.refresh_from_db()
    assert v2.is_active
    assert not analysis_questionnaire.is_active


def test_activating_two_of_one_target_is_refused(admin_client, analysis_questionnaire):
    v2 = services.questionnaire_new_version(questionnaire=analysis_questionnaire)
    url = reverse("admin:feedback_questionnaire_changelist")
    response = admin_client.post(
        url,
        {"action": "activate", "_selected_action": [v2.pk, analysis_questionnaire.pk]},
        follow=True,
    )
    assert "at most one questionnaire per target" in response.content.decode()
    assert (
        Questionnaire.objects.get(is_active=True, target=Target.ANALYSIS) == analysis_questionnaire
    )


def test_new_version_action_copies_an_inactive_questionnaire(admin_client, session_questionnaire):
    url = reverse("admin:feedback_questionnaire_changelist")
    admin_client.post(
        url, {"action": "new_version", "_selected_action": [session_questionnaire.pk]}
    )
    copy = Questionnaire.objects.get(target=Target.TRAINING_SESSION, version=2)
    assert not copy.is_active
    assert copy.questions.count() == session_questionnaire.questions.count()


def _inline_post(questionnaire: Questionnaire, **changes) -> dict:
    questions = list(questionnaire.questions.order_by("order", "pk"))
    data = {
        "target": questionnaire.target,
        "title": questionnaire.title,
        "intro": questionnaire.intro,
        "questions-TOTAL_FORMS": str(len(questions)),
        "questions-INITIAL_FORMS": str(len(questions)),
        "questions-MIN_NUM_FORMS": "0",
        "questions-MAX_NUM_FORMS": "1000",
    }
    for i, q in enumerate(questions):
        row = {
            "id": q.pk,
            "questionnaire": questionnaire.pk,
            "key": q.key,
            "kind": q.kind,
            "choices": q.choices,
            "text": q.text,
            "help_text": q.help_text,
            "order": q.order,
        }
        if q.required:
            row["required"] = "on"
        row.update(changes.get(q.key, {}))
        data.update({f"questions-{i}-{k}": v for k, v in row.items()})
    return data


def test_questions_can_be_edited_before_anyone_answers(admin_client, session_questionnaire):
    url = reverse("admin:feedback_questionnaire_change", args=[session_questionnaire.pk])
    response = admin_client.post(
        url, _inline_post(session_questionnaire, charts={"kind": "single", "choices": "a\nb"})
    )
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    assert session_questionnaire.questions.get(key="charts").kind == "single"


def test_questions_of_an_answered_version_are_locked(admin_client, user, analysis_questionnaire):
    answered(user)
    url = reverse("admin:feedback_questionnaire_change", args=[analysis_questionnaire.pk])
    page = admin_client.get(url)
    assert "are locked" in page.content.decode()
    post = _inline_post(analysis_questionnaire, helpful={"kind": "text", "text": "Helpful?"})
    response = admin_client.post(url, post)
    assert response.status_code == 302
    helpful = analysis_questionnaire.questions.get(key="helpful")
    assert helpful.kind == "rating"  # locked
    assert helpful.text == "Helpful?"  # wording may still be fixed


def test_a_second_correction_question_is_refused(
    admin_client, session_questionnaire, analysis_questionnaire
):
    url = reverse("admin:feedback_questionnaire_change", args=[analysis_questionnaire.pk])
    response = admin_client.post(
        url, _inline_post(analysis_questionnaire, comments={"kind": "correction"})
    )
    assert response.status_code == 200
    assert "at most once" in response.content.decode()
    url = reverse("admin:feedback_questionnaire_change", args=[session_questionnaire.pk])
    response = admin_client.post(
        url, _inline_post(session_questionnaire, comments={"kind": "correction"})
    )
    assert response.status_code == 200
    assert "only makes sense about an analysis" in response.content.decode()


def test_adding_a_questionnaire_gets_the_next_version(admin_client, analysis_questionnaire):
    response = admin_client.post(
        reverse("admin:feedback_questionnaire_add"),
        {
            "target": "analysis",
            "title": "Short one",
            "intro": "",
            "questions-TOTAL_FORMS": "1",
            "questions-INITIAL_FORMS": "0",
            "questions-MIN_NUM_FORMS": "0",
            "questions-MAX_NUM_FORMS": "1000",
            "questions-0-key": "ok",
            "questions-0-kind": "rating",
            "questions-0-text": "OK?",
            "questions-0-order": "1",
        },
    )
    assert response.status_code == 302
    added = Questionnaire.objects.get(title="Short one")
    assert (added.version, added.is_active) == (2, False)


# ---------------------------------------------------------------- dashboard
def test_dashboard_access(client, user, staff_user, analysis_questionnaire):
    url = reverse("admin:feedback_dashboard")
    assert client.get(url).status_code == 302  # anonymous -> admin login
    client.force_login(user)
    assert client.get(url).status_code == 302  # not staff -> admin login
    limited = UserFactory(username="limited", is_staff=True)
    client.force_login(limited)
    assert client.get(url).status_code == 403  # staff without the view permissions
    limited.user_permissions.add(
        Permission.objects.get(codename="view_questionnaire"),
        Permission.objects.get(codename="view_response"),
    )
    assert client.get(url).status_code == 200
    client.force_login(staff_user)
    assert client.get(url).status_code == 200


def test_dashboard_shows_aggregates_and_model_accuracy(admin_client, user, analysis_questionnaire):
    answered(user, really="nv")
    answered(user, really="mel")
    page = admin_client.get(reverse("admin:feedback_dashboard"), {"period": "all", "bucket": "day"})
    html = page.content.decode()
    assert page.context["stats"]["responses"] == 2
    assert 'id="fb-chart-models"' in html
    assert 'id="fb-chart-time"' in html
    assert "vendor/chartjs/chart.umd.min.js" in html
    assert "feedback/dashboard.js" in html
    [row] = page.context["models"]
    assert (row["judged"], row["agreed"], row["reported_accuracy"]) == (2, 1, 0.5)
    assert "50 %" in html
    session_page = admin_client.get(
        reverse("admin:feedback_dashboard"),
        {"questionnaire": Questionnaire.objects.get(target="training_session").pk},
    )
    assert session_page.context["stats"]["responses"] == 0


# ---------------------------------------------------------------- CSV export
def _csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_csv_export_of_responses(admin_client, user, analysis_questionnaire):
    analysis = answered(user, comments="=HYPERLINK('http://x')")
    response = admin_client.get(reverse("admin:feedback_responses_csv"))
    assert response["Content-Type"].startswith("text/csv")
    rows = _csv(response)
    assert {r["question"] for r in rows} == {"helpful", "really", "comments"}
    assert {r["respondent_id"] for r in rows} == {str(user.pk)}
    assert (
        "alice"
        not in b"".join(
            admin_client.get(reverse("admin:feedback_responses_csv")).streaming_content
        ).decode()
    )
    by_q = {r["question"]: r for r in rows}
    assert by_q["helpful"]["rating"] == "4"
    assert by_q["really"]["choices"] == "mel"
    assert by_q["comments"]["text"] == "'=HYPERLINK('http://x')"  # never a formula
    assert by_q["helpful"]["target"] == "analysis"
    assert by_q["helpful"]["target_id"] == str(analysis.pk)
    assert by_q["helpful"]["model"] == analysis.model_label
    other = admin_client.get(
        reverse("admin:feedback_responses_csv"),
        {"questionnaire": Questionnaire.objects.get(target="training_session").pk},
    )
    assert _csv(other) == []


def test_csv_export_is_staff_only(client, user, analysis_questionnaire):
    client.force_login(user)
    assert client.get(reverse("admin:feedback_responses_csv")).status_code == 302


def test_response_admin_export_action_and_read_only(admin_client, user, analysis_questionnaire):
    answered(user)
    response = Response.objects.get()
    changelist = reverse("admin:feedback_response_changelist")
    exported = admin_client.post(
        changelist, {"action": "export_csv", "_selected_action": [response.pk]}
    )
    assert len(_csv(exported)) == 3
    detail = admin_client.get(reverse("admin:feedback_response_change", args=[response.pk]))
    assert detail.status_code == 200
    assert admin_client.get(reverse("admin:feedback_response_add")).status_code == 403


# ---------------------------------------------------------------- grants
def test_granting_a_team_records_who_granted_it(admin_client, staff_user):
    team = TeamFactory()
    response = admin_client.post(
        reverse("admin:feedback_datasetgrant_add"), {"team": team.pk, "note": "research partner"}
    )
    assert response.status_code == 302
    assert DatasetGrant.objects.get(team=team).granted_by == staff_user


def test_admin_pages_render(admin_client, user, team, analysis_questionnaire):
    answered(user)
    DatasetGrant.objects.create(team=team)
    for name in (
        "feedback_questionnaire",
        "feedback_response",
        "feedback_correction",
        "feedback_datasetgrant",
        "feedback_datasetsnapshot",
    ):
        assert admin_client.get(reverse(f"admin:{name}_changelist")).status_code == 200, name
    change = reverse("admin:feedback_questionnaire_change", args=[analysis_questionnaire.pk])
    assert admin_client.get(change).status_code == 200


def test_a_questionnaire_without_questions_cannot_be_activated(
    admin_client, analysis_questionnaire
):
    empty = Questionnaire.objects.create(target="analysis", title="Empty", version=7)
    url = reverse("admin:feedback_questionnaire_changelist")
    response = admin_client.post(
        url, {"action": "activate", "_selected_action": [empty.pk]}, follow=True
    )
    assert "has no questions" in response.content.decode()
    assert Questionnaire.objects.get(target="analysis", is_active=True) == analysis_questionnaire
