"""The training task on real (tiny, synthetic) data with the real ml.train loop: events to a
websocket client, cancel within a batch, a crash then a resume from the checkpoint, the
stale-heartbeat sweep, and a run never starting twice."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.core import mail
from django.db import connection
from django.utils import timezone

from accounts.models import Notification
from tests.training.conftest import TINY_TRAIN
from tests.training.factories import TrainingSessionFactory
from training import services, signals, tasks
from training.models import EpochMetric, TrainingSession
from training.routing import websocket_urlpatterns

pytestmark = pytest.mark.slow


def _start(version, user, callbacks, **train):
    """Start through the service; the enqueue (on commit) is held so the test runs the task."""
    with callbacks(execute=False) as held:
        session = services.training_session_start(
            user=user, dataset_version=version, name="tiny", train={**TINY_TRAIN, **train}
        )
    assert len(held) == 1  # exactly one enqueue, after commit
    return session


# ---------------------------------------------------------------- events reach a websocket
@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_real_tiny_training_streams_its_events_to_a_watcher(
    ready_version, member_user, monkeypatch, settings
):
    """Start through the service into the real (ORM) broker, watch with a websocket client,
    run the exact task message that was queued, and see the run arrive event by event."""
    from django_q.conf import Conf
    from django_q.models import OrmQ

    settings.TRAINING_HEARTBEAT_S = 60  # no concurrent writer on the in-memory test database
    monkeypatch.setattr(Conf, "SYNC", False)
    session = await database_sync_to_async(services.training_session_start)(
        user=member_user, dataset_version=ready_version, name="tiny", train=TINY_TRAIN
    )
    queued = await database_sync_to_async(lambda: list(OrmQ.objects.all()))()
    assert [(q.func(), q.task["args"]) for q in queued] == [
        ("training.tasks.run_training_session", (session.pk,))
    ]

    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), session.ws_path)
    communicator.scope["user"] = member_user
    connected, _ = await communicator.connect()
    assert connected
    snapshot = await communicator.receive_json_from(timeout=10)
    assert (snapshot["type"], snapshot["session"]["status"]) == ("snapshot", "queued")
    assert snapshot["epochs"] == []

    func = queued[0].task["func"]
    assert func == "training.tasks.run_training_session"
    result = await sync_to_async(_run_in_worker_thread, thread_sensitive=False)(
        *queued[0].task["args"]
    )
    assert result["status"] == "finished"

    messages = []
    while not messages or messages[-1].get("status") != "done" or "session" not in messages[-1]:
        messages.append(await communicator.receive_json_from(timeout=5))
    await communicator.disconnect()
    kinds = [m.get("kind") for m in messages]
    for kind in ("run_started", "batch", "epoch_end", "checkpoint", "finished"):
        assert kind in kinds, kinds
    first_train_batch = next(i for i, m in enumerate(messages) if m.get("phase") == "train")
    assert kinds.index("run_started") < first_train_batch < kinds.index("finished")
    assert messages[first_train_batch]["loss"] > 0
    assert 0 < messages[first_train_batch]["fraction"] <= 1
    epochs = [m["epoch"]["epoch"] for m in messages if m.get("event") == "epoch"]
    assert epochs == [1, 2]
    assert {m["type"] for m in messages} == {"event"}
    statuses = [m["status"] for m in messages if m.get("event") == "status" and "session" in m]
    assert statuses[0] == "running"
    assert statuses[-1] == "done"
    first_epoch = next(m for m in messages if m.get("event") == "epoch")["epoch"]
    assert set(first_epoch["per_class"]) == {"blue", "red"}
    assert len(first_epoch["confusion_matrix"]) == 2

    session = await database_sync_to_async(TrainingSession.objects.get)(pk=session.pk)
    assert session.status == "done"
    assert session.fraction == 1.0
    assert session.best_epoch in (1, 2)
    assert Path(session.best_checkpoint).is_file()
    assert session.test_metrics["n"] > 0
    assert session.classes == ["blue", "red"]
    assert session.attempt == 1
    rows = await database_sync_to_async(lambda: list(EpochMetric.objects.filter(session=session)))()
    assert [(r.epoch, r.stage) for r in rows] == [(1, "frozen"), (2, "finetune")]
    assert all(r.macro_f1 is not None and r.train_loss is not None for r in rows)
    # Everyone in the team is told, in the app and by e-mail.
    titles = await database_sync_to_async(
        lambda: sorted(Notification.objects.values_list("user__username", flat=True))
    )()
    assert titles == ["alice", "bob", "vera"]
    assert len(mail.outbox) == 3
    assert "finished" in mail.outbox[0].subject


def _run_in_worker_thread(session_id: int) -> dict:
    """The task on a thread of its own, as in a worker; its connection closes with it."""
    try:
        return tasks.run_training_session(session_id)
    finally:
        connection.close()


# ---------------------------------------------------------------- through q2 (sync)
@pytest.mark.django_db
def test_start_runs_the_task_through_django_q(
    ready_version, member_user, django_capture_on_commit_callbacks
):
    from django_q.models import Task

    with django_capture_on_commit_callbacks(execute=True):
        session = services.training_session_start(
            user=member_user, dataset_version=ready_version, train=TINY_TRAIN
        )
    session.refresh_from_db()
    assert session.status == "done", session.error
    task = Task.objects.get(func="training.tasks.run_training_session")
    assert task.success
    assert task.args == (session.pk,)


# ---------------------------------------------------------------- never twice
@pytest.mark.django_db
def test_a_run_never_starts_twice(ready_version, member_user, django_capture_on_commit_callbacks):
    session = _start(ready_version, member_user, django_capture_on_commit_callbacks)
    assert services.training_session_mark_running(session_id=session.pk) is True
    # A second copy of the task (another cluster, a broker retry) finds it taken.
    assert tasks.run_training_session(session.pk) == {
        "session": session.pk,
        "skipped": "not queued",
    }
    session.refresh_from_db()
    assert (session.status, session.attempt) == ("running", 1)
    assert not EpochMetric.objects.exists()


# ---------------------------------------------------------------- cancel
@pytest.mark.django_db
def test_cancel_stops_within_one_batch(
    ready_version, member_user, django_capture_on_commit_callbacks
):
    session = _start(
        ready_version, member_user, django_capture_on_commit_callbacks,
        frozen_epochs=0, finetune_epochs=3, batch_size=2,
    )  # fmt: skip
    seen: list[tuple[str, str | None]] = []

    def cancel_after_first_train_batch(sender, session_id, event, **kwargs):
        seen.append((event.kind, getattr(event, "phase", None)))
        if (event.kind, getattr(event, "phase", None)) == ("batch", "train") and seen.count(
            ("batch", "train")
        ) == 1:
            row = TrainingSession.objects.get(pk=session_id)
            services.training_session_cancel(session=row, user=member_user)

    signals.training_event.connect(cancel_after_first_train_batch)
    try:
        result = tasks.run_training_session(session.pk)
    finally:
        signals.training_event.disconnect(cancel_after_first_train_batch)
    assert result["status"] == "cancelled"
    session.refresh_from_db()
    assert session.status == "cancelled"
    assert seen.count(("batch", "train")) == 1  # not one batch more
    assert seen[-1][0] == "cancelled"
    assert not EpochMetric.objects.filter(session=session).exists()
    assert any("Cancelled in epoch 1" in line["message"] for line in session.log_tail)
    assert Notification.objects.filter(title__contains="was cancelled").count() == 3


# ---------------------------------------------------------------- crash, then resume
@pytest.mark.django_db
def test_a_crash_fails_the_run_and_resume_continues_from_the_checkpoint(
    ready_version, member_user, monkeypatch, django_capture_on_commit_callbacks
):
    import ml.train.loop

    session = _start(ready_version, member_user, django_capture_on_commit_callbacks)
    real_finetune = ml.train.loop.finetune_stage

    def crash(*args, **kwargs):  # the worker dies right after epoch 1 (stage 1) was saved
        raise RuntimeError("simulated crash in stage 2")

    monkeypatch.setattr(ml.train.loop, "finetune_stage", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        tasks.run_training_session(session.pk)
    session.refresh_from_db()
    assert session.status == "failed"
    assert "RuntimeError: simulated crash in stage 2" in session.error
    last = Path(session.run_dir) / "checkpoints" / "last.pt"
    assert last.is_file()
    assert list(session.epochs.values_list("epoch", flat=True)) == [1]
    assert any(line["level"] == "error" for line in session.log_tail)

    monkeypatch.setattr(ml.train.loop, "finetune_stage", real_finetune)
    with django_capture_on_commit_callbacks(execute=True):
        services.training_session_resume(session=session, user=member_user)
    session.refresh_from_db()
    assert session.status == "done", session.error
    assert session.error == ""
    assert session.attempt == 2
    assert list(session.epochs.values_list("epoch", "stage")) == [(1, "frozen"), (2, "finetune")]
    messages = [line["message"] for line in session.log_tail]
    assert any("resumed after epoch 1" in m for m in messages)


@pytest.mark.django_db
def test_a_dead_worker_is_swept_and_the_run_resumes(
    ready_version, member_user, monkeypatch, django_capture_on_commit_callbacks
):
    """kill -9 leaves a RUNNING row whose heartbeat stops. The sweep re-queues it and the
    re-run continues from last.pt."""
    import ml.train.loop

    session = _start(ready_version, member_user, django_capture_on_commit_callbacks)
    real_finetune = ml.train.loop.finetune_stage
    monkeypatch.setattr(ml.train.loop, "finetune_stage", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        tasks.run_training_session(session.pk)
    monkeypatch.setattr(ml.train.loop, "finetune_stage", real_finetune)
    # What a killed worker leaves behind: still "running", heartbeat two minutes old.
    TrainingSession.objects.filter(pk=session.pk).update(
        status="running", error="", heartbeat_at=timezone.now() - timedelta(minutes=2)
    )
    with django_capture_on_commit_callbacks(execute=True):
        outcome = tasks.run_stale_session_sweep()
    assert outcome == {"resumed": [session.pk], "failed": []}
    session.refresh_from_db()
    assert session.status == "done", session.error
    assert session.auto_resumes == 1
    assert list(session.epochs.values_list("epoch", flat=True)) == [1, 2]
    assert any("stopped responding" in line["message"] for line in session.log_tail)


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_advances_while_a_run_is_alive(fast_training):
    session = TrainingSessionFactory(
        status="running", heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    beat = tasks._Heartbeat(session.pk)
    beat.start()
    try:
        deadline = timezone.now() + timedelta(seconds=5)
        while timezone.now() < deadline:
            session.refresh_from_db()
            if session.heartbeat_at > timezone.now() - timedelta(seconds=5):
                break
    finally:
        beat.stop()
    assert session.heartbeat_at > timezone.now() - timedelta(seconds=5)
    assert not beat.is_alive()
