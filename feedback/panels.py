"""Panels feedback adds to other pages (skinplatform.panels): the questionnaire under an analysis
result and under a finished training run, and the feedback dataset link on the home dashboard
of those who may use it."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from analysis.models import Analysis
from feedback import selectors
from feedback.forms import ResponseForm
from training.models import TrainingSession


def _panel(
    request: HttpRequest, *, analysis=None, session=None, action: str, back: str, outer: str
) -> list:
    questionnaire, response = selectors.questionnaire_for_target(
        user=request.user, analysis=analysis, training_session=session
    )
    if questionnaire is None:
        return []
    form = ResponseForm(questionnaire=questionnaire, analysis=analysis, response=response)
    return [
        {
            "template": "feedback/_panel.html",
            "order": 50,
            "context": {
                "questionnaire": questionnaire,
                "response": response,
                "form": form,
                "action": action,
                "back": back,
                "analysis": analysis,
                "outer_class": outer,  # the result page stacks it; the run page has a grid row
            },
        }
    ]


def analysis_result(request: HttpRequest, analysis: Analysis) -> list[dict]:
    if not request.user.is_authenticated or analysis.owner_id != request.user.pk:
        return []
    return _panel(
        request,
        analysis=analysis,
        action=reverse("feedback:analysis-response", args=[analysis.pk]),
        back=reverse("analysis:detail", args=[analysis.pk]),
        outer="mt-4",
    )


def training_session(request: HttpRequest, session: TrainingSession) -> list[dict]:
    if not request.user.is_authenticated or not selectors.session_is_finished(session):
        return []
    if not selectors.training_session_can_answer(user=request.user, session=session):
        return []
    return _panel(
        request,
        session=session,
        action=reverse("feedback:session-response", args=[session.pk]),
        back=reverse("training:session-detail", args=[session.pk]),
        outer="col-lg-8",
    )


def dashboard(request: HttpRequest) -> list[dict]:
    if not selectors.dataset_can_export(user=request.user):
        return []
    summaries = selectors.dataset_summary()
    return [
        {
            "template": "feedback/_dashboard_panel.html",
            "order": 80,
            "context": {
                "images": sum(s.images for s in summaries),
                "tasks": [s.task for s in summaries if s.images],
            },
        }
    ]
