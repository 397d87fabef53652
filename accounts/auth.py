"""Authentication by API token (`Authorization: Token <key>`): the REST API's (DRF) and the
websockets' (for API clients and benchmarks; browsers authenticate with their session cookie
through AuthMiddlewareStack)."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, reading the user's profile in the same query: every
    analysis needs it (skin type), which would otherwise cost a second query per request."""

    def authenticate_credentials(self, key: str):
        model = self.get_model()
        try:
            # get(), not filter().first(): no ORDER BY to compile (~0.25 ms a request here).
            token = model.objects.select_related("user", "user__profile").get(key=key)
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return token.user, token


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
