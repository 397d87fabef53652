from __future__ import annotations

import base64
import io
import re
import zipfile

import pytest

from analysis import services
from analysis.models import Analysis
from tests.analysis import images
from tests.analysis.conftest import media_files
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_analyze_json_base64_returns_result(auth_client, user):
    response = auth_client.post(
        "/api/analyze",
        {"task": "lesions", "image": "data:image/jpeg;base64," + _b64(images.photo())},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["top_class"] in body["probabilities"]
    assert body["not_a_diagnosis"].startswith("This is not a diagnosis")
    assert body["model"] == "lesions (default model)"
    assert Analysis.objects.get(pk=body["id"]).owner == user
    # The pipeline's own time, for browsers' developer tools and bench/analyze_load.py.
    timing = re.fullmatch(
        r'analysis;dur=([0-9.]+);desc="photo to saved analysis"', response["Server-Timing"]
    )
    assert timing, response["Server-Timing"]
    assert float(timing.group(1)) > 0


def test_analyze_multipart(auth_client):
    upload = io.BytesIO(images.photo())
    upload.name = "me.jpg"
    response = auth_client.post(
        "/api/analyze", {"task": "lesions", "image": upload}, format="multipart"
    )
    assert response.status_code == 201


def test_analyze_requires_authentication(api_client, media_root):
    response = api_client.post(
        "/api/analyze", {"task": "lesions", "image": _b64(images.photo())}, format="json"
    )
    assert response.status_code in (401, 403)
    assert media_files(media_root) == []


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"task": "lesions"}, 400, "empty"),
        ({"task": "lesions", "image": ""}, 400, "empty"),
        ({"task": "lesions", "image": "%%%not base64"}, 400, "bad_base64"),
        (
            {"task": "lesions", "image": _b64(images.png_header_only(30_000, 30_000))},
            400,
            "too_many_pixels",
        ),
        (
            {"task": "lesions", "image": _b64(images.compressed_bomb(9_000, 9_000))},
            400,
            "too_many_pixels",
        ),
        ({"task": "lesions", "image": _b64(images.photo((640, 480))[:5000])}, 400, "corrupt"),
        ({"task": "lesions", "image": _b64(images.photo() + images.zip_bytes())}, 400, "polyglot"),
        ({"task": "lesions", "image": _b64(b"hello, I am text")}, 400, "not_an_image"),
    ],
)
def test_hostile_json_input_is_refused_with_a_clear_message(
    auth_client, media_root, payload, status, code
):
    response = auth_client.post("/api/analyze", payload, format="json")
    assert response.status_code == status
    body = response.json()
    assert body["code"] == code
    assert body["detail"]
    assert not Analysis.objects.exists()
    assert media_files(media_root) == []


def test_wrong_extension_multipart_is_refused(auth_client, media_root):
    upload = io.BytesIO(images.photo())
    upload.name = "holiday.exe"
    response = auth_client.post(
        "/api/analyze", {"task": "lesions", "image": upload}, format="multipart"
    )
    assert (response.status_code, response.json()["code"]) == (400, "bad_extension")
    text = io.BytesIO(b"not an image")
    text.name = "photo.jpg"
    response = auth_client.post(
        "/api/analyze", {"task": "lesions", "image": text}, format="multipart"
    )
    assert (response.status_code, response.json()["code"]) == (400, "not_an_image")
    assert media_files(media_root) == []


def test_empty_body_is_refused(auth_client):
    response = auth_client.post("/api/analyze", b"", content_type="application/json")
    assert response.status_code == 400


def test_quality_warning_is_422_and_accept_warnings_overrides(auth_client):
    payload = {"task": "lesions", "image": _b64(images.photo((100, 100)))}
    response = auth_client.post("/api/analyze", payload, format="json")
    assert response.status_code == 422
    assert response.json()["warnings"][0]["code"] == "small"
    response = auth_client.post("/api/analyze", {**payload, "accept_warnings": True}, format="json")
    assert response.status_code == 201


def test_rate_limit_answers_429_with_retry_after(auth_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "analyze": "2/min",
        },
    }
    from django.core.cache import cache

    cache.clear()
    payload = {"task": "lesions", "image": _b64(images.photo())}
    codes = [auth_client.post("/api/analyze", payload, format="json").status_code for _ in range(2)]
    assert codes[:2] == [201, 201]
    response = auth_client.post("/api/analyze", payload, format="json")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    cache.clear()


def _make(user, **kw):
    return services.analysis_submit(
        user=user, task="lesions", raw=images.photo(**kw), filename="a.jpg"
    )


def test_list_detail_note_delete_are_owner_only(user, other_user, media_root):
    mine = _make(user)
    owner, stranger, anon = api_client_for(user), api_client_for(other_user), api_client_for(None)
    assert [a["id"] for a in owner.get("/api/analyses").json()["results"]] == [mine.pk]
    assert stranger.get("/api/analyses").json()["results"] == []
    assert anon.get("/api/analyses").status_code in (401, 403)
    url = f"/api/analyses/{mine.pk}"
    assert owner.get(url).status_code == 200
    assert stranger.get(url).status_code == 404
    assert anon.get(url).status_code in (401, 403)
    assert stranger.patch(url, {"note": "x"}, format="json").status_code == 404
    assert owner.patch(url, {"note": "itchy"}, format="json").json()["note"] == "itchy"
    assert stranger.post(f"{url}/gradcam").status_code == 404
    assert stranger.delete(url).status_code == 404
    assert Analysis.objects.filter(pk=mine.pk).exists()


def test_delete_endpoint_removes_files(user, media_root, django_capture_on_commit_callbacks):
    mine = _make(user)
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client_for(user).delete(f"/api/analyses/{mine.pk}").status_code == 204
    assert media_files(media_root) == []


def test_delete_all_endpoint(user, other_user, django_capture_on_commit_callbacks):
    _make(user)
    theirs = _make(other_user)
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client_for(user).delete("/api/analyses").json() == {"deleted": 1}
    assert list(Analysis.objects.all()) == [theirs]


def test_export_endpoint_is_mine_only(user, other_user):
    _make(user)
    _make(other_user, seed=3)
    response = api_client_for(user).get("/api/analyses/export")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = archive.namelist()
    assert sum(n.startswith("photos/") for n in names) == 1
    assert api_client_for(None).get("/api/analyses/export").status_code in (401, 403)


def test_timeline_endpoint(user, other_user):
    _make(user)
    _make(user, seed=5)
    _make(other_user)
    data = api_client_for(user).get("/api/analyses/timeline?task=lesions").json()
    assert len(data["points"]) == 2
    assert set(data["classes"]) == {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"}


def test_schema_documents_analyze(auth_client):
    response = auth_client.get("/api/schema?format=json")
    assert "/api/analyze" in response.json()["paths"]


def test_the_serializer_works_its_fields_out_once_and_gives_each_instance_its_own(
    user, monkeypatch
):
    from rest_framework import serializers as drf

    from analysis.serializers import AnalysisSerializer

    first, second = _make(user), _make(user, seed=1)
    monkeypatch.delattr(AnalysisSerializer, "_fields_once", raising=False)
    built = []
    original = drf.ModelSerializer.build_field
    monkeypatch.setattr(
        drf.ModelSerializer,
        "build_field",
        lambda self, *a, **k: built.append(a[0]) or original(self, *a, **k),
    )
    one, two = AnalysisSerializer(first), AnalysisSerializer(second)
    data_one, data_two = one.data, two.data
    assert len(built) == len(set(built)) > 10  # each model field built once, not per instance
    assert data_one["id"] == first.pk
    assert data_two["id"] == second.pk
    assert data_one["image_url"] != data_two["image_url"]
    assert one.fields["id"] is not two.fields["id"]  # bound copies, not shared fields
    assert one.fields["id"].parent is one
    assert two.fields["image_url"].parent is two  # its get_image_url is two's
    template = AnalysisSerializer._fields_once["model"]
    assert (template.parent, template.field_name) == (None, None)  # the class's stay unbound
    inits = []
    field_init = drf.Field.__init__
    monkeypatch.setattr(
        drf.Field, "__init__", lambda self, *a, **k: inits.append(self) or field_init(self, *a, **k)
    )
    assert AnalysisSerializer(first).data == data_one
    made_again = [f for f in inits if not isinstance(f, drf.BaseSerializer)]
    assert made_again == []  # copies, not fields made again (DRF's deepcopy re-runs __init__)


def test_fields_once_refuses_a_writable_serializer():
    from rest_framework import serializers as drf

    from analysis.serializers import FieldsOnceMixin

    class Writable(FieldsOnceMixin, drf.ModelSerializer):
        class Meta:
            model = Analysis
            fields = ("id", "note")

    with pytest.raises(TypeError, match="read-only serializers; writable: note"):
        Writable().get_fields()
