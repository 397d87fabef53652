"""Panels accounts adds to other pages: the home dashboard (invitations, teams, notifications)."""

from __future__ import annotations

from django.http import HttpRequest

from accounts import selectors
from accounts.models import Membership


def dashboard(request: HttpRequest) -> list[dict]:
    if not request.user.is_authenticated:
        return []
    user = request.user
    return [
        {
            "template": "accounts/_dashboard_panel.html",
            "order": 90,
            "context": {
                "invitations": list(selectors.invitation_list_for_user(user=user)),
                "memberships": list(Membership.objects.filter(user=user).select_related("team")),
                "notifications": list(selectors.notification_list_for_user(user=user)[:5]),
            },
        }
    ]
