from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from recommendations.models import Referral, SeverityRule, parse_skin_types
from tests.recommendations.factories import ConditionFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_parse_skin_types_is_canonical():
    assert parse_skin_types(" vi, II ,iv,II") == ["II", "IV", "VI"]
    assert parse_skin_types("") == []


def test_parse_skin_types_rejects_unknown():
    with pytest.raises(ValidationError, match="VII"):
        parse_skin_types("I,VII")


def test_product_suits():
    product = ProductFactory.build(skin_types="I,II")
    assert product.suits("I")
    assert product.suits("II")
    assert not product.suits("III")
    assert product.suits("")  # no skin type known: every product
    assert ProductFactory.build(skin_types="").suits("VI")


def test_product_skin_type_list_tolerates_bad_stored_value():
    assert ProductFactory.build(skin_types="iv, VII,,i").skin_type_list == ["I", "IV"]


def test_product_clean_normalises_skin_types():
    product = ProductFactory.build(skin_types="v, iv")
    product.clean()
    assert product.skin_types == "IV,V"


def test_severity_rule_validation():
    condition = ConditionFactory()
    with pytest.raises(ValidationError, match="Medium threshold"):
        SeverityRule(condition=condition, medium_from=0.9, high_from=0.5).full_clean()
    with pytest.raises(ValidationError, match="severity of this grade"):
        SeverityRule(condition=condition, mode=SeverityRule.Mode.FIXED).full_clean()


def test_condition_clean_keeps_malignant_lesions_referred():
    mel = ConditionFactory.build(task="lesions", key="mel", refer_to_dermatologist=Referral.NO)
    with pytest.raises(ValidationError, match="always recommend a dermatologist"):
        mel.clean()
    ConditionFactory.build(task="facial", key="mel", refer_to_dermatologist=Referral.NO).clean()


def test_condition_key_is_unique_per_task():
    ConditionFactory(task="t1", key="same")
    ConditionFactory(task="t2", key="same")
    with pytest.raises(ValidationError):
        ConditionFactory.build(task="t1", key="same").validate_constraints()
