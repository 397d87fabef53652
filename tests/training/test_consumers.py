"""The session websocket: who may connect, the snapshot, the stream, presence, reconnects."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from accounts import services as account_services
from accounts.auth import TokenAuthMiddleware
from tests.factories import TeamFactory, UserFactory
from tests.training.factories import EpochMetricFactory, TrainingSessionFactory
from training import progress
from training.routing import websocket_urlpatterns

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

app = TokenAuthMiddleware(URLRouter(websocket_urlpatterns))


@database_sync_to_async
def _world():
    alice, bob, vera, carol = (UserFactory(username=n) for n in ("alice", "bob", "vera", "carol"))
    team = TeamFactory(owner=alice, members={bob: "member", vera: "viewer"})
    session = TrainingSessionFactory(
        dataset_version__dataset__team=team,
        status="running",
        log_tail=[{"at": "2026-01-01T00:00:00", "level": "info", "message": "hello"}],
    )
    EpochMetricFactory(session=session, epoch=1)
    return {"alice": alice, "bob": bob, "vera": vera, "carol": carol, "session": session}


async def _connect(user, session_id: int, headers=None):
    communicator = WebsocketCommunicator(app, f"/ws/training/{session_id}/", headers=headers or [])
    communicator.scope["user"] = user if user is not None else AnonymousUser()
    connected, code = await communicator.connect()
    return communicator, connected, code


async def _next(communicator, event: str) -> dict:
    """The next message of one kind (presence broadcasts may interleave)."""
    for _ in range(20):
        message = await communicator.receive_json_from(timeout=2)
        if message.get("event", message.get("type")) == event:
            return message
    raise AssertionError(f"no {event} message")


@pytest.mark.parametrize(
    ("who", "allowed", "code"),
    [
        (None, False, 4401),
        ("carol", False, 4403),
        ("vera", True, None),
        ("bob", True, None),
        ("alice", True, None),
    ],
)
async def test_access_matrix(who, allowed, code):
    world = await _world()
    communicator, connected, close_code = await _connect(
        world[who] if who else None, world["session"].pk
    )
    assert connected is allowed
    if allowed:
        snapshot = await communicator.receive_json_from(timeout=10)
        assert snapshot["type"] == "snapshot"
        await communicator.disconnect()
    else:
        assert close_code == code


async def test_unknown_session_looks_like_a_foreign_one():
    world = await _world()
    _, connected, code = await _connect(world["alice"], 999_999)
    assert (connected, code) == (False, 4403)


async def test_token_header_authenticates_api_clients():
    world = await _world()
    token = await database_sync_to_async(account_services.api_token_rotate)(user=world["bob"])
    communicator, connected, _ = await _connect(
        None, world["session"].pk, headers=[(b"authorization", f"Token {token.key}".encode())]
    )
    assert connected
    assert (await communicator.receive_json_from(timeout=10))["watchers"][0]["username"] == "bob"
    await communicator.disconnect()


async def test_snapshot_then_stream_reach_every_watcher_alike():
    world = await _world()
    session = world["session"]
    alice, _, _ = await _connect(world["alice"], session.pk)
    snapshot = await alice.receive_json_from(timeout=10)
    assert snapshot["v"] == progress.WS_FORMAT_VERSION
    assert snapshot["session"]["id"] == session.pk
    assert snapshot["session"]["status"] == "running"
    assert [e["epoch"] for e in snapshot["epochs"]] == [1]
    assert snapshot["log_tail"][0]["message"] == "hello"
    bob, _, _ = await _connect(world["bob"], session.pk)
    await bob.receive_json_from(timeout=10)  # his snapshot

    epoch = {"event": "epoch", "kind": "epoch_end", "epoch": {"epoch": 2, "macro_f1": 0.7}}
    await database_sync_to_async(progress.publish)(session.pk, epoch)
    seen_by_alice = await _next(alice, "epoch")
    seen_by_bob = await _next(bob, "epoch")
    assert seen_by_alice == seen_by_bob == {"type": "event", "v": 1, **epoch}
    await alice.disconnect()
    await bob.disconnect()


async def test_other_sessions_events_do_not_leak():
    world = await _world()
    other = await database_sync_to_async(TrainingSessionFactory)(
        dataset_version__dataset__team=world["session"].team
    )
    communicator, _, _ = await _connect(world["alice"], world["session"].pk)
    await communicator.receive_json_from(timeout=10)
    await _next(communicator, "presence")
    await database_sync_to_async(progress.publish)(other.pk, {"event": "log", "line": {}})
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_presence_shows_who_else_is_watching():
    world = await _world()
    session_id = world["session"].pk
    alice, _, _ = await _connect(world["alice"], session_id)
    assert [w["username"] for w in (await alice.receive_json_from(timeout=10))["watchers"]] == [
        "alice"
    ]
    bob, _, _ = await _connect(world["bob"], session_id)
    assert [w["username"] for w in (await bob.receive_json_from(timeout=10))["watchers"]] == [
        "alice",
        "bob",
    ]
    joined = await _next(alice, "presence")
    while [w["username"] for w in joined["watchers"]] != ["alice", "bob"]:
        joined = await _next(alice, "presence")
    second_tab, _, _ = await _connect(world["bob"], session_id)
    tabs = (await second_tab.receive_json_from(timeout=10))["watchers"]
    assert {w["username"]: w["connections"] for w in tabs} == {"alice": 1, "bob": 2}
    await second_tab.disconnect()
    await bob.disconnect()
    left = await _next(alice, "presence")
    while [w["username"] for w in left["watchers"]] != ["alice"]:
        left = await _next(alice, "presence")
    await alice.disconnect()


async def test_reconnect_gets_a_fresh_snapshot_and_ping_answers():
    world = await _world()
    session = world["session"]
    first, _, _ = await _connect(world["bob"], session.pk)
    await first.receive_json_from(timeout=10)
    await first.disconnect()
    await database_sync_to_async(EpochMetricFactory)(session=session, epoch=2)
    again, _, _ = await _connect(world["bob"], session.pk)
    snapshot = await again.receive_json_from(timeout=10)
    assert [e["epoch"] for e in snapshot["epochs"]] == [1, 2]  # what was missed is in it
    await again.send_json_to({"type": "ping"})
    assert (await _next(again, "pong"))["type"] == "pong"
    await again.send_json_to({"type": "snapshot"})
    assert (await _next(again, "snapshot"))["session"]["id"] == session.pk
    await again.disconnect()


async def test_the_room_keeps_streaming_when_its_relay_leaves():
    """One watcher per web process relays the group's events to the others; when it goes,
    another takes over."""
    world = await _world()
    session = world["session"]
    first, _, _ = await _connect(world["alice"], session.pk)  # the relay
    others = []
    for who in ("bob", "vera"):
        communicator, _, _ = await _connect(world[who], session.pk)
        others.append(communicator)
    await first.disconnect()
    for n in (2, 3):
        epoch = {"event": "epoch", "kind": "epoch_end", "epoch": {"epoch": n}}
        await database_sync_to_async(progress.publish)(session.pk, epoch)
        for communicator in others:
            assert (await _next(communicator, "epoch"))["epoch"]["epoch"] == n
    for communicator in others:
        await communicator.disconnect()


async def test_events_during_the_snapshot_wait_for_it(monkeypatch):
    """An event published while a newcomer's snapshot is being read reaches it after the
    snapshot, not before and not never."""
    from training import selectors

    world = await _world()
    session = world["session"]
    relay, _, _ = await _connect(world["alice"], session.pk)
    await relay.receive_json_from(timeout=10)
    real = selectors.training_session_snapshot

    def snapshot_while_an_epoch_lands(**kwargs):
        progress.publish(session.pk, {"event": "epoch", "kind": "epoch_end", "epoch": {"epoch": 7}})
        return real(**kwargs)

    monkeypatch.setattr(selectors, "training_session_snapshot", snapshot_while_an_epoch_lands)
    newcomer, _, _ = await _connect(world["bob"], session.pk)
    first = await newcomer.receive_json_from(timeout=10)
    assert first["type"] == "snapshot"
    assert (await _next(newcomer, "epoch"))["epoch"]["epoch"] == 7
    await newcomer.disconnect()
    await relay.disconnect()


async def test_newcomers_while_the_last_watcher_leaves_share_one_relay(monkeypatch):
    """The last watcher closes the room while newcomers wait to enter it (a slow Redis makes
    the window wide): they must end up in one room with one relay in the group, not in a
    closed room with a second relay beside a new one."""
    from channels.layers import get_channel_layer

    world = await _world()
    session = world["session"]
    layer = get_channel_layer()
    real_discard = layer.group_discard

    async def slow_discard(group, channel):
        await asyncio.sleep(0.1)
        await real_discard(group, channel)

    monkeypatch.setattr(layer, "group_discard", slow_discard)
    leaving, _, _ = await _connect(world["alice"], session.pk)
    await leaving.receive_json_from(timeout=10)
    first, second, _ = await asyncio.gather(
        _connect_after(world["bob"], session.pk, 0.02),
        _connect_after(world["vera"], session.pk, 0.2),
        leaving.disconnect(),
    )
    newcomers = [first[0], second[0]]
    for communicator in newcomers:
        await communicator.receive_json_from(timeout=10)  # snapshot
    assert await _group_size(layer, progress.group_name(session.pk)) == 1
    epoch = {"event": "epoch", "kind": "epoch_end", "epoch": {"epoch": 5}}
    await database_sync_to_async(progress.publish)(session.pk, epoch)
    for communicator in newcomers:
        assert (await _next(communicator, "epoch"))["epoch"]["epoch"] == 5
        while not await communicator.receive_nothing(timeout=0.2):  # once, not twice
            assert (await communicator.receive_json_from(timeout=10)).get("event") != "epoch"
        await communicator.disconnect()


async def _connect_after(user, session_id: int, delay: float):
    await asyncio.sleep(delay)
    return await _connect(user, session_id)


async def _group_size(layer, group: str) -> int:
    if hasattr(layer, "groups"):  # the in-memory layer
        return len(layer.groups.get(group, {}))
    connection = layer.connection(layer.consistent_hash(group))  # Redis (real-services lane)
    return await connection.zcard(layer._group_key(group))
