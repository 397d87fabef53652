"""REST API: the access matrix of every endpoint, submit/edit flows, and the OpenAPI schema."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.urls import reverse

from feedback import services
from feedback.models import CORRECTION_OTHER, CORRECTION_UNKNOWN, Correction, Response
from tests.conftest import api_client_for
from tests.feedback.conftest import answers
from tests.feedback.factories import TrainingSessionFactory, grant, make_analysis, set_consent
from training.models import DatasetVersion, TrainingSession

pytestmark = pytest.mark.django_db

ANON_STATUS = (401, 403)


def client(request, who: str):
    return api_client_for(None if who == "anonymous" else request.getfixturevalue(who))


def body(**kwargs) -> dict:
    items = []
    for key, value in kwargs.items():
        if isinstance(value, int):
            items.append({"question": key, "rating": value})
        elif isinstance(value, list):
            items.append({"question": key, "choices": value})
        else:
            items.append({"question": key, "text": value})
    return {"answers": items}


# ---------------------------------------------------------------- analysis target
@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", None),
        ("user", 200),
        ("member_user", 404),
        ("viewer_user", 404),
        ("other_user", 404),
        ("staff_user", 404),
    ],
)
def test_analysis_endpoints_access(request, analysis, analysis_questionnaire, who, expected):
    api = client(request, who)
    q_url = reverse("feedback-api:analysis-questionnaire", args=[analysis.pk])
    r_url = reverse("feedback-api:analysis-response", args=[analysis.pk])
    got = api.get(q_url)
    put = api.put(r_url, body(helpful=4), format="json")
    mine = api.get(r_url)
    if expected is None:
        assert {got.status_code, put.status_code, mine.status_code} <= set(ANON_STATUS)
    else:
        assert got.status_code == expected
        assert put.status_code == (201 if expected == 200 else expected)
        assert mine.status_code == expected
    assert Response.objects.count() == (1 if who == "user" else 0)


def test_the_questionnaire_of_an_analysis_offers_its_models_classes(user, analysis_questionnaire):
    analysis = make_analysis(
        user, task="acne-severity", top="mild", classes=("clear", "mild", "severe")
    )
    data = (
        api_client_for(user)
        .get(reverse("feedback-api:analysis-questionnaire", args=[analysis.pk]))
        .json()
    )
    assert data["can_answer"] is True
    assert data["response"] is None
    questions = {q["key"]: q for q in data["questionnaire"]["questions"]}
    assert [q["key"] for q in data["questionnaire"]["questions"]] == [
        "helpful",
        "doctor",
        "really",
        "photo_issues",
        "comments",
    ]
    values = [o["value"] for o in questions["really"]["options"]]
    assert set(values) == {"clear", "mild", "severe", CORRECTION_OTHER, CORRECTION_UNKNOWN}
    assert values[-2:] == [CORRECTION_OTHER, CORRECTION_UNKNOWN]
    assert [o["value"] for o in questions["helpful"]["options"]] == ["1", "2", "3", "4", "5"]
    assert questions["comments"]["options"] == []
    assert questions["helpful"]["required"] is True


def test_submit_then_edit_through_the_api(user, analysis, analysis_questionnaire):
    api = api_client_for(user)
    url = reverse("feedback-api:analysis-response", args=[analysis.pk])
    created = api.put(url, body(helpful=2, really=["mel"], comments="hm"), format="json")
    assert created.status_code == 201, created.json()
    edited = api.put(url, body(helpful=5, really=["nv"]), format="json")
    assert edited.status_code == 200
    data = edited.json()
    assert data["id"] == created.json()["id"]
    assert data["target"] == "analysis"
    assert data["target_id"] == analysis.pk
    assert {a["question"]: a for a in data["answers"]}.keys() == {"helpful", "really"}
    assert Correction.objects.get().verdict == Correction.Verdict.CONFIRMED
    listed = api.get(reverse("feedback-api:my-responses")).json()
    assert listed["count"] == 1
    assert listed["results"][0]["id"] == data["id"]


def test_api_validation_errors_name_the_question(user, analysis, analysis_questionnaire):
    api = api_client_for(user)
    url = reverse("feedback-api:analysis-response", args=[analysis.pk])
    bad = api.put(url, body(helpful=3, really=["dog"]), format="json")
    assert bad.status_code == 400
    assert "really" in bad.json()
    twice = api.put(
        url,
        {"answers": [{"question": "helpful", "rating": 3}, {"question": "helpful", "rating": 4}]},
        format="json",
    )
    assert twice.status_code == 400
    out_of_range = api.put(url, body(helpful=9), format="json")
    assert out_of_range.status_code == 400
    assert not Response.objects.exists()


def test_my_response_is_404_before_answering(user, analysis, analysis_questionnaire):
    url = reverse("feedback-api:analysis-response", args=[analysis.pk])
    assert api_client_for(user).get(url).status_code == 404


# ---------------------------------------------------------------- training-run target
@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", None),
        ("user", 200),
        ("member_user", 200),
        ("viewer_user", 200),
        ("other_user", 404),
        ("staff_user", 404),
    ],
)
def test_session_endpoints_access(request, finished_session, session_questionnaire, who, expected):
    api = client(request, who)
    q_url = reverse("feedback-api:session-questionnaire", args=[finished_session.pk])
    r_url = reverse("feedback-api:session-response", args=[finished_session.pk])
    got = api.get(q_url)
    put = api.put(r_url, body(charts=4), format="json")
    if expected is None:
        assert {got.status_code, put.status_code} <= set(ANON_STATUS)
        return
    assert got.status_code == expected
    assert put.status_code == (201 if expected == 200 else expected)
    if expected == 200:
        assert got.json()["can_answer"] is True
        assert api.get(r_url).json()["answers"][0]["rating"] == 4


def test_a_running_session_cannot_be_answered_yet(user, team, session_questionnaire):
    session = TrainingSessionFactory(team=team, status=TrainingSession.Status.RUNNING)
    api = api_client_for(user)
    got = api.get(reverse("feedback-api:session-questionnaire", args=[session.pk])).json()
    assert got["can_answer"] is False
    put = api.put(
        reverse("feedback-api:session-response", args=[session.pk]), body(charts=4), format="json"
    )
    assert put.status_code == 400


# ---------------------------------------------------------------- my responses
@pytest.mark.parametrize("who", ["anonymous", "user", "other_user", "staff_user"])
def test_my_responses_access(request, analysis, analysis_questionnaire, who):
    services.feedback_response_submit(
        user=request.getfixturevalue("user"), analysis=analysis, answers=answers(helpful=4)
    )
    response = client(request, who).get(reverse("feedback-api:my-responses"))
    if who == "anonymous":
        assert response.status_code in ANON_STATUS
        return
    assert response.json()["count"] == (1 if who == "user" else 0)


# ---------------------------------------------------------------- staff endpoints
@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", None),
        ("user", 403),
        ("member_user", 403),
        ("viewer_user", 403),
        ("other_user", 403),
        ("staff_user", 200),
    ],
)
def test_staff_endpoints_access(request, analysis_questionnaire, who, expected):
    api = client(request, who)
    for name in ("feedback-api:aggregates", "feedback-api:model-accuracy"):
        response = api.get(reverse(name))
        if expected is None:
            assert response.status_code in ANON_STATUS
        else:
            assert response.status_code == expected, name


def test_aggregates_endpoint(staff_user, user, analysis, analysis_questionnaire):
    services.feedback_response_submit(
        user=user, analysis=analysis, answers=answers(helpful=4, really="mel")
    )
    api = api_client_for(staff_user)
    data = api.get(reverse("feedback-api:aggregates"), {"bucket": "day"}).json()
    assert data["responses"] == 1
    assert data["questionnaire"]["id"] == analysis_questionnaire.pk
    stats = {q["key"]: q for q in data["questions"]}
    assert stats["helpful"]["mean"] == 4.0
    assert stats["really"]["verdicts"]["corrected"] == 1
    assert len(data["over_time"]) == 1
    assert data["over_time"][0]["responses"] == 1
    later = api.get(reverse("feedback-api:aggregates"), {"since": "2999-01-01"}).json()
    assert later["responses"] == 0
    assert api.get(reverse("feedback-api:aggregates"), {"questionnaire": 999999}).status_code == 404
    models = api.get(reverse("feedback-api:model-accuracy")).json()
    row = next(m for m in models if m["task"] == "lesions")
    assert (row["judged"], row["corrected"], row["reported_accuracy"]) == (1, 1, 0.0)


# ---------------------------------------------------------------- the feedback dataset
@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", None),
        ("user", 200),  # owner of the granted team
        ("member_user", 403),
        ("viewer_user", 403),
        ("other_user", 403),
        ("staff_user", 200),
    ],
)
def test_dataset_endpoints_access(request, team, analysis_questionnaire, who, expected):
    grant(team)
    api = client(request, who)
    summary = api.get(reverse("feedback-api:dataset"))
    export = api.get(reverse("feedback-api:dataset-export", args=["lesions"]))
    imported = api.post(
        reverse("feedback-api:dataset-import", args=["lesions"]),
        {"team_id": team.pk},
        format="json",
    )
    if expected is None:
        assert {summary.status_code, export.status_code, imported.status_code} <= set(ANON_STATUS)
        return
    assert summary.status_code == expected
    assert export.status_code == expected
    # nothing to import yet: the owner gets 400, members and viewers 403; carol is not in the
    # team (404); staff are not owners of it (403)
    assert (
        imported.status_code
        == {
            "user": 400,
            "member_user": 403,
            "viewer_user": 403,
            "other_user": 404,
            "staff_user": 404,
        }[who]
    )
    assert not DatasetVersion.objects.exists()


def test_dataset_api_export_and_import(
    user, team, analysis_questionnaire, django_capture_on_commit_callbacks
):
    grant(team)
    set_consent(user, True)
    for really in ("mel", "mel", "nv", "nv"):
        services.feedback_response_submit(
            user=user,
            analysis=make_analysis(user, top="nv"),
            answers=answers(helpful=3, really=really),
        )
    api = api_client_for(user)
    summary = api.get(reverse("feedback-api:dataset")).json()
    assert summary["tasks"] == [
        {
            "task": "lesions",
            "class_counts": {"mel": 2, "nv": 2},
            "images": 4,
            "people": 1,
            "without_consent": 0,
        }
    ]
    assert summary["import_teams"] == [{"id": team.pk, "name": team.name}]
    download = api.get(reverse("feedback-api:dataset-export", args=["lesions"]))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    assert sum(n.endswith(".jpg") for n in archive.namelist()) == 4
    with django_capture_on_commit_callbacks(execute=True):
        imported = api.post(
            reverse("feedback-api:dataset-import", args=["lesions"]),
            {"team_id": team.pk, "name": "From users"},
            format="json",
        )
    assert imported.status_code == 202, imported.json()
    data = imported.json()
    version = DatasetVersion.objects.get(pk=data["dataset_version_id"])
    assert version.dataset.name == "From users"
    assert data["images"] == 4
    assert data["status"] == "queued"  # a worker validates it, like any upload
    assert version.status == DatasetVersion.Status.READY, version.error


# ---------------------------------------------------------------- schema
def test_feedback_endpoints_are_in_the_openapi_schema(staff_user):
    schema = api_client_for(staff_user).get(reverse("schema"), {"format": "json"}).json()
    paths = schema["paths"]
    for path in (
        "/api/feedback/analyses/{analysis_id}/questionnaire",
        "/api/feedback/analyses/{analysis_id}/response",
        "/api/feedback/training-sessions/{session_id}/questionnaire",
        "/api/feedback/training-sessions/{session_id}/response",
        "/api/feedback/responses",
        "/api/feedback/aggregates",
        "/api/feedback/models",
        "/api/feedback/dataset",
        "/api/feedback/dataset/{task}/export",
        "/api/feedback/dataset/{task}/import",
    ):
        assert path in paths, path
    assert "put" in paths["/api/feedback/analyses/{analysis_id}/response"]
    assert "FeedbackResponseInputRequest" in schema["components"]["schemas"]
