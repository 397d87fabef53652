from __future__ import annotations

import json

import numpy as np
import pytest

from accounts.selectors import profile_for
from recommendations.advice import Advice
from recommendations.models import Condition, Product, Referral, Severity, SeverityRule, Tip
from recommendations.services import (
    advice_preview,
    build_advice,
    product_set_active,
    tip_set_active,
)
from tests.recommendations.factories import (
    TASK,
    ConditionFactory,
    ProductCategoryFactory,
    ProductFactory,
    SeverityRuleFactory,
    TipFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def spots():
    """A condition with a 0.4/0.7 threshold rule, in the test task."""
    condition = ConditionFactory(key="spots", display_name="Spots")
    SeverityRuleFactory(condition=condition, medium_from=0.4, high_from=0.7)
    return condition


def _profile(user, skin_type: str):
    profile = profile_for(user)
    profile.skin_type = skin_type
    profile.save()
    return profile


def test_build_advice_picks_top_class_and_copies_texts(spots):
    ConditionFactory(key="other")
    advice = build_advice(task=TASK, probabilities={"other": 0.3, "spots": 0.7}, profile=None)
    assert advice.condition_key == "spots"
    assert advice.display_name == "Spots"
    assert advice.probability == pytest.approx(0.7)
    assert advice.description == spots.description
    assert advice.when_to_see_doctor == spots.when_to_see_doctor
    assert advice.is_generic is False


@pytest.mark.parametrize(
    ("probability", "severity"),
    [(0.39, "low"), (0.4, "medium"), (0.69, "medium"), (0.7, "high"), (1.0, "high")],
)
def test_build_advice_severity_follows_threshold_rule(spots, probability, severity):
    advice = build_advice(task=TASK, probabilities={"spots": probability}, profile=None)
    assert advice.severity == severity
    assert advice.severity_label == Severity(severity).label


def test_build_advice_fixed_rule_ignores_probability():
    grade = ConditionFactory(key="grade_3")
    SeverityRuleFactory(condition=grade, mode=SeverityRule.Mode.FIXED, fixed_severity="high")
    advice = build_advice(task=TASK, probabilities={"grade_3": 0.41, "g": 0.39}, profile=None)
    assert advice.severity == "high"


def test_build_advice_without_rule_uses_default_thresholds():
    ConditionFactory(key="norule")
    low = build_advice(task=TASK, probabilities={"norule": 0.49}, profile=None)
    medium = build_advice(task=TASK, probabilities={"norule": 0.5}, profile=None)
    high = build_advice(task=TASK, probabilities={"norule": 0.8}, profile=None)
    assert (low.severity, medium.severity, high.severity) == ("low", "medium", "high")


def test_build_advice_tie_goes_to_first_class_in_model_order():
    ConditionFactory(key="a")
    ConditionFactory(key="b")
    assert (
        build_advice(task=TASK, probabilities={"b": 0.5, "a": 0.5}, profile=None).condition_key
        == "b"
    )


def test_build_advice_generic_fallback_for_class_without_condition():
    TipFactory(conditions=[ConditionFactory(key="known")])
    advice = build_advice(task=TASK, probabilities={"brand_new_class": 0.9}, profile=None)
    assert advice.is_generic is True
    assert advice.display_name == "Brand new class"
    assert "nobody has written guidance" in advice.description
    assert advice.when_to_see_doctor
    assert advice.tips == []
    assert advice.products == []
    assert advice.risk_level == "unknown"
    assert advice.see_dermatologist is False


def test_build_advice_generic_for_unknown_task():
    advice = build_advice(task="made-up-task", probabilities={"x": 1.0}, profile=None)
    assert advice.is_generic
    assert advice.task == "made-up-task"


def test_build_advice_malignant_lesion_always_refers_even_without_row():
    Condition.objects.filter(task="lesions", key="mel").delete()
    advice = build_advice(task="lesions", probabilities={"mel": 0.35, "nv": 0.3}, profile=None)
    assert advice.is_generic is True
    assert advice.see_dermatologist is True


@pytest.mark.parametrize("key", ["mel", "bcc", "akiec"])
def test_build_advice_seeded_malignant_lesions_refer_at_any_probability(key):
    advice = build_advice(task="lesions", probabilities={key: 0.34, "nv": 0.33}, profile=None)
    assert advice.condition_key == key
    assert advice.see_dermatologist is True
    assert advice.is_generic is False
    assert advice.severity in ("medium", "high")


def test_build_advice_refers_when_other_class_passes_its_threshold():
    ConditionFactory(key="benign")
    ConditionFactory(key="bad", display_name="Bad thing", refer_above_probability=0.2)
    flagged = build_advice(task=TASK, probabilities={"benign": 0.75, "bad": 0.25}, profile=None)
    calm = build_advice(task=TASK, probabilities={"benign": 0.85, "bad": 0.15}, profile=None)
    assert flagged.condition_key == "benign"
    assert flagged.see_dermatologist is True
    assert "25% for Bad thing" in flagged.referral_reasons[0]
    assert calm.see_dermatologist is False


def test_build_advice_refers_when_high_only_at_high_severity(spots):
    spots.refer_to_dermatologist = Referral.WHEN_HIGH
    spots.save()
    assert build_advice(task=TASK, probabilities={"spots": 0.9}, profile=None).see_dermatologist
    assert not build_advice(task=TASK, probabilities={"spots": 0.5}, profile=None).see_dermatologist


def test_build_advice_tips_match_severity_activity_and_order(spots):
    later = TipFactory(text="Later", order=20, conditions=[spots])
    first = TipFactory(text="First", order=10, conditions=[spots])
    TipFactory(text="High only", for_low=False, for_medium=False, conditions=[spots])
    TipFactory(text="Inactive", is_active=False, conditions=[spots])
    TipFactory(text="Other condition", conditions=[ConditionFactory()])
    advice = build_advice(task=TASK, probabilities={"spots": 0.5}, profile=None)
    assert [t.text for t in advice.tips] == [first.text, later.text]
    high = build_advice(task=TASK, probabilities={"spots": 0.95}, profile=None)
    assert [t.text for t in high.tips] == ["First", "Later", "High only"]


def test_build_advice_products_in_routine_order(spots):
    cleanser = ProductCategoryFactory(slug="t-cleanser", order=10)
    sunscreen = ProductCategoryFactory(slug="t-sunscreen", order=80)
    ProductFactory(name="Z sunscreen", category=sunscreen, conditions=[spots])
    ProductFactory(name="B cleanser", category=cleanser, order=20, conditions=[spots])
    ProductFactory(name="A cleanser", category=cleanser, order=20, conditions=[spots])
    ProductFactory(name="C cleanser", category=cleanser, order=5, conditions=[spots])
    ProductFactory(name="Off", category=cleanser, is_active=False, conditions=[spots])
    advice = build_advice(task=TASK, probabilities={"spots": 0.5}, profile=None)
    assert [p.name for p in advice.products] == [
        "C cleanser",
        "A cleanser",
        "B cleanser",
        "Z sunscreen",
    ]


def test_build_advice_products_respect_severity(spots):
    ProductFactory(name="Mild", for_high=False, conditions=[spots])
    ProductFactory(name="Strong", for_low=False, conditions=[spots])
    low = build_advice(task=TASK, probabilities={"spots": 0.1}, profile=None)
    high = build_advice(task=TASK, probabilities={"spots": 0.9}, profile=None)
    assert [p.name for p in low.products] == ["Mild"]
    assert [p.name for p in high.products] == ["Strong"]


def test_skin_type_matching(spots, user):
    ProductFactory(name="Everyone", skin_types="", conditions=[spots])
    ProductFactory(name="Fair", skin_types="I,II", conditions=[spots])
    ProductFactory(name="Deep", skin_types="IV,V,VI", conditions=[spots])
    ProductFactory(name="Type two only", skin_types="II", conditions=[spots])

    def names(profile):
        advice = build_advice(task=TASK, probabilities={"spots": 0.5}, profile=profile)
        return sorted(p.name for p in advice.products)

    everything = ["Deep", "Everyone", "Fair", "Type two only"]
    assert names(None) == everything
    assert names(_profile(user, "")) == everything
    assert names(_profile(user, "I")) == ["Everyone", "Fair"]  # "I" must not match "II"
    assert names(_profile(user, "II")) == ["Everyone", "Fair", "Type two only"]
    assert names(_profile(user, "V")) == ["Deep", "Everyone"]
    assert names(_profile(user, "III")) == ["Everyone"]


def test_skin_type_matching_tolerates_unnormalised_storage(spots, user):
    ProductFactory(name="Spaced", skin_types="iv, v", conditions=[spots])
    advice = build_advice(task=TASK, probabilities={"spots": 0.5}, profile=_profile(user, "V"))
    assert [p.name for p in advice.products] == ["Spaced"]
    assert advice.skin_type == "V"


def test_advice_product_fields(spots):
    ProductFactory(
        name="Serum",
        key_ingredients="niacinamide, zinc PCA",
        skin_types="III,IV",
        usage="Twice a day.",
        link="https://example.org/serum",
        conditions=[spots],
    )
    product = build_advice(task=TASK, probabilities={"spots": 0.5}, profile=None).products[0]
    assert product.key_ingredients == ["niacinamide", "zinc PCA"]
    assert product.skin_types == ["III", "IV"]
    assert product.usage == "Twice a day."
    assert product.link == "https://example.org/serum"
    assert product.category_slug.startswith("test-category")


def test_advice_to_dict_is_json_and_round_trips(spots):
    TipFactory(conditions=[spots])
    ProductFactory(conditions=[spots])
    advice = build_advice(task=TASK, probabilities={"spots": 0.5}, profile=None)
    data = json.loads(json.dumps(advice.to_dict()))
    assert data["format"] == 1
    assert data["tips"][0]["text"] == advice.tips[0].text
    assert Advice.from_dict(data) == advice


def test_advice_from_dict_ignores_unknown_keys(spots):
    data = build_advice(task=TASK, probabilities={"spots": 0.5}, profile=None).to_dict()
    data["added_later"] = "x"
    assert Advice.from_dict(data).display_name == "Spots"


def test_build_advice_accepts_numpy_probabilities(spots):
    probabilities = dict(zip(["spots", "x"], np.array([0.8, 0.2], dtype=np.float32), strict=True))
    advice = build_advice(task=TASK, probabilities=probabilities, profile=None)
    assert advice.severity == "high"
    json.dumps(advice.to_dict())


@pytest.mark.parametrize(
    "probabilities", [{}, {"a": 1.5}, {"a": -0.1}, {"a": float("nan")}, {"a": "x"}]
)
def test_build_advice_rejects_invalid_probabilities(probabilities):
    with pytest.raises(ValueError, match="robabilit"):
        build_advice(task=TASK, probabilities=probabilities, profile=None)


def test_advice_preview_uses_given_severity_and_skin_type(spots):
    TipFactory(text="High tip", for_low=False, for_medium=False, conditions=[spots])
    ProductFactory(name="Deep", skin_types="VI", conditions=[spots])
    ProductFactory(name="Fair", skin_types="I", conditions=[spots])
    advice = advice_preview(task=TASK, condition_key="spots", severity="high", skin_type="VI")
    assert advice.severity == "high"
    assert advice.probability is None
    assert [t.text for t in advice.tips] == ["High tip"]
    assert [p.name for p in advice.products] == ["Deep"]
    with pytest.raises(ValueError, match="severity"):
        advice_preview(task=TASK, condition_key="spots", severity="extreme")


def test_set_active_services(spots):
    products = [ProductFactory(conditions=[spots]) for _ in range(2)]
    tips = [TipFactory(conditions=[spots]) for _ in range(2)]
    assert product_set_active(products=Product.objects.filter(pk=products[0].pk), active=False) == 1
    assert tip_set_active(tips=Tip.objects.filter(pk__in=[t.pk for t in tips]), active=False) == 2
    advice = build_advice(task=TASK, probabilities={"spots": 0.5}, profile=None)
    assert [p.name for p in advice.products] == [products[1].name]
    assert advice.tips == []
