"""The REST API: the access matrix over every endpoint (anonymous, outsider, viewer, member,
owner, staff), then the flows with real archives and the OpenAPI schema."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from tests.conftest import api_client_for
from tests.training.conftest import TINY_TRAIN, upload_of
from tests.training.factories import (
    DatasetVersionFactory,
    ModelVersionFactory,
    TrainingSessionFactory,
    make_zip,
)
from training.models import Dataset, ModelVersion, TrainingSession

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "outsider", "viewer", "member", "owner", "staff")
USERS = {
    "outsider": "other_user",
    "viewer": "viewer_user",
    "member": "member_user",
    "owner": "user",
    "staff": "staff_user",
}


@pytest.fixture
def world(team, tmp_path, settings):
    version = DatasetVersionFactory(dataset__team=team, dataset__task="colours")
    checkpoint = Path(settings.MEDIA_ROOT) / "runs" / "best.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"weights")
    done = TrainingSessionFactory(
        dataset_version=version, status="done", best_checkpoint=str(checkpoint), classes=["a", "b"]
    )
    return {
        "team": team,
        "dataset": version.dataset,
        "spare": DatasetVersionFactory(dataset__team=team).dataset,  # no run uses it
        "version": version,
        "running": TrainingSessionFactory(dataset_version=version, status="running"),
        "failed": TrainingSessionFactory(dataset_version=version, status="failed"),
        "done": done,
        "model": ModelVersionFactory(
            source_session=TrainingSessionFactory(dataset_version=version, status="done"),
            task="colours",
        ),
        "zip": make_zip(tmp_path / "colours.zip"),
    }


@dataclass
class Case:
    method: str
    url: str  # formatted with the world
    expected: dict[str, int]
    data: Any = None
    multipart: bool = False


def reads(ok: int = 200, outsider: int = 404) -> dict[str, int]:
    return {"outsider": outsider, "viewer": ok, "member": ok, "owner": ok, "staff": outsider}


def edits(ok: int) -> dict[str, int]:
    return {"outsider": 404, "viewer": 403, "member": ok, "owner": ok, "staff": 404}


def owners(ok: int) -> dict[str, int]:
    return {"outsider": 404, "viewer": 403, "member": 403, "owner": ok, "staff": 404}


CASES = {
    "dataset list": Case("get", "/api/training/datasets", reads(outsider=200)),
    "dataset upload": Case(
        "post", "/api/training/datasets",
        {**edits(202), "outsider": 404, "staff": 404},
        data=lambda w: {"team_id": w["team"].pk, "name": "new", "task": "colours",
                        "archive": upload_of(w["zip"])},
        multipart=True,
    ),
    "dataset detail": Case("get", "/api/training/datasets/{dataset.pk}", reads()),
    "dataset delete": Case("delete", "/api/training/datasets/{spare.pk}", owners(204)),
    "version upload": Case(
        "post", "/api/training/datasets/{dataset.pk}/versions", edits(202),
        data=lambda w: {"archive": upload_of(w["zip"])}, multipart=True,
    ),
    "register folder": Case(
        "post", "/api/training/datasets/register-folder",
        {"outsider": 403, "viewer": 403, "member": 403, "owner": 403, "staff": 202},
        data=lambda w: {"team_id": w["team"].pk, "name": "srv", "task": "colours",
                        "path": str(w["zip"].parent)},
    ),
    "version detail": Case("get", "/api/training/datasets/versions/{version.pk}", reads()),
    "version suggest": Case("get", "/api/training/datasets/versions/{version.pk}/suggest", reads()),
    "session list": Case("get", "/api/training/sessions", reads(outsider=200)),
    "session start": Case(
        "post", "/api/training/sessions", edits(202),
        data=lambda w: {"dataset_version_id": w["version"].pk, "train": TINY_TRAIN},
    ),
    "session detail": Case("get", "/api/training/sessions/{running.pk}", reads()),
    "session cancel": Case("post", "/api/training/sessions/{running.pk}/cancel", edits(200)),
    "session resume": Case("post", "/api/training/sessions/{failed.pk}/resume", edits(202)),
    "session clone": Case(
        "post", "/api/training/sessions/{done.pk}/clone", edits(202), data={"name": "again"}
    ),
    "session compare": Case(
        "get", "/api/training/sessions/compare?ids={done.pk},{failed.pk}", reads()
    ),
    "session promote": Case("post", "/api/training/sessions/{done.pk}/promote", owners(202)),
    "model list": Case("get", "/api/training/models", reads(outsider=200)),
    "model detail": Case("get", "/api/training/models/{model.pk}", reads()),
    "model production": Case("post", "/api/training/models/{model.pk}/production", owners(200)),
}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case_name", list(CASES))
def test_access_matrix(request, world, case_name, role):
    case = CASES[case_name]
    user = request.getfixturevalue(USERS[role]) if role != "anonymous" else None
    client = api_client_for(user)
    url = case.url.format(**world)
    data = case.data(world) if callable(case.data) else case.data
    kwargs = {"format": "multipart" if case.multipart else "json"} if data is not None else {}
    response = getattr(client, case.method)(url, data, **kwargs)
    if role == "anonymous":
        assert response.status_code in (401, 403)
    else:
        assert response.status_code == case.expected[role], response.content[:300]


def test_lists_show_only_my_teams_things(world, other_user, user):
    assert api_client_for(other_user).get("/api/training/datasets").json() == []
    assert api_client_for(other_user).get("/api/training/sessions").json() == []
    assert api_client_for(other_user).get("/api/training/models").json() == []
    mine = sorted(d["id"] for d in api_client_for(user).get("/api/training/datasets").json())
    assert mine == sorted([world["dataset"].pk, world["spare"].pk])
    assert len(api_client_for(user).get("/api/training/sessions").json()) == 4


# ---------------------------------------------------------------- flows
def test_upload_through_the_api_then_read_the_report(
    team, member_user, zip_path, django_capture_on_commit_callbacks
):
    client = api_client_for(member_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/training/datasets",
            {"team_id": team.pk, "name": "colours", "task": "colours",
             "archive": upload_of(zip_path)},
            format="multipart",
        )  # fmt: skip
    assert response.status_code == 202
    body = response.json()
    assert body["created"] is True
    version_id = body["version"]["id"]
    report = client.get(f"/api/training/datasets/versions/{version_id}").json()
    assert report["status"] == "ready"
    assert report["class_counts"] == {"blue": 8, "red": 8}
    assert {f["code"] for f in report["report"]["findings"]} >= {"too_small"}
    again = client.post(
        f"/api/training/datasets/{body['version']['dataset_id']}/versions",
        {"archive": upload_of(zip_path)},
        format="multipart",
    )
    assert again.status_code == 200
    assert again.json() == {"created": False, "version": again.json()["version"]}
    assert again.json()["version"]["id"] == version_id


@pytest.mark.parametrize(
    ("make", "rule"),
    [
        (lambda p: p.write_bytes(b"not a zip at all"), "not_a_zip"),
        (lambda p: _zip_with(p, "../../etc/cron.d/x", b"* * * * * boom"), "path_traversal"),
        (lambda p: _zip_with(p, "blue/big.png", b"\0" * (20 * 1024 * 1024)), "expansion_ratio"),
    ],
)
def test_hostile_uploads_get_a_400_naming_the_rule(
    team, member_user, tmp_path, settings, make, rule
):
    path = tmp_path / "upload.zip"
    make(path)
    response = api_client_for(member_user).post(
        "/api/training/datasets",
        {"team_id": team.pk, "name": "x", "task": "colours", "archive": upload_of(path)},
        format="multipart",
    )
    assert response.status_code == 400
    assert f"rule: {rule}" in response.json()["archive"][0]
    assert not Dataset.objects.exists()
    assert not list((Path(settings.MEDIA_ROOT)).rglob("*.zip"))


def _zip_with(path: Path, name: str, data: bytes) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)


def test_uploads_over_the_limit_get_a_400(team, member_user, zip_path, settings):
    settings.DATASET_UPLOAD_MAX_BYTES = 2048
    response = api_client_for(member_user).post(
        "/api/training/datasets",
        {"team_id": team.pk, "name": "x", "task": "colours", "archive": upload_of(zip_path)},
        format="multipart",
    )
    assert response.status_code == 400
    assert "the limit is" in response.json()["archive"][0]


def test_start_returns_where_to_watch_and_refuses_bad_configs(ready_version, member_user):
    client = api_client_for(member_user)
    bad = client.post(
        "/api/training/sessions",
        {"dataset_version_id": ready_version.pk, "train": {"backbone": "vgg"}},
        format="json",
    )
    assert bad.status_code == 400
    assert "backbone" in bad.json()["config"][0]
    ok = client.post(
        "/api/training/sessions",
        {"dataset_version_id": ready_version.pk, "train": TINY_TRAIN, "name": "api run",
         "label_mapping": {"rules": {"red": "warm"}}},
        format="json",
    )  # fmt: skip
    assert ok.status_code == 202
    body = ok.json()
    assert body["ws_path"] == f"/ws/training/{body['id']}/"
    assert body["url"] == f"/training/sessions/{body['id']}/"
    session = TrainingSession.objects.get(pk=body["id"])
    assert (session.name, session.config["classes"]) == ("api run", ["blue", "warm"])


def test_detail_notices_a_dead_worker(world, member_user):
    TrainingSession.objects.filter(pk=world["running"].pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    detail = api_client_for(member_user).get(f"/api/training/sessions/{world['running'].pk}")
    assert detail.json()["status"] == "failed"
    assert "stopped responding" in detail.json()["error"]


def test_compare_returns_curves_config_diff_and_metrics(world, member_user):
    TrainingSession.objects.filter(pk=world["done"].pk).update(
        config={**world["done"].config, "train": {**world["done"].config["train"], "lr": 0.01}},
        best_metrics={"macro_f1": 0.8},
    )
    ids = f"{world['done'].pk},{world['failed'].pk}"
    body = api_client_for(member_user).get(f"/api/training/sessions/compare?ids={ids}").json()
    assert [s["id"] for s in body["sessions"]] == [world["done"].pk, world["failed"].pk]
    assert {"key": "train.lr", "values": [0.01, 0.001], "differs": True} in body["config_diff"]
    f1 = next(r for r in body["metrics"] if r["metric"] == "macro_f1")
    assert f1["values"] == [0.8, None]
    one = api_client_for(member_user).get(f"/api/training/sessions/compare?ids={world['done'].pk}")
    assert one.status_code == 400


def test_promote_then_production_swap(world, user):
    client = api_client_for(user)
    promoted = client.post(
        f"/api/training/sessions/{world['done'].pk}/promote", {"make_production": True}
    )
    assert promoted.status_code == 202
    assert promoted.json()["status"] == "exporting"
    assert promoted.json()["production_requested"] is True
    older = world["model"]
    assert client.post(f"/api/training/models/{older.pk}/production").json()["is_production"]
    newer = ModelVersionFactory(source_session=world["done"], task="colours", version=1000)
    client.post(f"/api/training/models/{newer.pk}/production")
    flags = dict(ModelVersion.objects.filter(task="colours").values_list("pk", "is_production"))
    assert flags[newer.pk] is True
    assert flags[older.pk] is False


def test_openapi_schema_documents_every_training_endpoint(user):
    response = api_client_for(user).get("/api/schema", HTTP_ACCEPT="application/json")
    paths = response.json()["paths"]
    expected = {
        "/api/training/datasets", "/api/training/datasets/{dataset_id}",
        "/api/training/datasets/{dataset_id}/versions", "/api/training/datasets/register-folder",
        "/api/training/datasets/versions/{version_id}",
        "/api/training/datasets/versions/{version_id}/suggest", "/api/training/sessions",
        "/api/training/sessions/{session_id}", "/api/training/sessions/{session_id}/cancel",
        "/api/training/sessions/{session_id}/resume", "/api/training/sessions/{session_id}/clone",
        "/api/training/sessions/{session_id}/promote", "/api/training/sessions/compare",
        "/api/training/models", "/api/training/models/{model_version_id}",
        "/api/training/models/{model_version_id}/production",
    }  # fmt: skip
    assert expected <= set(paths)
    upload = paths["/api/training/datasets"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
