"""django-q2 entry points of training: take ids, load rows, call services and ml/, record the
outcome through services. torch and ml.train are imported inside the functions, never at module
level: q2 forks its workers, and torch's OpenMP deadlocks in a child forked after it loaded."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from training import conf, progress, services
from training.data import load_training_data
from training.models import DatasetVersion, TrainingSession
from training.services.sessions import (
    cancel_flag_cached,
    cancel_flag_clear,
    training_session_should_stop,
)

log = logging.getLogger("training")


# ---------------------------------------------------------------- datasets
def run_dataset_version_process(version_id: int) -> dict:
    try:
        version = services.dataset_version_process(version_id=version_id)
    except Exception as exc:
        # Never leave a version "extracting"/"validating" behind a crash.
        DatasetVersion.objects.filter(
            pk=version_id,
            status__in=[DatasetVersion.Status.EXTRACTING, DatasetVersion.Status.VALIDATING],
        ).update(
            status=DatasetVersion.Status.FAILED,
            error=f"Processing failed unexpectedly: {type(exc).__name__}: {exc}",
        )
        raise
    if version is None:
        return {"version": version_id, "skipped": "not queued"}
    return {"version": version_id, "status": version.status}


# ---------------------------------------------------------------- training
class _Heartbeat(threading.Thread):
    """Touches heartbeat_at every few seconds while the run is alive, on its own connection.
    When the worker process dies, the heartbeats stop and the stale sweep notices."""

    def __init__(self, session_id: int) -> None:
        super().__init__(name=f"training-heartbeat-{session_id}", daemon=True)
        self.session_id = session_id
        self.interval = float(conf.get("TRAINING_HEARTBEAT_S"))
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            while not self._halt.wait(self.interval):
                try:
                    if not services.training_session_heartbeat(session_id=self.session_id):
                        return
                except Exception:  # a missed heartbeat is retried at the next tick
                    log.warning("heartbeat failed for session %s", self.session_id, exc_info=True)
        finally:
            connection.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


class _StopPoller:
    """should_stop() for ml.train: polled every batch. The cache flag set by the cancel service
    is read every call (cheap), the database row at most once per TRAINING_CANCEL_POLL_S."""

    def __init__(self, session_id: int) -> None:
        self.session_id = session_id
        self.interval = float(conf.get("TRAINING_CANCEL_POLL_S"))
        self._next_db_read = 0.0
        self.stop = False

    def __call__(self) -> bool:
        if self.stop:
            return True
        if cancel_flag_cached(self.session_id):
            # The row confirms it: a flag left in the cache by an earlier attempt (its delete
            # lost while the cache was down) never cancels a resumed run.
            self.stop = training_session_should_stop(session_id=self.session_id)
            if not self.stop:
                cancel_flag_clear(self.session_id)
        elif time.monotonic() >= self._next_db_read:
            self._next_db_read = time.monotonic() + self.interval
            self.stop = training_session_should_stop(session_id=self.session_id)
        return self.stop


def run_training_session(session_id: int) -> dict:
    """Claim the run (a second copy of this task returns at once), train, record the outcome."""
    if not services.training_session_mark_running(session_id=session_id):
        return {"session": session_id, "skipped": "not queued"}
    heartbeat = _Heartbeat(session_id)
    heartbeat.start()
    try:
        result = _train(TrainingSession.objects.get(pk=session_id))
    except Exception as exc:
        log.exception("training session %s failed", session_id)
        services.training_session_fail(session_id=session_id, error=_describe(exc))
        progress.flush()
        raise
    finally:
        heartbeat.stop()
    if result.status == "cancelled":
        services.training_session_mark_cancelled(session_id=session_id)
    else:
        services.training_session_complete(session_id=session_id, result=result.to_dict())
    progress.flush()  # the last events leave before the worker takes another task
    return {"session": session_id, "status": result.status, "epochs": result.epochs_completed}


def _describe(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    place = f" (at {Path(where.filename).name}:{where.lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{place}"


def _train(session: TrainingSession) -> Any:
    import torch

    torch.set_num_threads(max(1, int(settings.TORCH_THREADS)))
    from ml.train import TrainConfig, train
    from training.progress import Reporter

    config = TrainConfig.from_dict(
        {**session.config["train"], "threads": max(1, int(settings.TORCH_THREADS))}
    )
    data = load_training_data(session)
    run_dir = Path(session.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    resume = (run_dir / "checkpoints" / "last.pt").is_file()
    return train(
        config,
        data,
        on_event=Reporter(session.pk),
        should_stop=_StopPoller(session.pk),
        run_dir=run_dir,
        resume=resume,
    )


# ---------------------------------------------------------------- crash sweep
def run_stale_session_sweep() -> dict:
    """Scheduled every minute (django-q2 Schedule, created by a migration); also run for one
    session when someone opens its page or API detail."""
    return services.training_session_sweep_stale()


# ---------------------------------------------------------------- registry
def run_model_version_export(model_version_id: int) -> dict:
    import torch

    torch.set_num_threads(max(1, int(settings.TORCH_THREADS)))
    version = services.model_version_export(model_version_id=model_version_id)
    return {"model_version": model_version_id, "status": version.status}
