from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from accounts import notifications, services
from accounts.auth import TokenAuthMiddleware
from accounts.routing import websocket_urlpatterns
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

app = TokenAuthMiddleware(URLRouter(websocket_urlpatterns))


async def _connect(user, headers=None):
    communicator = WebsocketCommunicator(app, "/ws/notifications/", headers=headers or [])
    communicator.scope["user"] = user if user is not None else AnonymousUser()
    connected, code = await communicator.connect()
    return communicator, connected, code


async def test_anonymous_is_refused():
    communicator, connected, code = await _connect(None)
    assert not connected
    assert code == 4401


async def test_user_receives_own_events_only():
    alice = await database_sync_to_async(UserFactory)(username="alice")
    carol = await database_sync_to_async(UserFactory)(username="carol")
    a, ok_a, _ = await _connect(alice)
    c, ok_c, _ = await _connect(carol)
    assert ok_a
    assert ok_c
    assert (await a.receive_json_from(timeout=10))["type"] == "hello"
    assert (await c.receive_json_from(timeout=10))["type"] == "hello"
    await database_sync_to_async(notifications.publish)(alice.pk, {"type": "event", "n": 1})
    assert await a.receive_json_from(timeout=2) == {"type": "event", "n": 1}
    assert await c.receive_nothing(timeout=0.3)
    await a.disconnect()
    await c.disconnect()


async def test_token_header_authenticates():
    alice = await database_sync_to_async(UserFactory)(username="alice")
    token = await database_sync_to_async(services.api_token_rotate)(user=alice)
    communicator, connected, _ = await _connect(
        None, headers=[(b"authorization", f"Token {token.key}".encode())]
    )
    assert connected
    assert (await communicator.receive_json_from(timeout=10))["user"] == "alice"
    await communicator.disconnect()
    bad, connected, code = await _connect(None, headers=[(b"authorization", b"Token nope")])
    assert not connected
    assert code == 4401


async def test_worker_ping_task_pushes_pong():
    from accounts.tasks import run_ping

    alice = await database_sync_to_async(UserFactory)(username="alice")
    communicator, _, _ = await _connect(alice)
    await communicator.receive_json_from(timeout=10)
    result = await database_sync_to_async(run_ping)(alice.pk, "n0nce")
    assert result["delivered"] is True
    message = await communicator.receive_json_from(timeout=2)
    assert (message["event"], message["nonce"]) == ("pong", "n0nce")
    await communicator.disconnect()
