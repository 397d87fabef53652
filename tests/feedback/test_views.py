"""Pages: the access matrix of every feedback page, answering and editing through the forms, and
the panels feedback adds to the analysis result, a finished run and the home dashboard."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from feedback import panels, services
from feedback.models import CORRECTION_OTHER, Correction, DatasetSnapshot, Response
from tests.factories import TeamFactory
from tests.feedback.conftest import answers
from tests.feedback.factories import TrainingSessionFactory, grant, make_analysis, set_consent
from training.models import DatasetVersion, TrainingSession

pytestmark = pytest.mark.django_db

PEOPLE = ("anonymous", "user", "member_user", "viewer_user", "other_user", "staff_user")


def client_for(request, who: str) -> Client:
    client = Client()
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))
    return client


def login_redirect(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(
        reverse("accounts:login")
    )


# ---------------------------------------------------------------- access matrix
@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", "login"),
        ("user", 200),  # alice owns the analysis
        ("member_user", 404),
        ("viewer_user", 404),
        ("other_user", 404),
        ("staff_user", 404),
    ],
)
def test_analysis_response_page_access(request, analysis, analysis_questionnaire, who, expected):
    url = reverse("feedback:analysis-response", args=[analysis.pk])
    for method in ("get", "post"):
        response = getattr(client_for(request, who), method)(url, {"q_helpful": "4"})
        if expected == "login":
            assert login_redirect(response)
        elif method == "get":
            assert response.status_code == expected
    expect_saved = 1 if expected == 200 else 0
    assert Response.objects.count() == expect_saved


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", "login"),
        ("user", 200),  # owner of the run's team
        ("member_user", 200),
        ("viewer_user", 200),
        ("other_user", 404),
        ("staff_user", 404),
    ],
)
def test_session_response_page_access(
    request, finished_session, session_questionnaire, who, expected
):
    url = reverse("feedback:session-response", args=[finished_session.pk])
    client = client_for(request, who)
    response = client.get(url)
    if expected == "login":
        assert login_redirect(response)
        return
    assert response.status_code == expected
    posted = client.post(url, {"q_charts": "5"})
    assert posted.status_code == (302 if expected == 200 else 404)
    assert Response.objects.filter(training_session=finished_session).count() == (
        1 if expected == 200 else 0
    )


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", "login"),
        ("user", 200),  # owner of a granted team
        ("member_user", 403),
        ("viewer_user", 403),
        ("other_user", 403),
        ("staff_user", 200),
    ],
)
def test_dataset_pages_access(request, team, analysis_questionnaire, who, expected):
    grant(team)
    client = client_for(request, who)
    for url in (reverse("feedback:dataset"), reverse("feedback:dataset-export", args=["lesions"])):
        response = client.get(url)
        if expected == "login":
            assert login_redirect(response)
        else:
            assert response.status_code == expected, url
    imported = client.post(reverse("feedback:dataset-import"), {"team": team.pk, "task": "lesions"})
    if expected == "login":
        assert login_redirect(imported)
    elif expected == 403:
        assert imported.status_code == 403


def test_an_owner_of_a_team_without_grant_is_refused_the_dataset_pages(client, user, team):
    client.force_login(user)
    assert client.get(reverse("feedback:dataset")).status_code == 403
    assert client.get(reverse("feedback:dataset-export", args=["lesions"])).status_code == 403


@pytest.mark.parametrize("who", PEOPLE)
def test_my_responses_lists_only_mine(request, analysis, finished_session, who):

    services.feedback_response_submit(
        user=request.getfixturevalue("user"), analysis=analysis, answers=answers(helpful=4)
    )
    response = client_for(request, who).get(reverse("feedback:my-responses"))
    if who == "anonymous":
        assert login_redirect(response)
        return
    assert response.status_code == 200
    mine = list(response.context["responses"])
    assert len(mine) == (1 if who == "user" else 0)


# ---------------------------------------------------------------- answering through the form
def test_answer_then_edit_through_the_page(client, user, analysis, analysis_questionnaire):
    client.force_login(user)
    url = reverse("feedback:analysis-response", args=[analysis.pk])
    page = client.get(url)
    assert b"What is it really?" in page.content
    assert b"Something else" in page.content
    assert b"I don&#x27;t know" in page.content
    back = reverse("analysis:detail", args=[analysis.pk])
    posted = client.post(
        url,
        {
            "q_helpful": "2",
            "q_doctor": "No, a doctor said something else",
            "q_really": CORRECTION_OTHER,
            "q_really_other": "a bruise",
            "q_photo_issues": ["Blurry or dark photo", "The upload was hard"],
            "q_comments": "thanks",
            "next": back,
        },
    )
    assert posted.status_code == 302
    assert posted["Location"] == back
    response = Response.objects.get()
    values = {a.question.key: a for a in response.answers.select_related("question")}
    assert values["helpful"].rating == 2
    assert values["really"].text == "a bruise"
    assert values["photo_issues"].choices == ["Blurry or dark photo", "The upload was hard"]
    edit = client.get(url)
    assert edit.context["form"].initial["q_helpful"] == "2"
    assert b"Update my answers" in edit.content
    client.post(url, {"q_helpful": "5", "q_really": "mel"})
    assert Response.objects.count() == 1
    assert Correction.objects.get().corrected_class == "mel"


def test_invalid_answers_show_the_form_again(client, user, analysis, analysis_questionnaire):
    client.force_login(user)
    url = reverse("feedback:analysis-response", args=[analysis.pk])
    missing = client.post(url, {"q_comments": "no rating"})
    assert missing.status_code == 400
    assert "This question needs an answer." in missing.content.decode()
    wrong = client.post(url, {"q_helpful": "4", "q_really": "dog"})
    assert wrong.status_code == 400
    assert not Response.objects.exists()


def test_next_never_leaves_the_site(client, user, analysis, analysis_questionnaire):
    client.force_login(user)
    url = reverse("feedback:analysis-response", args=[analysis.pk])
    posted = client.post(url, {"q_helpful": "4", "next": "https://evil.example/"})
    assert posted["Location"] == reverse("analysis:detail", args=[analysis.pk])


def test_a_run_that_has_not_ended_shows_no_form(client, user, team, session_questionnaire):
    session = TrainingSessionFactory(team=team, status=TrainingSession.Status.RUNNING)
    client.force_login(user)
    url = reverse("feedback:session-response", args=[session.pk])
    page = client.get(url)
    assert b'id="not-finished"' in page.content
    assert client.post(url, {"q_charts": "4"}).status_code == 400
    assert not Response.objects.exists()


# ---------------------------------------------------------------- the dataset pages
def test_dataset_page_export_and_import(
    client, user, team, analysis_questionnaire, django_capture_on_commit_callbacks
):
    grant(team)

    set_consent(user, True)
    for really in ("mel", "mel", "nv", "nv"):
        a = make_analysis(user, top="nv")
        services.feedback_response_submit(
            user=user, analysis=a, answers=answers(helpful=3, really=really)
        )
    client.force_login(user)
    page = client.get(reverse("feedback:dataset"))
    assert page.status_code == 200
    assert b'data-task="lesions"' in page.content
    download = client.get(reverse("feedback:dataset-export", args=["lesions"]))
    assert download["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    assert sum(n.endswith(".jpg") for n in archive.namelist()) == 4
    with django_capture_on_commit_callbacks(execute=True):
        imported = client.post(
            reverse("feedback:dataset-import"), {"team": team.pk, "task": "lesions", "name": ""}
        )
    version = DatasetVersion.objects.get()
    assert imported.status_code == 302
    assert imported["Location"] == reverse("training:dataset-version-detail", args=[version.pk])
    assert DatasetSnapshot.objects.get().dataset_version == version


def test_import_form_refuses_a_team_that_is_not_granted(client, user, team, analysis_questionnaire):
    grant(team)
    mine_not_granted = TeamFactory(owner=user)
    client.force_login(user)
    response = client.post(
        reverse("feedback:dataset-import"), {"team": mine_not_granted.pk, "task": "lesions"}
    )
    assert response.status_code == 400
    assert not DatasetVersion.objects.exists()


# ---------------------------------------------------------------- panels
def test_the_result_page_shows_the_questionnaire_to_its_owner(
    client, user, analysis, analysis_questionnaire
):
    client.force_login(user)
    page = client.get(reverse("analysis:detail", args=[analysis.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="feedback-panel"' in html
    assert reverse("feedback:analysis-response", args=[analysis.pk]) in html
    assert "How did this result do?" in html


def test_panels_follow_answers_and_access(
    rf: RequestFactory,
    user,
    other_user,
    analysis,
    finished_session,
    analysis_questionnaire,
    session_questionnaire,
):

    request = rf.get("/")
    request.user = user
    [panel] = panels.analysis_result(request, analysis)
    assert panel["context"]["response"] is None
    services.feedback_response_submit(user=user, analysis=analysis, answers=answers(helpful=4))
    [panel] = panels.analysis_result(request, analysis)
    assert panel["context"]["response"] is not None
    [panel] = panels.training_session(request, finished_session)
    assert panel["context"]["questionnaire"] == session_questionnaire
    request.user = other_user
    assert panels.analysis_result(request, analysis) == []
    assert panels.training_session(request, finished_session) == []
    running = TrainingSessionFactory(
        team=finished_session.team, status=TrainingSession.Status.RUNNING
    )
    request.user = user
    assert panels.training_session(request, running) == []


def test_panel_is_empty_without_an_active_questionnaire(rf, user, analysis, analysis_questionnaire):

    services.questionnaire_deactivate(questionnaire=analysis_questionnaire)
    request = rf.get("/")
    request.user = user
    assert panels.analysis_result(request, analysis) == []


def test_dashboard_panel_only_for_those_who_may_use_the_dataset(client, user, team, other_user):
    grant(team)
    client.force_login(user)
    assert b"Feedback dataset" in client.get(reverse("home")).content
    client.force_login(other_user)
    assert b"Feedback dataset" not in client.get(reverse("home")).content


@pytest.mark.parametrize(
    ("who", "shown"),
    [("user", True), ("member_user", True), ("viewer_user", True), ("other_user", None)],
)
def test_the_run_page_shows_the_questionnaire_once_the_run_has_ended(
    request, finished_session, session_questionnaire, who, shown
):
    page = client_for(request, who).get(
        reverse("training:session-detail", args=[finished_session.pk])
    )
    if shown is None:
        assert page.status_code == 404
        return
    html = page.content.decode()
    assert 'id="feedback-panel"' in html
    assert reverse("feedback:session-response", args=[finished_session.pk]) in html


def test_the_run_page_has_no_questionnaire_while_running(client, user, team, session_questionnaire):
    session = TrainingSessionFactory(team=team, status=TrainingSession.Status.RUNNING)
    client.force_login(user)
    page = client.get(reverse("training:session-detail", args=[session.pk]))
    assert page.status_code == 200
    assert 'id="feedback-panel"' not in page.content.decode()
