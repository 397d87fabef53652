"""Websocket of one training session: authorize on connect (team members only), send a snapshot,
then forward the session group's events; presence (who else is watching) on join and leave."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from training import presence, selectors
from training.progress import WS_FORMAT_VERSION, group_name

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403  # also for sessions that do not exist: outsiders learn nothing


class TrainingSessionConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
        allowed = await database_sync_to_async(selectors.training_session_can_watch)(
            user=user, session_id=self.session_id
        )
        if not allowed:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        # Join before reading the snapshot: an event that lands in between arrives twice
        # (clients dedupe epochs by number), never zero times.
        self.group = group_name(self.session_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        watchers = await sync_to_async(presence.join)(
            self.session_id, self.channel_name, user_id=user.pk, username=user.get_username()
        )
        await self._send_snapshot(watchers)
        await self._broadcast_presence(watchers)

    async def disconnect(self, code: int) -> None:
        if not self.group:
            return
        await self.channel_layer.group_discard(self.group, self.channel_name)
        watchers = await sync_to_async(presence.leave)(self.session_id, self.channel_name)
        await self._broadcast_presence(watchers)

    async def receive_json(self, content: dict, **kwargs) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":  # keeps proxies from closing the socket and presence fresh
            await sync_to_async(presence.touch)(self.session_id, self.channel_name)
            await self.send_json({"type": "pong"})
        elif kind == "snapshot":
            await self._send_snapshot(await sync_to_async(presence.watchers)(self.session_id))

    async def training_progress(self, event: dict) -> None:
        await self.send_json({"type": "event", "v": WS_FORMAT_VERSION, **event["data"]})

    async def _send_snapshot(self, watchers: list[dict]) -> None:
        snapshot = await database_sync_to_async(selectors.training_session_snapshot)(
            session_id=self.session_id
        )
        await self.send_json(
            {"type": "snapshot", "v": WS_FORMAT_VERSION, **snapshot, "watchers": watchers}
        )

    async def _broadcast_presence(self, watchers: list[dict]) -> None:
        await self.channel_layer.group_send(
            self.group,
            {
                "type": "training.progress",
                "data": {"event": "presence", "kind": "presence", "watchers": watchers},
            },
        )
