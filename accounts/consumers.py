"""A user's personal websocket: notifications and small events for every open page."""

from __future__ import annotations

import logging

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.notifications import group_name

_log = logging.getLogger(__name__)
CLOSE_LAYER_DOWN = 4503  # the channel layer (Redis) is unreachable


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        try:
            await self.channel_layer.group_add(group_name(user.pk), self.channel_name)
        except Exception:  # Redis down: refuse cleanly; pages work without live pushes
            _log.warning("notifications of user %s: channel layer unreachable", user.pk)
            await self.close(code=CLOSE_LAYER_DOWN)
            return
        self.group = group_name(user.pk)
        await self.accept()
        await self.send_json({"type": "hello", "version": 1, "user": user.get_username()})

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: dict, **kwargs) -> None:
        # The browser only listens here; a ping keeps proxies from closing an idle socket.
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def user_event(self, event: dict) -> None:
        await self.send_json(event["data"])
