"""One Redis connection pool per process for the Django cache, and one redis-py client per
cache object.

Django keeps a cache object per thread (asgiref Local), and under ASGI every request runs in
a thread of its own: each request built a new RedisCache, a new pool and a new connection
(TCP connect + HELLO + CLIENT SETINFO) just to read a throttle counter - about 2 ms of every
analysis. `from_url` here hands every cache object of the process the same thread-safe pool;
redis-py resets a pool by itself in a forked child."""

from __future__ import annotations

import threading
from typing import Any

import redis
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient


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


class RedisCacheClient(DjangoRedisCacheClient):
    """Django's, keeping its redis-py client: Django built a new `redis.Redis` for every cache
    call (~50 µs here; two per analysis request: the memo snapshot and the rate limit). A
    redis-py client is thread-safe, each command borrowing a connection from the pool."""

    def get_client(self, key=None, *, write=False) -> redis.Redis:
        pool = self._get_connection_pool(write)
        clients = self.__dict__.setdefault("_clients_by_pool", {})
        client = clients.get(id(pool))
        if client is None:
            client = clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    """`django.core.cache.backends.redis.RedisCache` with the client above."""

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
