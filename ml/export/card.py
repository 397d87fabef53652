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

from ml.bundle import FEATURES_FILE, MODEL_FILE, REFERENCE_FILE
from ml.calibration import (
    CalibrationReport,
    FeatureDensity,
    energy_score,
    fit_confidence_threshold,
    joint_ood_thresholds,
    softmax,
)
from ml.export.images import Outputs, RunData
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
    outputs: dict[str, Outputs],
    density: FeatureDensity,
    quant: QuantizationResult | None,
) -> dict[str, Any]:
    """Everything but intended use, licence, notes, OOD sets, source bias and files."""
    logits = {split: out.logits for split, out in outputs.items()}
    return {
        "task": task,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "classes": list(run.classes),
        "arch": ckpt["arch"],
        "image_size": run.transform.size,
        "normalization": {"mean": list(run.transform.mean), "std": list(run.transform.std)},
        "preprocessing": run.transform.to_dict(),
        "calibration": {"method": "temperature", **calibration.to_dict()},
        "uncertainty": uncertainty(run, calibration.temperature, outputs, density),
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
    run: RunData, temperature: float, outputs: dict[str, Outputs], density: FeatureDensity
) -> dict[str, Any]:
    """Thresholds fitted on validation; how often they fire (and accuracy) on val and test."""
    val = outputs["val"]
    confidence = fit_confidence_threshold(softmax(val.logits, temperature), run.val.labels)
    energy, distance, q = joint_ood_thresholds(
        energy_score(val.logits), density.score(val.features)
    )
    out: dict[str, Any] = {
        "confidence_threshold": confidence,
        "confidence_rule": "calibrated top probability at which validation accuracy, fitted "
        "as a non-decreasing function of confidence (isotonic), reaches 1/2 (1/K: none)",
        "ood_score": "energy",
        "ood_threshold": energy,
        "feature_ood": {
            "score": "mahalanobis",
            "threshold": distance,
            "file": FEATURES_FILE,
            "dimensions": int(density.projection.shape[1]),
            "fitted_on": "training-split features of the served graph (L2-normalised, PCA, "
            "class means by the model's own predictions, tied covariance)",
        },
        "ood_rule": f"out of distribution when the energy -logsumexp(logits) or the feature "
        f"distance exceeds its {q:.4f} quantile on validation images (one quantile for both, "
        "chosen so that together they flag 5 % of validation images)",
    }
    out["rates"] = {
        split.name: flag_rates(outputs[split.name], split.labels, temperature, out, density)
        for split in (run.val, run.test)
    }
    return out


def flags(
    out: Outputs, temperature: float, unc: dict[str, Any], density: FeatureDensity
) -> tuple[np.ndarray, np.ndarray]:
    """(low confidence, out of distribution) per image, as the predictor decides them."""
    low = softmax(out.logits, temperature).max(1) < unc["confidence_threshold"]
    ood = (energy_score(out.logits) > unc["ood_threshold"]) | (
        density.score(out.features) > unc["feature_ood"]["threshold"]
    )
    return low, ood


def flag_rates(
    out: Outputs,
    labels: np.ndarray,
    temperature: float,
    unc: dict[str, Any],
    density: FeatureDensity,
) -> dict[str, float | None]:
    low, ood = flags(out, temperature, unc, density)
    flagged = low | ood
    correct = softmax(out.logits).argmax(1) == labels
    return {
        "low_confidence_rate": float(low.mean()),
        "out_of_distribution_rate": float(ood.mean()),
        "energy_only_rate": float((energy_score(out.logits) > unc["ood_threshold"]).mean()),
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
