"""The one module of training that talks to the channel layer: the session group name, publish,
and the Reporter that ml.train calls with every event. The database row is the source of truth
(throttled writes through services); the push to `training.<id>` only makes it live."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import DatabaseError, transaction
from django.utils import timezone

from training import conf, signals

log = logging.getLogger("training")

# Version of the websocket message format documented in README (training section).
WS_FORMAT_VERSION = 1


def group_name(session_id: int) -> str:
    return f"training.{session_id}"


class _BackgroundPublisher:
    """One event loop thread per process that sends to a Redis channel layer, in order: one
    persistent connection instead of a new event loop (and connection) per event, and the
    training loop never waits on Redis. Created lazily, after any fork."""

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="training-publisher", daemon=True
        )
        self.thread.start()
        self.queue: asyncio.Queue = asyncio.run_coroutine_threadsafe(
            self._make_queue(), self.loop
        ).result()
        asyncio.run_coroutine_threadsafe(self._drain(), self.loop)

    @staticmethod
    async def _make_queue() -> asyncio.Queue:
        return asyncio.Queue()

    def send(self, group: str, message: dict) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (group, message))

    async def _drain(self) -> None:
        while True:
            group, message = await self.queue.get()
            try:
                await self.layer.group_send(group, message)
            except Exception:  # Redis down: the row already holds the truth
                log.warning("could not push to %s", group, exc_info=True)
            finally:
                self.queue.task_done()

    def flush(self, timeout: float = 5.0) -> None:
        future = asyncio.run_coroutine_threadsafe(self.queue.join(), self.loop)
        try:
            future.result(timeout)
        except TimeoutError:
            future.cancel()


_publisher: _BackgroundPublisher | None = None
_publisher_lock = threading.Lock()


def _background_publisher(layer: Any) -> _BackgroundPublisher | None:
    """Only for Redis: the in-memory layer lives on its own event loop (tests, one process)."""
    global _publisher
    if type(layer).__module__.split(".")[0] != "channels_redis":
        return None
    with _publisher_lock:
        if _publisher is None or _publisher.pid != os.getpid() or _publisher.layer is not layer:
            _publisher = _BackgroundPublisher(layer)
        return _publisher


def publish(session_id: int, data: dict[str, Any]) -> bool:
    """Push one message to every watcher of the session. Returns False (and logs) when the
    layer is unreachable: a push is never worth failing a training run for."""
    layer = get_channel_layer()
    if layer is None:
        return False
    message = {"type": "training.progress", "data": clean_json(data)}
    try:
        publisher = _background_publisher(layer)
        if publisher is not None:
            publisher.send(group_name(session_id), message)
        else:
            async_to_sync(layer.group_send)(group_name(session_id), message)
    except Exception:  # Redis down: the row already holds the truth
        log.warning("could not push to training session %s", session_id, exc_info=True)
        return False
    return True


def flush(timeout: float = 5.0) -> None:
    """Wait until queued pushes are sent (end of a run, benchmarks)."""
    if _publisher is not None and _publisher.pid == os.getpid():
        _publisher.flush(timeout)


def publish_on_commit(session_id: int, data: dict[str, Any]) -> None:
    transaction.on_commit(lambda: publish(session_id, data))


def status_message(session, *, kind: str = "status") -> dict[str, Any]:
    from training.serializers import session_summary

    summary = session_summary(session)
    return {"event": "status", "kind": kind, "status": session.status, "session": summary}


def clean_json(value: Any) -> Any:
    """NaN and infinities are not JSON (PostgreSQL refuses them); they become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


def log_entry(message: str, level: str = "info") -> dict[str, str]:
    return {"at": timezone.now().isoformat(timespec="seconds"), "level": level, "message": message}


class Reporter:
    """`on_event` for ml.train.train: records each event (batch events throttled to about
    2 writes/s; epoch ends, log lines and status events always) and pushes every one of them."""

    def __init__(self, session_id: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        from training.models import TrainingSession

        session = TrainingSession.objects.get(pk=session_id)
        self.session_id = session_id
        self.interval = float(conf.get("TRAINING_PROGRESS_INTERVAL_S"))
        self.total_epochs = session.total_epochs
        self.log = deque(session.log_tail or [], maxlen=int(conf.get("TRAINING_LOG_TAIL_LINES")))
        self.counts: dict[str, int] = {}
        self.writes = 0
        self._clock = clock
        self._last_write = float("-inf")

    def __call__(self, event: Any) -> None:
        data = clean_json(event.to_dict())
        kind = data.get("kind", "event")
        self.counts[kind] = self.counts.get(kind, 0) + 1
        handler = getattr(self, f"_on_{kind}", self._on_other)
        message = handler(data)
        if message is not None:
            publish(self.session_id, {"kind": kind, **message})
        signals.training_event.send(sender=Reporter, session_id=self.session_id, event=event)

    # ------------------------------------------------------------ writes
    def _write(self, **fields: Any) -> None:
        from training import services

        services.training_session_record_progress(session_id=self.session_id, **fields)
        self.writes += 1
        self._last_write = self._clock()

    def _append_log(self, message: str, level: str = "info") -> dict[str, str]:
        entry = log_entry(message, level)
        self.log.append(entry)
        self._write(log_tail=list(self.log))
        return entry

    # ------------------------------------------------------------ handlers
    def _on_run_started(self, data: dict) -> dict:
        self.total_epochs = int(data.get("total_epochs") or self.total_epochs)
        sizes = data.get("split_sizes", {})
        resumed = int(data.get("resumed_from_epoch") or 0)
        text = (
            f"Run started: {sizes.get('train', 0)} train / {sizes.get('val', 0)} validation / "
            f"{sizes.get('test', 0)} test images, {len(data.get('classes', []))} classes, "
            f"{self.total_epochs} epochs, {data.get('threads', 1)} thread(s)"
        )
        if resumed:
            text += f"; resumed after epoch {resumed}"
        self.log.append(log_entry(text))
        self._write(
            total_epochs=self.total_epochs,
            classes=list(data.get("classes", [])),
            epoch=resumed,
            fraction=resumed / max(self.total_epochs, 1),
            log_tail=list(self.log),
        )
        return {
            "event": "status",
            "status": "running",
            "classes": data.get("classes", []),
            "split_sizes": sizes,
            "class_counts": data.get("class_counts", {}),
            "total_epochs": self.total_epochs,
            "resumed_from_epoch": resumed,
        }

    def _on_batch(self, data: dict) -> dict:
        epoch = int(data.get("epoch") or 0)
        step, total = int(data.get("step") or 0), int(data.get("total_steps") or 0)
        within = step / total if total else 0.0
        fraction = data["fraction"] = self._fraction(data.get("phase"), epoch, within)
        due = self._clock() - self._last_write >= self.interval or (total and step >= total)
        if due:
            fields = {
                "stage": data.get("stage", ""),
                "step": step,
                "total_steps": total,
                "eta_s": data.get("eta_s"),
                "images_per_s": data.get("images_per_s"),
            }
            if data.get("phase") == "train":  # reading images, features, scoring: no epoch
                fields["epoch"] = min(epoch, self.total_epochs or epoch)
            if fraction is not None:
                fields["fraction"] = fraction
            if data.get("loss") is not None:
                fields["last_loss"] = data["loss"]
            try:
                self._write(**fields)
            except DatabaseError:  # a busy database must not stop the run; the next write wins
                log.warning("progress write failed for session %s", self.session_id, exc_info=True)
        return {"event": "batch", **{k: v for k, v in data.items() if k != "kind"}}

    def _fraction(self, phase: str | None, epoch: int, within: float) -> float | None:
        """Overall progress over all epochs; None while preparing (reading images, features),
        which has no place on the epoch axis."""
        if phase not in ("train", "eval") or not self.total_epochs or epoch < 1:
            return None
        done = (epoch - 1 + (within if phase == "train" else 1.0)) / self.total_epochs
        return round(min(done, 1.0), 4)

    def _on_epoch_end(self, data: dict) -> dict:
        from training import services

        metric = services.epoch_metric_record(session_id=self.session_id, event=data)
        epoch = int(data["epoch"])
        fields: dict[str, Any] = {
            "epoch": epoch,
            "stage": data.get("stage", ""),
            "fraction": round(epoch / max(self.total_epochs, 1), 4),
            "step": 0,
        }
        if data.get("is_best"):
            fields["best_epoch"] = epoch
            fields["best_metrics"] = _summary(data.get("val") or data.get("train") or {}, epoch)
        self._write(**fields)
        from training.serializers import epoch_dict

        return {
            "event": "epoch",
            "epoch": epoch_dict(metric),
            "is_best": bool(data.get("is_best")),
            "best_epoch": data.get("best_epoch"),
            "metric": data.get("metric"),
            "value": data.get("value"),
            "total_epochs": data.get("total_epochs"),
        }

    def _on_log(self, data: dict) -> dict:
        entry = self._append_log(str(data.get("message", "")), str(data.get("level", "info")))
        return {"event": "log", "line": entry}

    def _on_checkpoint(self, data: dict) -> dict:
        label = "best + last" if data.get("best") else "last"
        entry = self._append_log(f"Checkpoint saved after epoch {data.get('epoch')} ({label})")
        return {"event": "log", "line": entry, "checkpoint": data}

    def _on_finished(self, data: dict) -> dict:
        result = data.get("result") or {}
        entry = self._append_log(
            f"Finished: {result.get('epochs_completed')} epochs, best epoch "
            f"{result.get('best_epoch')} ({result.get('metric')} {_fmt(result.get('best_value'))})"
        )
        return {"event": "log", "line": entry, "result": _result_summary(result)}

    def _on_failed(self, data: dict) -> dict:
        entry = self._append_log(
            f"Failed in epoch {data.get('epoch')}: {data.get('error')}", "error"
        )
        return {"event": "log", "line": entry}

    def _on_cancelled(self, data: dict) -> dict:
        entry = self._append_log(
            f"Cancelled in epoch {data.get('epoch')} at step {data.get('step')}", "warning"
        )
        return {"event": "log", "line": entry}

    def _on_other(self, data: dict) -> dict:
        return {"event": "log", "line": log_entry(str(data))}


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


SUMMARY_KEYS = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "roc_auc", "loss", "n")


def _summary(metrics: dict, epoch: int | None = None) -> dict:
    out = {k: metrics.get(k) for k in SUMMARY_KEYS if metrics.get(k) is not None}
    if epoch is not None:
        out["epoch"] = epoch
    return out


def _result_summary(result: dict) -> dict:
    return {
        "status": result.get("status"),
        "epochs_completed": result.get("epochs_completed"),
        "best_epoch": result.get("best_epoch"),
        "metric": result.get("metric"),
        "best_value": result.get("best_value"),
        "val": _summary(result.get("val") or {}),
        "test": _summary(result.get("test") or {}),
        "stopped_early": result.get("stopped_early"),
        "seconds": result.get("seconds"),
    }


def result_summary(result: dict) -> dict:
    return _result_summary(clean_json(result))


def metrics_summary(metrics: dict | None) -> dict:
    return _summary(clean_json(metrics or {}))
