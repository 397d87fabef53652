"""API token authentication memoised per process (accounts.auth.user_for_token): no query once
a key is known, and a revoked token, a deactivated user or an edited profile counts from the
next request on. The memo is bypassed inside a transaction, so these tests run with
transaction=True, as a web process does (see tests/skinplatform/test_memo.py)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from accounts.auth import TOKENS_MEMO, TokenAuthentication
from accounts.models import Profile
from accounts.services import api_token_rotate
from skinplatform import memo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_memo")]


def _authenticate(key: str):
    return TokenAuthentication().authenticate_credentials(key)


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as queries:
        fn()
    return len(queries)


def test_a_known_token_authenticates_without_a_query(user):
    Profile.objects.update_or_create(user=user, defaults={"skin_type": "III"})
    key = Token.objects.create(user=user).key
    assert _queries(lambda: _authenticate(key)) == 1  # token + user + profile, one join
    assert _queries(lambda: _authenticate(key)) == 0
    found, token = _authenticate(key)
    assert (found.pk, found.username, token.key, token.user_id) == (user.pk, "alice", key, user.pk)
    assert _queries(lambda: found.profile.skin_type) == 0
    assert found.profile.skin_type == "III"
    assert not found._state.adding
    assert found._state.db == "default"


def test_each_request_gets_its_own_instances(user):
    key = Token.objects.create(user=user).key
    first, _ = _authenticate(key)
    first.first_name = "changed in one request"
    first.profile.display_name = "changed too"
    second, _ = _authenticate(key)
    assert second is not first
    assert second.first_name != "changed in one request"
    assert second.profile.display_name != "changed too"


def test_a_rotated_token_is_refused_at_once(user):
    old = Token.objects.create(user=user).key
    _authenticate(old)
    new = api_token_rotate(user=user).key
    with pytest.raises(AuthenticationFailed):
        _authenticate(old)
    assert _authenticate(new)[0].pk == user.pk


def test_a_deactivated_user_is_refused_at_once(user):
    key = Token.objects.create(user=user).key
    _authenticate(key)
    user.is_active = False
    user.save()
    with pytest.raises(AuthenticationFailed, match="inactive"):
        _authenticate(key)


def test_a_profile_edit_shows_on_the_next_request(user):
    Profile.objects.update_or_create(user=user, defaults={"skin_type": "II"})
    key = Token.objects.create(user=user).key
    assert _authenticate(key)[0].profile.skin_type == "II"
    profile = Profile.objects.get(user=user)
    profile.skin_type = "V"
    profile.save()
    assert _authenticate(key)[0].profile.skin_type == "V"


def test_a_change_in_another_process_counts_through_the_generation(user):
    """Another web process only changes the generation token in the shared cache."""
    key = Token.objects.create(user=user).key
    _authenticate(key)
    Token.objects.filter(key=key).update(key="x" * 40)  # no signal here: as if elsewhere
    assert _queries(lambda: _authenticate(key)) == 0  # this process has not heard yet
    cache.set(f"memo:gen:{TOKENS_MEMO}", "bumped elsewhere", timeout=None)
    with pytest.raises(AuthenticationFailed):
        _authenticate(key)


def test_unknown_keys_are_refused_and_not_memoised(user):
    for n in range(5):
        with pytest.raises(AuthenticationFailed, match="Invalid token"):
            _authenticate(f"unknown-{n}")
    assert not [k for k in memo._values if k[0] == TOKENS_MEMO]


def test_a_user_without_a_profile_authenticates(user):
    Profile.objects.filter(user=user).delete()
    key = Token.objects.create(user=user).key
    _authenticate(key)
    found, _ = _authenticate(key)
    assert found.pk == user.pk
    assert not Profile.objects.filter(user=user).exists()
