from __future__ import annotations

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

# (label, URL name). Items whose URL does not exist (an app not installed) are left out.
NAV = [
    ("Analyse", "analysis:upload"),
    ("History", "analysis:history"),
    ("Datasets", "training:dataset-list"),
    ("Training", "training:session-list"),
    ("Models", "training:model-list"),
    ("Conditions", "recommendations:condition-list"),
    ("Feedback", "feedback:my-responses"),
]


def _nav_links() -> list[dict]:
    links = []
    for label, name in NAV:
        try:
            links.append({"label": label, "url": reverse(name)})
        except NoReverseMatch:
            continue
    return links


def navigation(request: HttpRequest) -> dict:
    """Navigation links and the unread notification count (one cheap query when logged in)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from accounts.selectors import notification_unread_count

    return {"nav_links": _nav_links(), "unread_notifications": notification_unread_count(user=user)}
