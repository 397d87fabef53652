"""templates/recommendations/_advice.html: one rendering for the result page and the preview."""

from __future__ import annotations

import json

import pytest
from django.template.loader import render_to_string

from recommendations.services import build_advice

pytestmark = pytest.mark.django_db


def _render(advice) -> str:
    return render_to_string("recommendations/_advice.html", {"advice": advice})


def test_advice_partial_renders_texts_tips_products_and_disclaimer():
    advice = build_advice(
        task="facial", probabilities={"acne": 0.83, "wrinkles": 0.17}, profile=None
    )
    html = _render(advice)
    assert "Acne" in html
    assert "Severity: High" in html
    assert "model probability 83%" in html
    assert "This is not a diagnosis" in html
    assert advice.tips[0].text.split(".")[0] in html
    assert "Benzoyl peroxide gel or wash" in html
    assert "Key ingredients:" in html
    assert "Showing every skin type" in html


def test_advice_partial_is_stronger_when_a_dermatologist_is_needed():
    calm = _render(build_advice(task="lesions", probabilities={"nv": 0.97}, profile=None))
    urgent = _render(build_advice(task="lesions", probabilities={"bcc": 0.6}, profile=None))
    assert "have a dermatologist look at this" in urgent
    assert "not-diagnosis strong" in urgent
    assert "have a dermatologist look at this" not in calm
    assert "This is not a diagnosis" in calm


def test_advice_partial_renders_generic_advice():
    html = _render(build_advice(task="facial", probabilities={"freckles": 0.9}, profile=None))
    assert "no written guidance" in html
    assert "Freckles" in html


def test_advice_partial_renders_stored_dict_like_the_dataclass():
    advice = build_advice(task="lesions", probabilities={"mel": 0.4, "nv": 0.6}, profile=None)
    stored = json.loads(json.dumps(advice.to_dict()))
    assert _render(stored) == _render(advice)


def test_advice_partial_escapes_admin_text():
    from recommendations.models import Condition

    Condition.objects.filter(task="facial", key="normal").update(
        description="<script>alert(1)</script>"
    )
    html = _render(build_advice(task="facial", probabilities={"normal": 1.0}, profile=None))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
