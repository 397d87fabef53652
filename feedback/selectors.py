"""Feedback selectors: every read with a rule in it. Who may answer about what (the owner of an
analysis; a member of a finished run's team), which questionnaire a target shows, the options of
a "what is it really?" question, who may use the feedback dataset and which photos it holds
(only of people who consent now). Never writes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Prefetch, Q, QuerySet

from accounts.models import Membership, Role, Team
from accounts.selectors import team_ids_for_user, team_role
from analysis.models import Analysis
from analysis.selectors import analysis_get_for_user
from feedback.models import (
    CORRECTION_OTHER,
    CORRECTION_UNKNOWN,
    Answer,
    Correction,
    DatasetSnapshot,
    Question,
    Questionnaire,
    Response,
    Target,
)
from recommendations.selectors import condition_display_names
from training.models import TrainingSession
from training.selectors import training_session_get_for_user

UserLike = AbstractBaseUser | AnonymousUser

# A run has ended (whatever the outcome) once it is no longer queued or running.
FINISHED_SESSION_STATUSES = (
    TrainingSession.Status.DONE,
    TrainingSession.Status.FAILED,
    TrainingSession.Status.CANCELLED,
)


# ---------------------------------------------------------------- targets
def analysis_for_feedback(*, user: UserLike, analysis_id: int) -> Analysis:
    """Only the owner of an analysis answers about it; 404 for everyone else."""
    return analysis_get_for_user(user=user, pk=analysis_id)


def training_session_for_feedback(*, user: UserLike, session_id: int) -> TrainingSession:
    """Any member of the run's team (owner, member, viewer); 404 for everyone else."""
    return training_session_get_for_user(user=user, session_id=session_id)


def training_session_can_answer(*, user: UserLike, session: TrainingSession) -> bool:
    return team_role(user=user, team_id=session.team_id) is not None


def session_is_finished(session: TrainingSession) -> bool:
    return session.status in FINISHED_SESSION_STATUSES


# ---------------------------------------------------------------- questionnaires
def _with_questions(qs: QuerySet[Questionnaire]) -> QuerySet[Questionnaire]:
    return qs.prefetch_related(Prefetch("questions", queryset=Question.objects.order_by("order")))


def questionnaire_active(*, target: str) -> Questionnaire | None:
    return _with_questions(Questionnaire.objects.filter(target=target, is_active=True)).first()


def response_get(
    *,
    user: UserLike,
    analysis: Analysis | None = None,
    training_session: TrainingSession | None = None,
) -> Response | None:
    if not user.is_authenticated:
        return None
    qs = Response.objects.filter(respondent=user)
    qs = (
        qs.filter(analysis=analysis)
        if analysis is not None
        else qs.filter(training_session=training_session)
    )
    return (
        qs.select_related("questionnaire")
        .prefetch_related(Prefetch("answers", queryset=Answer.objects.select_related("question")))
        .first()
    )


def questionnaire_for_target(
    *,
    user: UserLike,
    analysis: Analysis | None = None,
    training_session: TrainingSession | None = None,
) -> tuple[Questionnaire | None, Response | None]:
    """What this person sees about this target: their response's questionnaire when they have
    answered (its meaning stays that of the version they answered), else the active one."""
    response = response_get(user=user, analysis=analysis, training_session=training_session)
    if response is not None:
        questionnaire = _with_questions(Questionnaire.objects.filter(pk=response.questionnaire_id))
        return questionnaire.first(), response
    target = Target.ANALYSIS if analysis is not None else Target.TRAINING_SESSION
    return questionnaire_active(target=target), None


def response_list_for_user(*, user: UserLike) -> QuerySet[Response]:
    if not user.is_authenticated:
        return Response.objects.none()
    return (
        Response.objects.filter(respondent=user)
        .select_related("questionnaire", "analysis", "training_session")
        .prefetch_related(Prefetch("answers", queryset=Answer.objects.select_related("question")))
        .order_by("-updated_at", "-pk")
    )


@dataclass(frozen=True)
class Option:
    value: str
    label: str


def correction_options(analysis: Analysis) -> list[Option]:
    """The classes of the model that answered (the keys of the analysis's probabilities), by
    their display name, then "something else" and "I don't know"."""
    names = condition_display_names(task=analysis.task)
    classes = sorted(analysis.probabilities, key=lambda key: names.get(key, key).lower())
    return [
        *(Option(key, names.get(key, key)) for key in classes),
        Option(CORRECTION_OTHER, "Something else"),
        Option(CORRECTION_UNKNOWN, "I don't know"),
    ]


def question_options(question: Question, analysis: Analysis | None = None) -> list[Option]:
    if question.kind == Question.Kind.CORRECTION:
        return correction_options(analysis) if analysis is not None else []
    if question.kind == Question.Kind.RATING:
        return [Option(str(n), str(n)) for n in range(1, 6)]
    return [Option(choice, choice) for choice in question.choice_list]


# ---------------------------------------------------------------- the feedback dataset
def dataset_teams_for_user(*, user: UserLike) -> QuerySet[Team]:
    """Teams this person owns that staff have allowed to use the feedback dataset: where they
    may import it, and the reason they may export it."""
    if not user.is_authenticated:
        return Team.objects.none()
    owned = Membership.objects.filter(user=user, role=Role.OWNER).values("team_id")
    return Team.objects.filter(pk__in=owned, feedback_dataset_grant__isnull=False).order_by("name")


def dataset_can_export(*, user: UserLike) -> bool:
    if not user.is_authenticated:
        return False
    return bool(user.is_staff) or dataset_teams_for_user(user=user).exists()


def dataset_can_import(*, user: UserLike, team_id: int) -> bool:
    return dataset_teams_for_user(user=user).filter(pk=team_id).exists()


@dataclass(frozen=True)
class DatasetEntry:
    correction_id: int
    analysis_uid: str
    user_id: int
    label: str
    predicted: str
    model_label: str
    image_path: Path


def _consenting(qs: QuerySet[Correction]) -> QuerySet[Correction]:
    return qs.filter(user__profile__consent_photos_for_training=True)


def _labelled(task: str) -> QuerySet[Correction]:
    return Correction.objects.filter(task=task).exclude(corrected_class="")


def dataset_entries(*, task: str) -> list[DatasetEntry]:
    """The photos of the feedback dataset of `task`: labelled corrections (one of the model's
    classes) of people whose profile consents NOW, whose photo is still on disk."""
    rows = (
        _consenting(_labelled(task))
        .select_related("analysis")
        .order_by("corrected_class", "analysis__uid")
    )
    entries = []
    for c in rows:
        image = c.analysis.image
        if not image or not Path(image.path).is_file():
            continue
        entries.append(
            DatasetEntry(
                correction_id=c.pk,
                analysis_uid=str(c.analysis.uid),
                user_id=c.user_id,
                label=c.corrected_class,
                predicted=c.predicted_class,
                model_label=c.model_label,
                image_path=Path(image.path),
            )
        )
    return entries


@dataclass(frozen=True)
class TaskDatasetSummary:
    task: str
    class_counts: dict[str, int]
    images: int
    people: int
    without_consent: int  # labelled corrections left out: their owners do not consent


def dataset_summary() -> list[TaskDatasetSummary]:
    """Per task: images per class of the feedback dataset and what consent leaves out."""
    labelled = Correction.objects.exclude(corrected_class="")
    consenting = Q(user__profile__consent_photos_for_training=True)
    rows = (
        labelled.values("task", "corrected_class")
        .annotate(
            n=Count("pk", filter=consenting),
            left_out=Count("pk", filter=~consenting),
        )
        .order_by("task", "corrected_class")
    )
    people = dict(
        _consenting(labelled)
        .values("task")
        .annotate(n=Count("user", distinct=True))
        .values_list("task", "n")
    )
    by_task: dict[str, dict] = {}
    for row in rows:
        entry = by_task.setdefault(row["task"], {"counts": {}, "left_out": 0})
        if row["n"]:
            entry["counts"][row["corrected_class"]] = row["n"]
        entry["left_out"] += row["left_out"]
    return [
        TaskDatasetSummary(
            task=task,
            class_counts=entry["counts"],
            images=sum(entry["counts"].values()),
            people=people.get(task, 0),
            without_consent=entry["left_out"],
        )
        for task, entry in sorted(by_task.items())
    ]


def dataset_task_list() -> list[str]:
    return list(
        Correction.objects.exclude(corrected_class="")
        .order_by("task")
        .values_list("task", flat=True)
        .distinct()
    )


def snapshot_list_unused() -> QuerySet[DatasetSnapshot]:
    """Imported feedback folders that no training run has used yet (whatever its status)."""
    return DatasetSnapshot.objects.exclude(
        dataset_version__training_sessions__isnull=False
    ).select_related("dataset_version")


def snapshot_list_for_user(*, user: UserLike) -> QuerySet[DatasetSnapshot]:
    """Feedback imports of the teams this person belongs to."""
    return (
        DatasetSnapshot.objects.filter(team_id__in=team_ids_for_user(user=user))
        .select_related("team", "dataset_version", "dataset_version__dataset", "created_by")
        .order_by("-created_at")
    )
