"""Analysis reads, always scoped to their owner: a person sees only their own analyses."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, QuerySet
from django.http import Http404

from analysis.models import Analysis


def analysis_list_for_user(
    *, user: AbstractBaseUser, task: str | None = None
) -> QuerySet[Analysis]:
    if not user.is_authenticated:
        return Analysis.objects.none()
    qs = Analysis.objects.filter(owner=user)
    if task:
        qs = qs.filter(task=task)
    return qs.order_by("-created_at", "-pk")


def analysis_get_for_user(*, user: AbstractBaseUser, pk: int) -> Analysis:
    """The analysis if `user` owns it; 404 otherwise (others learn nothing, not even that it
    exists)."""
    analysis = (
        analysis_list_for_user(user=user).filter(pk=pk).select_related("model_version").first()
    )
    if analysis is None:
        raise Http404("No such analysis.")
    return analysis


def analysis_task_counts(*, user: AbstractBaseUser) -> dict[str, int]:
    rows = analysis_list_for_user(user=user).order_by().values("task").annotate(n=Count("pk"))
    return {row["task"]: row["n"] for row in rows}


def analysis_timeline(*, user: AbstractBaseUser, task: str) -> dict:
    """Per-condition probability and severity over time, oldest first, for one task."""
    rows = list(
        analysis_list_for_user(user=user, task=task)
        .order_by("created_at", "pk")
        .values("pk", "created_at", "probabilities", "severity", "top_class", "uncertain")
    )
    classes = sorted({key for row in rows for key in row["probabilities"]})
    return {
        "task": task,
        "classes": classes,
        "points": [
            {
                "id": row["pk"],
                "t": row["created_at"].isoformat(),
                "p": {c: round(row["probabilities"].get(c, 0.0), 4) for c in classes},
                "severity": row["severity"],
                "top": row["top_class"],
                "uncertain": row["uncertain"],
            }
            for row in rows
        ],
    }
