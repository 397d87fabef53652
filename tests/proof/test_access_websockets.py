"""The websocket half of the access matrix, on the real ASGI application (origin check, session
cookie, token header, URL router): every route of skinplatform.routing.websocket_urlpatterns
must have a policy below, and each is opened by the six subjects.

    ws-notifications     LOGIN      anyone signed in (their own stream); anonymous closed 4401
    ws-training-session  TEAM_READ  owner, member, viewer of the run's team get the snapshot;
                                    outsider and staff (in no team) closed 4403, anonymous 4401

Browsers authenticate with their session cookie and send an Origin header that must be one of
ALLOWED_HOSTS; API clients send `Authorization: Token <key>`.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import URLPattern, URLResolver

from skinplatform.asgi import application
from skinplatform.routing import websocket_urlpatterns
from tests.factories import TeamFactory, UserFactory
from tests.proof.world import SUBJECTS, USERNAMES
from tests.training.factories import EpochMetricFactory, TrainingSessionFactory

LOGIN, TEAM_READ = "LOGIN", "TEAM_READ"
WS_POLICIES = {"ws-notifications": LOGIN, "ws-training-session": TEAM_READ}
ALLOWED = {
    LOGIN: set(SUBJECTS) - {"anonymous"},
    TEAM_READ: {"owner", "member", "viewer"},
}
ORIGIN = (b"origin", b"http://localhost")


def _ws_names(patterns) -> list[str]:
    names = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            names += _ws_names(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            names.append(pattern.name or str(pattern.pattern))
    return names


def test_every_websocket_route_is_classified():
    names = _ws_names(websocket_urlpatterns)
    missing = sorted(set(names) - set(WS_POLICIES))
    assert not missing, f"websocket routes with no policy in {__name__}: {missing}"
    assert not set(WS_POLICIES) - set(names), "policies for websocket routes that are gone"


@database_sync_to_async
def _world() -> dict:
    users = {s: UserFactory(username=n) for s, n in USERNAMES.items()}
    users["staff"].is_staff = users["staff"].is_superuser = True
    users["staff"].save()
    team = TeamFactory(
        owner=users["owner"], members={users["member"]: "member", users["viewer"]: "viewer"}
    )
    session = TrainingSessionFactory(dataset_version__dataset__team=team, status="running")
    EpochMetricFactory(session=session, epoch=1)
    cookies = {}
    for subject, user in users.items():
        client = Client()
        client.force_login(user)
        cookies[subject] = client.cookies["sessionid"].value
    return {"users": users, "session": session, "cookies": cookies}


def _path(name: str, world: dict) -> str:
    return {
        "ws-notifications": "/ws/notifications/",
        "ws-training-session": f"/ws/training/{world['session'].pk}/",
    }[name]


async def _open(path: str, headers: list[tuple[bytes, bytes]]):
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize("name", sorted(WS_POLICIES))
async def test_websocket_access(name: str, subject: str):
    world = await _world()
    headers = [ORIGIN]
    if subject != "anonymous":
        headers.append((b"cookie", f"sessionid={world['cookies'][subject]}".encode()))
    communicator, connected, code = await _open(_path(name, world), headers)
    allowed = subject in ALLOWED[WS_POLICIES[name]]
    assert connected is allowed, f"{name} as {subject}: connected={connected} code={code}"
    if not allowed:
        assert code == (4401 if subject == "anonymous" else 4403), code
        return
    first = await communicator.receive_json_from(timeout=5)
    if name == "ws-notifications":
        assert first == {"type": "hello", "version": 1, "user": USERNAMES[subject]}
    else:
        assert first["type"] == "snapshot"
        assert first["session"]["id"] == world["session"].pk
        assert [e["epoch"] for e in first["epochs"]] == [1]
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("name", sorted(WS_POLICIES))
async def test_a_foreign_origin_is_refused_even_for_the_owner(name: str):
    world = await _world()
    cookie = (b"cookie", f"sessionid={world['cookies']['owner']}".encode())
    foreign = (b"origin", b"https://evil.example")
    _, connected, _ = await _open(_path(name, world), [foreign, cookie])
    assert connected is False
    _, connected, _ = await _open(_path(name, world), [cookie])  # no Origin at all
    assert connected is False


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize(("subject", "allowed"), [("viewer", True), ("outsider", False)])
async def test_the_token_header_follows_the_same_rules(subject: str, allowed: bool):
    from accounts import services

    world = await _world()
    token = await database_sync_to_async(services.api_token_rotate)(user=world["users"][subject])
    headers = [ORIGIN, (b"authorization", f"Token {token.key}".encode())]
    communicator, connected, code = await _open(_path("ws-training-session", world), headers)
    assert connected is allowed, code
    if allowed:
        assert (await communicator.receive_json_from(timeout=5))["type"] == "snapshot"
        await communicator.disconnect()
    else:
        assert code == 4403
