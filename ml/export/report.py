"""What an export produces besides the files: parity, quantisation outcome and the report.

numpy only; no torch, no Django.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ml.bundle import ModelCard
from ml.calibration import CalibrationReport, softmax


class ExportError(RuntimeError):
    """The run cannot be exported (missing files, images not found, parity failed)."""


@dataclass(frozen=True)
class Parity:
    """A served graph vs eager PyTorch (the float32 checkpoint) on the same preprocessed images."""

    split: str
    n: int
    top1_agreement: float
    max_prob_diff: float
    mean_prob_diff: float
    max_logit_diff: float


def parity(reference: np.ndarray, served: np.ndarray, split: str) -> Parity:
    if len(reference) == 0:
        return Parity(split, 0, 1.0, 0.0, 0.0, 0.0)
    diff = np.abs(softmax(reference) - softmax(served))
    return Parity(
        split=split,
        n=len(reference),
        top1_agreement=float((reference.argmax(1) == served.argmax(1)).mean()),
        max_prob_diff=float(diff.max()),
        mean_prob_diff=float(diff.mean()),
        max_logit_diff=float(np.abs(reference - served).max()),
    )


@dataclass(frozen=True)
class QuantizationResult:
    """int8 vs the float graph on the held-out test split; ``kept`` decides what is served."""

    kept: bool
    reason: str
    float_macro_f1: float
    int8_macro_f1: float
    float_bytes: int
    int8_bytes: int
    int8_parity: Parity
    calibration_images: int


@dataclass(frozen=True)
class ExportReport:
    out_dir: str
    task: str
    bundle_bytes: int
    files: dict[str, int]
    parity: Parity
    calibration: CalibrationReport
    test_metrics: dict[str, Any]
    quantization: QuantizationResult | None
    seconds: float
    card: ModelCard = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["card"] = self.card.raw
        return out
