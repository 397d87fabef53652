"""Middleware of the project itself."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class SyncChainMiddleware:
    """Keeps the middleware chain in one thread under ASGI.

    WhiteNoise is sync-only. Without this, Django runs the middleware below it in async mode,
    and each sync `process_request` / `process_response` of Session, CSRF, Auth, Messages, ...
    hops from the event loop to a thread and back: about a dozen hops per request. Being the
    innermost middleware and sync-only, this one makes Django run the whole chain (and the sync
    views) in sync mode: one hop into a thread per request. A pass-through otherwise."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)
