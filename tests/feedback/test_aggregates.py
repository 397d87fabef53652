"""Aggregates for staff: per question, over time, per model (reported vs held-out accuracy)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import pytest
from django.utils import timezone

from feedback import aggregates, services
from feedback.models import CORRECTION_OTHER, CORRECTION_UNKNOWN, Response
from tests.factories import UserFactory
from tests.feedback.conftest import answers
from tests.feedback.factories import ModelVersionFactory, make_analysis

pytestmark = pytest.mark.django_db

YES = "Yes, a doctor said the same"
NO = "No, a doctor said something else"
BLURRY, WRONG, NOTHING = "Blurry or dark photo", "Wrong part of the skin", "Nothing was wrong"

CARD = {
    "format": "skinplatform-model-card/1",
    "task": "lesions",
    "classes": ["mel", "nv"],
    "metrics": {
        "split": "test",
        "test": {"n": 140, "accuracy": 0.7, "balanced_accuracy": 0.61, "macro_f1": 0.58},
    },
}


def card_sha(card: dict) -> str:
    # the same hash analysis.services records on each analysis
    return hashlib.sha256(json.dumps(card, sort_keys=True).encode()).hexdigest()


@pytest.fixture
def shipped(settings, tmp_path):
    """A default lesions bundle shipped in MODELS_DIR (only its card matters here)."""
    settings.MODELS_DIR = tmp_path / "models"
    (settings.MODELS_DIR / "lesions").mkdir(parents=True)
    (settings.MODELS_DIR / "lesions" / "card.json").write_text(json.dumps(CARD))
    return card_sha(CARD)


def respond(user, analysis=None, when: datetime | None = None, **kwargs) -> Response:
    response, _ = services.feedback_response_submit(
        user=user, analysis=analysis, answers=answers(**kwargs)
    )
    if when is not None:
        Response.objects.filter(pk=response.pk).update(created_at=when)
    return response


def at(day: str) -> datetime:
    return timezone.make_aware(datetime.fromisoformat(day + "T12:00:00"))


@pytest.fixture
def answered(analysis_questionnaire):
    """Four people, four analyses (nv), one answer set each."""
    people = [UserFactory(username=f"p{i}") for i in range(4)]
    specs = [
        {
            "helpful": 5,
            "doctor": [YES],
            "really": "nv",
            "photo_issues": [NOTHING],
            "comments": "ok",
        },
        {"helpful": 4, "doctor": [NO], "really": "mel", "photo_issues": [BLURRY, WRONG]},
        {"helpful": 4, "doctor": [YES], "really": CORRECTION_UNKNOWN, "photo_issues": [BLURRY]},
        {"helpful": 1, "really": CORRECTION_OTHER, "comments": "=cmd|' /C calc'!A0"},
    ]
    days = ["2026-01-05", "2026-01-07", "2026-01-14", "2026-01-15"]
    for person, spec, day in zip(people, specs, days, strict=True):
        respond(person, make_analysis(person, top="nv"), when=at(day), **spec)
    return people


def by_key(stats: dict) -> dict:
    return {q["key"]: q for q in stats["questions"]}


# ---------------------------------------------------------------- per question
def test_aggregates_per_question(analysis_questionnaire, answered):
    stats = aggregates.questionnaire_aggregates(questionnaire=analysis_questionnaire)
    assert stats["responses"] == 4
    q = by_key(stats)
    assert q["helpful"]["answered"] == 4
    assert q["helpful"]["mean"] == 3.5
    assert q["helpful"]["distribution"] == {"1": 1, "2": 0, "3": 0, "4": 2, "5": 1}
    doctor = {c["value"]: (c["count"], c["share"]) for c in q["doctor"]["choices"]}
    assert q["doctor"]["answered"] == 3
    assert doctor == {
        YES: (2, 0.6667),
        NO: (1, 0.3333),
        "I haven't seen a doctor about it": (0, 0.0),
    }
    issues = {c["value"]: c["count"] for c in q["photo_issues"]["choices"]}
    assert issues == {BLURRY: 2, WRONG: 1, "The upload was hard": 0, NOTHING: 1}
    assert q["photo_issues"]["answered"] == 3
    assert q["comments"]["answered"] == 2
    assert set(q["comments"]["latest"]) == {"ok", "=cmd|' /C calc'!A0"}
    really = q["really"]
    assert really["verdicts"] == {"confirmed": 1, "corrected": 1, "other": 1, "unknown": 1}
    assert really["classes"] == {"mel": 1, "nv": 1}
    assert really["reported_accuracy"] == pytest.approx(1 / 3, abs=1e-4)


def test_an_edit_counts_once_with_its_new_answers(analysis_questionnaire):
    person = UserFactory(username="dee")
    analysis = make_analysis(person)
    respond(person, analysis, helpful=1)
    respond(person, analysis, helpful=5)
    q = by_key(aggregates.questionnaire_aggregates(questionnaire=analysis_questionnaire))
    assert (q["helpful"]["answered"], q["helpful"]["mean"]) == (1, 5.0)


def test_aggregates_are_per_questionnaire_version(analysis_questionnaire, answered):
    v2 = services.questionnaire_new_version(questionnaire=analysis_questionnaire)
    services.questionnaire_activate(questionnaire=v2)
    person = UserFactory(username="late")
    respond(person, make_analysis(person), helpful=2)
    assert aggregates.questionnaire_aggregates(questionnaire=v2)["responses"] == 1
    assert (
        aggregates.questionnaire_aggregates(questionnaire=analysis_questionnaire)["responses"] == 4
    )


def test_aggregates_for_a_period(analysis_questionnaire, answered):
    stats = aggregates.questionnaire_aggregates(
        questionnaire=analysis_questionnaire, since=at("2026-01-10"), until=at("2026-01-15")
    )
    assert stats["responses"] == 1
    assert by_key(stats)["helpful"]["mean"] == 4.0


# ---------------------------------------------------------------- over time
def test_responses_over_time_by_week_and_day(analysis_questionnaire, answered):
    weeks = aggregates.responses_over_time(questionnaire=analysis_questionnaire, bucket="week")
    assert [(w["period"], w["responses"], w["ratings"]["helpful"]) for w in weeks] == [
        ("2026-01-05", 2, 4.5),
        ("2026-01-12", 2, 2.5),
    ]
    days = aggregates.responses_over_time(questionnaire=analysis_questionnaire, bucket="day")
    assert [d["period"] for d in days] == ["2026-01-05", "2026-01-07", "2026-01-14", "2026-01-15"]
    months = aggregates.responses_over_time(questionnaire=analysis_questionnaire, bucket="month")
    assert [(m["period"], m["responses"]) for m in months] == [("2026-01-01", 4)]


# ---------------------------------------------------------------- per model
def test_reported_accuracy_per_model_beside_held_out_metrics(analysis_questionnaire, shipped, team):
    registry = ModelVersionFactory(team=team, task="lesions", version=3)
    other_task = ModelVersionFactory(team=team, task="acne-severity", version=1, is_production=True)
    people = iter(UserFactory(username=f"m{i}") for i in range(20))
    for really in ["nv", "nv", "nv", "mel", CORRECTION_OTHER, CORRECTION_UNKNOWN]:
        person = next(people)
        analysis = make_analysis(person, top="nv", model_card_sha=shipped)
        respond(person, analysis, helpful=3, really=really)
    for really in ["nv", "bcc"]:
        person = next(people)
        analysis = make_analysis(person, top="nv", model_version=registry)
        respond(person, analysis, helpful=3, really=really)
    rows = {r.key: r for r in aggregates.model_accuracy()}

    default = rows[aggregates.model_key(model_version_id=None, task="lesions", card_sha=shipped)]
    assert default.is_production  # no registry production model for lesions
    assert (default.judged, default.agreed, default.corrected, default.other, default.unknown) == (
        5,
        3,
        1,
        1,
        1,
    )
    assert default.reported_accuracy == 0.6
    assert default.interval == aggregates.wilson_interval(3, 5)
    assert default.held_out == {
        "accuracy": 0.7,
        "balanced_accuracy": 0.61,
        "macro_f1": 0.58,
        "n": 140,
    }
    assert default.held_out_source == "model card (test split)"

    v3 = rows[f"v{registry.pk}"]
    assert not v3.is_production
    assert (v3.label, v3.judged, v3.reported_accuracy) == ("lesions v3", 2, 0.5)
    assert v3.held_out["accuracy"] == 0.75
    assert v3.held_out_source == "registry (test split)"

    acne = rows[f"v{other_task.pk}"]  # production, nobody has corrected it yet
    assert acne.is_production
    assert (acne.judged, acne.reported_accuracy, acne.interval) == (0, None, None)
    assert list(rows)[:2] == [acne.key, default.key]  # production first


def test_a_registry_production_model_makes_the_default_not_production(shipped, team):
    ModelVersionFactory(team=team, task="lesions", version=1, is_production=True)
    rows = {r.key: r for r in aggregates.model_accuracy()}
    default = rows[aggregates.model_key(model_version_id=None, task="lesions", card_sha=shipped)]
    assert not default.is_production


def test_a_default_bundle_no_longer_shipped_has_no_held_out_metrics(
    analysis_questionnaire, shipped
):
    person = UserFactory(username="old")
    analysis = make_analysis(person, top="nv", model_card_sha="f" * 64)
    respond(person, analysis, helpful=3, really="nv")
    row = next(r for r in aggregates.model_accuracy() if r.key.endswith("ffffffffffff"))
    assert (row.reported_accuracy, row.held_out, row.is_production) == (1.0, {}, False)
    assert "no longer shipped" in row.note


def test_aggregates_filtered_by_model(analysis_questionnaire, shipped, team):
    registry = ModelVersionFactory(team=team, task="lesions")
    a, b = UserFactory(username="fa"), UserFactory(username="fb")
    respond(a, make_analysis(a, model_card_sha=shipped), helpful=5)
    respond(b, make_analysis(b, model_version=registry), helpful=1)
    default_key = aggregates.model_key(model_version_id=None, task="lesions", card_sha=shipped)
    for key, mean in ((default_key, 5.0), (f"v{registry.pk}", 1.0)):
        stats = aggregates.questionnaire_aggregates(questionnaire=analysis_questionnaire, model=key)
        assert stats["responses"] == 1
        assert by_key(stats)["helpful"]["mean"] == mean
    nothing = aggregates.questionnaire_aggregates(questionnaire=analysis_questionnaire, model="x")
    assert nothing["responses"] == 0


def test_wilson_interval():
    assert aggregates.wilson_interval(0, 0) is None
    low, high = aggregates.wilson_interval(8, 10)
    assert (low, high) == (pytest.approx(0.4902, abs=1e-4), pytest.approx(0.9433, abs=1e-4))
    assert aggregates.wilson_interval(10, 10)[1] == 1.0
