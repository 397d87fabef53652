from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.selectors import profile_for
from tests.recommendations.factories import ConditionFactory

pytestmark = pytest.mark.django_db


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


PAGES = [
    ("recommendations:condition-list", {}),
    ("recommendations:condition-detail", {"task": "lesions", "key": "mel"}),
    ("recommendations:condition-detail", {"task": "acne-severity", "key": "levle0_mild"}),
]


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_condition_pages_access_matrix(name, kwargs, user, staff_user):
    url = reverse(name, kwargs=kwargs)
    anonymous = _client().get(url)
    assert anonymous.status_code == 302
    assert anonymous.url.startswith(reverse("accounts:login"))
    assert _client(user).get(url).status_code == 200
    assert _client(staff_user).get(url).status_code == 200


def test_condition_list_groups_by_task_and_filters(user):
    client = _client(user)
    everything = client.get(reverse("recommendations:condition-list")).content.decode()
    lesions = client.get(reverse("recommendations:condition-list"), {"task": "lesions"})
    assert "Melanoma" in everything
    assert "Puffy eyes" in everything
    assert "Severe acne (grade 2)" in everything
    assert "Melanoma" in lesions.content.decode()
    assert "Puffy eyes" not in lesions.content.decode()


def test_condition_list_is_in_the_navigation(user):
    url = reverse("recommendations:condition-detail", args=["facial", "acne"])
    html = _client(user).get(url).content.decode()
    assert (
        f'<a class="nav-link" href="{reverse("recommendations:condition-list")}">Conditions' in html
    )


def test_condition_detail_shows_texts_tips_and_products(user):
    html = (
        _client(user)
        .get(reverse("recommendations:condition-detail", args=["lesions", "mel"]))
        .content.decode()
    )
    assert "Melanoma" in html
    assert "ABCDE" in html
    assert "dermatologist" in html
    assert "not a diagnosis" in html
    assert "Broad-spectrum sunscreen SPF 50+" in html
    assert "Book an appointment" in html


def test_condition_detail_marks_products_for_the_users_skin_type(user):
    profile = profile_for(user)
    profile.skin_type = "V"
    profile.save()
    html = (
        _client(user)
        .get(reverse("recommendations:condition-detail", args=["facial", "pigmentation"]))
        .content.decode()
    )
    items = {
        item.split("</span>")[0]: item
        for item in html.split('<li class="mb-2"><span class="fw-semibold">')
    }
    assert "suits your skin type" in items["Tinted mineral sunscreen with iron oxides SPF 30+"]
    assert "suits your skin type" in items["Broad-spectrum sunscreen SPF 50+"]  # every type
    assert "suits your skin type" not in items["Glycolic acid exfoliant (5–10 %)"]  # I-III


def test_condition_detail_unknown_is_404(user):
    url = reverse("recommendations:condition-detail", args=["lesions", "nope"])
    assert _client(user).get(url).status_code == 404


def test_condition_detail_key_with_unusual_characters(user):
    ConditionFactory(task="teams-task", key="Class.With spaces")
    url = reverse("recommendations:condition-detail", args=["teams-task", "Class.With spaces"])
    assert _client(user).get(url).status_code == 200
