"""Calibration and uncertainty: temperature scaling, ECE, the energy OOD score, a feature-space
(Mahalanobis) OOD score, and the thresholds of all three.

numpy only (the serving path imports it); never imports torch, scikit-learn or Django.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

ECE_BINS = 15
OOD_QUANTILE = 0.95
T_BOUNDS = (0.05, 20.0)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def log_sum_exp(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    top = z.max(axis=-1)
    return top + np.log(np.exp(z - top[..., None]).sum(axis=-1))


def energy_score(logits: np.ndarray) -> np.ndarray:
    """Energy ``-logsumexp(logits)`` of the raw logits (Liu et al. 2020): higher = less familiar."""
    return -log_sum_exp(logits)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    z = np.asarray(logits, dtype=np.float64) / temperature
    labels = np.asarray(labels, dtype=np.int64)
    return float(np.mean(log_sum_exp(z) - z[np.arange(len(labels)), labels]))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood (a 1-D search over log T: a coarse
    grid, then golden-section refinement; NLL is convex in 1/T so this finds the optimum)."""
    if len(labels) == 0:
        return 1.0
    lo, hi = np.log(T_BOUNDS[0]), np.log(T_BOUNDS[1])
    grid = np.linspace(lo, hi, 81)
    losses = [nll(logits, labels, float(np.exp(g))) for g in grid]
    i = int(np.argmin(losses))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(40):
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        if nll(logits, labels, float(np.exp(c))) < nll(logits, labels, float(np.exp(d))):
            b = d
        else:
            a = c
    return float(np.exp((a + b) / 2))


def expected_calibration_error(
    probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
) -> float:
    """Top-label ECE: equal-width confidence bins, |accuracy - confidence| weighted by bin size."""
    probs = np.asarray(probs, dtype=np.float64)
    if len(probs) == 0:
        return 0.0
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(labels)
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total / len(probs))


def fit_ood_threshold(val_logits: np.ndarray, quantile: float = OOD_QUANTILE) -> float:
    """The energy score below which ``quantile`` of in-distribution validation images fall."""
    return float(np.quantile(energy_score(val_logits), quantile))


def joint_ood_thresholds(
    energy: np.ndarray, distance: np.ndarray, flag_rate: float = 1 - OOD_QUANTILE
) -> tuple[float, float, float]:
    """One quantile q for both validation scores: the lowest (most sensitive) whose union flags
    at most ``flag_rate`` of the validation images. Returns (energy and distance thresholds, q)."""
    for q in np.arange(1 - flag_rate, 1.0, 0.0005):
        e, d = float(np.quantile(energy, q)), float(np.quantile(distance, q))
        if np.mean((energy > e) | (distance > d)) <= flag_rate:
            return e, d, float(q)
    return float(energy.max()), float(distance.max()), 1.0


@dataclass(frozen=True)
class FeatureDensity:
    """A Gaussian model of the penultimate features of in-distribution images: features are
    L2-normalised, centred and projected on their top principal components; the score is the
    Mahalanobis distance to the nearest class mean under one shared (tied) covariance (Lee et
    al. 2018). It catches photos of another kind (a dermoscopy image shown to a face model),
    which the energy score misses when the model is confidently wrong about them."""

    mean: np.ndarray  # (D,)
    projection: np.ndarray  # (D, d)
    class_means: np.ndarray  # (K', d), classes with training images
    precision: np.ndarray  # (d, d)

    def score(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float64)
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12) - self.mean
        diff = (x @ self.projection)[:, None, :] - self.class_means[None]
        return np.einsum("nkd,de,nke->nk", diff, self.precision, diff).min(axis=1)

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k).astype(np.float32) for k in self.__dataclass_fields__}

    @classmethod
    def from_arrays(cls, arrays: Any) -> FeatureDensity:
        return cls(**{k: np.asarray(arrays[k], dtype=np.float64) for k in cls.__dataclass_fields__})


def fit_feature_density(
    features: np.ndarray, assigned: np.ndarray, dim: int = 128, ridge: float = 1e-3
) -> FeatureDensity:
    """Fit on training features; ``assigned`` is each image's class (the model's own prediction
    works: no labels needed). At most ``dim`` components and one per 8 images (a covariance
    needs many more samples than dimensions); ``ridge`` x the mean variance on the diagonal."""
    x = np.asarray(features, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    mean = x.mean(axis=0)
    x = x - mean
    dim = int(min(dim, x.shape[1], max(len(x) // 8, 2)))
    projection = np.linalg.svd(x, full_matrices=False)[2][:dim].T
    z = x @ projection
    present = np.unique(assigned)
    class_means = np.stack([z[assigned == c].mean(axis=0) for c in present])
    resid = z - class_means[np.searchsorted(present, assigned)]
    cov = resid.T @ resid / len(resid)
    cov += ridge * np.trace(cov) / dim * np.eye(dim)
    return FeatureDensity(mean, projection, class_means, np.linalg.inv(cov))


def isotonic_increasing(values: np.ndarray) -> np.ndarray:
    """The non-decreasing least-squares fit of ``values`` (pool adjacent violators)."""
    means: list[float] = []
    sizes: list[int] = []
    for v in np.asarray(values, dtype=np.float64):
        means.append(float(v))
        sizes.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            n = sizes[-2] + sizes[-1]
            means[-2:] = [(means[-2] * sizes[-2] + means[-1] * sizes[-1]) / n]
            sizes[-2:] = [n]
    return np.repeat(means, sizes)


def fit_confidence_threshold(probs: np.ndarray, labels: np.ndarray, min_count: int = 5) -> float:
    """The calibrated top probability below which validation predictions are wrong more often
    than right: where accuracy, fitted as a non-decreasing function of confidence (isotonic
    regression), reaches one half. ``1/K`` (nothing flagged) when no group of at least
    ``min_count`` predictions is mostly wrong; at most 0.9."""
    k = probs.shape[1]
    top = probs.max(axis=1)
    order = np.argsort(top, kind="stable")
    correct = (probs.argmax(axis=1) == np.asarray(labels))[order]
    top = top[order]
    accuracy = isotonic_increasing(correct)
    reached = np.flatnonzero(accuracy >= 0.5)
    first = int(reached[0]) if len(reached) else len(top)
    if first < min_count:
        return 1.0 / k
    threshold = float(top[first]) if first < len(top) else 1.0
    return float(min(max(threshold, 1.0 / k), 0.9))


@dataclass(frozen=True)
class CalibrationReport:
    """Temperature fitted on one split, ECE/NLL before and after on a held-out split."""

    temperature: float
    fitted_on: str
    n_fit: int
    evaluated_on: str
    n_eval: int
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float
    bins: int = ECE_BINS

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def calibrate(
    fit_logits: np.ndarray,
    fit_labels: np.ndarray,
    eval_logits: np.ndarray,
    eval_labels: np.ndarray,
    *,
    fitted_on: str = "val",
    evaluated_on: str = "test",
) -> CalibrationReport:
    temperature = fit_temperature(fit_logits, fit_labels)
    return CalibrationReport(
        temperature=temperature,
        fitted_on=fitted_on,
        n_fit=len(fit_labels),
        evaluated_on=evaluated_on,
        n_eval=len(eval_labels),
        ece_before=expected_calibration_error(softmax(eval_logits), eval_labels),
        ece_after=expected_calibration_error(softmax(eval_logits, temperature), eval_labels),
        nll_before=nll(eval_logits, eval_labels),
        nll_after=nll(eval_logits, eval_labels, temperature),
    )
