"""The content seeded by migration 0002: complete, careful where it must be, reversible."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from recommendations.models import Condition, Product, ProductCategory, Referral, Tip
from recommendations.services import build_advice
from tests.recommendations.factories import ConditionFactory, TipFactory

pytestmark = pytest.mark.django_db

seed_migration = importlib.import_module("recommendations.migrations.0002_seed_content")

SHIPPED = {
    "facial": {
        "acne",
        "dark_spots",
        "clear_skin",
        "normal",
        "pigmentation",
        "wrinkles",
        "puffy_eyes",
    },
    "lesions": {"akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"},
    "acne-severity": {
        "clear",
        "mild_moderate",
        "severe",
        "levle0_mild",
        "levle1_moderate",
        "levle2_severe",
        "levle3_very_severe",
    },
}


def test_seed_covers_every_shipped_class_with_complete_valid_content():
    for task, keys in SHIPPED.items():
        assert set(Condition.objects.filter(task=task).values_list("key", flat=True)) == keys
    for condition in Condition.objects.select_related("severity_rule"):
        condition.full_clean()
        condition.severity_rule.full_clean()
        assert len(condition.description) > 100, condition
        assert len(condition.when_to_see_doctor) > 80, condition
        assert condition.tips.filter(is_active=True).exists(), condition
        assert condition.products.filter(is_active=True).exists(), condition
    for product in Product.objects.all():
        product.full_clean()


@pytest.mark.parametrize("key", ["mel", "bcc", "akiec"])
def test_seed_malignant_lesions_always_say_see_a_dermatologist(key):
    condition = Condition.objects.get(task="lesions", key=key)
    assert condition.refer_to_dermatologist == Referral.ALWAYS
    assert condition.risk_level == "high"
    assert "dermatologist" in condition.when_to_see_doctor
    for probability in (0.2, 0.5, 0.99):
        advice = build_advice(task="lesions", probabilities={key: probability}, profile=None)
        assert advice.see_dermatologist is True
        assert advice.severity != "low"


@pytest.mark.parametrize("key", ["nv", "bkl", "df", "vasc"])
def test_seed_benign_lesions_explain_when_to_get_checked(key):
    condition = Condition.objects.get(task="lesions", key=key)
    assert condition.refer_to_dermatologist == Referral.NO
    assert any(word in condition.when_to_see_doctor for word in ("change", "grows", "growing"))
    advice = build_advice(task="lesions", probabilities={key: 0.95}, profile=None)
    assert advice.see_dermatologist is False
    assert advice.severity == "low"


@pytest.mark.parametrize(
    ("key", "severity", "refer"),
    [
        ("clear", "low", False),
        ("mild_moderate", "medium", False),
        ("severe", "high", True),
        ("levle0_mild", "low", False),
        ("levle1_moderate", "medium", False),
        ("levle2_severe", "high", True),
        ("levle3_very_severe", "high", True),
    ],
)
def test_seed_acne_grades_have_fixed_severity_and_severe_refers(key, severity, refer):
    advice = build_advice(task="acne-severity", probabilities={key: 0.51}, profile=None)
    assert advice.severity == severity
    assert advice.see_dermatologist is refer
    if refer:
        assert "doctor" in advice.when_to_see_doctor


def test_seed_products_are_category_level_and_skin_type_aware():
    assert ProductCategory.objects.filter(slug__in=["cleanser", "sunscreen", "serum"]).count() == 3
    acne = build_advice(task="facial", probabilities={"acne": 0.9}, profile=None)
    names = [p.name for p in acne.products]
    assert "Benzoyl peroxide gel or wash (2.5–5 %)" in names
    assert "Adapalene 0.1 % gel" in names
    spots = build_advice(task="facial", probabilities={"dark_spots": 0.9}, profile=None)
    ingredients = {i for p in spots.products for i in p.key_ingredients}
    assert {"niacinamide (vitamin B3)", "azelaic acid"} <= ingredients
    wrinkles = build_advice(task="facial", probabilities={"wrinkles": 0.9}, profile=None)
    assert any(p.category_slug == "retinoid" for p in wrinkles.products)
    categories = [p.category_slug for p in acne.products]
    assert categories == sorted(categories, key=lambda s: ProductCategory.objects.get(slug=s).order)


def test_seed_can_be_reversed_and_reapplied_keeping_admin_additions():
    added_condition = ConditionFactory(key="added_by_admin")
    added_tip = TipFactory(text="Added by an admin", conditions=[added_condition])
    counts = (Condition.objects.count(), Tip.objects.count(), Product.objects.count())

    seed_migration.unseed(apps, None)

    assert list(Condition.objects.all()) == [added_condition]
    assert list(Tip.objects.all()) == [added_tip]
    assert not Product.objects.exists()
    assert not ProductCategory.objects.exists()

    seed_migration.seed(apps, None)
    seed_migration.seed(apps, None)  # idempotent

    assert (Condition.objects.count(), Tip.objects.count(), Product.objects.count()) == counts
    assert Condition.objects.get(task="lesions", key="mel").tips.count() == 5
