from __future__ import annotations

import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from recommendations.models import Condition, Product, ProductCategory, SeverityRule, Tip
from recommendations.resources import (
    ConditionResource,
    ProductCategoryResource,
    ProductResource,
    SeverityRuleResource,
    TipResource,
)
from recommendations.services import build_advice
from tests.recommendations.factories import TASK, ConditionFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _csv(resource_class) -> str:
    return resource_class().export().csv


def _import(resource_class, csv: str):
    dataset = tablib.Dataset().load(csv, format="csv")
    return resource_class().import_data(dataset, dry_run=False, raise_errors=False)


def _assert_clean(result) -> None:
    assert not result.has_errors(), [e.error for row in result.row_errors() for e in row[1]]
    assert not result.has_validation_errors(), [r.error for r in result.invalid_rows]


def _vandalise() -> None:
    """Change every table in ways an import must undo."""
    Condition.objects.filter(task="lesions", key="nv").update(description="vandalised")
    SeverityRule.objects.filter(condition__key="severe").update(fixed_severity="low")
    Tip.objects.filter(conditions__key="mel").delete()
    ProductCategory.objects.filter(slug="sunscreen").update(name="Sun cream", order=1)
    Product.objects.filter(name__startswith="Tinted").update(skin_types="I", is_active=False)
    Product.objects.get(name="Adapalene 0.1 % gel").conditions.clear()


RESOURCES = [
    ProductCategoryResource,
    ConditionResource,
    SeverityRuleResource,
    TipResource,
    ProductResource,
]


def test_csv_export_then_import_round_trips_every_table():
    exported = {resource: _csv(resource) for resource in RESOURCES}
    _vandalise()
    assert _csv(ConditionResource) != exported[ConditionResource]

    for resource in RESOURCES:  # dependency order: categories and conditions first
        _assert_clean(_import(resource, exported[resource]))

    for resource in RESOURCES:
        assert _csv(resource) == exported[resource], resource.__name__
    assert Tip.objects.filter(conditions__key="mel").count() == 5
    advice = build_advice(task="acne-severity", probabilities={"severe": 1.0}, profile=None)
    assert advice.severity == "high"


def test_csv_import_into_empty_tables_recreates_them():
    exported = {resource: _csv(resource) for resource in RESOURCES}
    Product.objects.all().delete()
    ProductCategory.objects.all().delete()
    Tip.objects.all().delete()
    Condition.objects.all().delete()

    for resource in RESOURCES:
        _assert_clean(_import(resource, exported[resource]))

    assert Condition.objects.count() == 21
    for resource in RESOURCES:
        assert _csv(resource) == exported[resource], resource.__name__


def test_csv_export_uses_readable_references():
    rows = tablib.Dataset().load(_csv(ProductResource), format="csv").dict
    adapalene = next(r for r in rows if r["name"] == "Adapalene 0.1 % gel")
    assert adapalene["category"] == "treatment"
    assert "facial/acne" in adapalene["conditions"].split(", ")
    assert adapalene["skin_types"] == ""
    tinted = next(r for r in rows if r["name"].startswith("Tinted"))
    assert tinted["skin_types"] == "III,IV,V,VI"


def test_csv_import_reports_unknown_condition_and_bad_skin_type():
    csv = (
        "name,category,key_ingredients,skin_types,usage,conditions,for_low,for_medium,for_high,"
        "link,order,is_active\n"
        "Bad refs,cleanser,,,,lesions/nope,1,1,1,,1,1\n"
        "Bad type,cleanser,,VII,,lesions/mel,1,1,1,,1,1\n"
    )
    result = _import(ProductResource, csv)
    assert result.has_errors() or result.has_validation_errors()
    assert not Product.objects.filter(name__in=["Bad refs", "Bad type"]).exists()


def test_csv_import_normalises_skin_types():
    ConditionFactory(key="norm")
    csv = (
        "name,category,key_ingredients,skin_types,usage,conditions,for_low,for_medium,for_high,"
        "link,order,is_active\n"
        f'Normalised,cleanser,,"vi, iv",,{TASK}/norm,1,1,1,,1,1\n'
    )
    _assert_clean(_import(ProductResource, csv))
    assert Product.objects.get(name="Normalised").skin_types == "IV,VI"


def test_condition_import_enforces_referral_rule_for_malignant_lesions():
    rows = tablib.Dataset().load(_csv(ConditionResource), format="csv")
    mel = [i for i, r in enumerate(rows.dict) if r["key"] == "mel"][0]
    column = rows.headers.index("refer_to_dermatologist")
    row = list(rows[mel])
    row[column] = "no"
    rows[mel] = tuple(row)

    result = ConditionResource().import_data(rows, dry_run=False, raise_errors=False)

    assert result.has_validation_errors()
    assert Condition.objects.get(task="lesions", key="mel").refer_to_dermatologist == "always"


# Through the real admin (export view, import view, confirm) -----------------------------------


def _admin_export(client: Client, model_name: str) -> bytes:
    url = reverse(f"admin:recommendations_{model_name}_export")
    form = client.get(url).context["form"]
    data = {"format": "0", "resource": "0"}
    columns = [name for name in form.fields if name.startswith(f"{model_name}resource_")]
    data.update(dict.fromkeys(columns, "on"))  # every column
    response = client.post(url, data)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return response.content


def _admin_import(client: Client, model_name: str, content: bytes) -> None:
    url = reverse(f"admin:recommendations_{model_name}_import")
    upload = SimpleUploadedFile(f"{model_name}.csv", content, content_type="text/csv")
    dry_run = client.post(url, {"format": "0", "resource": "0", "import_file": upload})
    assert dry_run.status_code == 200
    confirm = dry_run.context["confirm_form"]
    assert confirm is not None, dry_run.context["result"]
    confirm_data = {name: confirm[name].value() for name in confirm.fields}
    done = client.post(reverse(f"admin:recommendations_{model_name}_process_import"), confirm_data)
    assert done.status_code == 302


def test_admin_csv_export_then_import_round_trips_products(staff_user):
    client = Client()
    client.force_login(staff_user)
    condition = ConditionFactory(key="roundtrip")
    ProductFactory(name="Round-trip serum", skin_types="II,V", conditions=[condition])
    before = _admin_export(client, "product")
    assert b"Round-trip serum" in before
    assert b"test-task/roundtrip" in before

    Product.objects.filter(name="Round-trip serum").delete()
    Product.objects.filter(name="Adapalene 0.1 % gel").update(usage="changed", is_active=False)
    _admin_import(client, "product", before)

    assert _admin_export(client, "product") == before
    restored = Product.objects.get(name="Round-trip serum")
    assert restored.skin_types == "II,V"
    assert list(restored.conditions.all()) == [condition]


def test_admin_csv_export_then_import_round_trips_conditions(staff_user):
    client = Client()
    client.force_login(staff_user)
    before = _admin_export(client, "condition")
    Condition.objects.filter(task="facial", key="wrinkles").update(display_name="Lines")

    _admin_import(client, "condition", before)

    assert Condition.objects.get(task="facial", key="wrinkles").display_name == (
        "Wrinkles and fine lines"
    )
    assert _admin_export(client, "condition") == before
