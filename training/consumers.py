"""Websocket of one training session: authorize on connect (team members only), send a snapshot,
then forward the session group's events; presence (who else is watching) on join and leave.

Fan-out: all the watchers of a session in one web process form a room, and only one of them
(the relay) is in the session's channel-layer group; it hands every event to the whole room.
A push then costs the Redis layer one message per web process, not one per watcher (with
channels_redis each delivered message is several Redis round trips: 100 watchers would mean
hundreds per event)."""

from __future__ import annotations

import asyncio
import json
import logging
import weakref

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from training import presence, selectors
from training.progress import WS_FORMAT_VERSION, group_name

log = logging.getLogger("training")

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403  # also for sessions that do not exist: outsiders learn nothing
CLOSE_LAYER_DOWN = 4503  # the channel layer (Redis) is unreachable: the page keeps its snapshot


class _Room:
    def __init__(self) -> None:
        self.members: dict[str, TrainingSessionConsumer] = {}
        self.relay: str | None = None
        self.lock = asyncio.Lock()


# One set of rooms per event loop (a web process has one; tests get a fresh loop each).
_rooms: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _room_for(session_id: int) -> _Room:
    rooms = _rooms.setdefault(asyncio.get_running_loop(), {})
    return rooms.setdefault(session_id, _Room())


def _is_current(session_id: int, room: _Room) -> bool:
    return _rooms.get(asyncio.get_running_loop(), {}).get(session_id) is room


def _forget_room(session_id: int, room: _Room) -> None:
    if _is_current(session_id, room) and not room.members:
        del _rooms[asyncio.get_running_loop()][session_id]


class TrainingSessionConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None
    # Events that reach this socket before its snapshot went out wait here: a snapshot first,
    # then the stream, in order, nothing lost.
    _held: list[str] | None = None
    _room: _Room | None = None

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
        self._held = []
        try:
            await self._enter_room()
        except Exception:  # Redis down: refuse cleanly, the page falls back to its snapshot
            log.warning("training session %s: channel layer unreachable", self.session_id)
            self.group = None
            await self.close(code=CLOSE_LAYER_DOWN)
            return
        await self.accept()
        watchers = await sync_to_async(presence.join)(
            self.session_id, self.channel_name, user_id=user.pk, username=user.get_username()
        )
        await self._send_snapshot(watchers)
        held, self._held = self._held, None
        for text in held:
            await self.send(text_data=text)
        await self._broadcast_presence(watchers)

    async def disconnect(self, code: int) -> None:
        if not self.group:
            return
        await self._leave_room()
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
        """Only the room's relay receives group messages: encode once, send to everyone."""
        text = json.dumps({"type": "event", "v": WS_FORMAT_VERSION, **event["data"]})
        room = self._room
        for member in list(room.members.values()) if room else [self]:
            await member._deliver(text)

    async def _deliver(self, text: str) -> None:
        if self._held is not None:
            self._held.append(text)
            return
        try:
            await self.send(text_data=text)
        except Exception:  # a socket closing under us must not starve the others
            log.debug("could not deliver to %s", self.channel_name, exc_info=True)

    # ------------------------------------------------------------ room membership
    async def _enter_room(self) -> None:
        while True:
            room = _room_for(self.session_id)
            async with room.lock:
                # The last member of this room may have closed it while we waited for the
                # lock: then join the new one, or two relays would share out the stream.
                if not _is_current(self.session_id, room):
                    continue
                room.members[self.channel_name] = self
                if room.relay is None:
                    await self.channel_layer.group_add(self.group, self.channel_name)
                    room.relay = self.channel_name
                self._room = room
                return

    async def _leave_room(self) -> None:
        room = self._room
        if room is None:
            return
        async with room.lock:
            room.members.pop(self.channel_name, None)
            if room.relay == self.channel_name:
                room.relay = None
                if room.members:  # hand the relay over before leaving the group
                    successor = next(iter(room.members.values()))
                    await self.channel_layer.group_add(self.group, successor.channel_name)
                    room.relay = successor.channel_name
                await self.channel_layer.group_discard(self.group, self.channel_name)
            _forget_room(self.session_id, room)

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
