"""Fixtures of the feedback tests: the seeded questionnaires, analyses of alice (the owner of
`team`), a finished run of `team`, and answer helpers."""

from __future__ import annotations

import pytest

from feedback.models import Questionnaire, Target
from feedback.services import AnswerInput
from tests.feedback.factories import TrainingSessionFactory, make_analysis


@pytest.fixture(autouse=True)
def _no_shipped_models(settings, tmp_path):
    """The factories' analyses record no model card, so the repository's default bundles (which
    add a production row per task to the per-model statistics) are kept out; the tests that
    are about shipped bundles put their own card in MODELS_DIR (`shipped` fixture)."""
    settings.MODELS_DIR = tmp_path / "no-models"


@pytest.fixture
def analysis_questionnaire(db) -> Questionnaire:
    """Seeded by the data migration: helpful (rating, required), doctor (single), really
    (correction), photo_issues (multiple), comments (text)."""
    return Questionnaire.objects.get(target=Target.ANALYSIS, is_active=True)


@pytest.fixture
def session_questionnaire(db) -> Questionnaire:
    return Questionnaire.objects.get(target=Target.TRAINING_SESSION, is_active=True)


@pytest.fixture
def analysis(user):
    return make_analysis(user, top="nv")


@pytest.fixture
def finished_session(team, user):
    return TrainingSessionFactory(team=team, created_by=user)


def answers(**kwargs) -> dict[str, AnswerInput]:
    """answers(helpful=4, really="mel", doctor=["Yes…"], comments="…")."""
    out = {}
    for key, value in kwargs.items():
        if isinstance(value, int):
            out[key] = AnswerInput(rating=value)
        elif isinstance(value, list | tuple):
            out[key] = AnswerInput(choices=tuple(value))
        elif key in ("really",):
            out[key] = AnswerInput(choices=(value,))
        else:
            out[key] = AnswerInput(text=value)
    return out
