"""One Redis connection pool per process for the Django cache.

Django keeps a cache object per thread (asgiref Local), and under ASGI every request runs in
a thread of its own: each request built a new RedisCache, a new pool and a new connection
(TCP connect + HELLO + CLIENT SETINFO) just to read a throttle counter - about 2 ms of every
analysis. `from_url` here hands every cache object of the process the same thread-safe pool;
redis-py resets a pool by itself in a forked child."""

from __future__ import annotations

import threading
from typing import Any

import redis


class SharedConnectionPool(redis.ConnectionPool):
    _shared: dict[tuple, redis.ConnectionPool] = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> redis.ConnectionPool:
        key = (url, tuple(sorted((name, repr(value)) for name, value in kwargs.items())))
        with cls._lock:
            pool = cls._shared.get(key)
            if pool is None:
                pool = cls._shared[key] = super().from_url(url, **kwargs)
        return pool
