"""Dataset services on real zips: upload, synchronous checks, extraction by the q2 task (run
synchronously), validation by ml.data, content-hash versioning, server folders, deletion."""

from __future__ import annotations

import errno
import io
import zipfile
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tests.training.conftest import upload_of
from tests.training.factories import make_image_folder, make_zip, synthetic_image
from training import archives, services
from training.models import Dataset, DatasetVersion

pytestmark = pytest.mark.django_db


def _upload(team, user, path: Path, callbacks, **kwargs):
    with callbacks(execute=True):
        version, created = services.dataset_upload(
            team=team, user=user, name=kwargs.pop("name", "colours"), task="colours",
            archive=upload_of(path), **kwargs,
        )  # fmt: skip
    version.refresh_from_db()
    return version, created


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_upload_is_extracted_hashed_and_validated(ready_version, settings, team):
    version = ready_version
    storage = Path(version.storage_path)
    assert storage == Path(settings.MEDIA_ROOT) / "datasets" / str(team.pk) / version.sha256
    assert sorted(p.name for p in storage.iterdir()) == ["blue", "red"]
    assert version.class_counts == {"blue": 8, "red": 8}
    assert version.image_count == 16
    assert version.number == 1
    assert version.archive_path == ""  # the uploaded archive is gone once extracted
    assert not _files_under(Path(settings.MEDIA_ROOT) / "datasets" / str(team.pk) / "uploads")
    report = version.report
    assert report["class_counts"] == {"blue": 8, "red": 8}
    codes = {f["code"] for f in report["findings"]}
    assert "too_small" in codes  # 48 px images: below the 64 px guidance
    assert "too_few_images" in codes  # 8 per class: below 20
    assert len(report["samples"]["blue"]) == 8


def test_same_archive_again_returns_the_existing_version(ready_version, team, user, zip_path):
    again, created = services.dataset_upload(
        team=team, user=user, name="colours", task="colours", archive=upload_of(zip_path)
    )
    assert created is False
    assert again.pk == ready_version.pk
    assert DatasetVersion.objects.count() == 1


def test_same_content_in_another_archive_is_recognised(
    ready_version, team, user, tmp_path, django_capture_on_commit_callbacks
):
    rezipped = make_zip(tmp_path / "rezipped.zip", prefix="wrapper/")
    version, created = _upload(team, user, rezipped, django_capture_on_commit_callbacks)
    assert created
    assert version.status == "failed"
    assert f"already version {ready_version.number}" in version.error
    assert version.sha256 == ""
    assert DatasetVersion.objects.filter(sha256=ready_version.sha256).count() == 1


def test_new_content_becomes_the_next_version(
    ready_version, team, user, tmp_path, django_capture_on_commit_callbacks
):
    bigger = make_zip(tmp_path / "bigger.zip", {"blue": 9, "red": 8})
    version, created = _upload(team, user, bigger, django_capture_on_commit_callbacks)
    assert created
    assert (version.number, version.status) == (2, "ready")
    assert version.sha256 != ready_version.sha256
    assert version.dataset_id == ready_version.dataset_id


@pytest.mark.parametrize(
    ("entries", "rule"),
    [
        ({"../escape.png": b"x"}, "path_traversal"),
        ({"blue/zeros.png": b"\0" * (20 * 1024 * 1024)}, "expansion_ratio"),
    ],
)
def test_hostile_archives_are_refused_at_once_and_nothing_is_stored(
    team, user, tmp_path, settings, entries, rule
):
    path = tmp_path / "hostile.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("blue/ok.png", synthetic_image("blue", 0))
        for name, data in entries.items():
            archive.writestr(name, data)
    with pytest.raises(ValidationError) as info:
        services.dataset_upload(
            team=team, user=user, name="bad", task="colours", archive=upload_of(path)
        )
    assert f"rule: {rule}" in str(info.value.message_dict["archive"])
    assert not Dataset.objects.exists()
    assert not _files_under(Path(settings.MEDIA_ROOT))


def test_archives_over_the_size_limit_are_refused(team, user, zip_path, settings):
    settings.DATASET_UPLOAD_MAX_BYTES = 1000
    with pytest.raises(ValidationError) as info:
        services.dataset_upload(
            team=team, user=user, name="big", task="colours", archive=upload_of(zip_path)
        )
    assert "the limit is" in info.value.message_dict["archive"][0]
    assert not _files_under(Path(settings.MEDIA_ROOT))


def test_limits_are_enforced_again_while_extracting(
    team, user, zip_path, settings, django_capture_on_commit_callbacks
):
    """The pre-check passed with the limit at the time; a tighter one in the worker still holds
    (the same code path that catches archives whose headers lie)."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        version, _ = services.dataset_upload(
            team=team, user=user, name="c", task="colours", archive=upload_of(zip_path)
        )
    settings.TRAINING_DATASET_MAX_UNCOMPRESSED_BYTES = 5000
    for callback in callbacks:
        callback()
    version.refresh_from_db()
    assert version.status == "failed"
    assert "rule: total_size" in version.error
    assert not _files_under(Path(settings.MEDIA_ROOT) / "datasets")


def test_a_full_disk_during_extraction_fails_cleanly(
    team, user, zip_path, settings, monkeypatch, django_capture_on_commit_callbacks
):
    written = []

    def full_disk(out, chunk):
        if len(written) >= 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(len(chunk))
        out.write(chunk)

    monkeypatch.setattr(archives, "write_chunk", full_disk)
    version, _ = _upload(team, user, zip_path, django_capture_on_commit_callbacks)
    assert version.status == "failed"
    assert "ran out of disk space" in version.error
    assert "no partial files" in version.error
    assert len(written) == 3  # it really started writing
    assert not _files_under(Path(settings.MEDIA_ROOT) / "datasets")


def test_a_dataset_with_one_class_is_invalid(
    team, user, tmp_path, django_capture_on_commit_callbacks
):
    version, _ = _upload(
        team, user, make_zip(tmp_path / "one.zip", {"blue": 5}), django_capture_on_commit_callbacks
    )
    assert version.status == "invalid"
    assert "at least two classes" in version.error


def test_report_lists_corrupt_files_duplicates_and_label_conflicts(
    team, user, tmp_path, django_capture_on_commit_callbacks
):
    twin = synthetic_image("blue", 0)
    path = make_zip(
        tmp_path / "messy.zip",
        {"blue": 6, "red": 6},
        extra={
            "blue/broken.png": synthetic_image("blue", 99)[:200],  # truncated
            "red/same-as-blue0.png": twin,  # identical file under another class
            "blue/copy-of-blue0.png": twin,
        },
    )
    version, _ = _upload(team, user, path, django_capture_on_commit_callbacks)
    findings = {f["code"]: f for f in version.report["findings"]}
    assert "blue/broken.png" in findings["truncated"]["examples"]
    conflict = findings["label_conflict"]
    assert any("red/same-as-blue0.png" in group for group in conflict["groups"])
    assert version.status == "invalid"  # conflicts and corrupt files are errors
    assert "identical files are filed under two or more classes" in version.error


def test_grouping_csv_is_used(team, user, tmp_path, django_capture_on_commit_callbacks):
    path = make_zip(tmp_path / "grouped.zip", {"blue": 4, "red": 4})
    rows = ["lesion_id,image_id"] + [
        f"{c}-L{i // 2},{c}_{i:03d}" for c in ("blue", "red") for i in range(4)
    ]
    csv_file = io.BytesIO("\n".join(rows).encode())
    from django.core.files.uploadedfile import SimpleUploadedFile

    with django_capture_on_commit_callbacks(execute=True):
        version, _ = services.dataset_upload(
            team=team, user=user, name="g", task="colours", archive=upload_of(path),
            group_csv=SimpleUploadedFile("groups.csv", csv_file.getvalue()),
        )  # fmt: skip
    version.refresh_from_db()
    assert version.report["scan"]["grouped"] is True
    assert version.report["scan"]["groups"] == 4


def test_grouping_csv_without_the_columns_is_refused(team, user, zip_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    with pytest.raises(ValidationError) as info:
        services.dataset_upload(
            team=team, user=user, name="g", task="colours", archive=upload_of(zip_path),
            group_csv=SimpleUploadedFile("g.csv", b"a,b\n1,2\n"),
        )  # fmt: skip
    assert "no column lesion_id, image_id" in str(info.value)


def test_viewers_cannot_upload(team, viewer_user, zip_path):
    with pytest.raises(PermissionDenied):
        services.dataset_upload(
            team=team, user=viewer_user, name="x", task="colours", archive=upload_of(zip_path)
        )


def test_task_must_be_a_slug(team, user, zip_path):
    with pytest.raises(ValidationError) as info:
        services.dataset_upload(
            team=team, user=user, name="x", task="Not A Slug", archive=upload_of(zip_path)
        )
    assert "task" in info.value.message_dict


def test_staff_register_a_server_folder_read_in_place(
    team, staff_user, user, tmp_path, django_capture_on_commit_callbacks
):
    folder = make_image_folder(tmp_path / "server" / "images", {"blue": 5, "red": 5})
    with pytest.raises(PermissionDenied):
        services.dataset_version_register_folder(
            user=user, team=team, name="srv", task="colours", path=str(folder)
        )
    with django_capture_on_commit_callbacks(execute=True):
        version = services.dataset_version_register_folder(
            user=staff_user, team=team, name="srv", task="colours", path=str(folder)
        )
    version.refresh_from_db()
    assert (version.source, version.status) == ("server_folder", "ready")
    assert version.storage_path == str(folder)
    assert version.sha256 == archives.hash_tree(folder).sha256
    with pytest.raises(ValidationError):
        services.dataset_version_register_folder(
            user=staff_user, team=team, name="srv", task="colours", path="relative/path"
        )


def test_only_owners_delete_and_files_go_with_the_dataset(ready_version, member_user, user):
    storage = Path(ready_version.storage_path)
    with pytest.raises(PermissionDenied):
        services.dataset_delete(dataset=ready_version.dataset, user=member_user)
    services.dataset_delete(dataset=ready_version.dataset, user=user)
    assert not Dataset.objects.exists()
    assert not storage.exists()


def test_shared_content_survives_the_deletion_of_one_dataset(
    ready_version, team, user, zip_path, django_capture_on_commit_callbacks
):
    other, _ = _upload(
        team, user, zip_path, django_capture_on_commit_callbacks, name="same pictures"
    )
    assert other.storage_path == ready_version.storage_path  # content-addressed: stored once
    services.dataset_delete(dataset=ready_version.dataset, user=user)
    assert Path(other.storage_path).is_dir()


def test_a_changed_server_folder_is_revalidated(
    team, staff_user, tmp_path, django_capture_on_commit_callbacks
):
    folder = make_image_folder(tmp_path / "srv", {"blue": 4, "red": 4})
    with django_capture_on_commit_callbacks(execute=True):
        version = services.dataset_version_register_folder(
            user=staff_user, team=team, name="srv", task="colours", path=str(folder)
        )
    version.refresh_from_db()
    before = version.sha256
    (folder / "red" / "red_000.png").unlink()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.dataset_version_revalidate(version=version) is True
    version.refresh_from_db()
    assert version.status == "ready"
    assert version.class_counts == {"blue": 4, "red": 3}
    assert version.sha256 not in ("", before)


def test_uploaded_versions_are_never_revalidated(ready_version):
    with pytest.raises(ValidationError, match="never changes"):
        services.dataset_version_revalidate(version=ready_version)
