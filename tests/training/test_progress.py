"""The reporter: throttled writes for batches, every epoch/log/status written, every event pushed
to `training.<id>` in the documented shape. Fed with ml.train's real event classes."""

from __future__ import annotations

import asyncio
import contextlib
import math

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from ml.metrics import classification_metrics
from ml.train.events import BatchProgress, EpochEnd, LogLine, RunStarted
from tests.training.factories import TrainingSessionFactory
from training import progress
from training.models import EpochMetric
from training.progress import Reporter, clean_json, group_name

pytestmark = pytest.mark.django_db


@pytest.fixture
def listener():
    """A channel in the session's group: what every watcher's consumer would receive (on the
    in-memory layer, or on Redis in the real-services lane)."""
    layer = get_channel_layer()

    class Listener:
        def join(self, session_id: int) -> None:
            self.channel = async_to_sync(layer.new_channel)()
            async_to_sync(layer.group_add)(group_name(session_id), self.channel)

        def drain(self, expected: int) -> list[dict]:
            progress.flush()

            async def receive() -> list[dict]:
                def one(timeout: float):
                    return asyncio.wait_for(layer.receive(self.channel), timeout)

                out = [await one(5) for _ in range(expected)]
                with contextlib.suppress(TimeoutError):  # and nothing more
                    out.append(await one(0.3))
                return out

            return async_to_sync(receive)()

    return Listener()


def _metrics(loss: float):
    return classification_metrics([0, 1, 1, 0], classes=["a", "b"], y_pred=[0, 1, 0, 0], loss=loss)


def test_group_name_is_the_documented_one():
    assert group_name(42) == "training.42"


def test_batches_are_throttled_but_all_pushed(listener, settings):
    settings.TRAINING_PROGRESS_INTERVAL_S = 60  # only the first and epoch-final batch write
    session = TrainingSessionFactory(status="running", total_epochs=2)
    listener.join(session.pk)
    reporter = Reporter(session.pk)
    for step in range(1, 41):
        reporter(BatchProgress("frozen", "train", 1, step, 40, 1.0 / step, 100.0, 40.0 - step))
    assert reporter.writes == 2
    session.refresh_from_db()
    assert (session.epoch, session.step, session.total_steps) == (1, 40, 40)
    assert session.fraction == 0.5
    messages = listener.drain(40)
    assert len(messages) == 40
    first = messages[0]
    assert first["type"] == "training.progress"
    assert {k: first["data"][k] for k in ("event", "kind", "epoch", "step", "total_steps")} == {
        "event": "batch", "kind": "batch", "epoch": 1, "step": 1, "total_steps": 40,
    }  # fmt: skip
    assert first["data"]["fraction"] == pytest.approx(1 / 40 / 2, abs=1e-4)


def test_batches_write_about_twice_a_second(settings):
    settings.TRAINING_PROGRESS_INTERVAL_S = 0.5
    session = TrainingSessionFactory(status="running", total_epochs=1)
    now = [0.0]
    reporter = Reporter(session.pk, clock=lambda: now[0])
    for step in range(1, 51):  # ten batches a second for five seconds
        now[0] = step / 10
        reporter(BatchProgress("finetune", "train", 1, step, 100, 0.5, 10.0, 1.0))
    assert reporter.writes == 10


def test_every_epoch_and_log_line_is_written(listener):
    session = TrainingSessionFactory(status="running", total_epochs=2)
    listener.join(session.pk)
    reporter = Reporter(session.pk)
    reporter(RunStarted("/r", {}, ("a", "b"), {"train": 8, "val": 4, "test": 4}, {}, 2))
    reporter(LogLine("stage 1: computing features"))
    for epoch in (1, 2):
        val = _metrics(loss=1.0 / epoch)
        reporter(
            EpochEnd("frozen", epoch, 2, _metrics(0.9), val, 1e-3, 1.5, 20.0, "macro_f1",
                     val.macro_f1, epoch == 1, 1)
        )  # fmt: skip
    session.refresh_from_db()
    assert session.classes == ["a", "b"]
    assert session.best_epoch == 1
    assert session.best_metrics["epoch"] == 1
    assert session.best_metrics["macro_f1"] == pytest.approx(_metrics(1.0).macro_f1)
    metrics = list(EpochMetric.objects.filter(session=session).order_by("epoch"))
    assert [m.epoch for m in metrics] == [1, 2]
    assert metrics[1].val_loss == pytest.approx(0.5)
    assert metrics[0].confusion_matrix == [[2, 0], [1, 1]]
    assert metrics[0].per_class["b"]["recall"] == 0.5
    messages = [m["data"] for m in listener.drain(4)]
    assert [m["event"] for m in messages] == ["status", "log", "epoch", "epoch"]
    assert messages[0]["kind"] == "run_started"
    assert messages[2]["epoch"]["macro_f1"] == pytest.approx(metrics[0].macro_f1)
    assert messages[2]["is_best"] is True
    assert [line["message"] for line in session.log_tail][-1] == "stage 1: computing features"


def test_log_tail_is_bounded(settings):
    settings.TRAINING_LOG_TAIL_LINES = 5
    session = TrainingSessionFactory(status="running")
    reporter = Reporter(session.pk)
    for i in range(12):
        reporter(LogLine(f"line {i}"))
    session.refresh_from_db()
    assert [line["message"] for line in session.log_tail] == [f"line {i}" for i in range(7, 12)]


def test_nan_is_never_stored_or_pushed(listener):
    session = TrainingSessionFactory(status="running", total_epochs=1)
    listener.join(session.pk)
    Reporter(session.pk)(BatchProgress("finetune", "train", 1, 10, 10, math.nan, 5.0, math.inf))
    session.refresh_from_db()
    assert session.last_loss is None
    [message] = listener.drain(1)
    assert message["data"]["loss"] is None
    assert message["data"]["eta_s"] is None
    assert clean_json({"a": [1.0, math.nan]}) == {"a": [1.0, None]}


def test_progress_of_a_finished_run_is_not_overwritten(settings):
    session = TrainingSessionFactory(status="cancelled", epoch=3)
    Reporter(session.pk)(BatchProgress("finetune", "train", 4, 1, 10, 0.5, 5.0, 1.0))
    session.refresh_from_db()
    assert session.epoch == 3


def test_pushes_to_redis_go_through_one_background_loop_in_order(settings, redis_url):
    from channels_redis.core import RedisChannelLayer

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": redis_url, "socket_timeout": 15}]},
        }
    }
    session = TrainingSessionFactory(status="running", total_epochs=1)
    watcher = RedisChannelLayer(hosts=[redis_url])
    channel = async_to_sync(watcher.new_channel)()
    async_to_sync(watcher.group_add)(group_name(session.pk), channel)
    reporter = Reporter(session.pk)
    for step in range(1, 21):
        reporter(BatchProgress("finetune", "train", 1, step, 20, 0.5, 10.0, 1.0))
    progress.flush()
    assert progress._publisher is not None  # the Redis path, not a loop per event
    assert progress._publisher.thread.name == "training-publisher"
    assert progress._publisher.thread.is_alive()

    async def receive_all():
        return [await watcher.receive(channel) for _ in range(20)]

    steps = [m["data"]["step"] for m in async_to_sync(receive_all)()]
    assert steps == list(range(1, 21))


def test_preparation_and_final_scoring_do_not_move_the_epoch():
    session = TrainingSessionFactory(status="running", total_epochs=2, epoch=1)
    reporter = Reporter(session.pk)
    reporter(BatchProgress("prepare", "prepare", 0, 25, 100, None, 50.0, 2.0))
    session.refresh_from_db()
    assert (session.epoch, session.stage, session.step) == (1, "prepare", 25)
    reporter(BatchProgress("eval", "eval", 3, 2, 2, None, 50.0, 0.1))  # scoring after epoch 2
    session.refresh_from_db()
    assert (session.epoch, session.step) == (1, 2)  # written, but not as "epoch 3"
