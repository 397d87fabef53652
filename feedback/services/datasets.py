"""The feedback dataset: "what is it really?" answers with their analysis photos, a folder per
class, built on demand from the corrections of people who consent now. Export as a zip, import
into a team's training workspace (a folder read in place by a new dataset version), and take
photos out of imported folders no run has used yet when consent is withdrawn or a correction
goes away."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import logging
import re
import shutil
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Team
from feedback import selectors
from feedback.models import DatasetSnapshot
from feedback.selectors import DatasetEntry
from training.models import Dataset, DatasetVersion, task_slug_validator
from training.services import dataset_version_create_from_folder

log = logging.getLogger("feedback")

METADATA_FILE = "metadata.csv"
README_FILE = "README.txt"
# ml.data and the training workspace read groups from metadata.csv's `lesion_id` column by
# default. Here a group is a person: their photos never straddle train/validation/test.
METADATA_COLUMNS = ("image_id", "lesion_id", "label", "predicted", "model")


def snapshots_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "feedback" / "snapshots"


def person_group(user_id: int) -> str:
    """A pseudonym per person (stable, not reversible without the server's secret key)."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"feedback-person:{user_id}".encode(), hashlib.sha256
    )
    return "p" + digest.hexdigest()[:15]


# ---------------------------------------------------------------- access
def _require_export(user: AbstractBaseUser) -> None:
    if not selectors.dataset_can_export(user=user):
        raise PermissionDenied(
            "Only staff, and owners of teams allowed to use the feedback dataset, can export it."
        )


def _require_import(user: AbstractBaseUser, team: Team) -> None:
    if not selectors.dataset_can_import(user=user, team_id=team.pk):
        raise PermissionDenied(
            "Only an owner of a team allowed to use the feedback dataset can import it there."
        )


def _validate_task(task: str) -> str:
    task = (task or "").strip()
    try:
        task_slug_validator(task)
    except ValidationError as exc:
        raise ValidationError({"task": exc.messages}) from exc
    return task


# ---------------------------------------------------------------- the tree (zip or folder)
@dataclass(frozen=True)
class DatasetContent:
    task: str
    entries: list[DatasetEntry]

    @property
    def class_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(e.label for e in self.entries).items()))

    @property
    def people(self) -> int:
        return len({e.user_id for e in self.entries})


def _content(task: str) -> DatasetContent:
    return DatasetContent(task=task, entries=selectors.dataset_entries(task=task))


def _member_name(entry: DatasetEntry) -> str:
    return f"{entry.label}/{entry.analysis_uid}.jpg"


def _metadata_csv(entries: Iterable[DatasetEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(METADATA_COLUMNS)
    for e in entries:
        writer.writerow(
            [e.analysis_uid, person_group(e.user_id), e.label, e.predicted, e.model_label]
        )
    return out.getvalue()


def _readme(content: DatasetContent) -> str:
    counts = "\n".join(f"  {label}: {n}" for label, n in content.class_counts.items())
    return (
        f"SkinPlatform feedback dataset, task {content.task}\n"
        f"Built {timezone.now():%Y-%m-%d %H:%M %Z} from {len(content.entries)} photo(s) of "
        f"{content.people} person(s).\n\n"
        "Each photo is the one analysed; its folder is the class its owner says it really is\n"
        "(self-reported, not a diagnosis: review before training). Only people who consent to\n"
        "their photos being used for training are included, as of the build time.\n"
        f"{METADATA_FILE}: image_id (file name), lesion_id (a pseudonym of the person: keep their\n"
        "photos in one split), label, predicted (the model's answer), model.\n\n"
        f"Images per class:\n{counts}\n"
    )


@dataclass(frozen=True)
class ExportResult:
    task: str
    images: int
    class_counts: dict[str, int]


def feedback_dataset_export(*, user: AbstractBaseUser, task: str, out: BinaryIO) -> ExportResult:
    """Write the feedback dataset of `task` as a zip (a folder per class, metadata.csv,
    README.txt) into `out`. Staff, and owners of teams with a grant."""
    _require_export(user)
    content = _content(_validate_task(task))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in content.entries:
            # JPEGs do not compress: store them.
            archive.write(entry.image_path, _member_name(entry), zipfile.ZIP_STORED)
        archive.writestr(METADATA_FILE, _metadata_csv(content.entries))
        archive.writestr(README_FILE, _readme(content))
    return ExportResult(
        task=content.task, images=len(content.entries), class_counts=content.class_counts
    )


# ---------------------------------------------------------------- import
def feedback_dataset_import(
    *, user: AbstractBaseUser, team: Team, task: str, name: str = ""
) -> DatasetVersion:
    """Copy the feedback dataset of `task` into a new folder and add it to the team's dataset
    `name` (created on first import) as a new version, validated by a worker like any other."""
    _require_import(user, team)
    task = _validate_task(task)
    name = (name or "").strip() or f"Feedback: {task}"
    content = _content(task)
    if not content.entries:
        raise ValidationError(
            {"task": f"No photos yet: nobody who consents has corrected a {task} result."}
        )
    folder = _materialise(team, content)
    try:
        with transaction.atomic():
            dataset = _dataset_for(team=team, user=user, name=name, task=task)
            version = dataset_version_create_from_folder(
                dataset=dataset,
                user=user,
                path=folder,
                source=DatasetVersion.Source.FEEDBACK,
            )
            DatasetSnapshot.objects.create(
                task=task,
                team=team,
                created_by=user,
                dataset_version=version,
                path=str(folder),
                image_count=len(content.entries),
                class_counts=content.class_counts,
            )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return version


def _dataset_for(*, team: Team, user: AbstractBaseUser, name: str, task: str) -> Dataset:
    # training.services has no public "get or create a dataset" yet (dataset_upload does it
    # inside); this mirrors its rule: one name per team, and a name keeps its task.
    dataset, created = Dataset.objects.get_or_create(
        team=team,
        name=name[:120],
        defaults={
            "task": task,
            "description": "Photos and corrections from users' feedback (consenting people only).",
            "created_by": user,
        },
    )
    if not created and dataset.task != task:
        raise ValidationError(
            {"name": f"The dataset {name!r} already exists for task {dataset.task!r}."}
        )
    return dataset


def _materialise(team: Team, content: DatasetContent) -> Path:
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    folder = snapshots_root() / str(team.pk) / f"{content.task}-{stamp}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    try:
        for entry in content.entries:
            dest = folder / _member_name(entry)
            dest.parent.mkdir(exist_ok=True)
            shutil.copyfile(entry.image_path, dest)
        (folder / METADATA_FILE).write_text(_metadata_csv(content.entries), encoding="utf-8")
        (folder / README_FILE).write_text(_readme(content), encoding="utf-8")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


# ---------------------------------------------------------------- taking photos out again
_UID = re.compile(r"^[0-9a-f-]{36}$")


def feedback_snapshot_forget_user(*, user_id: int) -> int:
    """Consent withdrawn: take this person's photos out of every imported folder that no
    training run has used yet. Returns the number of files removed."""
    from analysis.models import Analysis

    uids = {str(u) for u in Analysis.objects.filter(owner_id=user_id).values_list("uid", flat=True)}
    return _forget(uids)


def feedback_snapshot_forget_analysis(*, analysis_uid: str) -> int:
    """An analysis (or its correction) is gone or relabelled: take its photo out of every
    imported folder that no training run has used yet."""
    return _forget({analysis_uid})


def _forget(uids: set[str]) -> int:
    uids = {u for u in uids if _UID.match(u)}
    if not uids:
        return 0
    removed = 0
    for snapshot in selectors.snapshot_list_unused():
        removed += _forget_in(snapshot, uids)
    return removed


def _is_ours(folder: Path) -> bool:
    return folder.is_dir() and folder.resolve().is_relative_to(snapshots_root().resolve())


def _forget_in(snapshot: DatasetSnapshot, uids: set[str]) -> int:
    folder = Path(snapshot.path)
    if not _is_ours(folder):  # never delete anything outside the feedback folders
        return 0
    gone: Counter[str] = Counter()
    for class_dir in (p for p in folder.iterdir() if p.is_dir()):
        for uid in uids:
            photo = class_dir / f"{uid}.jpg"
            if photo.is_file():
                photo.unlink()
                gone[class_dir.name] += 1
    if not gone:
        return 0
    _drop_metadata_rows(folder / METADATA_FILE, uids)
    counts = {k: v - gone[k] for k, v in snapshot.class_counts.items() if v - gone[k] > 0}
    DatasetSnapshot.objects.filter(pk=snapshot.pk).update(
        class_counts=counts,
        image_count=sum(counts.values()),
        removed_count=F("removed_count") + sum(gone.values()),
    )
    _revalidate(snapshot.dataset_version)
    log.info("feedback snapshot %s: removed %s photo(s)", snapshot.pk, sum(gone.values()))
    return sum(gone.values())


def _drop_metadata_rows(path: Path, uids: set[str]) -> None:
    if not path.is_file():
        return
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    kept = [row for i, row in enumerate(rows) if i == 0 or (row and row[0] not in uids)]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(kept)
    path.write_text(out.getvalue(), encoding="utf-8")


_PROCESSING = (
    DatasetVersion.Status.QUEUED,
    DatasetVersion.Status.EXTRACTING,
    DatasetVersion.Status.VALIDATING,
)


def _revalidate(version: DatasetVersion) -> None:
    """The folder changed under a processed version: hash and validate it again, so its hash,
    counts and report (and the config snapshot of any later run) describe what is there now.

    This writes a training row from here because training.services has no "revalidate a
    version" service yet; it goes through training's own processing task."""
    updated = (
        DatasetVersion.objects.filter(pk=version.pk)
        .exclude(status__in=_PROCESSING)
        .update(
            status=DatasetVersion.Status.QUEUED,
            sha256="",
            error="",
            report={},
            class_counts={},
            image_count=0,
            processed_at=None,
        )
    )
    if updated:
        transaction.on_commit(lambda: _enqueue_processing(version.pk))


def _enqueue_processing(version_id: int) -> None:
    from django_q.tasks import async_task

    async_task(
        "training.tasks.run_dataset_version_process",
        version_id,
        task_name=f"dataset-version-{version_id}-{uuid.uuid4().hex[:8]}",
        group="datasets",
    )


def feedback_snapshot_delete_folder(*, path: str) -> None:
    """The snapshot row is gone (its dataset version was deleted): its folder goes too."""
    folder = Path(path)
    if _is_ours(folder):
        shutil.rmtree(folder, ignore_errors=True)
