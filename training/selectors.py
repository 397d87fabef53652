"""Training selectors: every read with an access rule in it. A dataset, session or model version
belongs to a team; every member of that team (owner, member, viewer) sees it, nobody else does
(404: outsiders never learn it exists). Never writes."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Max, Prefetch, QuerySet
from django.http import Http404

from accounts.selectors import team_ids_for_user, team_role
from training.models import Dataset, DatasetVersion, EpochMetric, ModelVersion, TrainingSession

UserLike = AbstractBaseUser | AnonymousUser

EDIT_ROLES = ("owner", "member")


# ---------------------------------------------------------------- roles
def role_for(*, user: UserLike, team_id: int) -> str | None:
    return team_role(user=user, team_id=team_id)


def can_edit(*, user: UserLike, team_id: int) -> bool:
    """Members and owners upload datasets and start, cancel, resume and clone runs."""
    return role_for(user=user, team_id=team_id) in EDIT_ROLES


def is_owner(*, user: UserLike, team_id: int) -> bool:
    """Owners also delete datasets and promote models to the registry and to production."""
    return role_for(user=user, team_id=team_id) == "owner"


# ---------------------------------------------------------------- datasets
def dataset_list_for_user(*, user: UserLike, team_id: int | None = None) -> QuerySet[Dataset]:
    qs = Dataset.objects.filter(team_id__in=team_ids_for_user(user=user))
    if team_id is not None:
        qs = qs.filter(team_id=team_id)
    return (
        qs.select_related("team", "created_by")
        .annotate(version_count=Count("versions"), latest_version=Max("versions__number"))
        .order_by("-created_at")
    )


def dataset_get_for_user(*, user: UserLike, dataset_id: int) -> Dataset:
    dataset = (
        Dataset.objects.select_related("team", "created_by")
        .filter(pk=dataset_id, team_id__in=team_ids_for_user(user=user))
        .first()
    )
    if dataset is None:
        raise Http404("No such dataset.")
    return dataset


def dataset_version_list(*, dataset: Dataset) -> QuerySet[DatasetVersion]:
    return dataset.versions.select_related("created_by").order_by("-number")


def dataset_version_get_for_user(*, user: UserLike, version_id: int) -> DatasetVersion:
    version = (
        DatasetVersion.objects.select_related("dataset", "dataset__team", "created_by")
        .filter(pk=version_id, dataset__team_id__in=team_ids_for_user(user=user))
        .first()
    )
    if version is None:
        raise Http404("No such dataset version.")
    return version


def dataset_version_ready_for_user(*, user: UserLike) -> QuerySet[DatasetVersion]:
    """Versions a run can start from: READY, in a team where the user may start runs."""
    from accounts.models import Membership

    team_ids = Membership.objects.filter(user=user, role__in=EDIT_ROLES).values_list(
        "team_id", flat=True
    )
    return (
        DatasetVersion.objects.filter(
            dataset__team_id__in=list(team_ids), status=DatasetVersion.Status.READY
        )
        .select_related("dataset", "dataset__team")
        .order_by("dataset__name", "-number")
    )


# ---------------------------------------------------------------- sessions
def training_session_list_for_user(
    *, user: UserLike, team_id: int | None = None, status: str | None = None
) -> QuerySet[TrainingSession]:
    qs = TrainingSession.objects.filter(team_id__in=team_ids_for_user(user=user))
    if team_id is not None:
        qs = qs.filter(team_id=team_id)
    if status:
        qs = qs.filter(status=status)
    return qs.select_related(
        "team", "created_by", "dataset_version", "dataset_version__dataset"
    ).order_by("-created_at")


def training_session_get_for_user(*, user: UserLike, session_id: int) -> TrainingSession:
    session = (
        TrainingSession.objects.select_related(
            "team", "created_by", "dataset_version", "dataset_version__dataset", "cloned_from"
        )
        .filter(pk=session_id, team_id__in=team_ids_for_user(user=user))
        .first()
    )
    if session is None:
        raise Http404("No such training session.")
    return session


def training_session_can_watch(*, user: UserLike, session_id: int) -> bool:
    """The websocket's access check: the same rule as the session page."""
    if not user.is_authenticated:
        return False
    return TrainingSession.objects.filter(
        pk=session_id, team_id__in=team_ids_for_user(user=user)
    ).exists()


def training_session_compare_for_user(
    *, user: UserLike, session_ids: list[int]
) -> list[TrainingSession]:
    """The sessions the user may see, in the order asked; unknown or foreign ids raise 404."""
    sessions = {
        s.pk: s
        for s in training_session_list_for_user(user=user)
        .filter(pk__in=session_ids)
        .prefetch_related(Prefetch("epochs", queryset=EpochMetric.objects.order_by("epoch")))
    }
    missing = [pk for pk in session_ids if pk not in sessions]
    if missing:
        raise Http404("No such training session.")
    return [sessions[pk] for pk in session_ids]


def epoch_metric_list(*, session: TrainingSession) -> QuerySet[EpochMetric]:
    return EpochMetric.objects.filter(session=session).order_by("epoch")


def training_session_recent_for_user(*, user: UserLike, limit: int = 5) -> list[TrainingSession]:
    return list(training_session_list_for_user(user=user)[:limit])


# ---------------------------------------------------------------- registry
def model_version_list_for_user(
    *, user: UserLike, task: str | None = None
) -> QuerySet[ModelVersion]:
    qs = ModelVersion.objects.filter(team_id__in=team_ids_for_user(user=user))
    if task:
        qs = qs.filter(task=task)
    return qs.select_related("team", "source_session", "created_by").order_by("task", "-version")


def model_version_get_for_user(*, user: UserLike, model_version_id: int) -> ModelVersion:
    version = (
        ModelVersion.objects.select_related("team", "source_session", "created_by")
        .filter(pk=model_version_id, team_id__in=team_ids_for_user(user=user))
        .first()
    )
    if version is None:
        raise Http404("No such model version.")
    return version


def production_model_for_task(task: str) -> ModelVersion | None:
    """The model version that answers analyses of `task`, or None (then analysis falls back to
    the bundle shipped in models/<task>/). Platform-wide: no user, no team filter."""
    return (
        ModelVersion.objects.filter(task=task, is_production=True, status=ModelVersion.Status.READY)
        .select_related("source_session")
        .first()
    )


def training_session_snapshot(*, session_id: int) -> dict:
    """What a watcher needs first: the row, every epoch so far and the log tail."""
    from training.serializers import epoch_dict, session_summary

    session = TrainingSession.objects.select_related("dataset_version").get(pk=session_id)
    return {
        "session": session_summary(session),
        "epochs": [epoch_dict(m) for m in epoch_metric_list(session=session)],
        "log_tail": list(session.log_tail or []),
    }
