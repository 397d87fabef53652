"""Admin template tags: the missing-advice warning shown on the admin index."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.urls import reverse

from recommendations import coverage

register = template.Library()


@register.inclusion_tag("admin/recommendations/_missing_advice.html", takes_context=True)
def missing_advice_warning(context) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("recommendations.view_condition"):
        return {"missing": []}
    add_url = reverse("admin:recommendations_condition_add")
    missing = [
        {
            "task": task,
            "keys": [
                {"key": key, "add_url": f"{add_url}?{urlencode({'task': task, 'key': key})}"}
                for key in keys
            ],
        }
        for task, keys in coverage.missing_advice().items()
    ]
    return {"missing": missing, "can_add": user.has_perm("recommendations.add_condition")}
