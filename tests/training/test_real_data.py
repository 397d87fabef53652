"""Real photos from ../shared/data (skipped when absent): a dozen facial photos uploaded as a zip
through the API and trained on for one epoch through the task; a HAM10000 subset registered as a
server folder with its metadata CSV as the grouping key. Images are copied to a temporary folder
only, never into the repository."""

from __future__ import annotations

import csv
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.conftest import api_client_for
from tests.training.conftest import upload_of
from training import services, tasks
from training.models import DatasetVersion, TrainingSession

pytestmark = [pytest.mark.django_db, pytest.mark.shared_data, pytest.mark.slow]


def _first(folder: Path, n: int) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:n]


def test_a_dozen_real_photos_upload_validate_and_train(
    shared_data, team, member_user, tmp_path, django_capture_on_commit_callbacks
):
    facial = shared_data / "facial"
    archive = tmp_path / "facial-dozen.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for cls in ("clear_skin", "dark_spots", "puffy_eyes", "wrinkles"):
            for photo in _first(facial / cls, 3):
                out.write(photo, f"facial/{cls}/{photo.name}")
    client = api_client_for(member_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/training/datasets",
            {"team_id": team.pk, "name": "facial dozen", "task": "facial",
             "archive": upload_of(archive)},
            format="multipart",
        )  # fmt: skip
    assert response.status_code == 202, response.content
    version = DatasetVersion.objects.get(pk=response.json()["version"]["id"])
    assert version.status == "ready", version.error
    assert version.class_counts == {
        c: 3 for c in ("clear_skin", "dark_spots", "puffy_eyes", "wrinkles")
    }
    assert version.report["image_sizes"]["median_side"] >= 128  # real photos, not thumbnails

    suggestion = client.get(f"/api/training/datasets/versions/{version.pk}/suggest").json()
    tiny = {"image_size": 64, "batch_size": 4, "frozen_epochs": 1, "finetune_epochs": 0}
    split = {"patience": 0, "val_fraction": 0.25, "test_fraction": 0.25}
    train = {**suggestion["train"], **tiny, **split}
    with django_capture_on_commit_callbacks(execute=False):
        started = client.post(
            "/api/training/sessions",
            {"dataset_version_id": version.pk, "train": train},
            format="json",
        )
    assert started.status_code == 202, started.content
    result = tasks.run_training_session(started.json()["id"])
    assert result["status"] == "finished"
    session = TrainingSession.objects.get(pk=started.json()["id"])
    assert session.status == "done"
    assert session.classes == ["clear_skin", "dark_spots", "puffy_eyes", "wrinkles"]
    [epoch] = session.epochs.all()
    assert len(epoch.confusion_matrix) == 4
    detail = client.get(f"/api/training/sessions/{session.pk}").json()
    assert detail["epochs"][0]["epoch"] == 1
    assert detail["config"]["dataset"]["sha256"] == version.sha256


def test_ham10000_subset_registered_with_its_lesion_grouping(
    shared_data, team, staff_user, tmp_path, django_capture_on_commit_callbacks
):
    ham = shared_data / "ham10000"
    folder = tmp_path / "ham" / "images"
    wanted: set[str] = set()
    for cls in ("bkl", "mel", "nv"):
        (folder / cls).mkdir(parents=True)
        for photo in _first(ham / "images" / cls, 6):
            shutil.copy(photo, folder / cls / photo.name)
            wanted.add(photo.stem)
    with open(ham / "metadata.csv", newline="") as fh:
        rows = [row for row in csv.DictReader(fh) if row["image_id"] in wanted]
    metadata = tmp_path / "ham" / "metadata.csv"
    with open(metadata, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with django_capture_on_commit_callbacks(execute=True):
        version = services.dataset_version_register_folder(
            user=staff_user, team=team, name="ham subset", task="lesions", path=str(folder),
            group_csv_path=str(metadata), group_column="lesion_id", id_column="image_id",
        )  # fmt: skip
    version.refresh_from_db()
    assert version.status in ("ready", "invalid"), version.error
    assert version.report["scan"]["grouped"] is True
    assert version.report["scan"]["groups"] == len({r["lesion_id"] for r in rows})
    assert version.image_count == 18
    assert version.storage_path == str(folder)  # read in place, not copied
