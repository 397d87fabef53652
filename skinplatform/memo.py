"""Per-process memo of rarely changing database reads, invalidated across processes.

Every analysis reads the same few rows: the production model of its task and the advice
catalogue (conditions, severity rules, tips, products). Each cached value is tagged with a
*generation*, a token kept in the shared Django cache (Redis, or the file cache) under
`memo:gen:<name>`. A write bumps the generation once its transaction commits (model signals,
plus explicit `bump()` after bulk `update()`s, which send no signal), so every process re-reads
on its next request: an admin's edit shows on the very next analysis.

Within one HTTP request (`MemoSnapshotMiddleware`) the generations are read once, all of them
in one round trip, and held for the rest of the request: an analysis reads four memoised values,
which would otherwise cost four cache reads. A bump made during the request updates its snapshot.

Never memoised (the database is read directly): inside a transaction (a value read there may
be rolled back; this also keeps tests, each wrapped in a transaction, on the real queries), and
while the cache is unreachable (no generation to trust)."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse

log = logging.getLogger(__name__)
T = TypeVar("T")

_values: dict[tuple[str, Hashable], tuple[str, Any]] = {}
_lock = threading.Lock()
MAX_ENTRIES = 2000
_names: set[str] = set()  # every name memoised in this process: a snapshot reads them all
_snapshot: ContextVar[dict[str, str] | None] = ContextVar("memo_snapshot", default=None)


def _key(name: str) -> str:
    return f"memo:gen:{name}"


def generation(name: str) -> str | None:
    """The current token of `name` (created if the cache has none), None if the cache is down.
    Inside a snapshot: from the snapshot, the first read filling it for every known name."""
    snap = _snapshot.get()
    if snap is not None and name in snap:
        return snap[name]
    names = sorted(_names | {name}) if snap is not None else [name]
    try:
        found = cache.get_many([_key(n) for n in names])
        token = found.get(_key(name))
        if token is None:
            cache.add(_key(name), uuid.uuid4().hex, timeout=None)
            token = found[_key(name)] = cache.get(_key(name))
    except Exception:  # the backend's own error type (redis.ConnectionError, ...)
        log.warning("memo generation of %s unavailable; reading the database", name, exc_info=True)
        return None
    if snap is not None:
        snap.update({n: found[_key(n)] for n in names if found.get(_key(n)) is not None})
    return token


@contextmanager
def snapshot() -> Iterator[None]:
    """Read each generation at most once inside this block (one HTTP request)."""
    reset = _snapshot.set({})
    try:
        yield
    finally:
        _snapshot.reset(reset)


class MemoSnapshotMiddleware:
    """One generation snapshot per request (see the module docstring)."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with snapshot():
            return self.get_response(request)


def bump(name: str) -> None:
    """Invalidate `name` in every process, once the current transaction (if any) commits."""

    def _bump() -> None:
        token = uuid.uuid4().hex
        snap = _snapshot.get()
        try:
            cache.set(_key(name), token, timeout=None)
        except Exception:
            log.warning("could not bump memo generation %s", name, exc_info=True)
            if snap is not None:
                snap.pop(name, None)
        else:
            if snap is not None:
                snap[name] = token
        with _lock:
            for key in [k for k in _values if k[0] == name]:
                del _values[key]

    transaction.on_commit(_bump)


def memoised(name: str, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, or its value from this process's memo while `name`'s generation holds.
    The value is shared by every thread of the process: treat it as read-only."""
    _names.add(name)
    if connection.in_atomic_block:
        return compute()
    token = generation(name)
    if token is None:
        return compute()
    hit = _values.get((name, key))
    if hit is not None and hit[0] == token:
        return hit[1]
    value = compute()
    with _lock:
        if len(_values) >= MAX_ENTRIES:
            _values.clear()
        _values[(name, key)] = (token, value)
    return value


def bump_on_changes(name: str, models: list[type]) -> None:
    """Connect post_save / post_delete of `models` (and m2m changes of their fields) to
    bump(name)."""
    from django.db.models.signals import m2m_changed, post_delete, post_save

    def receiver(sender, **kwargs) -> None:
        bump(name)

    for model in models:
        uid = f"memo-{name}-{model._meta.label}"
        post_save.connect(receiver, sender=model, weak=False, dispatch_uid=f"{uid}-save")
        post_delete.connect(receiver, sender=model, weak=False, dispatch_uid=f"{uid}-delete")
        for field in model._meta.many_to_many:
            m2m_changed.connect(
                receiver,
                sender=field.remote_field.through,
                weak=False,
                dispatch_uid=f"{uid}-{field.name}-m2m",
            )
