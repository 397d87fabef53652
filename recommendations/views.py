"""Recommendations pages for logged-in people: the conditions each task can report, with their
texts, tips and products (read-only; admins edit them in the Django admin)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.selectors import profile_for
from recommendations import selectors


@login_required
def condition_list(request: HttpRequest) -> HttpResponse:
    task = request.GET.get("task", "")
    context = {
        "conditions": selectors.condition_list(task=task),
        "tasks": selectors.condition_task_list(),
        "task": task,
    }
    return render(request, "recommendations/condition_list.html", context)


@login_required
def condition_detail(request: HttpRequest, task: str, key: str) -> HttpResponse:
    condition = selectors.condition_detail_get(task=task, key=key)
    if condition is None:
        raise Http404("No such condition.")
    skin_type = profile_for(request.user).skin_type
    context = {
        "condition": condition,
        "rule": getattr(condition, "severity_rule", None),
        "skin_type": skin_type,
    }
    return render(request, "recommendations/condition_detail.html", context)
