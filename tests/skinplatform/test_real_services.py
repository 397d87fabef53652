"""Run only in the real-services lane (REDIS_URL + DATABASE_URL set by `make test-services`)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection

from accounts import notifications
from accounts.routing import websocket_urlpatterns
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(not settings.REDIS_URL, reason="REDIS_URL unset: real-services lane only"),
]


@pytest.mark.django_db
def test_database_is_postgresql_in_this_lane():
    assert connection.vendor == "postgresql"


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_notification_crosses_the_redis_channel_layer():
    assert type(get_channel_layer()).__module__.startswith("channels_redis")
    alice = await database_sync_to_async(UserFactory)(username="alice")
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/notifications/")
    communicator.scope["user"] = alice
    connected, _ = await communicator.connect()
    assert connected
    await communicator.receive_json_from(timeout=10)
    await database_sync_to_async(notifications.publish)(alice.pk, {"type": "event", "via": "redis"})
    assert (await communicator.receive_json_from(timeout=3))["via"] == "redis"
    await communicator.disconnect()
