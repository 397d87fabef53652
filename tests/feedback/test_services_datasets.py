"""The feedback dataset: consent both ways, the zip is a valid ml.data dataset, import into the
training workspace through the real processing task, photos taken out again."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from feedback import selectors, services
from feedback.models import CORRECTION_OTHER, CORRECTION_UNKNOWN, DatasetSnapshot
from ml import data as mldata
from tests.factories import TeamFactory, UserFactory
from tests.feedback.conftest import answers
from tests.feedback.factories import (
    DatasetVersionFactory,
    TrainingSessionFactory,
    grant,
    make_analysis,
    set_consent,
)
from training import services as training_services
from training.models import Dataset, DatasetVersion

pytestmark = pytest.mark.django_db


def correct(user, really: str, *, top: str = "nv", task: str = "lesions", **kwargs):
    analysis = make_analysis(user, top=top, task=task, **kwargs)
    services.feedback_response_submit(
        user=user, analysis=analysis, answers=answers(helpful=3, really=really)
    )
    return analysis


def export(user, task: str = "lesions", tmp_path: Path | None = None) -> zipfile.ZipFile:
    out = io.BytesIO()
    services.feedback_dataset_export(user=user, task=task, out=out)
    out.seek(0)
    return zipfile.ZipFile(out)


def photos(archive: zipfile.ZipFile) -> set[str]:
    return {n for n in archive.namelist() if n.endswith(".jpg")}


@pytest.fixture
def granted(team, user, analysis_questionnaire):
    """alice owns `team`, which staff allowed to use the feedback dataset."""
    grant(team)
    return team


@pytest.fixture
def people(db, analysis_questionnaire):
    """dan and erin consent; frank never did. Each corrected lesions results."""
    dan, erin, frank = (UserFactory(username=n) for n in ("dan", "erin", "frank"))
    set_consent(dan, True)
    set_consent(erin, True)
    made = {
        "dan": [correct(dan, "mel"), correct(dan, "mel"), correct(dan, "nv")],
        "erin": [correct(erin, "mel", top="mel"), correct(erin, "nv"), correct(erin, "nv")],
        "frank": [correct(frank, "mel"), correct(frank, "bcc")],
    }
    return {"dan": dan, "erin": erin, "frank": frank, "analyses": made}


def names_of(analyses) -> set[str]:
    return {f"{a.feedback_correction.corrected_class}/{a.uid}.jpg" for a in analyses}


# ---------------------------------------------------------------- consent, both ways
def test_export_holds_consenting_people_only(user, granted, people):
    archive = export(user)
    expected = names_of(people["analyses"]["dan"]) | names_of(people["analyses"]["erin"])
    assert photos(archive) == expected
    assert not any(str(a.uid) in n for a in people["analyses"]["frank"] for n in archive.namelist())


def test_withdrawing_consent_takes_photos_out_of_the_next_export(user, granted, people):
    set_consent(people["dan"], False)
    assert photos(export(user)) == names_of(people["analyses"]["erin"])
    set_consent(people["dan"], True)
    assert names_of(people["analyses"]["dan"]) <= photos(export(user))


def test_never_consented_means_never_included(user, granted, people):
    frank_uids = {str(a.uid) for a in people["analyses"]["frank"]}
    set_consent(people["frank"], False)  # saving a profile without consent changes nothing
    summary = {s.task: s for s in selectors.dataset_summary()}["lesions"]
    assert summary.images == 6
    assert summary.people == 2
    assert summary.without_consent == 2
    assert "bcc" not in summary.class_counts
    assert not frank_uids & {Path(n).stem for n in export(user).namelist()}


def test_only_labels_of_the_models_classes_make_the_dataset(user, granted):
    set_consent(user, True)
    kept = correct(user, "mel")
    correct(user, CORRECTION_OTHER)
    correct(user, CORRECTION_UNKNOWN)
    assert photos(export(user)) == names_of([kept])


def test_the_photo_file_is_the_analysis_photo(user, granted, people):
    analysis = people["analyses"]["dan"][0]
    archive = export(user)
    assert archive.read(f"mel/{analysis.uid}.jpg") == Path(analysis.image.path).read_bytes()


# ---------------------------------------------------------------- a valid dataset for ml.data
def test_the_exported_zip_is_a_valid_ml_data_dataset(user, granted, people, tmp_path):
    path = tmp_path / "feedback-lesions.zip"
    out = io.BytesIO()
    result = services.feedback_dataset_export(user=user, task="lesions", out=out)
    path.write_bytes(out.getvalue())
    index = mldata.scan(path)
    report = mldata.validate(index)
    assert report.ok, [f.message for f in report.findings if f.severity == "error"]
    assert report.class_counts == {"mel": 3, "nv": 3} == result.class_counts
    assert report.num_images == 6
    assert not index.stray_files
    assert not index.non_image_files
    # metadata.csv groups photos by person, so one person never straddles the splits
    groups = {Path(r.path).stem: r.group for r in index.records}
    dan = {str(a.uid) for a in people["analyses"]["dan"]}
    assert len({groups[u] for u in dan}) == 1
    assert len(set(groups.values())) == 2
    assert not index.ungrouped
    splits = mldata.split(index, val=0.4, test=0.0, seed=0)
    split_of = {k: name for name in mldata.SPLIT_NAMES for k in getattr(splits, name)}
    person_splits: dict[str, set[str]] = {}
    for key, record in zip(index.all_keys(), index.records, strict=True):
        person_splits.setdefault(record.group, set()).add(split_of[key])
    assert all(len(s) == 1 for s in person_splits.values())


def test_metadata_names_each_photo_with_a_person_pseudonym(user, granted, people, settings):
    rows = list(csv.DictReader(io.StringIO(export(user).read("metadata.csv").decode())))
    assert {r["image_id"] for r in rows} == {
        str(a.uid) for a in people["analyses"]["dan"] + people["analyses"]["erin"]
    }
    dan_id = services.person_group(people["dan"].pk)
    assert dan_id != services.person_group(people["erin"].pk)
    settings.SECRET_KEY = "another-server-" + "k" * 40  # keyed: not guessable from the id
    assert services.person_group(people["dan"].pk) != dan_id
    assert {
        r["lesion_id"] for r in rows if r["image_id"] == str(people["analyses"]["dan"][0].uid)
    } == {dan_id}
    assert {r["predicted"] for r in rows} <= {"nv", "mel"}


# ---------------------------------------------------------------- who may export and import
def test_owner_of_a_team_without_grant_cannot_export_or_import(user, team, people):
    with pytest.raises(PermissionDenied):
        export(user)
    with pytest.raises(PermissionDenied):
        services.feedback_dataset_import(user=user, team=team, task="lesions")


@pytest.mark.parametrize("who", ["member_user", "viewer_user", "other_user"])
def test_only_owners_of_a_granted_team_use_it(request, granted, people, who):
    person = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        export(person)
    with pytest.raises(PermissionDenied):
        services.feedback_dataset_import(user=person, team=granted, task="lesions")


def test_staff_export_but_import_only_into_a_granted_team_they_own(staff_user, granted, people):
    assert len(photos(export(staff_user))) == 6
    with pytest.raises(PermissionDenied):
        services.feedback_dataset_import(user=staff_user, team=granted, task="lesions")


def test_an_owner_imports_only_into_their_own_granted_team(user, granted, people):
    stranger_team = TeamFactory(owner=UserFactory(username="zoe"))
    grant(stranger_team)
    with pytest.raises(PermissionDenied):
        services.feedback_dataset_import(user=user, team=stranger_team, task="lesions")


# ---------------------------------------------------------------- import
def _import(user, team, django_capture_on_commit_callbacks, **kwargs) -> DatasetVersion:
    with django_capture_on_commit_callbacks(execute=True):
        version = services.feedback_dataset_import(user=user, team=team, task="lesions", **kwargs)
    version.refresh_from_db()
    return version


def test_import_adds_a_validated_dataset_version_to_the_team(
    user, granted, people, django_capture_on_commit_callbacks
):
    version = _import(user, granted, django_capture_on_commit_callbacks)
    assert version.status == DatasetVersion.Status.READY, version.error
    assert version.source == DatasetVersion.Source.FEEDBACK
    assert version.dataset.team == granted
    assert version.dataset.name == "Feedback: lesions"
    assert version.dataset.task == "lesions"
    assert version.class_counts == {"mel": 3, "nv": 3}
    snapshot = DatasetSnapshot.objects.get(dataset_version=version)
    folder = Path(snapshot.path)
    assert folder.is_relative_to(services.snapshots_root())
    assert {p.relative_to(folder).as_posix() for p in folder.rglob("*.jpg")} == names_of(
        people["analyses"]["dan"] + people["analyses"]["erin"]
    )
    assert snapshot.image_count == 6


def test_a_second_import_is_the_next_version_of_the_same_dataset(
    user, granted, people, django_capture_on_commit_callbacks
):
    first = _import(user, granted, django_capture_on_commit_callbacks)
    correct(people["erin"], "mel")
    second = _import(user, granted, django_capture_on_commit_callbacks)
    assert second.dataset_id == first.dataset_id
    assert second.number == first.number + 1
    assert second.status == DatasetVersion.Status.READY, second.error
    assert second.class_counts == {"mel": 4, "nv": 3}


def test_import_refuses_when_nobody_consenting_corrected_the_task(user, granted, people):
    set_consent(people["dan"], False)
    set_consent(people["erin"], False)
    with pytest.raises(ValidationError, match="No photos"):
        services.feedback_dataset_import(user=user, team=granted, task="lesions")
    assert not Dataset.objects.exists()
    assert not services.snapshots_root().exists() or not any(
        services.snapshots_root().rglob("*.jpg")
    )


def test_import_refuses_a_dataset_name_of_another_task(user, granted, people):
    Dataset.objects.create(team=granted, name="Mine", task="facial")
    with pytest.raises(ValidationError, match="facial"):
        services.feedback_dataset_import(user=user, team=granted, task="lesions", name="Mine")
    assert not any(services.snapshots_root().rglob("*.jpg"))


# ---------------------------------------------------------------- taking photos out again
def test_withdrawing_consent_removes_photos_from_an_import_no_run_used(
    user, granted, people, django_capture_on_commit_callbacks
):
    version = _import(user, granted, django_capture_on_commit_callbacks)
    old_sha = version.sha256
    snapshot = version.feedback_snapshot
    with django_capture_on_commit_callbacks(execute=True):
        set_consent(people["dan"], False)
    folder = Path(snapshot.path)
    left = {p.stem for p in folder.rglob("*.jpg")}
    assert left == {str(a.uid) for a in people["analyses"]["erin"]}
    metadata = (folder / "metadata.csv").read_text()
    assert not any(str(a.uid) in metadata for a in people["analyses"]["dan"])
    snapshot.refresh_from_db()
    assert (snapshot.image_count, snapshot.removed_count) == (3, 3)
    assert snapshot.class_counts == {"mel": 1, "nv": 2}
    version.refresh_from_db()  # re-hashed and re-validated by training's own task
    assert version.class_counts == {"mel": 1, "nv": 2}
    assert version.sha256
    assert version.sha256 != old_sha


def test_withdrawing_consent_leaves_an_import_a_run_has_used(
    user, granted, people, django_capture_on_commit_callbacks
):
    version = _import(user, granted, django_capture_on_commit_callbacks)
    TrainingSessionFactory(team=granted, dataset_version=version)
    with django_capture_on_commit_callbacks(execute=True):
        set_consent(people["dan"], False)
    assert len(list(Path(version.feedback_snapshot.path).rglob("*.jpg"))) == 6
    version.refresh_from_db()
    assert version.image_count == 6
    # ... but the next import leaves dan out
    assert _import(user, granted, django_capture_on_commit_callbacks).class_counts == {
        "mel": 1,
        "nv": 2,
    }


def test_deleting_an_analysis_removes_its_photo_from_unused_imports(
    user, granted, people, django_capture_on_commit_callbacks
):
    version = _import(user, granted, django_capture_on_commit_callbacks)
    gone = people["analyses"]["erin"][0]
    with django_capture_on_commit_callbacks(execute=True):
        gone.delete()
    left = {p.stem for p in Path(version.feedback_snapshot.path).rglob("*.jpg")}
    assert str(gone.uid) not in left
    assert len(left) == 5


def test_relabelling_removes_the_stale_copy_from_unused_imports(
    user, granted, people, django_capture_on_commit_callbacks
):
    version = _import(user, granted, django_capture_on_commit_callbacks)
    analysis = people["analyses"]["dan"][0]
    with django_capture_on_commit_callbacks(execute=True):
        services.feedback_response_submit(
            user=people["dan"], analysis=analysis, answers=answers(helpful=3, really="bkl")
        )
    assert not list(Path(version.feedback_snapshot.path).rglob(f"{analysis.uid}.jpg"))
    assert f"bkl/{analysis.uid}.jpg" in photos(export(user))


def test_deleting_the_dataset_deletes_the_imported_folder(
    user, granted, people, django_capture_on_commit_callbacks
):
    version = _import(user, granted, django_capture_on_commit_callbacks)
    folder = Path(version.feedback_snapshot.path)
    with django_capture_on_commit_callbacks(execute=True):
        training_services.dataset_delete(dataset=version.dataset, user=user)
    assert not DatasetSnapshot.objects.exists()
    assert not folder.exists()


def test_forgetting_touches_nothing_outside_feedback_folders(user, granted, people, tmp_path):
    outside = DatasetVersionFactory(dataset__team=granted)
    stray = tmp_path / "elsewhere"
    (stray / "mel").mkdir(parents=True)
    victim = stray / "mel" / f"{people['analyses']['dan'][0].uid}.jpg"
    victim.write_bytes(b"x")
    DatasetSnapshot.objects.create(
        task="lesions", team=granted, dataset_version=outside, path=str(stray)
    )
    assert services.feedback_snapshot_forget_user(user_id=people["dan"].pk) == 0
    services.feedback_snapshot_delete_folder(path=str(stray))
    assert victim.exists()
