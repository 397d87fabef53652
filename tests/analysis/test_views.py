from __future__ import annotations

import io

import pytest
from django.test import Client
from django.urls import reverse

from analysis import services
from analysis.models import Analysis
from tests.analysis import images
from tests.analysis.conftest import media_files

pytestmark = pytest.mark.django_db


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _make(user, seed=0, task="lesions", size=(320, 240)):
    return services.analysis_submit(
        user=user, task=task, raw=images.photo(size, seed=seed), filename="a.jpg"
    )


def _pages(pk: int) -> list[tuple[str, str]]:
    return [
        ("get", reverse("analysis:detail", args=[pk])),
        ("get", reverse("analysis:photo", args=[pk, "image"])),
        ("get", reverse("analysis:photo", args=[pk, "thumbnail"])),
        ("post", reverse("analysis:gradcam", args=[pk])),
        ("post", reverse("analysis:note", args=[pk])),
        ("post", reverse("analysis:delete", args=[pk])),
    ]


def test_every_analysis_page_is_owner_only(user, other_user):
    analysis = _make(user)
    for method, url in _pages(analysis.pk):
        anon = getattr(_client(), method)(url)
        assert anon.status_code == 302, url
        assert anon.url.startswith(reverse("accounts:login"))
        assert getattr(_client(other_user), method)(url).status_code == 404, url
    assert Analysis.objects.filter(pk=analysis.pk).exists()
    assert _client(user).get(reverse("analysis:detail", args=[analysis.pk])).status_code == 200


@pytest.mark.parametrize(
    "name", ["analysis:upload", "analysis:history", "analysis:delete-all", "analysis:export"]
)
def test_list_pages_need_login(name):
    assert _client().get(reverse(name)).status_code == 302


def test_upload_page_lists_tasks_with_a_sentence(user):
    content = _client(user).get(reverse("analysis:upload")).content.decode()
    for title in ("Facial concerns", "A skin spot or mole", "Acne severity"):
        assert title in content
    assert 'capture="environment"' in content


def test_upload_form_post_creates_analysis_and_shows_result(user):
    upload = io.BytesIO(images.photo())
    upload.name = "spot.jpg"
    response = _client(user).post(
        reverse("analysis:upload"), {"task": "lesions", "image": upload}, follow=True
    )
    assert response.status_code == 200
    analysis = Analysis.objects.get(owner=user)
    content = response.content.decode()
    assert "This is not a diagnosis" in content
    assert analysis.model_label in content
    assert f"{analysis.top_percent}%" in content


def test_upload_form_shows_warnings_and_refusals(user, media_root):
    client = _client(user)
    small = io.BytesIO(images.photo((100, 100)))
    small.name = "s.jpg"
    response = client.post(reverse("analysis:upload"), {"task": "lesions", "image": small})
    assert response.status_code == 422
    assert "small" in response.content.decode()
    bad = io.BytesIO(b"nope")
    bad.name = "s.jpg"
    response = client.post(reverse("analysis:upload"), {"task": "lesions", "image": bad})
    assert response.status_code == 400
    assert "not a photo we can read" in response.content.decode()
    assert media_files(media_root) == []


def test_result_page_strong_notice_for_melanoma_family(user):
    analysis = _make(user)
    Analysis.objects.filter(pk=analysis.pk).update(top_class="mel", uncertain=False)
    content = _client(user).get(reverse("analysis:detail", args=[analysis.pk])).content.decode()
    assert "have a dermatologist look at this" in content.lower()


def test_result_page_says_we_cant_tell_when_uncertain(user):
    analysis = _make(user)
    Analysis.objects.filter(pk=analysis.pk).update(
        uncertain=True, uncertain_reasons=["low_confidence"]
    )
    content = _client(user).get(reverse("analysis:detail", args=[analysis.pk])).content.decode()
    assert "We can't tell from this photo" in content
    assert "Retake the photo" in content


def test_history_filters_by_task_and_has_timeline(user, other_user):
    _make(user)
    _make(user, seed=2)
    _make(other_user)
    response = _client(user).get(reverse("analysis:history") + "?task=lesions")
    assert len(response.context["page"].object_list) == 2
    assert len(response.context["timeline"]["points"]) == 2
    assert 'id="timeline-data"' in response.content.decode()


def test_history_query_count_is_constant(user, django_assert_max_num_queries):
    for seed in range(3):
        _make(user, seed=seed)
    client = _client(user)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("analysis:history"))
    baseline = len(few.captured_queries)
    rows = [
        Analysis(
            owner=user,
            task="lesions",
            image="analysis/x.jpg",
            top_class="nv",
            top_probability=0.5,
            probabilities={"nv": 0.5, "mel": 0.5},
            model_label="m",
        )
        for _ in range(60)
    ]
    Analysis.objects.bulk_create(rows)
    with django_assert_max_num_queries(baseline) as many:
        client.get(reverse("analysis:history"))
    assert len(many.captured_queries) == baseline


def test_compare_two_of_mine_only(user, other_user):
    a, b = _make(user), _make(user, seed=1)
    theirs = _make(other_user)
    client = _client(user)
    url = reverse("analysis:compare")
    response = client.get(f"{url}?a={a.pk}&b={b.pk}")
    assert response.status_code == 200
    assert 'id="slider-range"' in response.content.decode()
    assert client.get(f"{url}?a={a.pk}&b={theirs.pk}").status_code == 404


def test_delete_all_page_confirms_then_deletes(
    user, media_root, django_capture_on_commit_callbacks
):
    _make(user)
    client = _client(user)
    assert (
        "Delete all your analyses?" in client.get(reverse("analysis:delete-all")).content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("analysis:delete-all"), {"confirm": "delete"})
    assert not Analysis.objects.exists()
    assert media_files(media_root) == []


def test_dashboard_shows_recent_analyses(user):
    analysis = _make(user)
    assert reverse("analysis:detail", args=[analysis.pk]) in _client(user).get("/").content.decode()
