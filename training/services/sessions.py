"""Training-session services: suggest a config, start, cancel, resume, clone; the lifecycle the
task drives (claim -> progress -> complete | fail | cancelled); the stale-heartbeat sweep."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import socket
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.services import notification_create
from training import conf, progress
from training.models import DatasetVersion, EpochMetric, TrainingSession
from training.services._common import enqueue_on_commit, require_edit

log = logging.getLogger("training")

CONFIG_SCHEMA = 1
LIBRARIES = ("torch", "torchvision", "timm", "numpy", "pillow", "scikit-learn", "onnx")
# Deployment properties, not model properties: the worker decides them, whatever was asked.
FORCED = {"workers": 0}
IMAGE_SIZES = (96, 128, 160, 192, 224)


# ---------------------------------------------------------------- suggestions
def training_config_suggest(dataset_version: DatasetVersion) -> dict[str, Any]:
    """A starting config drawn from the dataset's validation report, with the reason for each
    choice: balanced class weights when classes are imbalanced, an image size the photos can
    fill, epochs by dataset size, and the frozen-then-fine-tune schedule."""
    from ml.train.config import TrainConfig

    report = dataset_version.report or {}
    counts = dataset_version.class_counts or report.get("class_counts") or {}
    n = dataset_version.image_count or sum(counts.values())
    nonzero = [c for c in counts.values() if c]
    ratio = max(nonzero) / min(nonzero) if nonzero else 1.0
    median_side = (report.get("image_sizes") or {}).get("median_side")
    reasons: list[str] = []
    changes: dict[str, Any] = {}

    if ratio > 2:
        changes["class_weights"] = "balanced"
        reasons.append(
            f"Classes are imbalanced ({ratio:.1f}:1): balanced class weights, and read balanced "
            "accuracy and macro F1 rather than accuracy."
        )
    size = max([s for s in IMAGE_SIZES if not median_side or s <= median_side] or [96])
    size = min(size, 224 if n >= 2000 else 160)
    changes["image_size"] = size
    reasons.append(
        f"Image size {size} px: photos have a median short side of {median_side or '?'} px, and "
        "smaller inputs train much faster on a CPU."
    )
    changes.update(_schedule_for(n))
    reasons.append(
        f"{changes['frozen_epochs']} epochs training the head on a frozen backbone, then "
        f"{changes['finetune_epochs']} epochs fine-tuning the last {changes['unfreeze_blocks']} "
        f"blocks at a lower learning rate ({n} images)."
    )
    if n < 1000:
        changes["augmentation"] = "geometric"
        reasons.append("Few images: stronger (geometric) augmentation.")
    if (report.get("scan") or {}).get("grouped"):
        reasons.append("A grouping key is set: splits keep each group (lesion/person) together.")
    tiny = [c for c, k in counts.items() if k < 20]
    if tiny:
        reasons.append(
            f"Classes with fewer than 20 images ({', '.join(sorted(tiny))}): consider merging "
            "or dropping them in the label mapping."
        )
    config = TrainConfig(**changes, threads=max(1, int(settings.TORCH_THREADS)))
    return {
        "train": config.to_dict(),
        "label_mapping": {"rules": {}, "unmapped": "keep"},
        "classes": sorted(counts),
        "reasons": reasons,
    }


def _schedule_for(n: int) -> dict[str, Any]:
    if n < 500:
        return {"frozen_epochs": 8, "finetune_epochs": 6, "unfreeze_blocks": 2, "batch_size": 16}
    if n < 3000:
        return {"frozen_epochs": 5, "finetune_epochs": 8, "unfreeze_blocks": 4, "batch_size": 32}
    return {"frozen_epochs": 3, "finetune_epochs": 6, "unfreeze_blocks": 4, "batch_size": 32}


# ---------------------------------------------------------------- start / clone
def _library_versions() -> dict[str, str]:
    """Versions from package metadata: the web process never imports torch to learn them."""
    import ml

    versions = {"python": platform.python_version(), "ml": ml.__version__}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def _build_config(version: DatasetVersion, train: dict, label_mapping: dict | None) -> dict:
    from ml.data import LabelMapping
    from ml.train.config import ConfigError, TrainConfig

    try:
        config = TrainConfig.from_dict(
            {**train, **FORCED, "threads": max(1, int(settings.TORCH_THREADS))}
        )
    except (ConfigError, TypeError) as exc:
        raise ValidationError({"config": str(exc)}) from exc
    try:
        mapping = LabelMapping.from_dict(label_mapping or {})
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValidationError({"label_mapping": str(exc)}) from exc
    classes = sorted(version.class_counts)
    unknown = sorted(set(mapping.rules) - set(classes))
    if unknown:
        raise ValidationError(
            {"label_mapping": f"Unknown classes {unknown}; the dataset has {classes}."}
        )
    mapped = sorted({t for c in classes if (t := mapping.target(c)) is not None})
    if len(mapped) < 2:
        raise ValidationError(
            {"label_mapping": f"After the mapping only {mapped} remain; a model needs two."}
        )
    return {
        "schema": CONFIG_SCHEMA,
        "task": version.dataset.task,
        "train": config.to_dict(),
        "label_mapping": mapping.to_dict(),
        "classes": mapped,
        "seed": config.seed,
        "dataset": {
            "dataset_id": version.dataset_id,
            "version_id": version.pk,
            "name": version.dataset.name,
            "number": version.number,
            "sha256": version.sha256,
            "source": version.source,
            "image_count": version.image_count,
            "class_counts": version.class_counts,
        },
        "versions": _library_versions(),
    }


def training_session_start(
    *,
    user: AbstractBaseUser,
    dataset_version: DatasetVersion,
    name: str = "",
    train: dict | None = None,
    label_mapping: dict | None = None,
    cloned_from: TrainingSession | None = None,
) -> TrainingSession:
    """Validate the config, snapshot it (seed, label mapping, dataset hash, library versions),
    create the QUEUED row and enqueue the run once committed."""
    require_edit(user=user, team_id=dataset_version.dataset.team_id)
    if dataset_version.status != DatasetVersion.Status.READY:
        raise ValidationError(
            {"dataset_version": f"This dataset version is {dataset_version.status}, not ready."}
        )
    config = _build_config(dataset_version, train or {}, label_mapping)
    name = (name or "").strip() or f"{dataset_version.dataset.name} v{dataset_version.number}"
    with transaction.atomic():
        session = TrainingSession.objects.create(
            team_id=dataset_version.dataset.team_id,
            dataset_version=dataset_version,
            created_by=user,
            name=name[:120],
            config=config,
            total_epochs=config["train"]["frozen_epochs"] + config["train"]["finetune_epochs"],
            cloned_from=cloned_from,
        )
        session.run_dir = str(Path(settings.MEDIA_ROOT) / "runs" / str(session.pk))
        session.save(update_fields=["run_dir"])
        _enqueue_run(session)
    return session


def training_session_clone(
    *,
    session: TrainingSession,
    user: AbstractBaseUser,
    name: str = "",
    train: dict | None = None,
    label_mapping: dict | None = None,
    dataset_version: DatasetVersion | None = None,
) -> TrainingSession:
    """A new run from another's config snapshot, with edits (`train` keys override)."""
    version = dataset_version or session.dataset_version
    if version is None:
        raise ValidationError({"dataset_version": "The source run's dataset was deleted."})
    if version.dataset.team_id != session.team_id:
        raise ValidationError({"dataset_version": "Pick a dataset of the same team."})
    base = dict(session.config.get("train", {}))
    return training_session_start(
        user=user,
        dataset_version=version,
        name=name or f"{session.name} (copy)",
        train={**base, **(train or {})},
        label_mapping=session.config.get("label_mapping")
        if label_mapping is None
        else label_mapping,
        cloned_from=session,
    )


def _enqueue_run(session: TrainingSession) -> None:
    enqueue_on_commit(
        "training.tasks.run_training_session",
        session.pk,
        task_name=f"training-{session.pk}-{uuid.uuid4().hex[:8]}",
        group="training",
    )


# ---------------------------------------------------------------- cancel / resume
def _cancel_key(session_id: int) -> str:
    return f"training:cancel:{session_id}"


def _cache(method: str, *args: Any, **kwargs: Any) -> Any:
    """The cancel flag in the cache is only a fast path: the row's cancel_requested is the truth.
    With the cache down (Redis stopped) the call is logged and skipped, never a 500."""
    try:
        return getattr(cache, method)(*args, **kwargs)
    except Exception:  # the backend's own error type (redis.ConnectionError, ...)
        log.warning("cache %s failed; relying on the database flag", method, exc_info=True)
        return None


def cancel_flag_cached(session_id: int) -> bool:
    """The fast path of should_stop(): a cache read per batch, so cancel lands within one.
    False when the cache is unreachable (the poller then reads the row on its schedule)."""
    return bool(_cache("get", _cancel_key(session_id)))


def cancel_flag_clear(session_id: int) -> None:
    _cache("delete", _cancel_key(session_id))


def training_session_cancel(*, session: TrainingSession, user: AbstractBaseUser) -> TrainingSession:
    """A queued run is cancelled at once; a running one gets the flag its loop polls."""
    require_edit(user=user, team_id=session.team_id)
    who = user.get_username()
    now = timezone.now()
    if TrainingSession.objects.filter(pk=session.pk, status=TrainingSession.Status.QUEUED).update(
        status=TrainingSession.Status.CANCELLED, finished_at=now, cancel_requested=True
    ):
        session.refresh_from_db()
        _append_log(session, f"Cancelled by {who} before it started", "warning")
        progress.publish_on_commit(session.pk, progress.status_message(session))
        return session
    if not TrainingSession.objects.filter(
        pk=session.pk, status=TrainingSession.Status.RUNNING
    ).update(cancel_requested=True):
        raise ValidationError(f"This run is {session.status}; only a running run can be cancelled.")
    _cache("set", _cancel_key(session.pk), True, timeout=24 * 3600)
    session.refresh_from_db()
    _append_log(session, f"Cancel requested by {who}; stopping after the current batch", "warning")
    progress.publish_on_commit(session.pk, progress.status_message(session))
    return session


def training_session_resume(*, session: TrainingSession, user: AbstractBaseUser) -> TrainingSession:
    """Re-queue a failed or cancelled run; the task continues from its last checkpoint."""
    require_edit(user=user, team_id=session.team_id)
    if session.dataset_version_id is None:
        raise ValidationError("The dataset of this run was deleted; clone it onto another.")
    with transaction.atomic():
        updated = TrainingSession.objects.filter(
            pk=session.pk,
            status__in=[TrainingSession.Status.FAILED, TrainingSession.Status.CANCELLED],
        ).update(
            status=TrainingSession.Status.QUEUED,
            cancel_requested=False,
            error="",
            finished_at=None,
            auto_resumes=0,
        )
        if not updated:
            raise ValidationError(
                f"This run is {session.status}; only failed or cancelled runs can be resumed."
            )
        cancel_flag_clear(session.pk)
        session.refresh_from_db()
        checkpoint = _last_checkpoint(session)
        where = "from its last checkpoint" if checkpoint else "from the start (no checkpoint)"
        _append_log(session, f"Resumed by {user.get_username()} {where}")
        _enqueue_run(session)
        progress.publish_on_commit(session.pk, progress.status_message(session))
    return session


def _last_checkpoint(session: TrainingSession) -> Path | None:
    path = Path(session.run_dir) / "checkpoints" / "last.pt" if session.run_dir else None
    return path if path is not None and path.is_file() else None


def _append_log(session: TrainingSession, message: str, level: str = "info") -> None:
    tail = [*(session.log_tail or []), progress.log_entry(message, level)]
    session.log_tail = tail[-int(conf.get("TRAINING_LOG_TAIL_LINES")) :]
    TrainingSession.objects.filter(pk=session.pk).update(log_tail=session.log_tail)
    progress.publish_on_commit(session.pk, {"event": "log", "kind": "log", "line": tail[-1]})


# ---------------------------------------------------------------- lifecycle (the task)
def training_session_mark_running(*, session_id: int) -> bool:
    """Claim a QUEUED run for this worker. An UPDATE ... WHERE status='queued': of two workers
    handed the same run, exactly one gets True, so a run never starts twice."""
    now = timezone.now()
    claimed = TrainingSession.objects.filter(
        pk=session_id, status=TrainingSession.Status.QUEUED
    ).update(
        status=TrainingSession.Status.RUNNING,
        started_at=Coalesce(F("started_at"), now),
        heartbeat_at=now,
        finished_at=None,
        attempt=F("attempt") + 1,
        cancel_requested=False,
        worker_process=this_worker_process(),
    )
    if claimed:
        cancel_flag_clear(session_id)
        session = TrainingSession.objects.get(pk=session_id)
        progress.publish(session_id, progress.status_message(session))
    return bool(claimed)


def training_session_should_stop(*, session_id: int) -> bool:
    return TrainingSession.objects.filter(pk=session_id, cancel_requested=True).exists()


def training_session_heartbeat(*, session_id: int) -> bool:
    """Returns False once the run is no longer RUNNING (then the heartbeat stops)."""
    return bool(
        TrainingSession.objects.filter(pk=session_id, status=TrainingSession.Status.RUNNING).update(
            heartbeat_at=timezone.now()
        )
    )


def training_session_record_progress(*, session_id: int, **fields: Any) -> None:
    TrainingSession.objects.filter(pk=session_id, status=TrainingSession.Status.RUNNING).update(
        heartbeat_at=timezone.now(), **fields
    )


def _metrics_columns(metrics: dict | None) -> dict[str, Any]:
    metrics = metrics or {}
    return {
        "accuracy": metrics.get("accuracy"),
        "balanced_accuracy": metrics.get("balanced_accuracy"),
        "macro_f1": metrics.get("macro_f1"),
        "per_class": metrics.get("per_class") or {},
        "confusion_matrix": metrics.get("confusion_matrix") or [],
        "classes": list(metrics.get("classes") or []),
    }


def epoch_metric_record(*, session_id: int, event: dict) -> EpochMetric:
    """One row per epoch (update_or_create: a resumed run may repeat an unsaved epoch)."""
    train, val = event.get("train") or {}, event.get("val")
    metric, _ = EpochMetric.objects.update_or_create(
        session_id=session_id,
        epoch=int(event["epoch"]),
        defaults={
            "stage": event.get("stage", ""),
            "train_loss": train.get("loss"),
            "train_accuracy": train.get("accuracy"),
            "val_loss": (val or {}).get("loss"),
            "lr": event.get("lr"),
            "duration_s": event.get("seconds"),
            **_metrics_columns(val if val else train),
        },
    )
    return metric


def training_session_complete(*, session_id: int, result: dict) -> TrainingSession:
    from training.progress import metrics_summary, result_summary

    result = progress.clean_json(result)
    summary = result_summary(result)
    best = metrics_summary(result.get("val"))
    if result.get("best_epoch"):
        best["epoch"] = result["best_epoch"]
    return _finish(
        session_id,
        TrainingSession.Status.DONE,
        fields={
            "fraction": 1.0,
            "eta_s": 0.0,
            "best_epoch": result.get("best_epoch") or None,
            "best_metrics": best,
            "test_metrics": metrics_summary(result.get("test")),
            "best_checkpoint": result.get("best_checkpoint") or "",
            "classes": list(result.get("classes") or []),
            "result": summary,
        },
        title="finished",
        body=_done_body(summary),
    )


def _done_body(summary: dict) -> str:
    val, test = summary.get("val") or {}, summary.get("test") or {}
    parts = [f"{summary.get('epochs_completed')} epochs, best epoch {summary.get('best_epoch')}."]
    if val:
        parts.append(f"Validation macro F1 {val.get('macro_f1', 0):.3f}.")
    if test:
        parts.append(
            f"Test macro F1 {test.get('macro_f1', 0):.3f}, "
            f"balanced accuracy {test.get('balanced_accuracy', 0):.3f}."
        )
    return " ".join(parts)


def training_session_fail(*, session_id: int, error: str) -> TrainingSession:
    return _finish(
        session_id,
        TrainingSession.Status.FAILED,
        fields={"error": error[:4000]},
        title="failed",
        body=f"{error[:500]} A member can resume it from its last checkpoint.",
    )


def training_session_mark_cancelled(*, session_id: int) -> TrainingSession:
    return _finish(
        session_id,
        TrainingSession.Status.CANCELLED,
        fields={"eta_s": None},
        title="was cancelled",
        body="A member can resume it from its last checkpoint.",
    )


def _finish(session_id: int, status: str, *, fields: dict, title: str, body: str):
    with transaction.atomic():
        updated = TrainingSession.objects.filter(
            pk=session_id,
            status__in=[TrainingSession.Status.RUNNING, TrainingSession.Status.QUEUED],
        ).update(status=status, finished_at=timezone.now(), **fields)
        session = TrainingSession.objects.select_related("team").get(pk=session_id)
        if updated:
            cancel_flag_clear(session_id)
            _notify_team(session, title=f"Training run “{session.name}” {title}", body=body)
            progress.publish_on_commit(session_id, progress.status_message(session))
    return session


def _notify_team(session: TrainingSession, *, title: str, body: str) -> None:
    url = reverse("training:session-detail", args=[session.pk])
    for membership in Membership.objects.filter(team_id=session.team_id).select_related("user"):
        notification_create(
            user=membership.user, title=title, body=body, url=url, kind="training", email=True
        )


# ---------------------------------------------------------------- crash handling
def this_host() -> str:
    """The host name and the PID namespace: two containers that share a host name but not
    their process table never judge each other's pids."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # e.g. "pid:[4026531836]"
    except OSError:
        namespace = ""
    return f"{socket.gethostname()}/{namespace}" if namespace else socket.gethostname()


def this_worker_process() -> str:
    return f"{this_host()}:{os.getpid()}"


def _worker_is_dead(worker_process: str) -> bool:
    """True only when the run's worker was on this host (and PID namespace) and its pid is gone.
    Another host, an unknown worker or a pid that exists (even reused) -> False: the heartbeat
    decides."""
    host, _, pid = worker_process.rpartition(":")
    if host != this_host() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: it exists, owned by someone else
        return False
    return False


def training_session_sweep_stale(*, session_id: int | None = None) -> dict[str, list[int]]:
    """RUNNING rows that lost their worker (killed, machine gone): the heartbeat is older than
    TRAINING_STALE_AFTER_S, or the worker was on this host and its process is gone. Each is
    re-queued to resume from its last checkpoint (up to TRAINING_MAX_ATTEMPTS automatic
    resumes) or marked FAILED with the reason; never left running."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=float(conf.get("TRAINING_STALE_AFTER_S")))
    running = TrainingSession.objects.filter(status=TrainingSession.Status.RUNNING)
    if session_id is not None:
        running = running.filter(pk=session_id)
    local = this_host() + ":"
    stale = running.filter(heartbeat_at__lt=cutoff) | running.filter(
        worker_process__startswith=local
    )
    outcome: dict[str, list[int]] = {"resumed": [], "failed": []}
    for session in stale:
        fresh = session.heartbeat_at and session.heartbeat_at >= cutoff
        if fresh and not _worker_is_dead(session.worker_process):
            continue
        kind = _sweep_one(session, now)
        if kind:
            outcome[kind].append(session.pk)
    return outcome


def _sweep_one(session: TrainingSession, now) -> str | None:
    since = session.heartbeat_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    limit = int(conf.get("TRAINING_MAX_ATTEMPTS"))
    # Compare-and-set on the heartbeat we read: a concurrent sweep (or a worker that came back)
    # makes this a no-op.
    same = TrainingSession.objects.filter(
        pk=session.pk, status=TrainingSession.Status.RUNNING, heartbeat_at=session.heartbeat_at
    )
    if _last_checkpoint(session) and session.auto_resumes < limit:
        with transaction.atomic():
            if not same.update(
                status=TrainingSession.Status.QUEUED, auto_resumes=F("auto_resumes") + 1
            ):
                return None
            session.refresh_from_db()
            _append_log(
                session,
                f"The worker stopped responding (last heartbeat {since}); resuming from the last "
                f"checkpoint (automatic resume {session.auto_resumes} of {limit})",
                "warning",
            )
            _enqueue_run(session)
            progress.publish_on_commit(session.pk, progress.status_message(session))
        return "resumed"
    if _last_checkpoint(session):
        error = (
            f"The worker running this session stopped responding (last heartbeat {since}) and "
            f"{limit} automatic resumes have already been tried; it was marked failed. Resume it "
            "by hand once the cause (memory, a killed worker) is fixed."
        )
    else:
        error = (
            f"The worker running this session stopped responding (last heartbeat {since}) before "
            "the first checkpoint was written; it was marked failed. Resume it to start again."
        )
    with transaction.atomic():
        if not same.update(status=TrainingSession.Status.FAILED, error=error, finished_at=now):
            return None
        session.refresh_from_db()
        _append_log(session, error, "error")
        _notify_team(session, title=f"Training run “{session.name}” failed", body=error)
        progress.publish_on_commit(session.pk, progress.status_message(session))
    return "failed"
