"""Faults the pages and the training task must survive.

(a) Redis down: the Channels layer points at a port nobody listens on. Pages never depend on the
    layer: the home page and a running session's page still answer 200 and carry what the live
    view starts from (the session snapshot in #session-initial, the dashboard's run list) and the
    #live-notice element that static/js/live.js fills when the socket cannot stay open
    (static/training/session.js: "Live updates unavailable, refreshing every few seconds.").
    A stale run swept while the page renders publishes its status change into the dead layer on
    commit: still 200, and the row holds the truth. The session socket itself fails at once (it
    neither opens nor hangs), which is what makes the page fall back.

(b) The same training task delivered twice at the very same moment (two worker threads released
    by one barrier right before the claim): exactly one runs it, the other returns "not queued";
    one attempt, each epoch recorded once. tests/training/test_tasks.py only checks the sequential
    case (claimed first, second copy later); test_fault_two_clusters.py does it with processes.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from datetime import timedelta

import pytest
import redis
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone

from tests.factories import TeamFactory, UserFactory
from tests.training.conftest import TINY_TRAIN
from tests.training.factories import TrainingSessionFactory, make_zip


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed on exit: nothing listens there


@pytest.fixture
def redis_down(settings):
    port = _closed_port()
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{port}/0"]},
        }
    }
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    assert type(layer).__name__ == "RedisChannelLayer"
    with pytest.raises(redis.exceptions.ConnectionError):  # the layer really is down
        async_to_sync(layer.group_send)("proof", {"type": "proof.ping"})
    return port


def _json_script(html: str, element_id: str) -> dict:
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, f"no #{element_id} in the page"
    return json.loads(match.group(1))


@pytest.mark.django_db
def test_redis_down_pages_still_serve_the_snapshot_and_the_notice(redis_down, running):
    alice, session = running
    client = Client()
    client.force_login(alice)

    home = client.get("/")
    assert home.status_code == 200
    page = home.content.decode()
    assert 'id="live-notice"' in page
    assert 'data-notifications-ws="/ws/notifications/"' in page
    assert "live run" in page  # the dashboard's run list, with the live epoch
    assert "epoch 1/2" in page

    detail = client.get(f"/training/sessions/{session.pk}/")
    assert detail.status_code == 200
    page = detail.content.decode()
    assert 'id="live-notice"' in page
    assert "js/live.js" in page
    assert "training/session.js" in page
    initial = _json_script(page, "session-initial")
    assert initial["session"]["id"] == session.pk
    assert initial["session"]["status"] == "running"
    assert [e["epoch"] for e in initial["epochs"]] == [1]
    assert initial["log_tail"][-1]["message"] == "epoch 1 done"

    api = client.get(f"/api/training/sessions/{session.pk}")  # the polling fallback's source
    assert api.status_code == 200
    assert api.json()["status"] == "running"


@pytest.mark.django_db
def test_redis_down_a_stale_run_swept_by_its_page_still_renders(
    redis_down, running, settings, django_capture_on_commit_callbacks
):
    alice, session = running
    type(session).objects.filter(pk=session.pk).update(
        heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    client = Client()
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.get(f"/training/sessions/{session.pk}/")
    assert response.status_code == 200
    assert callbacks, "the sweep published nothing: the dead layer was not exercised"
    session.refresh_from_db()
    assert session.status == "failed"  # no checkpoint to resume from
    initial = _json_script(response.content.decode(), "session-initial")
    assert initial["session"]["status"] == "failed"
    assert 'id="live-notice"' in response.content.decode()


# ---------------------------------------------------------------- one claim for two copies


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_copies_of_the_run_task_at_once_run_it_once(
    tmp_path, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from training import services, tasks
    from training.models import EpochMetric

    settings.TRAINING_HEARTBEAT_S = 60  # no third writer on the in-memory test database
    settings.TORCH_THREADS = 1
    alice = UserFactory(username="alice")
    team = TeamFactory(owner=alice)
    archive = make_zip(tmp_path / "two.zip")
    with django_capture_on_commit_callbacks(execute=True):  # extraction + validation (q2 sync)
        version, _ = services.dataset_upload(
            team=team,
            user=alice,
            name="colours",
            task="colours",
            archive=SimpleUploadedFile("two.zip", archive.read_bytes()),
        )
    version.refresh_from_db()
    assert version.status == "ready", version.error
    from django_q.conf import Conf
    from django_q.models import OrmQ

    monkeypatch.setattr(Conf, "SYNC", False)  # queued in the ORM broker, not run here
    session = services.training_session_start(
        user=alice, dataset_version=version, name="tiny", train=TINY_TRAIN
    )
    queued = [q.task for q in OrmQ.objects.all()]
    assert [(t["func"], t["args"]) for t in queued] == [
        ("training.tasks.run_training_session", (session.pk,))
    ]  # one message; the two threads below are it delivered twice

    barrier = threading.Barrier(2, timeout=30)
    real_claim = services.training_session_mark_running
    claims: list[bool] = []

    def claim_together(*, session_id: int) -> bool:
        barrier.wait()  # both copies reach the claim together
        try:
            claimed = real_claim(session_id=session_id)
        except OperationalError as exc:
            # Only the in-memory SQLite test database (shared cache: no busy wait) may refuse
            # the second concurrent writer outright; that copy then never runs the session.
            if connection.vendor != "sqlite" or "locked" not in str(exc):
                raise
            claims.append("locked")
            raise
        claims.append(claimed)
        return claimed

    monkeypatch.setattr(services, "training_session_mark_running", claim_together)
    results: list[dict] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(tasks.run_training_session(session.pk))
        except BaseException as exc:  # reported below, with the thread's result
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert claims.count(True) == 1, claims
    assert len(claims) == 2, claims
    locked = claims.count("locked")
    assert len(errors) == locked, errors
    ran = [r for r in results if not r.get("skipped")]
    assert [r["status"] for r in ran] == ["finished"], ran
    skipped = [r for r in results if r.get("skipped")]
    assert skipped == [{"session": session.pk, "skipped": "not queued"}] * (1 - locked)

    session.refresh_from_db()
    assert (session.status, session.attempt) == ("done", 1), session.error
    epochs = EpochMetric.objects.filter(session=session).order_by("epoch")
    epochs = list(epochs.values_list("epoch", flat=True))
    assert epochs == list(range(1, session.total_epochs + 1))


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_redis_down_the_session_socket_fails_fast_instead_of_hanging(redis_down):
    """With the layer down the consumer cannot join its group: it closes the handshake with
    4503 (no unhandled error), live.js retries with back-off and session.js shows the notice
    and polls. What must not happen is a socket that hangs open or never answers."""
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from skinplatform.asgi import application

    @database_sync_to_async
    def world():
        alice = UserFactory(username="alice")
        team = TeamFactory(owner=alice)
        session = TrainingSessionFactory(dataset_version__dataset__team=team, status="running")
        client = Client()
        client.force_login(alice)
        return session, client.cookies["sessionid"].value

    session, cookie = await world()
    communicator = WebsocketCommunicator(
        application,
        f"/ws/training/{session.pk}/",
        headers=[(b"origin", b"http://localhost"), (b"cookie", f"sessionid={cookie}".encode())],
    )
    try:
        connected, outcome = await communicator.connect(timeout=5)
    except TimeoutError:
        pytest.fail("the socket neither opened nor closed within 5 s")
    assert (connected, outcome) == (False, 4503)
