"""Panels training adds to other pages (skinplatform.panels): the recent runs of my teams on the
home dashboard, running ones first."""

from __future__ import annotations

from django.http import HttpRequest

from training import selectors


def dashboard(request: HttpRequest) -> list[dict]:
    if not request.user.is_authenticated:
        return []
    sessions = selectors.training_session_recent_for_user(user=request.user, limit=6)
    if not sessions and not selectors.dataset_list_for_user(user=request.user).exists():
        return []
    sessions.sort(key=lambda s: (not s.is_active, -s.created_at.timestamp()))
    return [
        {
            "template": "training/_dashboard_panel.html",
            "order": 40,
            "context": {"sessions": sessions},
        }
    ]
