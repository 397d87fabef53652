"""Training pages: the access matrix over every view, then what the pages show and do
(report with access-checked thumbnails, the three-step run form, clone, live page, compare)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django import forms
from django.test import Client
from django.urls import reverse

from tests.training.conftest import upload_of
from tests.training.factories import (
    DatasetVersionFactory,
    EpochMetricFactory,
    ModelVersionFactory,
    TrainingSessionFactory,
    make_image_folder,
    synthetic_image,
)
from training import thumbnails
from training.forms import RunForm
from training.models import TrainingSession

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "outsider", "viewer", "member", "owner", "staff")
USERS = {
    "outsider": "other_user",
    "viewer": "viewer_user",
    "member": "member_user",
    "owner": "user",
    "staff": "staff_user",
}


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def world(team, settings):
    folder = make_image_folder(
        Path(settings.MEDIA_ROOT) / "datasets" / str(team.pk) / "abc", {"blue": 3, "red": 3}
    )
    (folder / "red" / "broken.png").write_bytes(b"\x89PNG not really")
    version = DatasetVersionFactory(
        dataset__team=team,
        dataset__task="colours",
        storage_path=str(folder),
        class_counts={"blue": 3, "red": 12},
        report={
            "findings": [
                {"code": "truncated", "severity": "error", "message": "1 image file(s) are "
                 "truncated", "suggestion": "Copy them again.", "count": 1,
                 "examples": ["red/broken.png"], "groups": []},
            ],
            "samples": {"blue": ["blue/blue_000.png"], "red": ["red/red_000.png"]},
            "class_counts": {"blue": 3, "red": 12}, "imbalance_ratio": 4.0,
            "image_sizes": {"median_side": 48}, "scan": {"prefix": ""},
        },
    )  # fmt: skip
    checkpoint = Path(settings.MEDIA_ROOT) / "runs" / "best.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"w")
    done = TrainingSessionFactory(
        dataset_version=version, status="done", best_checkpoint=str(checkpoint)
    )
    EpochMetricFactory(session=done, epoch=1)
    return {
        "version": version,
        "dataset": version.dataset,
        "spare": DatasetVersionFactory(dataset__team=team).dataset,
        "running": TrainingSessionFactory(dataset_version=version, status="running"),
        "failed": TrainingSessionFactory(dataset_version=version, status="failed"),
        "done": done,
        "model": ModelVersionFactory(
            source_session=TrainingSessionFactory(dataset_version=version, status="done"),
            task="colours",
        ),
    }


def reads(outsider: int = 404) -> dict[str, int]:
    return {"outsider": outsider, "viewer": 200, "member": 200, "owner": 200, "staff": outsider}


def edits(ok: int = 302) -> dict[str, int]:
    return {"outsider": 404, "viewer": 403, "member": ok, "owner": ok, "staff": 404}


def owners(ok: int = 302) -> dict[str, int]:
    return {"outsider": 404, "viewer": 403, "member": 403, "owner": ok, "staff": 404}


def _form_defaults() -> dict:
    """What the run form posts when nothing is changed (follows ml.train's config as it grows)."""
    form = RunForm(class_counts={"blue": 3, "red": 12})
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    return data


RUN = {**_form_defaults(), "name": "form run", "image_size": 32, "frozen_epochs": 1,
       "finetune_epochs": 1, "unfreeze_blocks": 1, "batch_size": 4, "class_weights": "balanced",
       "patience": 0, "val_fraction": 0.25, "test_fraction": 0.25, "seed": 7}  # fmt: skip

# (method, URL name, kwargs from the world, query/post data, expected per role)
CASES = {
    "dataset list": ("get", "training:dataset-list", {}, None, reads(outsider=200)),
    "dataset detail": ("get", "training:dataset-detail", {"dataset_id": "dataset"}, None, reads()),
    "dataset delete": ("post", "training:dataset-delete", {"dataset_id": "spare"}, {}, owners()),
    "register folder": ("get", "training:dataset-register-folder", {}, None,
                        {"outsider": 403, "viewer": 403, "member": 403, "owner": 403,
                         "staff": 200}),
    "version report": ("get", "training:dataset-version-detail", {"version_id": "version"},
                       None, reads()),
    "thumbnail": ("get", "training:dataset-version-thumb",
                  {"version_id": "version", "path": "blue/blue_000.png"}, None, reads()),
    "session list": ("get", "training:session-list", {}, None, reads(outsider=200)),
    "run form step 1": ("get", "training:session-new", {}, None, reads(outsider=200)),
    "run form steps 2-3": ("get", "training:session-new", {}, {"version": "version"}, reads()),
    "run form submit": ("post", "training:session-new", {}, {"version": "version", **RUN},
                        edits()),
    "session page": ("get", "training:session-detail", {"session_id": "running"}, None, reads()),
    "session cancel": ("post", "training:session-cancel", {"session_id": "running"}, {}, edits()),
    "session resume": ("post", "training:session-resume", {"session_id": "failed"}, {}, edits()),
    "session clone": ("get", "training:session-clone", {"session_id": "done"}, None, reads()),
    "session clone submit": ("post", "training:session-clone", {"session_id": "done"}, RUN,
                             edits()),
    "session promote": ("post", "training:session-promote", {"session_id": "done"}, {},
                        owners()),
    "compare": ("get", "training:session-compare", {}, {"ids": ["done", "failed"]}, reads()),
    "model list": ("get", "training:model-list", {}, None, reads(outsider=200)),
    "model detail": ("get", "training:model-detail", {"model_version_id": "model"}, None,
                     reads()),
    "model production": ("post", "training:model-set-production",
                         {"model_version_id": "model"}, {}, owners()),
}  # fmt: skip


def _resolve(value, world):
    if isinstance(value, list):
        return [_resolve(v, world) for v in value]
    return world[value].pk if isinstance(value, str) and value in world else value


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case_name", list(CASES))
def test_access_matrix(request, world, case_name, role):
    method, name, kwargs, data, expected = CASES[case_name]
    user = request.getfixturevalue(USERS[role]) if role != "anonymous" else None
    url = reverse(name, kwargs={k: _resolve(v, world) for k, v in kwargs.items()})
    data = {k: _resolve(v, world) for k, v in (data or {}).items()}
    response = getattr(_client(user), method)(url, data)
    if role == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login"))
    else:
        assert response.status_code == expected[role]


# ---------------------------------------------------------------- datasets
def test_upload_form_creates_a_version_and_shows_its_report(
    team, member_user, zip_path, django_capture_on_commit_callbacks
):
    client = _client(member_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("training:dataset-list"),
            {"team": team.pk, "name": "colours", "task": "colours", "archive": upload_of(zip_path),
             "group_column": "lesion_id", "id_column": "image_id"},
        )  # fmt: skip
    assert response.status_code == 302
    page = client.get(response.url)
    html = page.content.decode()
    assert "colours v1" in html
    assert "ready" in html
    assert 'id="finding-too_small"' in html
    assert "/thumb/blue/blue_000.png" in html


def test_upload_form_shows_the_rule_a_hostile_zip_broke(team, member_user, tmp_path):
    import zipfile

    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("../evil.png", b"x")
    response = _client(member_user).post(
        reverse("training:dataset-list"),
        {"team": team.pk, "name": "x", "task": "colours", "archive": upload_of(path),
         "group_column": "lesion_id", "id_column": "image_id"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "rule: path_traversal" in response.content.decode()


def test_report_page_shows_findings_with_example_thumbnails(world, viewer_user):
    html = (
        _client(viewer_user)
        .get(reverse("training:dataset-version-detail", args=[world["version"].pk]))
        .content.decode()
    )
    assert "1 image file(s) are truncated" in html
    assert "Copy them again." in html
    assert f"/training/datasets/versions/{world['version'].pk}/thumb/red/broken.png" in html


def test_thumbnails_are_small_jpegs_cached_on_disk(world, viewer_user, settings):
    from PIL import Image

    url = reverse("training:dataset-version-thumb", args=[world["version"].pk, "blue/blue_000.png"])
    response = _client(viewer_user).get(url + "?s=96")
    assert response["Content-Type"] == "image/jpeg"
    image = Image.open(__import__("io").BytesIO(b"".join(response.streaming_content)))
    assert max(image.size) <= 96
    cached = list((Path(settings.MEDIA_ROOT) / "thumbs").rglob("*.jpg"))
    assert len(cached) == 1
    broken = _client(viewer_user).get(
        reverse("training:dataset-version-thumb", args=[world["version"].pk, "red/broken.png"])
    )
    assert broken.status_code == 200  # a placeholder: the finding still shows something


@pytest.mark.parametrize(
    "path", ["../../../../etc/passwd", "blue/../../secret.png", "../secret.png", "blue/nope.png"]
)
def test_thumbnails_never_leave_the_dataset(world, viewer_user, path):
    secret = Path(world["version"].storage_path).parent / "secret.png"
    secret.write_bytes(synthetic_image("red", 1))  # a real image, just outside the version
    url = reverse("training:dataset-version-thumb", args=[world["version"].pk, "x"])
    response = _client(viewer_user).get(url[: -len("x")] + path)
    assert response.status_code == 404
    assert thumbnails.source_path(world["version"], path) is None


# ---------------------------------------------------------------- runs
def test_run_form_is_prefilled_with_suggestions(world, member_user):
    response = _client(member_user).get(
        reverse("training:session-new"), {"version": world["version"].pk}
    )
    form = response.context["form"]
    assert form["class_weights"].value() == "balanced"  # 12 vs 3 images
    assert form["image_size"].value() == 96
    assert any("imbalanced" in r for r in response.context["reasons"])
    html = response.content.decode()
    assert "Model and stages" in html
    assert "Options" in html


def test_run_form_starts_a_run_with_a_merged_label_mapping(
    world, member_user, django_capture_on_commit_callbacks
):
    TrainingSession.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=False):
        response = _client(member_user).post(
            reverse("training:session-new"),
            {"version": world["version"].pk, **RUN, "map_1": "blue"},
        )
    # Merging both classes leaves one: refused, shown on the form.
    assert response.status_code == 200
    assert "a model needs two" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=False):
        response = _client(member_user).post(
            reverse("training:session-new"),
            {"version": world["version"].pk, **RUN, "map_1": "warm"},
        )
    session = TrainingSession.objects.get()
    assert response.url == reverse("training:session-detail", args=[session.pk])
    assert session.config["label_mapping"]["rules"] == {"red": "warm"}
    assert session.config["train"]["seed"] == 7
    assert session.config["train"]["class_weights"] == "balanced"


def test_clone_form_is_prefilled_from_the_source_run(
    world, member_user, django_capture_on_commit_callbacks
):
    source = world["done"]
    source.config["train"]["lr"] = 0.0123
    source.save()
    page = _client(member_user).get(reverse("training:session-clone", args=[source.pk]))
    assert page.context["form"]["lr"].value() == 0.0123
    with django_capture_on_commit_callbacks(execute=False):
        _client(member_user).post(
            reverse("training:session-clone", args=[source.pk]), {**RUN, "lr": 0.05}
        )
    clone = TrainingSession.objects.get(cloned_from=source)
    assert clone.config["train"]["lr"] == 0.05


def test_session_page_embeds_the_snapshot_and_the_socket_path(world, viewer_user):
    session = world["done"]
    response = _client(viewer_user).get(reverse("training:session-detail", args=[session.pk]))
    html = response.content.decode()
    assert f'data-ws="/ws/training/{session.pk}/"' in html
    assert f'data-api="/api/training/sessions/{session.pk}"' in html
    initial = json.loads(
        html.split('id="session-initial" type="application/json">')[1].split("<")[0]
    )
    assert initial["session"]["id"] == session.pk
    assert [e["epoch"] for e in initial["epochs"]] == [1]
    assert "vendor/chartjs/chart.umd.min.js" in html
    assert "cdn" not in html.lower()
    assert "Promote to registry" not in html  # viewers do not promote


def test_compare_page_overlays_runs_and_diffs_configs(world, member_user):
    TrainingSession.objects.filter(pk=world["failed"].pk).update(
        config={**world["failed"].config, "train": {**world["failed"].config["train"], "lr": 0.5}}
    )
    response = _client(member_user).get(
        reverse("training:session-compare"), {"ids": [world["done"].pk, world["failed"].pk]}
    )
    html = response.content.decode()
    assert "train.lr" in html
    curves = response.context["curves"]
    assert [c["id"] for c in curves] == [world["done"].pk, world["failed"].pk]
    assert [e["epoch"] for e in curves[0]["epochs"]] == [1]


def test_home_dashboard_lists_recent_runs(world, member_user):
    html = _client(member_user).get(reverse("home")).content.decode()
    assert "Training runs of your teams" in html
    assert world["running"].name in html


def test_registry_page_groups_versions_by_task(world, member_user):
    html = _client(member_user).get(reverse("training:model-list")).content.decode()
    assert "<code>colours</code>" in html
    assert f"v{world['model'].version}" in html
