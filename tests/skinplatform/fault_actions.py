"""Actions the process-level fault tests run in a separate Django process (same database as
the worker under test): `python -c "from tests.skinplatform.fault_actions import main; main()"`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def _setup() -> None:
    import django

    django.setup()


def start_training(folder: str) -> dict:
    """A staff owner registers a folder of tiny synthetic images for a team and starts a run
    long enough to be killed in the middle."""
    from django.contrib.auth import get_user_model

    from accounts.models import Membership, Role, Team
    from training import services
    from training.models import DatasetVersion

    user = get_user_model().objects.create_user("fault", password="x" * 12, is_staff=True)
    team = Team.objects.create(name="Fault team", slug="fault-team")
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    version = services.dataset_version_register_folder(
        user=user, team=team, name="colours", task="colours", path=folder
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # validated by the worker under test
        version.refresh_from_db()
        if version.status not in (DatasetVersion.Status.QUEUED, DatasetVersion.Status.VALIDATING,
                                  DatasetVersion.Status.EXTRACTING):  # fmt: skip
            break
        time.sleep(0.3)
    assert version.status == DatasetVersion.Status.READY, (version.status, version.error)
    session = services.training_session_start(
        user=user,
        dataset_version=version,
        train={
            "image_size": 32,
            "batch_size": 8,
            "eval_batch_size": 16,
            "frozen_epochs": 1,
            "finetune_epochs": 8,
            "unfreeze_blocks": 2,
            "patience": 0,
            "val_fraction": 0.25,
            "test_fraction": 0.25,
            "threads": 1,
        },
    )
    return {"session": session.pk}


def session_state(session_id: str) -> dict:
    from training.models import TrainingSession

    s = TrainingSession.objects.get(pk=int(session_id))
    return {
        "status": s.status,
        "attempt": s.attempt,
        "auto_resumes": s.auto_resumes,
        "error": s.error,
        "epochs": list(s.epochs.order_by("epoch").values_list("epoch", flat=True)),
        "log": [line.get("message", "") for line in s.log_tail][-20:],
    }


def enqueue_again(session_id: str) -> dict:
    """A second copy of the run's task on the broker (a duplicate delivery, a double click)."""
    from django.db import transaction

    from training.models import TrainingSession
    from training.services import sessions

    with transaction.atomic():
        sessions._enqueue_run(TrainingSession.objects.get(pk=int(session_id)))
    return {"enqueued": True}


def api_user() -> dict:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.create_user("stream", password="x" * 12)
    return {"token": Token.objects.create(user=user).key}


def analyses_on_disk() -> dict:
    """Every analysis row with whether its photo and thumbnail files exist, and every file
    under the analyses' media folder."""
    from django.conf import settings

    from analysis.models import Analysis

    rows = {
        str(a.pk): {
            "image": bool(a.image) and Path(a.image.path).is_file(),
            "thumbnail": bool(a.thumbnail) and Path(a.thumbnail.path).is_file(),
            "probabilities": bool(a.probabilities),
        }
        for a in Analysis.objects.all()
    }
    media = Path(settings.MEDIA_ROOT)
    files = sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())
    paths = {a.image.name for a in Analysis.objects.all()} | {
        a.thumbnail.name for a in Analysis.objects.all()
    }
    return {"rows": rows, "orphans": [f for f in files if f not in paths]}


def main() -> None:
    _setup()
    action, *args = sys.argv[1:]
    result = {
        "start_training": start_training,
        "session_state": session_state,
        "api_user": api_user,
        "enqueue_again": enqueue_again,
        "analyses_on_disk": analyses_on_disk,
    }[action](*args)
    print("RESULT " + json.dumps(result))
