"""Bundles: missing or corrupted files fail with a clear message; the default bundles shipped in
models/ load, fit in 10 MB, carry an honest card, and reproduce their held-out results on the
real photos of ../shared/data."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ml.bundle import BundleError, file_entry
from ml.calibration import softmax
from ml.export.images import index_of_folders
from ml.gradcam import gradcam_for_bundle
from ml.inference import BundlePredictor, load_predictor
from tests.ml.serving_helpers import DEFAULT_BUNDLES, REPO, colour_image, copy_bundle


def _rewrite_card(bundle: Path, **changes) -> None:
    card = json.loads((bundle / "card.json").read_text())
    card.update(changes)
    (bundle / "card.json").write_text(json.dumps(card))


def _truncate(bundle: Path) -> None:
    data = (bundle / "model.onnx").read_bytes()
    (bundle / "model.onnx").write_bytes(data[: len(data) // 3])


def _flip_bytes(bundle: Path) -> None:
    data = bytearray((bundle / "model.onnx").read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    (bundle / "model.onnx").write_bytes(bytes(data))


def _garbage_with_matching_card(bundle: Path) -> None:
    (bundle / "model.onnx").write_bytes(b"\x08\x07garbage that is not a protobuf graph" * 50)
    card = json.loads((bundle / "card.json").read_text())
    card["files"]["model.onnx"] = file_entry(bundle / "model.onnx")
    (bundle / "card.json").write_text(json.dumps(card))


def _drop_a_class(bundle: Path) -> None:
    card = json.loads((bundle / "card.json").read_text())
    _rewrite_card(bundle, classes=card["classes"][:2])


BREAKAGES = {
    "missing model": (lambda b: (b / "model.onnx").unlink(), "model.onnx is missing"),
    "missing card": (lambda b: (b / "card.json").unlink(), "card.json is missing"),
    "truncated model": (_truncate, "truncated"),
    "corrupted model": (_flip_bytes, "does not match the sha256"),
    "not an onnx file": (_garbage_with_matching_card, "cannot be loaded by ONNX Runtime"),
    "card not json": (lambda b: (b / "card.json").write_text("{oops"), "not valid JSON"),
    "card lacks classes": (lambda b: _rewrite_card(b, classes=None), "invalid field"),
    "classes vs outputs": (_drop_a_class, "lists 2 classes"),
    "unknown card format": (lambda b: _rewrite_card(b, format="other/9"), "not a skinplatform"),
}


@pytest.mark.parametrize("name", sorted(BREAKAGES))
def test_a_broken_bundle_fails_to_load_with_a_clear_message(name: str, tmp_path) -> None:
    bundle = copy_bundle(tmp_path)
    BundlePredictor(bundle)  # intact, it loads
    breakage, message = BREAKAGES[name]
    breakage(bundle)
    with pytest.raises(BundleError, match=message):
        load_predictor(bundle)


def test_grad_cam_refuses_a_corrupted_bundle(tmp_path) -> None:
    bundle = copy_bundle(tmp_path)
    _flip_bytes(bundle)
    with pytest.raises(BundleError, match="sha256"):
        gradcam_for_bundle(bundle, colour_image("red"))


def test_a_directory_that_is_not_a_bundle_is_refused(tmp_path) -> None:
    with pytest.raises(BundleError, match="card.json is missing"):
        load_predictor(tmp_path)


# ------------------------------------------------------------------ the shipped default bundles
def _default(task: str) -> Path:
    bundle = REPO / "models" / task
    if not (bundle / "card.json").is_file():
        pytest.skip(f"{bundle} is not built yet")
    return bundle


@pytest.mark.parametrize("task", sorted(DEFAULT_BUNDLES))
def test_default_bundle_loads_fits_and_has_an_honest_card(task: str) -> None:
    bundle = _default(task)
    assert sum(p.stat().st_size for p in bundle.iterdir()) < 10 * 1024 * 1024
    predictor = load_predictor(bundle)
    card = predictor.card
    assert card.task == task
    assert card.classes == DEFAULT_BUNDLES[task]
    assert "not a diagnosis" in card.intended_use
    assert card.licence
    raw = card.raw
    assert raw["parity"]["top1_agreement"] >= 0.98
    assert raw["parity"]["n"] > 50
    assert raw["metrics"]["test"]["n"] > 50
    assert raw["calibration"]["ece_after"] >= 0
    assert raw["uncertainty"]["out_of_distribution_sets"]
    assert raw["training"]["dataset"]["hash"]
    assert raw["training"]["dataset"]["class_counts"]


@pytest.mark.parametrize("task", sorted(DEFAULT_BUNDLES))
def test_default_bundle_reproduces_its_held_out_results_on_real_photos(
    task: str, shared_data: Path
) -> None:
    """A sample of the test split, found in ../shared/data by the keys the bundle keeps beside
    its logits: the predictor gives the stored logits again and classifies as recorded."""
    bundle = _default(task)
    predictor = load_predictor(bundle)
    roots = [
        _here(Path(r), shared_data) for r in predictor.card.raw["training"]["dataset"]["sources"]
    ]
    index = index_of_folders(roots)
    by_key = {index.key(r): r for r in index.records}
    with np.load(bundle / "heldout_logits.npz") as npz:
        keys, labels, logits = npz["test_keys"], npz["test_labels"], npz["test_logits"]
    chosen = np.linspace(0, len(keys) - 1, 24).round().astype(int)
    with index.reader() as read:
        photos = [read(by_key[str(keys[i])]) for i in chosen]
    predictions = predictor.predict_batch([Image.open(io.BytesIO(b)) for b in photos])
    again = np.array([[p.probabilities[c] for c in predictor.classes] for p in predictions])
    stored = softmax(logits[chosen], predictor.card.temperature)
    assert np.abs(again - stored).max() < 1e-3
    right = [
        predictor.classes[labels[i]] == p.top_class
        for i, p in zip(chosen, predictions, strict=True)
    ]
    recorded = predictor.card.metrics["test"]["accuracy"]
    assert np.mean(right) >= recorded - 0.25
    assert np.mean(right) > 1.5 / len(predictor.classes)


def _here(root: Path, shared_data: Path) -> Path:
    """The run's source folder, or the same folder under this machine's ../shared/data."""
    if root.exists():
        return root
    for i in range(len(root.parts)):
        candidate = shared_data / Path(*root.parts[i:])
        if candidate.exists():
            return candidate
    pytest.skip(f"{root} is not under {shared_data}")


def test_cli_evaluates_a_default_bundle_on_a_data_folder(shared_data: Path) -> None:
    bundle = _default("lesions")
    out = subprocess.run(
        [sys.executable, "-m", "ml", "evaluate", "--model", str(bundle),
         "--data", f"vasc={shared_data / 'ham10000' / 'images' / 'vasc'}", "--json"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["n"] > 0
    assert result["model"] == str(bundle)
