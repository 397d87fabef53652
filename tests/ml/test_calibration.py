"""ml.calibration: temperature scaling lowers the ECE on a held-out split, ECE itself, the energy
OOD threshold and the low-confidence threshold; also on the shipped bundles' real logits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ml.calibration import (
    FeatureDensity,
    calibrate,
    energy_score,
    expected_calibration_error,
    fit_confidence_threshold,
    fit_feature_density,
    fit_ood_threshold,
    fit_temperature,
    joint_ood_thresholds,
    nll,
    softmax,
)
from tests.ml.serving_helpers import DEFAULT_BUNDLES, REPO


def overconfident(n: int, k: int = 5, scale: float = 3.0, seed: int = 0):
    """Labels drawn from softmax(z) (so z is calibrated), returned with the logits ``scale * z``."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, (n, k))
    labels = np.array([rng.choice(k, p=p) for p in softmax(z)])
    return scale * z, labels


def test_fit_temperature_recovers_the_overconfidence_factor() -> None:
    logits, labels = overconfident(4000, scale=3.0)
    temperature = fit_temperature(logits, labels)
    assert temperature == pytest.approx(3.0, rel=0.12)
    assert nll(logits, labels, temperature) < nll(logits, labels) - 0.1


def test_calibration_lowers_ece_on_a_held_out_split() -> None:
    fit_logits, fit_labels = overconfident(1500, seed=1)
    held_logits, held_labels = overconfident(1500, seed=2)
    report = calibrate(fit_logits, fit_labels, held_logits, held_labels)
    assert report.n_fit == report.n_eval == 1500
    assert report.ece_before > 0.1
    assert report.ece_after < report.ece_before / 3
    assert report.nll_after < report.nll_before


def test_ece_of_a_known_case() -> None:
    probs = np.array([[0.9, 0.1]] * 10)
    labels = np.array([0] * 5 + [1] * 5)  # confidence 0.9, accuracy 0.5
    assert expected_calibration_error(probs, labels) == pytest.approx(0.4)
    labels_all_right = np.zeros(10, dtype=int)
    assert expected_calibration_error(probs, labels_all_right) == pytest.approx(0.1)


def test_energy_threshold_flags_five_percent_of_validation_and_unfamiliar_inputs() -> None:
    rng = np.random.default_rng(3)
    familiar = rng.normal(0, 1, (2000, 4)) + np.eye(4)[rng.integers(0, 4, 2000)] * 8
    threshold = fit_ood_threshold(familiar[:1000])
    assert np.mean(energy_score(familiar[1000:]) > threshold) == pytest.approx(0.05, abs=0.025)
    unfamiliar = rng.normal(0, 1, (500, 4))  # no class stands out: low max logit, high energy
    assert np.mean(energy_score(unfamiliar) > threshold) > 0.9


def test_confidence_threshold_separates_a_mostly_wrong_low_confidence_group() -> None:
    top = np.r_[np.linspace(0.36, 0.5, 40), np.linspace(0.6, 0.99, 60)]
    probs = np.stack([top, (1 - top) / 2, (1 - top) / 2], axis=1)  # class 0 always on top
    labels = np.r_[np.tile([1, 2, 0], 14)[:40], np.zeros(60, dtype=int)]  # 1/3 right below 0.5
    threshold = fit_confidence_threshold(probs, labels)
    assert 0.45 < threshold <= 0.6
    flagged = probs.max(1) < threshold
    assert 35 <= flagged.sum() <= 40  # the low group, give or take its noisy upper end
    assert (labels[flagged] == 0).mean() < 0.5 < (labels[~flagged] == 0).mean()
    # Every prediction right: no group is mostly wrong, so confidence flags nothing.
    assert fit_confidence_threshold(probs, np.zeros(100, dtype=int)) == pytest.approx(1 / 3)


def test_feature_density_flags_features_of_another_kind() -> None:
    rng = np.random.default_rng(4)
    centres = rng.normal(0, 1, (3, 64))

    def sample(n: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 3, n)
        return centres[labels] + rng.normal(0, 0.3, (n, 64)) + shift, labels

    train, assigned = sample(800)
    density = fit_feature_density(train, assigned, dim=32)
    assert density.projection.shape == (64, 32)
    val, _ = sample(300)
    other = rng.normal(0, 1, (200, 64)) * 1.5  # no class centre nearby
    e_thr, d_thr, q = joint_ood_thresholds(rng.normal(0, 1, 300), density.score(val))
    assert 0.95 <= q <= 1.0
    assert np.mean(density.score(sample(300)[0]) > d_thr) < 0.08
    assert np.mean(density.score(other) > d_thr) > 0.95
    again = FeatureDensity.from_arrays(density.arrays())
    assert np.allclose(again.score(other), density.score(other), rtol=1e-3)


def test_joint_thresholds_flag_five_percent_together() -> None:
    rng = np.random.default_rng(5)
    energy, distance = rng.normal(0, 1, 1000), rng.normal(0, 1, 1000)
    e, d, q = joint_ood_thresholds(energy, distance)
    union = np.mean((energy > e) | (distance > d))
    assert 0.04 <= union <= 0.05
    assert q > 0.95  # independent scores: each must be stricter than its own 95th percentile


@pytest.mark.parametrize("task", sorted(DEFAULT_BUNDLES))
def test_shipped_bundles_real_logits_support_their_card(task: str) -> None:
    """The temperature, ECE figures and thresholds in each card come from its held-out logits."""
    bundle = REPO / "models" / task
    if not (bundle / "card.json").is_file():
        pytest.skip(f"{bundle} is not built yet")
    card = json.loads((bundle / "card.json").read_text())
    with np.load(bundle / "heldout_logits.npz") as npz:
        val, val_y = npz["val_logits"], npz["val_labels"]
        test, test_y = npz["test_logits"], npz["test_labels"]
    report = calibrate(val, val_y, test, test_y)
    cal = card["calibration"]
    assert report.temperature == pytest.approx(cal["temperature"], rel=1e-4)
    assert report.ece_after == pytest.approx(cal["ece_after"], abs=1e-6)
    assert report.nll_after < report.nll_before  # the real held-out split gets better NLL
    # Energy alone flags at most the 5 % that energy and feature distance flag together.
    assert np.mean(energy_score(val) > card["uncertainty"]["ood_threshold"]) <= 0.05 + 1e-9
