"""Who is watching a training session right now: one entry per open socket, kept in the Django
cache (Redis in production, so every web process sees the same list). Entries expire after
TRAINING_PRESENCE_TTL_S unless refreshed, so a web process that dies does not leave ghosts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager

from django.core.cache import cache

from training import conf


def _key(session_id: int) -> str:
    return f"training:presence:{session_id}"


@contextmanager
def _locked(session_id: int):
    """A short cache lock around the read-modify-write (cache.add is atomic in every backend)."""
    lock, token = f"{_key(session_id)}:lock", uuid.uuid4().hex
    deadline = time.monotonic() + 2.0
    held = False
    while not (held := cache.add(lock, token, timeout=5)) and time.monotonic() < deadline:
        time.sleep(0.005)
    try:
        yield
    finally:
        if held and cache.get(lock) == token:
            cache.delete(lock)


def _update(session_id: int, change: Callable[[dict], None]) -> list[dict]:
    ttl = float(conf.get("TRAINING_PRESENCE_TTL_S"))
    with _locked(session_id):
        entries: dict = cache.get(_key(session_id)) or {}
        now = time.time()
        entries = {k: v for k, v in entries.items() if now - v["seen"] < ttl}
        change(entries)
        if entries:
            cache.set(_key(session_id), entries, timeout=int(ttl) + 60)
        else:
            cache.delete(_key(session_id))
    return _people(entries)


def join(session_id: int, channel_name: str, *, user_id: int, username: str) -> list[dict]:
    entry = {"user_id": user_id, "username": username, "seen": time.time(), "since": time.time()}
    return _update(session_id, lambda entries: entries.__setitem__(channel_name, entry))


def touch(session_id: int, channel_name: str) -> list[dict]:
    def change(entries: dict) -> None:
        if channel_name in entries:
            entries[channel_name]["seen"] = time.time()

    return _update(session_id, change)


def leave(session_id: int, channel_name: str) -> list[dict]:
    return _update(session_id, lambda entries: entries.pop(channel_name, None))


def watchers(session_id: int) -> list[dict]:
    ttl = float(conf.get("TRAINING_PRESENCE_TTL_S"))
    entries = cache.get(_key(session_id)) or {}
    now = time.time()
    return _people({k: v for k, v in entries.items() if now - v["seen"] < ttl})


def _people(entries: dict) -> list[dict]:
    """One line per person (several tabs count once), in order of arrival."""
    people: dict[int, dict] = {}
    for entry in sorted(entries.values(), key=lambda e: e["since"]):
        person = people.setdefault(
            entry["user_id"],
            {"user_id": entry["user_id"], "username": entry["username"], "connections": 0},
        )
        person["connections"] += 1
    return list(people.values())
