from __future__ import annotations

import pytest

from recommendations import selectors
from recommendations.services import build_advice
from tests.recommendations.factories import TASK, ConditionFactory, ProductFactory, TipFactory

pytestmark = pytest.mark.django_db


def test_condition_display_names_for_a_task():
    names = selectors.condition_display_names(task="acne-severity")
    assert names["levle2_severe"] == "Severe acne (grade 2)"
    assert len(names) == 7
    assert selectors.condition_display_names(task="nothing-here") == {}


def test_condition_task_list_has_the_shipped_tasks():
    assert {"acne-severity", "facial", "lesions"} <= set(selectors.condition_task_list())


def test_build_advice_uses_a_fixed_number_of_queries(django_assert_num_queries, user):
    condition = ConditionFactory(key="counted")
    for _ in range(5):
        TipFactory(conditions=[condition])
        ProductFactory(conditions=[condition])
    with django_assert_num_queries(3):  # conditions of the task, tips, products
        advice = build_advice(task=TASK, probabilities={"counted": 0.9, "x": 0.1}, profile=None)
    assert len(advice.tips) == 5
    assert len(advice.products) == 5


def test_condition_detail_queryset_prefetches_active_items(django_assert_num_queries):
    condition = ConditionFactory(key="prefetched")
    TipFactory(conditions=[condition])
    TipFactory(conditions=[condition], is_active=False)
    ProductFactory(conditions=[condition])
    with django_assert_num_queries(4):  # condition, tips, products (+category), their conditions
        found = selectors.condition_detail_get(task=TASK, key="prefetched")
        tips = list(found.tips.all())
        products = list(found.products.all())
        _ = [list(p.conditions.all()) for p in products]
    assert len(tips) == 1
    assert len(products) == 1
