"""Full disk during an upload: the person gets a clear answer, no row is half-made, no file is
left behind, and the next upload (disk freed) works.

Filling a real disk is not feasible in a test, so the disk is simulated at the operating-system
write: every file opened for writing under MEDIA_ROOT (through open() or os.fdopen(), which is
how Django's FileSystemStorage._save and the dataset upload write) shares a budget of free bytes;
the write that would overflow it writes what still fits and raises OSError(ENOSPC), as a real
full disk does. So the file really exists, half-written, when the error reaches the app: the
app must remove it. Everything else is real: HTTP client, views, services, storage, database,
the shipped ONNX bundle for analyses (skipped when models/lesions/model.onnx is absent).

What each upload answers today:
- analysis API: 507 {"code": "storage_full"}; analysis page: 400 with the same sentence; the
  half-written photo or thumbnail is removed;
- dataset upload API (new dataset or new version): 507 naming the archive field, "The server
  could not store the upload (the server's disk is full)."; the page shows the form again with
  that sentence on the archive field.
"""

from __future__ import annotations

import base64
import builtins
import errno
import io
import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from analysis.models import Analysis
from tests.analysis import images
from tests.factories import TeamFactory, UserFactory
from tests.training.factories import make_zip
from training.models import Dataset, DatasetVersion

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
LESIONS_BUNDLE = REPO / "models" / "lesions" / "model.onnx"
FULL = "The server has run out of storage space, so your photo was not saved."
DATASET_FULL = "The server could not store the upload (the server&#x27;s disk is full)."


class _Disk:
    """The disk under `root`: either `free` bytes are left for every file together, or the file
    number `on_file` (0 = the first opened for writing) overflows after `after` bytes of it."""

    def __init__(self, root: Path, *, free: int | None, on_file: int | None, after: int) -> None:
        self.root = Path(root).resolve()
        self.free, self.on_file, self.after = free, on_file, after
        self.overflows = 0
        self.opened: list[str] = []

    def covers(self, target) -> bool:
        if isinstance(target, int):
            try:
                target = os.readlink(f"/proc/self/fd/{target}")
            except OSError:
                return False
        try:
            Path(target).resolve().relative_to(self.root)
        except (TypeError, ValueError):
            return False
        return True

    def room(self, index: int, written: int) -> int | None:
        """Bytes this file may still take (None: no limit)."""
        if self.free is not None:
            return self.free
        if index == self.on_file:
            return max(self.after - written, 0)
        return None


class _FullDiskFile:
    def __init__(self, raw, disk: _Disk, index: int) -> None:
        self._raw, self._disk, self._index, self._written = raw, disk, index, 0

    def write(self, data):
        room = self._disk.room(self._index, self._written)
        if room is None or len(data) <= room:
            if self._disk.free is not None:
                self._disk.free -= len(data)
            self._written += len(data)
            return self._raw.write(data)
        self._raw.write(data[:room])
        self._raw.flush()  # the part that fitted is on disk, as with a real full disk
        self._written += room
        if self._disk.free is not None:
            self._disk.free = 0
        self._disk.overflows += 1
        raise OSError(errno.ENOSPC, "No space left on device")

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._raw.close()

    def __getattr__(self, name):
        return getattr(self._raw, name)


@pytest.fixture
def full_disk(monkeypatch, media_root):
    """full_disk(free) or full_disk(on_file=k, after=n): see _Disk."""

    def install(free: int | None = None, *, on_file: int | None = None, after: int = 0) -> _Disk:
        disk = _Disk(media_root, free=free, on_file=on_file, after=after)
        real_open = io.open

        def guarded_open(file, mode="r", *args, **kwargs):
            handle = real_open(file, mode, *args, **kwargs)
            if any(m in mode for m in "wxa+") and disk.covers(file):
                disk.opened.append(str(file))
                return _FullDiskFile(handle, disk, len(disk.opened) - 1)
            return handle

        monkeypatch.setattr(builtins, "open", guarded_open)  # open(): the dataset upload
        monkeypatch.setattr(io, "open", guarded_open)  # os.fdopen(): FileSystemStorage._save
        return disk

    return install


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# ---------------------------------------------------------------- analyses
@pytest.fixture
def shipped_models(settings):
    if not LESIONS_BUNDLE.is_file():
        pytest.skip(f"{LESIONS_BUNDLE} is absent (the default bundles are being trained)")
    settings.MODELS_DIR = REPO / "models"
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "analyze": "10000/min",
        },
    }


def _analyze_api(client: Client, seed: int = 0):
    image = "data:image/jpeg;base64," + base64.b64encode(images.photo(seed=seed)).decode()
    return client.post(
        "/api/analyze", {"task": "lesions", "image": image}, content_type="application/json"
    )


def _analyze_page(client: Client, seed: int = 0):
    upload = SimpleUploadedFile("me.jpg", images.photo(seed=seed), content_type="image/jpeg")
    return client.post("/analysis/", {"task": "lesions", "image": upload})


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# Where the disk fills: the photo itself (nothing of it, or half of it written), or the
# thumbnail after the photo was stored.
WHERE = {"photo-empty": (0, 0), "photo-half": (0, 2000), "thumbnail-half": (1, 500)}


# Found by this test (fixed): FileSystemStorage._save creates the file, then the write raises;
# the failing field never gets its name back, so analysis.services._store used to leave that
# half-written file behind. It now also deletes the name the field's upload_to gives.
@pytest.mark.parametrize("where", list(WHERE))
@pytest.mark.parametrize("via", ["api", "page"])
def test_full_disk_during_an_analysis(shipped_models, alice, media_root, full_disk, via, where):
    client = _logged_in(alice)
    on_file, after = WHERE[where]
    disk = full_disk(on_file=on_file, after=after)
    response = (_analyze_api if via == "api" else _analyze_page)(client)
    assert disk.overflows == 1, "the simulated disk was never filled"
    if via == "api":
        assert response.status_code == 507, response.content
        body = response.json()
        assert body["code"] == "storage_full"
        assert body["detail"].startswith(FULL)
    else:
        assert response.status_code == 400
        assert FULL in response.content.decode()
    assert not Analysis.objects.exists()
    assert files_under(media_root) == [], "a half-written file was left behind"

    disk.on_file = None  # space is freed: the very same upload now works
    again = (_analyze_api if via == "api" else _analyze_page)(client)
    assert again.status_code == (201 if via == "api" else 302)
    analysis = Analysis.objects.get()
    assert files_under(media_root) == sorted([analysis.image.name, analysis.thumbnail.name])


# ---------------------------------------------------------------- dataset uploads
@pytest.fixture
def team(alice):
    return TeamFactory(owner=alice)


@pytest.fixture
def archive(tmp_path) -> bytes:
    return make_zip(tmp_path / "colours.zip", {"blue": 6, "red": 6}, size=40).read_bytes()


def _upload_api(client: Client, team, archive: bytes, *, dataset=None, group_csv=None):
    files = {"archive": SimpleUploadedFile("colours.zip", archive, "application/zip")}
    if group_csv is not None:
        files["group_csv"] = SimpleUploadedFile("groups.csv", group_csv, "text/csv")
    if dataset is not None:
        return client.post(f"/api/training/datasets/{dataset.pk}/versions", files)
    data = {"team_id": team.pk, "name": "colours", "task": "colours", **files}
    return client.post("/api/training/datasets", data)


def _upload_page(client: Client, team, archive: bytes):
    upload = SimpleUploadedFile("colours.zip", archive, "application/zip")
    data = {"team": team.pk, "name": "colours", "task": "colours", "archive": upload}
    data |= {"group_column": "lesion_id", "id_column": "image_id"}
    return client.post("/training/datasets/", data)


def _no_dataset_trace(media_root: Path) -> None:
    assert not DatasetVersion.objects.exists()
    assert files_under(media_root) == [], "a half-written archive was left behind"


@pytest.mark.parametrize("free", [0, 5000])
def test_full_disk_during_a_dataset_upload_api(
    alice, team, archive, media_root, full_disk, django_capture_on_commit_callbacks, free
):
    client = _logged_in(alice)
    disk = full_disk(free)
    response = _upload_api(client, team, archive)
    assert disk.overflows == 1
    assert response.status_code == 507, response.content  # as /api/analyze answers
    assert response.json() == {
        "archive": ["The server could not store the upload (the server's disk is full)."]
    }
    assert not Dataset.objects.exists(), "the dataset row of a failed first upload remained"
    _no_dataset_trace(media_root)

    disk.free = 10**9
    with django_capture_on_commit_callbacks(execute=True):  # extraction + validation (q2 sync)
        again = _upload_api(client, team, archive)
    assert again.status_code == 202, again.content
    version = DatasetVersion.objects.get()
    assert version.status == "ready", version.error


def test_full_disk_during_a_new_version_of_an_existing_dataset(
    alice, team, archive, media_root, full_disk, django_capture_on_commit_callbacks
):
    client = _logged_in(alice)
    with django_capture_on_commit_callbacks(execute=True):
        assert _upload_api(client, team, archive).status_code == 202
    version = DatasetVersion.objects.get()
    before = files_under(media_root)
    other = make_zip(media_root.parent / "more.zip", {"blue": 7, "red": 7}, size=40).read_bytes()
    full_disk(3000)
    response = _upload_api(client, team, other, dataset=version.dataset)
    assert response.status_code == 507
    assert "disk is full" in response.json()["archive"][0]
    assert list(DatasetVersion.objects.all()) == [version]  # no half-made version 2
    assert files_under(media_root) == before  # version 1 intact, nothing of version 2


def test_full_disk_while_storing_the_grouping_csv_removes_the_stored_archive(
    alice, team, archive, media_root, full_disk
):
    """The archive fits, the CSV beside it does not: the archive goes too."""
    client = _logged_in(alice)
    csv = b"image_id,lesion_id\n" + b"".join(b"img%04d,les%04d\n" % (i, i) for i in range(2000))
    disk = full_disk(len(archive) + 100)
    response = _upload_api(client, team, archive, group_csv=csv)
    assert disk.overflows == 1
    assert len(disk.opened) == 2, disk.opened  # archive stored, then the CSV overflowed
    assert response.status_code == 507
    assert not Dataset.objects.exists()
    _no_dataset_trace(media_root)


def test_full_disk_during_a_dataset_upload_page(alice, team, archive, media_root, full_disk):
    client = _logged_in(alice)
    full_disk(1000)
    response = _upload_page(client, team, archive)
    assert response.status_code == 200  # the form again, with the reason on the archive field
    assert DATASET_FULL in response.content.decode()
    assert not Dataset.objects.exists()
    _no_dataset_trace(media_root)
