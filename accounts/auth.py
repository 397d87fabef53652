"""Authentication by API token (`Authorization: Token <key>`): the REST API's (DRF) and the
websockets' (for API clients and benchmarks; browsers authenticate with their session cookie
through AuthMiddlewareStack)."""

from __future__ import annotations

import copy

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from accounts.models import Profile
from skinplatform.memo import memoised

TOKENS_MEMO = "api-tokens"  # skinplatform.memo name: bumped by any Token, User or Profile change


def _token_row(key: str) -> tuple[tuple, tuple, tuple | None]:
    """The token, its user and the user's profile (None without one) as field values in
    `concrete_fields` order: plain data that every thread of the process may share."""
    token = Token.objects.select_related("user", "user__profile").get(key=key)
    profile = getattr(token.user, "profile", None)
    return _values(token), _values(token.user), _values(profile) if profile else None


def _values(instance) -> tuple:
    return tuple(getattr(instance, f.attname) for f in instance._meta.concrete_fields)


def _instance(model, values: tuple):
    """What the ORM builds from a row (saved, its database set), from `_values()`."""
    return model.from_db(Token.objects.db, [f.attname for f in model._meta.concrete_fields], values)


def user_for_token(key: str):
    """(user, token) for an API token key, the user's profile already attached, or None when no
    such token exists. One query the first time; then from this process's memo (no query)
    until a Token, User or Profile is saved or deleted anywhere (skinplatform.memo): a revoked
    token, a deactivated user or an edited profile counts from the next request on. Each call
    gets its own instances, built from the memoised values."""
    try:
        row = memoised(TOKENS_MEMO, key, lambda: _token_row(key))
    except Token.DoesNotExist:  # not memoised: unknown keys must not fill the memo
        return None
    token_values, user_values, profile_values = copy.deepcopy(row)
    token = _instance(Token, token_values)
    token.user = user = _instance(Token._meta.get_field("user").related_model, user_values)
    if profile_values is not None:
        user.profile = _instance(Profile, profile_values)
    return user, token


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, reading the user's profile with the user (every analysis
    needs its skin type) and keeping the three rows in the process memo (`user_for_token`):
    the token query was the largest framework cost of an API analysis."""

    def authenticate_credentials(self, key: str):
        found = user_for_token(key)
        if found is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not found[0].is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return found


@database_sync_to_async
def _user_for_token(key: str):
    found = user_for_token(key)
    if found is None or not found[0].is_active:
        return AnonymousUser()
    return found[0]


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
