"""One object of every kind the platform serves, owned by alice or her team, so that every URL's
kwargs can be filled; plus what the access tests compare before and after a request.

Subjects: anonymous, owner (alice, owns the team), member (bob), viewer (vera), outsider (carol,
in no team) and staff (is_staff + is_superuser, in no team). Every row is made with the models or
the shared factories (no predictor, no training): analyses get a small stored JPEG.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.utils import timezone
from PIL import Image

SUBJECTS = ("anonymous", "owner", "member", "viewer", "outsider", "staff")
USERNAMES = {
    "owner": "alice",
    "member": "bob",
    "viewer": "vera",
    "outsider": "carol",
    "staff": "staff",
}

# Rows that change on every request whatever it does (sessions, log-in bookkeeping) are not part
# of the state the access rules protect.
VOLATILE_APPS = {"sessions", "axes", "contenttypes"}


def jpeg(seed: int, size: int = 64) -> bytes:
    image = Image.new("RGB", (size, size), ((seed * 53) % 256, (seed * 97) % 256, 120))
    for i in range(size):
        image.putpixel((i, (i * seed) % size), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _analysis(owner, seed: int, top: str):
    from analysis.models import Analysis

    classes = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
    rest = round(0.4 / (len(classes) - 1), 6)
    analysis = Analysis(
        owner=owner,
        task="lesions",
        probabilities={c: (0.6 if c == top else rest) for c in classes},
        top_class=top,
        top_probability=0.6,
        model_label="lesions (default model)",
        width=64,
        height=64,
    )
    analysis.image.save("photo.jpg", ContentFile(jpeg(seed)), save=False)
    analysis.thumbnail.save("thumb.jpg", ContentFile(jpeg(seed, 32)), save=False)
    analysis.save()
    return analysis


def _colours_version(media_root: Path, team, owner, name: str, **fields):
    """A ready two-class dataset version of `team`, its 6 images under datasets/<team>/<name>."""
    from tests.training.factories import DatasetVersionFactory, make_image_folder

    folder = make_image_folder(
        media_root / "datasets" / str(team.pk) / name, {"blue": 3, "red": 3}, size=32
    )
    return DatasetVersionFactory(
        dataset__team=team,
        dataset__task="colours",
        dataset__created_by=owner,
        created_by=owner,
        storage_path=str(folder),
        class_counts={"blue": 3, "red": 3},
        image_count=6,
        **fields,
    )


def build_world(media_root: Path) -> dict:
    """Every object the URLconf needs, owned by alice / her team. Call with MEDIA_ROOT set to
    `media_root`."""
    from django_q.models import OrmQ, Schedule, Task
    from rest_framework.authtoken.models import Token

    from accounts import services as accounts_services
    from accounts.models import Notification
    from accounts.selectors import profile_for
    from feedback.models import DatasetGrant, DatasetSnapshot
    from feedback.services import AnswerInput, feedback_response_submit
    from recommendations.models import Condition, Product, ProductCategory
    from tests.factories import TeamFactory, UserFactory
    from tests.training.factories import (
        DatasetVersionFactory,
        EpochMetricFactory,
        ModelVersionFactory,
        TrainingSessionFactory,
    )

    users = {
        subject: UserFactory(
            username=name, is_staff=subject == "staff", is_superuser=subject == "staff"
        )
        for subject, name in USERNAMES.items()
    }
    alice, bob, vera, carol, staff = (users[s] for s in USERNAMES)
    sessions = {}
    for subject, u in users.items():  # one log-in each, reused by every test (a cookie)
        client = Client()
        client.force_login(u)
        sessions[subject] = client.cookies[settings.SESSION_COOKIE_NAME].value
    tokens = {s: Token.objects.create(user=u).key for s, u in users.items()}
    for u in users.values():
        profile_for(u)
    accounts_services.profile_update(user=alice, consent_photos_for_training=True)
    team = TeamFactory(owner=alice, members={bob: "member", vera: "viewer"})

    # ---------------------------------------------------------------- analysis + feedback
    analysis = _analysis(alice, 1, "nv")
    analysis_b = _analysis(alice, 2, "mel")
    feedback_response_submit(
        user=alice,
        analysis=analysis,
        answers={"helpful": AnswerInput(rating=4), "really": AnswerInput(choices=("mel",))},
    )

    # ---------------------------------------------------------------- training
    version = _colours_version(
        media_root,
        team,
        alice,
        "abc",
        report={
            "findings": [],
            "samples": {"blue": ["blue/blue_000.png"], "red": ["red/red_000.png"]},
            "class_counts": {"blue": 3, "red": 3},
            "scan": {"prefix": ""},
        },
    )
    spare = DatasetVersionFactory(dataset__team=team, dataset__created_by=alice).dataset
    checkpoint = media_root / "runs" / "done" / "best.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"weights")
    done = TrainingSessionFactory(
        dataset_version=version,
        created_by=alice,
        status="done",
        finished_at=timezone.now(),
        best_checkpoint=str(checkpoint),
    )
    EpochMetricFactory(session=done, epoch=1)
    running = TrainingSessionFactory(dataset_version=version, created_by=alice, status="running")
    failed = TrainingSessionFactory(dataset_version=version, created_by=alice, status="failed")
    model = ModelVersionFactory(
        source_session=TrainingSessionFactory(dataset_version=version, status="done"),
        task="colours",
        created_by=alice,
    )
    for who in (alice, bob, vera):
        feedback_response_submit(
            user=who, training_session=done, answers={"charts": AnswerInput(rating=4)}
        )

    # ---------------------------------------------------------------- carol's own team
    # Objects of another team, to mix into requests on alice's (a run of alice's cloned onto
    # carol's dataset, two runs of different teams compared, ...).
    carol_team = TeamFactory(owner=carol)
    carol_version = _colours_version(media_root, carol_team, carol, "xyz")
    carol_session = TrainingSessionFactory(
        dataset_version=carol_version, created_by=carol, status="done", finished_at=timezone.now()
    )
    carol_analysis = _analysis(carol, 3, "bkl")

    # ---------------------------------------------------------------- accounts
    invitation = accounts_services.team_invite(
        team=team, invited_by=alice, identifier="carol", role="member"
    )
    carol_invitation = accounts_services.team_invite(
        team=carol_team, invited_by=carol, identifier="bob", role="member"
    )
    notification = Notification.objects.create(user=alice, title="Run finished", body="done")
    DatasetGrant.objects.create(team=team, granted_by=staff, note="access tests")

    # ---------------------------------------------------------------- rows only the admin shows
    from django.contrib.auth.models import Group

    Group.objects.create(name="editors")
    now = timezone.now()
    Schedule.objects.create(func="math.floor", args="1", name="every day")
    Task.objects.create(
        id="a" * 32, name="ok-task", func="math.floor", started=now, stopped=now, success=True
    )
    Task.objects.create(
        id="b" * 32, name="bad-task", func="math.floor", started=now, stopped=now, success=False
    )
    OrmQ.objects.create(key="default", payload="not-a-real-task", lock=now)
    _axes_rows(now)
    DatasetSnapshot.objects.create(
        task="lesions",
        team=team,
        created_by=alice,
        dataset_version=DatasetVersionFactory(dataset__team=team, dataset__task="lesions"),
        path=str(media_root / "feedback-snapshots" / "none"),
    )

    condition = Condition.objects.get(task="lesions", key="mel")
    return {
        "users": users,
        "tokens": tokens,
        "sessions": sessions,
        "team": team,
        "analysis": analysis,
        "analysis_b": analysis_b,
        "dataset": version.dataset,
        "spare_dataset": spare,
        "version": version,
        "folder": Path(version.storage_path),
        "done": done,
        "running": running,
        "failed": failed,
        "model": model,
        "invitation": invitation,
        "notification": notification,
        "condition": condition,
        "product": Product.objects.order_by("pk").first(),
        "category": ProductCategory.objects.order_by("pk").first(),
        "carol_team": carol_team,
        "carol_version": carol_version,
        "carol_session": carol_session,
        "carol_analysis": carol_analysis,
        "carol_invitation": carol_invitation,
    }


def _axes_rows(now) -> None:
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    common = {"user_agent": "tests", "ip_address": "10.0.0.1", "username": "mallory"}
    common |= {"http_accept": "*/*", "path_info": "/accounts/login/"}
    AccessAttempt.objects.create(**common, get_data="", post_data="", failures_since_start=1)
    AccessLog.objects.create(**common)
    AccessFailureLog.objects.create(**common)


# ---------------------------------------------------------------- what a request may not change
def state_tables() -> list[str]:
    """Every table of every model, many-to-many tables included, but sessions, log-in
    bookkeeping and the static permission and content-type lists."""
    tables = {
        m._meta.db_table
        for m in apps.get_models(include_auto_created=True)
        if m._meta.app_label not in VOLATILE_APPS
        and not m._meta.proxy
        and m._meta.managed
        and m._meta.label != "auth.Permission"
    }
    return sorted(tables)


def db_state() -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row of every table: equal before and after means the
    request changed nothing (raw SQL: a snapshot costs a few ms)."""
    state = {}
    with connection.cursor() as cursor:
        for table in state_tables():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)} ORDER BY 1")  # noqa: S608
            rows = cursor.fetchall()
            state[table] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return state


def files_state(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def admin_models() -> list:
    return list(admin.site._registry)
