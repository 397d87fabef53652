"""The model card's contents: metrics, calibration, uncertainty thresholds and rates, versions.

numpy + scikit-learn (through ``ml.metrics``); no torch, no Django.
"""

from __future__ import annotations

import platform
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import numpy as np

from ml.bundle import MODEL_FILE, REFERENCE_FILE
from ml.calibration import (
    CalibrationReport,
    energy_score,
    fit_confidence_threshold,
    fit_ood_threshold,
    softmax,
)
from ml.export.images import RunData
from ml.export.onnx_graph import INPUT_NAME, OPSET, OUTPUT_NAME
from ml.export.report import Parity, QuantizationResult

LIBRARIES = ("torch", "torchvision", "timm", "onnx", "onnxscript", "onnxruntime", "numpy", "pillow")


def metrics_summary(
    labels: np.ndarray, logits: np.ndarray, classes: tuple[str, ...]
) -> dict[str, Any]:
    from ml.metrics import classification_metrics

    m = classification_metrics(labels, classes=classes, probs=softmax(logits))
    return {
        "n": m.n,
        "accuracy": m.accuracy,
        "balanced_accuracy": m.balanced_accuracy,
        "macro_f1": m.macro_f1,
        "weighted_f1": m.weighted_f1,
        "roc_auc": m.roc_auc,
        "per_class": {c: asdict(v) for c, v in m.per_class.items()},
        "confusion_matrix": m.confusion_matrix,
    }


def build_card(
    *,
    task: str,
    run: RunData,
    ckpt: dict[str, Any],
    calibration: CalibrationReport,
    served_parity: Parity,
    eager_val: np.ndarray,
    logits: dict[str, np.ndarray],
    quant: QuantizationResult | None,
) -> dict[str, Any]:
    """Everything but intended use, licence, notes, OOD sets, source bias and files."""
    return {
        "task": task,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "classes": list(run.classes),
        "arch": ckpt["arch"],
        "image_size": run.transform.size,
        "normalization": {"mean": list(run.transform.mean), "std": list(run.transform.std)},
        "preprocessing": run.transform.to_dict(),
        "calibration": {"method": "temperature", **calibration.to_dict()},
        "uncertainty": uncertainty(run, calibration.temperature, logits["val"], logits["test"]),
        "metrics": _metrics(run, ckpt, logits),
        "parity": {
            **asdict(served_parity),
            "reference": "eager PyTorch, float32 checkpoint, same preprocessed images",
            "eager_vs_run_val_logits_max_diff": float(np.abs(eager_val - run.val.run_logits).max()),
        },
        "quantization": _quantization(quant),
        "onnx": {"file": MODEL_FILE, "input": INPUT_NAME, "output": OUTPUT_NAME, "opset": OPSET},
        "gradcam": {
            "weights_file": REFERENCE_FILE if quant and quant.kept else MODEL_FILE,
            "layer": "last backbone block (feature map before global pooling)",
        },
        "training": {
            "run_dir": str(run.run_dir),
            "config": ckpt["config"],
            "dataset": ckpt["dataset"],
            "epoch": ckpt.get("epoch"),
        },
        "versions": library_versions(),
    }


def _metrics(run: RunData, ckpt: dict[str, Any], logits: dict[str, np.ndarray]) -> dict[str, Any]:
    best = ckpt.get("best", {})
    return {
        "split": "test",
        "test": metrics_summary(run.test.labels, logits["test"], run.classes),
        "val": metrics_summary(run.val.labels, logits["val"], run.classes),
        "run_pytorch": {
            "test_macro_f1": metrics_summary(run.test.labels, run.test.run_logits, run.classes)[
                "macro_f1"
            ],
            "best_epoch": best.get("epoch"),
            "early_stopping_metric": best.get("metric"),
        },
    }


def uncertainty(
    run: RunData, temperature: float, val_logits: np.ndarray, test_logits: np.ndarray
) -> dict[str, Any]:
    """Thresholds fitted on validation; how often they fire (and accuracy) on val and test."""
    confidence = fit_confidence_threshold(softmax(val_logits, temperature), run.val.labels)
    ood = fit_ood_threshold(val_logits)
    rates = {
        split.name: flag_rates(logits, split.labels, temperature, confidence, ood)
        for split, logits in ((run.val, val_logits), (run.test, test_logits))
    }
    return {
        "confidence_threshold": confidence,
        "confidence_rule": "calibrated top probability at which validation accuracy, fitted "
        "as a non-decreasing function of confidence (isotonic), reaches 1/2 (1/K: none)",
        "ood_score": "energy",
        "ood_threshold": ood,
        "ood_rule": "energy -logsumexp(logits) above its 95th percentile on validation images",
        "rates": rates,
    }


def flag_rates(
    logits: np.ndarray, labels: np.ndarray, temperature: float, confidence: float, ood: float
) -> dict[str, float | None]:
    probs = softmax(logits, temperature)
    low = probs.max(1) < confidence
    flagged = low | (energy_score(logits) > ood)
    correct = probs.argmax(1) == labels
    return {
        "low_confidence_rate": float(low.mean()),
        "out_of_distribution_rate": float((energy_score(logits) > ood).mean()),
        "uncertain_rate": float(flagged.mean()),
        "accuracy_when_not_flagged": float(correct[~flagged].mean()) if (~flagged).any() else None,
        "accuracy_when_flagged": float(correct[flagged].mean()) if flagged.any() else None,
    }


def _quantization(quant: QuantizationResult | None) -> dict[str, Any]:
    if quant is None:
        return {"tried": False, "served": "float32 compute, weights stored float16"}
    served = "int8 (QDQ static)" if quant.kept else "float32 compute, weights stored float16"
    return {"tried": True, "served": served, **asdict(quant)}


def library_versions() -> dict[str, str]:
    import ml

    out = {"python": platform.python_version(), "ml": ml.__version__}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
