"""Page panels contributed by the apps, so a page can show another app's content without
importing it (the arrows between apps stay one-way).

An app adds panels by defining, in `<app>/panels.py`, a function named after the hook:
`dashboard(request)` for the home page, `analysis_result(request, analysis)` under an analysis
result, `training_session(request, session)` under a finished run. Each returns a list of
`{"template": ..., "context": {...}, "order": int}`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache

from django.apps import apps
from django.http import HttpRequest


@cache
def _providers(hook: str) -> tuple[Callable, ...]:
    found = []
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.panels")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.panels":
                raise
            continue
        if callable(fn := getattr(module, hook, None)):
            found.append(fn)
    return tuple(found)


def collect(hook: str, request: HttpRequest, *args, **kwargs) -> list[dict]:
    panels = []
    for provider in _providers(hook):
        panels.extend(provider(request, *args, **kwargs))
    return sorted(panels, key=lambda p: p.get("order", 100))
