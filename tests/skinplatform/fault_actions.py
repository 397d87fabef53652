"""Actions the process-level fault tests run in a separate Django process (same database as
the worker under test): `python -c "from tests.skinplatform.fault_actions import main; main()"`.
"""

from __future__ import annotations

import json
import sys
import time


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


def main() -> None:
    _setup()
    action, *args = sys.argv[1:]
    result = {"start_training": start_training, "session_state": session_state}[action](*args)
    print("RESULT " + json.dumps(result))
