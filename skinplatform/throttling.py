"""DRF's scoped rate limit in one Redis round trip.

DRF's SimpleRateThrottle keeps each user's request times as a pickled Python list in the cache:
every request reads the whole list (GET), trims it, and writes it back (SET) - two round trips,
and a value that grows with the rate (at 120/min, up to 120 floats both ways). With the cache on
Redis, `ScopedRateThrottle` here keeps the same sliding window as a sorted set and decides in one
Lua script (`EVALSHA`): same rule (at most N requests in any window of the period; refused
requests are not counted), same Retry-After (when the oldest counted request leaves the window),
one round trip, and the check and the insert are atomic, so two web processes cannot both take
the last slot. Time is Redis's own clock (`TIME`), so web processes on several hosts agree.
Other cache backends (the file cache when no Redis is configured, the tests' local memory) keep
DRF's implementation.
"""

from __future__ import annotations

import secrets

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework import throttling
from rest_framework.settings import api_settings

# KEYS[1]: sorted set of this client's counted requests (score: ms); ARGV: limit, period in ms,
# a unique member. Returns {1, 0} when allowed (and counted), {0, ms to wait} when refused.
SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + period - now}
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], period)
return {1, 0}
"""


def redis_client(cache) -> object | None:
    """The redis-py client behind a Django RedisCache (its own pool), or None for other backends."""
    if not isinstance(cache, RedisCache):
        return None
    return cache._cache.get_client(write=True)


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    """DRF's ScopedRateThrottle; on a Redis cache, one atomic round trip per request. The rate
    is read when asked (DRF reads it once, at import), so a changed setting applies."""

    _wait_seconds: float | None = None

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        cache = caches[DEFAULT_CACHE_ALIAS]
        client = redis_client(cache)
        if client is None:
            return super().allow_request(request, view)
        # What DRF's ScopedRateThrottle.allow_request does before it reads the history.
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        script = client.register_script(SLIDING_WINDOW)  # EVALSHA (SCRIPT LOAD once per server)
        allowed, wait_ms = script(
            keys=[cache.make_and_validate_key(self.key)],
            args=[self.num_requests, int(self.duration * 1000), secrets.token_hex(8)],
            client=client,
        )
        self._wait_seconds = max(int(wait_ms), 1) / 1000 if not allowed else None
        return bool(allowed)

    def wait(self) -> float | None:
        if self._wait_seconds is not None:
            return self._wait_seconds
        return super().wait()
