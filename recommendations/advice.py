"""The Advice value object: what a result says beyond the model's numbers. Plain dataclasses,
JSON round-trip via to_dict()/from_dict() so the analysis app can store and re-render it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Bump when a field is renamed or removed; from_dict() ignores keys it does not know.
ADVICE_FORMAT = 1

NOT_A_DIAGNOSIS = (
    "This is not a diagnosis. It is information from an automated analysis of one photo, which "
    "can be wrong. A doctor who sees your skin in person can tell you what it is."
)


@dataclass(frozen=True)
class AdviceTip:
    text: str


@dataclass(frozen=True)
class AdviceProduct:
    name: str
    category: str
    category_slug: str
    key_ingredients: list[str] = field(default_factory=list)
    skin_types: list[str] = field(default_factory=list)  # empty: suits every skin type
    usage: str = ""
    link: str = ""


@dataclass(frozen=True)
class Advice:
    task: str
    condition_key: str
    display_name: str
    probability: float | None  # calibrated probability of the top class; None in previews
    severity: str  # "low" | "medium" | "high"
    severity_label: str
    risk_level: str  # "low" | "moderate" | "high" | "unknown" (generic advice)
    risk_level_label: str
    description: str
    causes: str
    symptoms: str
    when_to_see_doctor: str
    see_dermatologist: bool
    referral_reasons: list[str] = field(default_factory=list)
    tips: list[AdviceTip] = field(default_factory=list)
    products: list[AdviceProduct] = field(default_factory=list)
    is_generic: bool = False
    skin_type: str = ""  # the skin type products were matched for; "" = all
    disclaimer: str = NOT_A_DIAGNOSIS

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["format"] = ADVICE_FORMAT
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Advice:
        values = _known(cls, data)
        values["tips"] = [AdviceTip(**_known(AdviceTip, t)) for t in data.get("tips", [])]
        values["products"] = [
            AdviceProduct(**_known(AdviceProduct, p)) for p in data.get("products", [])
        ]
        return cls(**values)


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}
