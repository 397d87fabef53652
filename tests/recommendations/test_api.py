from __future__ import annotations

import pytest
from django.urls import reverse

from recommendations.models import Condition, Product
from tests.conftest import api_client_for
from tests.recommendations.factories import TASK, ConditionFactory, ProductFactory, TipFactory

pytestmark = pytest.mark.django_db


def _urls() -> list[str]:
    condition = Condition.objects.get(task="lesions", key="mel")
    product = Product.objects.first()
    return [
        reverse("recommendations-api:condition-list"),
        reverse("recommendations-api:condition-detail", args=[condition.pk]),
        reverse("recommendations-api:product-list"),
        reverse("recommendations-api:product-detail", args=[product.pk]),
        reverse("recommendations-api:category-list"),
    ]


def test_api_access_matrix(user, staff_user):
    for url in _urls():
        assert api_client_for(None).get(url).status_code in (401, 403), url
        assert api_client_for(user).get(url).status_code == 200, url
        assert api_client_for(staff_user).get(url).status_code == 200, url


def test_api_is_read_only_for_everyone(user, staff_user):
    for client in (api_client_for(user), api_client_for(staff_user)):
        for url in _urls():
            assert client.post(url, {}).status_code == 405, url
            assert client.patch(url, {}).status_code == 405, url
            assert client.delete(url).status_code == 405, url
    assert Condition.objects.filter(task="lesions", key="mel").exists()


def test_condition_list_filters_by_task(auth_client):
    response = auth_client.get(reverse("recommendations-api:condition-list"), {"task": "lesions"})
    keys = [c["key"] for c in response.json()["results"]]
    assert sorted(keys) == ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
    assert keys[0] == "mel"  # admin-set order


def test_condition_list_filters_by_task_and_key(auth_client):
    response = auth_client.get(
        reverse("recommendations-api:condition-list"), {"task": "acne-severity", "key": "severe"}
    )
    [severe] = response.json()["results"]
    assert severe["refer_to_dermatologist"] == "always"
    assert severe["severity_rule"] == {
        "mode": "fixed",
        "medium_from": 0.5,
        "high_from": 0.8,
        "fixed_severity": "high",
    }


def test_condition_detail_has_active_tips_and_products(auth_client):
    condition = ConditionFactory(key="detailed")
    TipFactory(text="Shown", conditions=[condition])
    TipFactory(text="Hidden", is_active=False, conditions=[condition])
    ProductFactory(name="Active product", skin_types="II", conditions=[condition])
    ProductFactory(name="Inactive product", is_active=False, conditions=[condition])

    data = auth_client.get(
        reverse("recommendations-api:condition-detail", args=[condition.pk])
    ).json()

    assert [t["text"] for t in data["tips"]] == ["Shown"]
    assert data["tips"][0]["severities"] == ["low", "medium", "high"]
    assert [p["name"] for p in data["products"]] == ["Active product"]
    assert data["products"][0]["skin_types"] == ["II"]
    assert data["products"][0]["conditions"] == [
        {"id": condition.pk, "task": TASK, "key": "detailed"}
    ]


def test_product_list_filters_by_condition_and_skin_type(auth_client):
    condition = ConditionFactory(key="filtered")
    ProductFactory(name="All types", conditions=[condition])
    ProductFactory(name="Type I", skin_types="I", conditions=[condition])
    ProductFactory(name="Type II", skin_types="II", conditions=[condition])
    ProductFactory(name="Elsewhere", conditions=[ConditionFactory()])
    url = reverse("recommendations-api:product-list")

    by_id = auth_client.get(url, {"condition": condition.pk}).json()["results"]
    by_key = auth_client.get(url, {"task": TASK, "key": "filtered", "skin_type": "I"}).json()

    assert sorted(p["name"] for p in by_id) == ["All types", "Type I", "Type II"]
    assert sorted(p["name"] for p in by_key["results"]) == ["All types", "Type I"]


def test_product_list_filters_by_category_and_severity(auth_client):
    url = reverse("recommendations-api:product-list")
    sunscreens = auth_client.get(url, {"category": "sunscreen", "task": "lesions"}).json()
    high_pigment = auth_client.get(
        url, {"task": "facial", "key": "pigmentation", "severity": "low"}
    ).json()
    assert [p["name"] for p in sunscreens["results"]] == ["Broad-spectrum sunscreen SPF 50+"]
    assert "Tranexamic acid serum (2–5 %)" not in [p["name"] for p in high_pigment["results"]]


def test_product_list_rejects_unknown_skin_type(auth_client):
    response = auth_client.get(reverse("recommendations-api:product-list"), {"skin_type": "VII"})
    assert response.status_code == 400
    assert "skin_type" in response.json()


def test_inactive_product_detail_is_404(auth_client):
    product = ProductFactory(is_active=False)
    url = reverse("recommendations-api:product-detail", args=[product.pk])
    assert auth_client.get(url).status_code == 404


def test_openapi_schema_lists_recommendations_endpoints(auth_client):
    response = auth_client.get(reverse("schema"), {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/recommendations/conditions/" in paths
    assert "/api/recommendations/products/{id}/" in paths
    params = {p["name"] for p in paths["/api/recommendations/products/"]["get"]["parameters"]}
    assert {"condition", "task", "key", "skin_type", "severity", "category"} <= params
