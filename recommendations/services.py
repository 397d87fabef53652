"""Recommendations services: the advice engine (build_advice) and the admin's bulk writes.

Called by the analysis app, the admin and the API; never imports analysis or training.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from django.db import transaction
from django.db.models import QuerySet

from accounts.models import Profile
from recommendations import selectors
from recommendations.advice import Advice, AdviceProduct, AdviceTip
from recommendations.models import (
    Condition,
    Product,
    Referral,
    RiskLevel,
    Severity,
    SeverityRule,
    Tip,
    must_always_refer,
)
from skinplatform.memo import bump, memoised

GENERIC_DESCRIPTION = (
    "The analysis matched this photo to “{name}”, but nobody has written guidance for this "
    "result yet, so we cannot tell you more about it here. The result alone does not say "
    "whether anything needs treatment."
)
GENERIC_WHEN_TO_SEE_DOCTOR = (
    "See a doctor or a dermatologist if the area is new, growing, changing in shape or colour, "
    "bleeding, crusting, itchy or painful, if it does not heal within a few weeks, or if it "
    "worries you for any reason."
)
UNKNOWN_RISK = ("unknown", "Not assessed")


def build_advice(
    *, task: str, probabilities: Mapping[str, float], profile: Profile | None
) -> Advice:
    """The advice for one analysis: the top class (highest calibrated probability; on a tie the
    first in the model's class order) with its severity, texts, tips and products matched by
    condition, severity and the profile's skin type. A class without a Condition row gets a
    generic text (is_generic=True)."""
    values = _validated(probabilities)
    key = max(values, key=lambda k: values[k])  # the first maximum wins a tie
    probability = values[key]
    conditions = memoised(
        "advice", ("conditions", task), lambda: selectors.condition_map(task=task)
    )
    condition = conditions.get(key)
    rule = getattr(condition, "severity_rule", None) if condition else None
    severity = (rule or SeverityRule()).severity_for(probability)
    reasons = _other_class_referrals(key, values, conditions)
    return _assemble(
        task=task,
        key=key,
        condition=condition,
        severity=severity,
        probability=probability,
        skin_type=profile.skin_type if profile else "",
        extra_reasons=reasons,
    )


def advice_preview(
    *,
    task: str,
    condition_key: str,
    severity: str,
    skin_type: str = "",
    probability: float | None = None,
) -> Advice:
    """What a person would see for this class at this severity with this skin type (admin)."""
    if severity not in Severity.values:
        raise ValueError(f"Unknown severity {severity!r}.")
    return _assemble(
        task=task,
        key=condition_key,
        condition=selectors.condition_get(task=task, key=condition_key),
        severity=severity,
        probability=probability,
        skin_type=skin_type,
        extra_reasons=[],
    )


def _validated(probabilities: Mapping[str, float]) -> dict[str, float]:
    if not probabilities:
        raise ValueError("No probabilities given.")
    values = {}
    for key, value in probabilities.items():
        try:
            number = float(value)  # also numpy scalars
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(value, bool) or not math.isfinite(number) or not 0 <= number <= 1:
            raise ValueError(f"Probability of {key!r} must be a number in [0, 1], got {value!r}.")
        values[key] = number
    return values


def _other_class_referrals(
    top: str, probabilities: dict[str, float], conditions: dict[str, Condition]
) -> list[str]:
    reasons = []
    for key, value in probabilities.items():
        condition = conditions.get(key)
        threshold = condition.refer_above_probability if condition else None
        if key != top and threshold is not None and value >= threshold:
            reasons.append(
                f"The photo also scored {round(value * 100)}% for {condition.display_name}, "
                "which a dermatologist should rule out."
            )
    return reasons


def _referral_reasons(
    task: str, key: str, condition: Condition | None, severity: str, name: str
) -> list[str]:
    refer = condition.refer_to_dermatologist if condition else Referral.NO
    if refer == Referral.ALWAYS or must_always_refer(task, key):
        return [f"{name} should always be assessed by a dermatologist."]
    if refer == Referral.WHEN_HIGH and severity == Severity.HIGH:
        return [f"The result suggests {name} at high severity."]
    return []


def _assemble(
    *,
    task: str,
    key: str,
    condition: Condition | None,
    severity: str,
    probability: float | None,
    skin_type: str,
    extra_reasons: list[str],
) -> Advice:
    name = condition.display_name if condition else _humanise(key)
    reasons = _referral_reasons(task, key, condition, severity, name) + extra_reasons
    common = {
        "task": task,
        "condition_key": key,
        "display_name": name,
        "probability": probability,
        "severity": severity,
        "severity_label": Severity(severity).label,
        "see_dermatologist": bool(reasons),
        "referral_reasons": reasons,
        "skin_type": skin_type,
    }
    if condition is None:
        return Advice(
            **common,
            risk_level=UNKNOWN_RISK[0],
            risk_level_label=UNKNOWN_RISK[1],
            description=GENERIC_DESCRIPTION.format(name=name),
            causes="",
            symptoms="",
            when_to_see_doctor=GENERIC_WHEN_TO_SEE_DOCTOR,
            is_generic=True,
        )
    tips = memoised(
        "advice",
        ("tips", condition.pk, severity),
        lambda: list(selectors.tip_list_for(condition=condition, severity=severity)),
    )
    products = memoised(
        "advice",
        ("products", condition.pk, severity, skin_type),
        lambda: list(
            selectors.product_list_for(condition=condition, severity=severity, skin_type=skin_type)
        ),
    )
    return Advice(
        **common,
        risk_level=condition.risk_level,
        risk_level_label=RiskLevel(condition.risk_level).label,
        description=condition.description,
        causes=condition.causes,
        symptoms=condition.symptoms,
        when_to_see_doctor=condition.when_to_see_doctor,
        tips=[AdviceTip(text=tip.text) for tip in tips],
        products=[_product(p) for p in products],
    )


def _product(product: Product) -> AdviceProduct:
    return AdviceProduct(
        name=product.name,
        category=product.category.name,
        category_slug=product.category.slug,
        key_ingredients=product.ingredient_list,
        skin_types=product.skin_type_list,
        usage=product.usage,
        link=product.link,
    )


def _humanise(key: str) -> str:
    words = key.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else key


@transaction.atomic
def product_set_active(*, products: QuerySet[Product], active: bool) -> int:
    bump("advice")  # update() sends no signal
    return products.update(is_active=active)


@transaction.atomic
def tip_set_active(*, tips: QuerySet[Tip], active: bool) -> int:
    bump("advice")
    return tips.update(is_active=active)
