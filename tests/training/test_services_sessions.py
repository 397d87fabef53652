"""Session services without running the loop: suggestions, config snapshot and validation,
roles, cancel/resume/clone rules, the claim, and the stale-heartbeat sweep's decisions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from tests.training.conftest import TINY_TRAIN
from tests.training.factories import DatasetVersionFactory, TrainingSessionFactory
from training import services
from training.models import TrainingSession
from training.services import sessions

pytestmark = pytest.mark.django_db


def _start(version, user, callbacks, **kwargs):
    with callbacks(execute=False):
        return services.training_session_start(
            user=user, dataset_version=version, **{"train": TINY_TRAIN, **kwargs}
        )


# ---------------------------------------------------------------- suggestions
def test_suggestion_balances_imbalanced_classes():
    version = DatasetVersionFactory(
        class_counts={"nv": 500, "mel": 120, "df": 30},
        image_count=650,
        report={"image_sizes": {"median_side": 250}, "scan": {"grouped": True}},
    )
    suggestion = services.training_config_suggest(version)
    train = suggestion["train"]
    assert train["class_weights"] == "balanced"
    assert train["image_size"] == 160  # fits 250 px photos, capped for a CPU below 2000 images
    assert (train["frozen_epochs"], train["finetune_epochs"]) == (5, 8)
    assert train["finetune_lr"] < train["lr"]
    reasons = " ".join(suggestion["reasons"])
    assert "imbalanced (16.7:1)" in reasons
    assert "group" in reasons
    assert suggestion["classes"] == ["df", "mel", "nv"]


def test_suggestion_keeps_plain_weights_for_balanced_small_images():
    version = DatasetVersionFactory(
        class_counts={"a": 40, "b": 45}, image_count=85, report={"image_sizes": {"median_side": 48}}
    )
    train = services.training_config_suggest(version)["train"]
    assert train["class_weights"] == "none"
    assert train["image_size"] == 96  # never larger than the photos, but at least 96
    assert train["augmentation"] == "geometric"


# ---------------------------------------------------------------- start
def test_start_snapshots_config_seed_mapping_dataset_hash_and_versions(
    ready_version, member_user, django_capture_on_commit_callbacks
):
    session = _start(
        ready_version, member_user, django_capture_on_commit_callbacks,
        name="", label_mapping={"rules": {"red": "warm"}},
    )  # fmt: skip
    assert session.status == "queued"
    assert session.name == "colours v1"
    assert session.total_epochs == 2
    config = session.config
    assert config["train"]["image_size"] == 32
    assert config["train"]["workers"] == 0  # deployment property, forced
    assert config["seed"] == config["train"]["seed"] == 0
    assert config["label_mapping"] == {"rules": {"red": "warm"}, "unmapped": "keep"}
    assert config["classes"] == ["blue", "warm"]
    assert config["dataset"]["sha256"] == ready_version.sha256
    assert config["dataset"]["version_id"] == ready_version.pk
    assert config["versions"]["torch"] == "2.14.1"
    assert config["task"] == "colours"
    assert Path(session.run_dir) == Path(session.run_dir).parent / str(session.pk)


@pytest.mark.parametrize(
    ("kwargs", "field", "text"),
    [
        ({"train": {"backbone": "resnet999"}}, "config", "backbone"),
        ({"train": {"image_size": 4}}, "config", "image_size"),
        ({"train": {"unknown_knob": 1}}, "config", "unknown config key"),
        ({"label_mapping": {"rules": {"purple": "x"}}}, "label_mapping", "Unknown classes"),
        ({"label_mapping": {"rules": {"red": None}}}, "label_mapping", "a model needs two"),
        ({"label_mapping": {"rules": {"red": "blue"}}}, "label_mapping", "a model needs two"),
    ],
)
def test_start_refuses_bad_configs_with_the_reason(ready_version, member_user, kwargs, field, text):
    with pytest.raises(ValidationError) as info:
        services.training_session_start(user=member_user, dataset_version=ready_version, **kwargs)
    assert text in " ".join(info.value.message_dict[field])
    assert not TrainingSession.objects.exists()


def test_start_needs_a_ready_version_and_an_editing_role(ready_version, viewer_user, member_user):
    with pytest.raises(PermissionDenied):
        services.training_session_start(user=viewer_user, dataset_version=ready_version)
    pending = DatasetVersionFactory(dataset=ready_version.dataset, status="validating")
    with pytest.raises(ValidationError, match="not ready"):
        services.training_session_start(user=member_user, dataset_version=pending)


def test_clone_copies_the_config_with_edits(
    ready_version, member_user, django_capture_on_commit_callbacks
):
    source = _start(ready_version, member_user, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False):
        clone = services.training_session_clone(
            session=source, user=member_user, train={"lr": 0.01}
        )
    assert clone.cloned_from == source
    assert clone.name == f"{source.name} (copy)"
    assert clone.config["train"]["lr"] == 0.01
    assert clone.config["train"]["image_size"] == source.config["train"]["image_size"]
    assert clone.run_dir != source.run_dir


# ---------------------------------------------------------------- cancel / resume / claim
def test_cancelling_a_queued_run_cancels_it_at_once(
    ready_version, member_user, django_capture_on_commit_callbacks
):
    session = _start(ready_version, member_user, django_capture_on_commit_callbacks)
    services.training_session_cancel(session=session, user=member_user)
    session.refresh_from_db()
    assert session.status == "cancelled"
    assert services.training_session_mark_running(session_id=session.pk) is False


def test_cancelling_a_running_run_sets_the_flag_its_loop_polls(user, team):
    from training.services.sessions import cancel_flag_cached

    session = TrainingSessionFactory(dataset_version__dataset__team=team, status="running")
    services.training_session_cancel(session=session, user=user)
    session.refresh_from_db()
    assert (session.status, session.cancel_requested) == ("running", True)
    assert cancel_flag_cached(session.pk) is True
    done = TrainingSessionFactory(dataset_version__dataset__team=team, status="done")
    with pytest.raises(ValidationError, match="only a running run"):
        services.training_session_cancel(session=done, user=user)


def test_viewers_cannot_cancel_resume_or_clone(team, viewer_user):
    session = TrainingSessionFactory(dataset_version__dataset__team=team, status="failed")
    for action in (
        services.training_session_cancel,
        services.training_session_resume,
        services.training_session_clone,
    ):
        with pytest.raises(PermissionDenied):
            action(session=session, user=viewer_user)


@pytest.mark.parametrize(
    ("status", "ok"), [("failed", True), ("cancelled", True), ("done", False), ("running", False)]
)
def test_only_failed_or_cancelled_runs_resume(
    team, member_user, status, ok, django_capture_on_commit_callbacks
):
    session = TrainingSessionFactory(
        dataset_version__dataset__team=team, status=status, error="boom"
    )
    if not ok:
        with pytest.raises(ValidationError):
            services.training_session_resume(session=session, user=member_user)
        return
    with django_capture_on_commit_callbacks(execute=False) as held:
        services.training_session_resume(session=session, user=member_user)
    session.refresh_from_db()
    assert (session.status, session.error) == ("queued", "")
    assert len(held) >= 1  # the run is enqueued again


def test_claim_sets_running_and_counts_attempts(team):
    session = TrainingSessionFactory(dataset_version__dataset__team=team)
    assert services.training_session_mark_running(session_id=session.pk) is True
    assert services.training_session_mark_running(session_id=session.pk) is False
    session.refresh_from_db()
    assert (session.status, session.attempt) == ("running", 1)
    assert session.heartbeat_at is not None


def test_epoch_metrics_are_recorded_once_per_epoch(team):
    session = TrainingSessionFactory(dataset_version__dataset__team=team)
    event = {
        "epoch": 1,
        "stage": "frozen",
        "train": {"loss": 1.0, "accuracy": 0.5},
        "val": {"loss": 0.9, "accuracy": 0.6, "macro_f1": 0.55, "classes": ["a", "b"]},
    }
    services.epoch_metric_record(session_id=session.pk, event=event)
    event["val"]["macro_f1"] = 0.6  # a resumed run repeats an epoch that was never saved
    services.epoch_metric_record(session_id=session.pk, event=event)
    [metric] = session.epochs.all()
    assert (metric.epoch, metric.macro_f1, metric.val_loss) == (1, 0.6, 0.9)


def test_completion_notifies_every_member_in_app_and_by_email(
    team, django_capture_on_commit_callbacks
):
    session = TrainingSessionFactory(dataset_version__dataset__team=team, status="running")
    with django_capture_on_commit_callbacks(execute=True):
        services.training_session_complete(
        session_id=session.pk,
            result={"epochs_completed": 2, "best_epoch": 2, "metric": "macro_f1",
                    "val": {"macro_f1": 0.8, "accuracy": 0.9}, "test": {"macro_f1": 0.7},
                    "best_checkpoint": "/x/best.pt", "classes": ["a", "b"]},
        )  # fmt: skip
    session.refresh_from_db()
    assert session.status == "done"
    assert session.best_metrics == {"macro_f1": 0.8, "accuracy": 0.9, "epoch": 2}
    assert session.test_metrics == {"macro_f1": 0.7}
    assert sorted(m.to[0] for m in mail.outbox) == [
        "alice@example.com", "bob@example.com", "vera@example.com",
    ]  # fmt: skip
    assert "Test macro F1 0.700" in mail.outbox[0].body


# ---------------------------------------------------------------- stale sweep
def _stale(team, tmp_path, *, checkpoint: bool, auto_resumes: int = 0, age_s: float = 120):
    run_dir = tmp_path / "run"
    if checkpoint:
        (run_dir / "checkpoints").mkdir(parents=True)
        (run_dir / "checkpoints" / "last.pt").write_bytes(b"checkpoint")
    return TrainingSessionFactory(
        dataset_version__dataset__team=team,
        status="running",
        run_dir=str(run_dir),
        auto_resumes=auto_resumes,
        heartbeat_at=timezone.now() - timedelta(seconds=age_s),
    )


def test_sweep_requeues_a_stale_run_with_a_checkpoint(
    team, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    from django_q.conf import Conf
    from django_q.models import OrmQ

    monkeypatch.setattr(Conf, "SYNC", False)  # into the real ORM broker, not run inline
    session = _stale(team, tmp_path, checkpoint=True)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.training_session_sweep_stale()
    assert outcome == {"resumed": [session.pk], "failed": []}
    session.refresh_from_db()
    assert (session.status, session.auto_resumes) == ("queued", 1)
    [queued] = OrmQ.objects.all()
    assert (queued.func(), queued.task["args"]) == (
        "training.tasks.run_training_session",
        (session.pk,),
    )


def test_sweep_fails_a_stale_run_without_checkpoint_with_a_clear_message(team, tmp_path):
    session = _stale(team, tmp_path, checkpoint=False)
    assert services.training_session_sweep_stale() == {"resumed": [], "failed": [session.pk]}
    session.refresh_from_db()
    assert session.status == "failed"
    assert "stopped responding" in session.error
    assert "before the first checkpoint" in session.error
    assert session.finished_at is not None


def test_sweep_gives_up_after_the_automatic_resume_limit(team, tmp_path, settings):
    settings.TRAINING_MAX_ATTEMPTS = 2
    session = _stale(team, tmp_path, checkpoint=True, auto_resumes=2)
    services.training_session_sweep_stale()
    session.refresh_from_db()
    assert session.status == "failed"
    assert "2 automatic resumes have already been tried" in session.error


def test_sweep_leaves_live_runs_alone(team, tmp_path):
    session = _stale(team, tmp_path, checkpoint=False, age_s=3)
    assert services.training_session_sweep_stale() == {"resumed": [], "failed": []}
    session.refresh_from_db()
    assert session.status == "running"


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # exited and reaped: its pid is free
    return child.pid


@pytest.mark.parametrize(
    ("worker", "swept"),
    [
        ("{host}:{dead}", True),  # this host, the process is gone: at once, heartbeat fresh
        ("{host}:{alive}", False),  # this host, the process lives (this test's own parent)
        ("{host}:{me}", False),  # the sweeping process itself
        ("elsewhere.example:{dead}", False),  # another machine: only the heartbeat can tell
        ("{hostname}/pid:[1]:{dead}", False),  # same host name, another PID namespace
        ("{hostname}:{dead}", False),  # PID namespace unknown
        ("", False),  # no worker recorded (older rows)
        ("{host}:not-a-pid", False),
    ],
)
def test_sweep_resumes_at_once_a_run_whose_local_worker_process_is_gone(
    team, tmp_path, worker, swept
):
    import os
    import socket

    session = _stale(team, tmp_path, checkpoint=True, age_s=2)  # heartbeat still fresh
    name = worker.format(
        host=sessions.this_host(),
        hostname=socket.gethostname(),
        dead=_dead_pid(),
        alive=os.getppid(),
        me=os.getpid(),
    )
    session.worker_process = name
    session.save(update_fields=["worker_process"])
    outcome = services.training_session_sweep_stale()
    assert outcome == {"resumed": [session.pk] if swept else [], "failed": []}, name
    session.refresh_from_db()
    assert session.status == ("queued" if swept else "running")


def test_the_claim_records_the_worker_process(team):
    import os
    import socket

    session = TrainingSessionFactory(dataset_version__dataset__team=team, status="queued")
    assert services.training_session_mark_running(session_id=session.pk)
    session.refresh_from_db()
    namespace = os.readlink("/proc/self/ns/pid")
    assert session.worker_process == f"{socket.gethostname()}/{namespace}:{os.getpid()}"


def test_a_starting_worker_sweeps(team, tmp_path):
    """django-q2 sends post_spawn in each worker process as it starts: the sweep runs then."""
    from django_q.signals import post_spawn

    session = _stale(team, tmp_path, checkpoint=True, age_s=2)
    session.worker_process = f"{sessions.this_host()}:{_dead_pid()}"
    session.save(update_fields=["worker_process"])
    post_spawn.send(sender="django_q", proc_name="Process-1:1")
    session.refresh_from_db()
    assert (session.status, session.auto_resumes) == ("queued", 1)


def test_sweep_schedule_exists():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="training.tasks.run_stale_session_sweep")
    assert (schedule.schedule_type, schedule.minutes) == ("I", 1)
