"""Helpers shared by the training services: role checks and enqueueing tasks after commit."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction

from training import selectors

log = logging.getLogger("training")


def require_edit(*, user: AbstractBaseUser, team_id: int) -> None:
    if not selectors.can_edit(user=user, team_id=team_id):
        raise PermissionDenied("Only team members and owners can do this; viewers only watch.")


def require_owner(*, user: AbstractBaseUser, team_id: int) -> None:
    if not selectors.is_owner(user=user, team_id=team_id):
        raise PermissionDenied("Only a team owner can do this.")


def enqueue_on_commit(func: str, *args: Any, task_name: str, group: str) -> None:
    """Hand `func` (a dotted path: the web process never imports the task's heavy imports) to
    django-q2 once the surrounding transaction has committed the rows it will read."""

    def _send() -> None:
        from django_q.tasks import async_task

        async_task(func, *args, task_name=task_name, group=group)

    transaction.on_commit(_send)
