"""Panels analysis adds to other pages: the home dashboard (latest results, quick start)."""

from __future__ import annotations

from django.http import HttpRequest

from analysis import selectors


def dashboard(request: HttpRequest) -> list[dict]:
    if not request.user.is_authenticated:
        return []
    recent = list(selectors.analysis_list_for_user(user=request.user)[:6])
    return [
        {"template": "analysis/_dashboard_panel.html", "order": 10, "context": {"recent": recent}}
    ]
