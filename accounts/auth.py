"""Websocket authentication by API token (`Authorization: Token <key>`), for API clients and
benchmarks; browsers authenticate with their session cookie through AuthMiddlewareStack."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser


@database_sync_to_async
def _user_for_token(key: str):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


class TokenAuthMiddleware(BaseMiddleware):
    """Sets scope["user"] from a token header when the session did not authenticate anyone."""

    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if user is None or not user.is_authenticated:
            headers = dict(scope.get("headers") or [])
            auth = headers.get(b"authorization", b"").decode("latin-1")
            if auth.lower().startswith("token "):
                scope = {**scope, "user": await _user_for_token(auth[6:].strip())}
        return await super().__call__(scope, receive, send)
