from __future__ import annotations

import errno
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage

from analysis import services
from analysis.models import Analysis
from tests.analysis import images
from tests.analysis.conftest import media_files

pytestmark = pytest.mark.django_db


def _submit(user, raw=None, task="lesions", **kw):
    return services.analysis_submit(
        user=user, task=task, raw=raw or images.photo(), filename="p.jpg", **kw
    )


def test_submit_stores_photo_answer_advice_and_model(user, media_root):
    analysis = _submit(user)
    assert analysis.pk
    assert analysis.owner == user
    assert set(analysis.probabilities) == {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"}
    assert abs(sum(analysis.probabilities.values()) - 1) < 1e-4
    assert analysis.top_class == max(analysis.probabilities, key=analysis.probabilities.get)
    assert analysis.severity in ("low", "medium", "high")
    assert analysis.advice["condition_key"] == analysis.top_class
    assert analysis.model_label == "lesions (default model)"
    assert len(analysis.model_card_sha) == 64
    stored = media_files(media_root)
    assert {p.name for p in stored} == {f"{analysis.uid}.jpg", f"{analysis.uid}.thumb.jpg"}
    assert all(p.parent.name == str(user.pk) for p in stored)


def test_submit_unknown_task_is_refused_and_nothing_stored(user, media_root):
    with pytest.raises(ValidationError):
        _submit(user, task="no-such-task")
    assert not Analysis.objects.exists()
    assert media_files(media_root) == []


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", "empty"),
        (images.png_header_only(30_000, 30_000), "too_many_pixels"),
        (b"%PDF-1.4 not an image", "not_an_image"),
    ],
)
def test_refused_photo_leaves_nothing(user, media_root, raw, code):
    with pytest.raises(services.PhotoRefused) as info:
        services.analysis_submit(user=user, task="lesions", raw=raw, filename="x.jpg")
    assert info.value.code == code
    assert not Analysis.objects.exists()
    assert media_files(media_root) == []


def test_quality_warning_needs_confirmation_then_can_be_overridden(user, media_root):
    small = images.photo((100, 100))
    with pytest.raises(services.PhotoNeedsConfirmation) as info:
        _submit(user, small)
    assert [w.code for w in info.value.report.warnings] == ["small"]
    assert media_files(media_root) == []
    analysis = _submit(user, small, accept_warnings=True)
    assert analysis.quality["accepted_warnings"] == ["small"]


def test_full_disk_keeps_nothing_and_says_so(user, media_root):
    real_save = FileSystemStorage._save
    calls = []

    def flaky(self, name, content):  # the thumbnail write hits a full disk
        calls.append(name)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, name, content)

    with (
        mock.patch.object(FileSystemStorage, "_save", flaky),
        pytest.raises(services.StorageFull, match="run out of storage"),
    ):
        _submit(user)
    assert not Analysis.objects.exists()
    assert media_files(media_root) == []


def test_delete_removes_row_and_files(user, media_root, django_capture_on_commit_callbacks):
    analysis = _submit(user)
    assert media_files(media_root)
    with django_capture_on_commit_callbacks(execute=True):
        services.analysis_delete(analysis=analysis)
    assert not Analysis.objects.exists()
    assert media_files(media_root) == []


def test_delete_all_only_touches_my_analyses(
    user, other_user, media_root, django_capture_on_commit_callbacks
):
    _submit(user)
    _submit(user, images.photo(seed=1))
    theirs = _submit(other_user)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.analysis_delete_all(user=user) == 2
    assert list(Analysis.objects.all()) == [theirs]
    assert {p.parent.name for p in media_files(media_root)} == {str(other_user.pk)}


def test_export_zip_holds_json_and_photos(user):
    import json
    import zipfile

    a = _submit(user)
    services.analysis_note_update(analysis=a, note="new cream")
    path = services.analysis_export(user=user)
    with zipfile.ZipFile(path) as archive:
        data = json.loads(archive.read("analyses.json"))
        assert data["analyses"][0]["note"] == "new cream"
        assert archive.read(data["analyses"][0]["photo_file"])[:2] == b"\xff\xd8"
    path.unlink()


def test_gradcam_request_runs_worker_and_stores_overlay(user, django_capture_on_commit_callbacks):
    analysis = _submit(user)
    with django_capture_on_commit_callbacks(execute=True):
        services.analysis_gradcam_request(analysis=analysis)
    analysis.refresh_from_db()
    assert analysis.gradcam_status == Analysis.GradcamStatus.READY
    with analysis.gradcam.open("rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
