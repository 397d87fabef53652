"""Dataset services: upload (checked synchronously, extracted by a task), server folders,
processing (extract, hash, validate with ml.data) and deletion."""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import logging
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Team
from training import archives, conf
from training.models import Dataset, DatasetVersion, TrainingSession, task_slug_validator
from training.services._common import enqueue_on_commit, require_edit, require_owner

log = logging.getLogger("training")

GROUP_CSV_MAX_BYTES = 50 * 1024 * 1024
SAMPLES_PER_CLASS = 24


# ---------------------------------------------------------------- paths
def datasets_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "datasets"


def team_datasets_dir(team_id: int) -> Path:
    return datasets_root() / str(team_id)


def _limits() -> archives.Limits:
    return archives.Limits(
        max_files=conf.get("TRAINING_DATASET_MAX_FILES"),
        max_total_bytes=conf.get("TRAINING_DATASET_MAX_UNCOMPRESSED_BYTES"),
        max_ratio=conf.get("TRAINING_DATASET_MAX_RATIO"),
    )


def _mb(n: int) -> str:
    return f"{n / 1_000_000:,.1f} MB"


# ---------------------------------------------------------------- upload checks (synchronous)
def _check_archive(archive: File) -> None:
    """Size limit and the central-directory rules; raises ValidationError naming the rule."""
    limit = settings.DATASET_UPLOAD_MAX_BYTES
    if archive.size is not None and archive.size > limit:
        raise ValidationError(
            {"archive": f"The archive is {_mb(archive.size)}; the limit is {_mb(limit)}."},
            code="too_large",
        )
    path = getattr(archive, "temporary_file_path", None)
    source = path() if callable(path) else archive.file
    try:
        if not callable(path):
            archive.seek(0)
        archives.precheck(source, _limits())
    except archives.ArchiveRejected as exc:
        raise ValidationError(
            {"archive": f"{exc.message} (rule: {exc.rule})"}, code=exc.rule
        ) from exc
    finally:
        if not callable(path):
            archive.seek(0)


def _check_group_csv(group_csv: File | None, group_column: str, id_column: str) -> None:
    if group_csv is None:
        return
    if group_csv.size is not None and group_csv.size > GROUP_CSV_MAX_BYTES:
        raise ValidationError({"group_csv": f"The CSV is over {_mb(GROUP_CSV_MAX_BYTES)}."})
    group_csv.seek(0)
    head = group_csv.read(64 * 1024)
    group_csv.seek(0)
    try:
        text = head.decode("utf-8-sig") if isinstance(head, bytes) else head
        columns = next(csv.reader(io.StringIO(text)), [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValidationError({"group_csv": "The grouping file is not a UTF-8 CSV."}) from exc
    missing = [c for c in (group_column, id_column) if c not in columns]
    if missing:
        raise ValidationError(
            {"group_csv": f"The CSV has no column {', '.join(missing)}; it has {columns[:12]}."}
        )


def _store(file: File, dest: Path) -> tuple[str, int]:
    """Copy an upload into place, hashing it on the way; nothing is left behind on error."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    file.seek(0)
    try:
        with open(dest, "xb") as out:
            for chunk in file.chunks():
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except OSError as exc:
        dest.unlink(missing_ok=True)
        raise ValidationError(
            {
                "archive": ValidationError(
                    f"The server could not store the upload ({_os_error(exc)}).",
                    code="storage_full" if exc.errno in _DISK_FULL else "storage",
                )
            },
        ) from exc
    return digest.hexdigest(), size


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def _os_error(exc: OSError) -> str:
    if exc.errno in _DISK_FULL:
        return "the server's disk is full"
    return exc.strerror or str(exc)


def _validate_name_task(*, name: str, task: str) -> tuple[str, str]:
    name, task = name.strip(), task.strip()
    if not name:
        raise ValidationError({"name": "A dataset needs a name."})
    try:
        task_slug_validator(task)
    except ValidationError as exc:
        raise ValidationError({"task": exc.messages}) from exc
    return name, task


# ---------------------------------------------------------------- create versions
def _next_number(dataset: Dataset) -> int:
    Dataset.objects.select_for_update().filter(pk=dataset.pk).first()
    return (dataset.versions.aggregate(n=Max("number"))["n"] or 0) + 1


def _enqueue_processing(version: DatasetVersion) -> None:
    enqueue_on_commit(
        "training.tasks.run_dataset_version_process",
        version.pk,
        task_name=f"dataset-version-{version.pk}-{uuid.uuid4().hex[:8]}",
        group="datasets",
    )


def dataset_version_upload(
    *,
    dataset: Dataset,
    user: AbstractBaseUser,
    archive: File,
    group_csv: File | None = None,
    group_column: str = "lesion_id",
    id_column: str = "image_id",
) -> tuple[DatasetVersion, bool]:
    """A new version from a zip (a folder per class). Returns (version, created): the very same
    archive uploaded again returns the existing version. Extraction and validation run in a task."""
    require_edit(user=user, team_id=dataset.team_id)
    _check_archive(archive)
    _check_group_csv(group_csv, group_column, id_column)
    return _create_upload_version(
        dataset=dataset,
        user=user,
        archive=archive,
        group_csv=group_csv,
        group_column=group_column,
        id_column=id_column,
    )


def dataset_upload(
    *,
    team: Team,
    user: AbstractBaseUser,
    name: str,
    task: str,
    archive: File,
    description: str = "",
    group_csv: File | None = None,
    group_column: str = "lesion_id",
    id_column: str = "image_id",
) -> tuple[DatasetVersion, bool]:
    """Upload into the team's dataset called `name` (created on first upload)."""
    require_edit(user=user, team_id=team.pk)
    name, task = _validate_name_task(name=name, task=task)
    _check_archive(archive)
    _check_group_csv(group_csv, group_column, id_column)
    with transaction.atomic():
        dataset = _dataset_get_or_create(
            team=team, user=user, name=name, task=task, description=description
        )
        return _create_upload_version(
            dataset=dataset,
            user=user,
            archive=archive,
            group_csv=group_csv,
            group_column=group_column,
            id_column=id_column,
        )


def _dataset_get_or_create(
    *, team: Team, user: AbstractBaseUser, name: str, task: str, description: str
) -> Dataset:
    dataset, created = Dataset.objects.get_or_create(
        team=team,
        name=name,
        defaults={"task": task, "description": description.strip(), "created_by": user},
    )
    if not created and dataset.task != task:
        raise ValidationError(
            {"task": f"The dataset {name!r} already exists for task {dataset.task!r}."}
        )
    return dataset


def _create_upload_version(
    *,
    dataset: Dataset,
    user: AbstractBaseUser,
    archive: File,
    group_csv: File | None,
    group_column: str,
    id_column: str,
) -> tuple[DatasetVersion, bool]:
    uploads = team_datasets_dir(dataset.team_id) / "uploads"
    token = uuid.uuid4().hex
    archive_path = uploads / f"{token}.zip"
    archive_sha, size = _store(archive, archive_path)
    csv_path = ""
    try:
        if group_csv is None:
            existing = (
                dataset.versions.filter(archive_sha256=archive_sha)
                .exclude(status=DatasetVersion.Status.FAILED)
                .first()
            )
            if existing is not None:
                archive_path.unlink(missing_ok=True)
                return existing, False
        else:
            csv_path = str(team_datasets_dir(dataset.team_id) / "groups" / f"{token}.csv")
            _store(group_csv, Path(csv_path))
        with transaction.atomic():
            version = DatasetVersion.objects.create(
                dataset=dataset,
                number=_next_number(dataset),
                archive_sha256=archive_sha,
                archive_name=(getattr(archive, "name", "") or "")[-255:],
                archive_path=str(archive_path),
                size_bytes=size,
                source=DatasetVersion.Source.UPLOAD,
                group_csv_path=csv_path,
                group_column=group_column,
                id_column=id_column,
                created_by=user,
            )
            _enqueue_processing(version)
    except Exception:
        archive_path.unlink(missing_ok=True)
        if csv_path:
            Path(csv_path).unlink(missing_ok=True)
        raise
    return version, True


def dataset_version_create_from_folder(
    *,
    dataset: Dataset,
    user: AbstractBaseUser | None,
    path: str | Path,
    source: str = DatasetVersion.Source.FEEDBACK,
    group_csv_path: str = "",
    group_column: str = "lesion_id",
    id_column: str = "image_id",
) -> DatasetVersion:
    """A version that reads a folder in place (a server folder, or one the feedback app built).
    No role check here: callers (the staff-only service below, other apps' services) decide."""
    folder = Path(path)
    if not folder.is_absolute() or not folder.is_dir():
        raise ValidationError({"path": f"{folder} is not an absolute path to a folder."})
    if group_csv_path and not Path(group_csv_path).is_file():
        raise ValidationError({"group_csv_path": f"{group_csv_path} is not a file."})
    with transaction.atomic():
        version = DatasetVersion.objects.create(
            dataset=dataset,
            number=_next_number(dataset),
            source=source,
            storage_path=str(folder),
            group_csv_path=group_csv_path,
            group_column=group_column,
            id_column=id_column,
            created_by=user,
        )
        _enqueue_processing(version)
    return version


def dataset_version_register_folder(
    *,
    user: AbstractBaseUser,
    team: Team,
    name: str,
    task: str,
    path: str,
    group_csv_path: str = "",
    group_column: str = "lesion_id",
    id_column: str = "image_id",
    description: str = "",
) -> DatasetVersion:
    """Staff only: register a folder on the server (read in place, never copied)."""
    if not user.is_staff:
        raise PermissionDenied("Only staff can register a folder on the server.")
    name, task = _validate_name_task(name=name, task=task)
    with transaction.atomic():
        dataset = _dataset_get_or_create(
            team=team, user=user, name=name, task=task, description=description
        )
        return dataset_version_create_from_folder(
            dataset=dataset,
            user=user,
            path=path,
            source=DatasetVersion.Source.SERVER_FOLDER,
            group_csv_path=group_csv_path,
            group_column=group_column,
            id_column=id_column,
        )


def dataset_version_revalidate(*, version: DatasetVersion) -> bool:
    """A folder read in place (server folder, feedback export) changed: hash and validate it
    again so its hash, counts and report describe what is there now. False while it is still
    being processed (the running pass will see the new files anyway). Uploads never change."""
    if version.source == DatasetVersion.Source.UPLOAD:
        raise ValidationError("An uploaded version never changes; upload a new version instead.")
    with transaction.atomic():
        updated = (
            DatasetVersion.objects.filter(pk=version.pk)
            .exclude(
                status__in=[
                    DatasetVersion.Status.QUEUED,
                    DatasetVersion.Status.EXTRACTING,
                    DatasetVersion.Status.VALIDATING,
                ]
            )
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
            _enqueue_processing(version)
    version.refresh_from_db()
    return bool(updated)


# ---------------------------------------------------------------- processing (task body)
def _set(version: DatasetVersion, **fields: Any) -> None:
    for key, value in fields.items():
        setattr(version, key, value)
    DatasetVersion.objects.filter(pk=version.pk).update(**fields)


def _fail(version: DatasetVersion, message: str) -> None:
    _set(version, status=DatasetVersion.Status.FAILED, error=message, processed_at=timezone.now())


def dataset_version_process(*, version_id: int) -> DatasetVersion | None:
    """Extract (uploads), hash and validate one version. Runs once: the row is claimed first."""
    claimed = DatasetVersion.objects.filter(
        pk=version_id, status=DatasetVersion.Status.QUEUED
    ).update(status=DatasetVersion.Status.EXTRACTING)
    if not claimed:
        return None
    version = DatasetVersion.objects.select_related("dataset").get(pk=version_id)
    try:
        tree = _materialise(version)
    except archives.ArchiveRejected as exc:
        _fail(version, f"{exc.message} (rule: {exc.rule}). Nothing was kept.")
        return version
    except OSError as exc:
        _fail(version, _extraction_os_error(exc))
        return version
    finally:
        if version.archive_path:
            Path(version.archive_path).unlink(missing_ok=True)
            _set(version, archive_path="")
    duplicate = version.dataset.versions.filter(sha256=tree.sha256).exclude(pk=version.pk).first()
    if duplicate is not None:
        _fail(
            version,
            f"Identical content is already version {duplicate.number} of this dataset "
            f"(sha256 {tree.sha256[:12]}…); use that version.",
        )
        return version
    _set(
        version,
        sha256=tree.sha256,
        size_bytes=tree.total_bytes,
        status=DatasetVersion.Status.VALIDATING,
    )
    _validate(version)
    return version


def _extraction_os_error(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return (
            "The server ran out of disk space while extracting the archive; no partial files "
            "were kept. Free some space (or ask an administrator), then upload again."
        )
    return f"Extraction failed: {_os_error(exc)}. No partial files were kept."


def _materialise(version: DatasetVersion) -> archives.ExtractedTree:
    """Uploads: extract into a temporary folder, then move it to datasets/<team>/<sha256>/.
    Folders: hash in place."""
    if version.source != DatasetVersion.Source.UPLOAD:
        return archives.hash_tree(Path(version.storage_path))
    team_dir = team_datasets_dir(version.dataset.team_id)
    tmp = team_dir / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir(parents=True)
    try:
        tree = archives.extract(version.archive_path, tmp, _limits())
        target = team_dir / tree.sha256
        if target.exists():  # identical content already extracted for this team: share it
            shutil.rmtree(tmp)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _set(version, storage_path=str(target))
    return tree


def _validate(version: DatasetVersion) -> None:
    from ml import data as mldata

    started = time.monotonic()
    try:
        index = mldata.scan(
            version.storage_path,
            group_csv=version.group_csv_path or None,
            group_column=version.group_column or "lesion_id",
            id_column=version.id_column or "image_id",
        )
        report = mldata.validate(index, progress=_validation_progress(version))
    except (mldata.DatasetError, ValueError, OSError) as exc:
        _set(
            version,
            status=DatasetVersion.Status.INVALID,
            error=f"This is not a usable dataset: {exc}",
            report={},
            processed_at=timezone.now(),
        )
        return
    payload = _report_payload(index, report, seconds=time.monotonic() - started)
    errors = [f["message"] for f in payload["findings"] if f["severity"] == "error"]
    _set(
        version,
        status=DatasetVersion.Status.READY if report.ok else DatasetVersion.Status.INVALID,
        error="; ".join(errors),
        report=payload,
        class_counts=dict(report.class_counts),
        image_count=report.num_images,
        processed_at=timezone.now(),
    )


def _validation_progress(version: DatasetVersion):
    last = [0.0]

    def hook(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0 or done == total:
            last[0] = now
            fraction = round(done / max(total, 1), 3)
            DatasetVersion.objects.filter(pk=version.pk).update(report={"progress": fraction})

    return hook


def _report_payload(index, report, *, seconds: float) -> dict:
    """The ValidationReport as JSON, plus what the report page needs: where the class folders
    start (thumbnails resolve paths from there) and a sample of files per class."""
    payload = report.to_dict()
    samples: dict[str, list[str]] = {}
    for record in index.records:
        bucket = samples.setdefault(record.label, [])
        if len(bucket) < SAMPLES_PER_CLASS:
            bucket.append(index.key(record))
    payload["scan"] = {
        "prefix": index.sources[0].prefix,
        "grouped": any(r.group for r in index.records),
        "groups": len({r.group for r in index.records if r.group}),
        "seconds": round(seconds, 2),
    }
    payload["samples"] = samples
    return payload


# ---------------------------------------------------------------- delete
def dataset_delete(*, dataset: Dataset, user: AbstractBaseUser) -> None:
    """Owners only. Refused while a run uses it; extracted files go unless another version
    (same content, other dataset) still points at them. Server folders are never touched."""
    require_owner(user=user, team_id=dataset.team_id)
    active = TrainingSession.objects.filter(
        dataset_version__dataset=dataset,
        status__in=[TrainingSession.Status.QUEUED, TrainingSession.Status.RUNNING],
    ).count()
    if active:
        raise ValidationError(
            f"{active} training run(s) are using this dataset; cancel them before deleting it."
        )
    versions = list(dataset.versions.all())
    with transaction.atomic():
        dataset.delete()
    for version in versions:
        _delete_files(version)


def _delete_files(version: DatasetVersion) -> None:
    from training import thumbnails

    thumbnails.forget(version.pk)
    for extra in (version.archive_path, version.group_csv_path):
        if extra and Path(extra).is_relative_to(datasets_root()):
            Path(extra).unlink(missing_ok=True)
    if version.source != DatasetVersion.Source.UPLOAD or not version.storage_path:
        return
    storage = Path(version.storage_path)
    if not storage.is_relative_to(datasets_root()):
        return
    if DatasetVersion.objects.filter(storage_path=version.storage_path).exists():
        return
    shutil.rmtree(storage, ignore_errors=True)
