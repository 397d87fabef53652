"""Serving: a calibrated predictor over a model bundle, run with ONNX Runtime, cached per process.

Imports numpy, Pillow and onnxruntime (plus torch-free ``ml`` modules) only: the web process
never imports torch, scikit-learn or Django through here.

    predictor = load_predictor(Path("models/lesions"))   # once per process (path + card mtime)
    prediction = predictor.predict(image)                 # PIL image, JPEG/PNG bytes or a path
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from PIL import Image

from ml.bundle import (
    CARD_FILE,
    FEATURES_FILE,
    MODEL_FILE,
    BundleError,
    ModelCard,
    read_card,
    verify_file,
)
from ml.calibration import FeatureDensity, energy_score, softmax
from ml.transforms import EvalTransform, open_rgb

__all__ = ["BundleError", "BundlePredictor", "ModelCard", "Prediction", "load_predictor"]

ImageInput = Image.Image | bytes | str | Path
# JPEGs are draft-decoded to at least twice the eval resize: the antialiased resize that follows
# then dominates, and predictions match a full decode (measured on 200 ACNE04 photos: 1x gave
# 99.5 % top-1 agreement, max probability difference 0.06; 2x gave 100 %, < 0.001).
DRAFT_MARGIN = 2
LOW_CONFIDENCE = "low_confidence"
OUT_OF_DISTRIBUTION = "out_of_distribution"


@dataclass(frozen=True)
class Prediction:
    """Calibrated class probabilities (card order, summing to 1) and the uncertainty verdict.
    ``ood_score`` is the energy of the logits; ``feature_distance`` the feature-space score
    (None for bundles without a feature density); either above its threshold makes the image
    ``out_of_distribution``."""

    classes: tuple[str, ...]
    probabilities: dict[str, float]
    top_class: str
    top_probability: float
    uncertain: bool
    reasons: tuple[str, ...]
    ood_score: float
    feature_distance: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["classes"], out["reasons"] = list(self.classes), list(self.reasons)
        return out


def decode_image(source: ImageInput, min_side: int) -> Image.Image:
    """An upright RGB image. Bytes and paths of JPEGs are draft-decoded (libjpeg DCT scaling by
    1/2, 1/4 or 1/8) to the smallest size whose sides stay >= ``min_side``; an already opened
    PIL image is used as it is (it belongs to the caller, so it is never drafted: pass bytes or
    a path to get the fast decode)."""
    if isinstance(source, Image.Image):
        return open_rgb(source)
    try:
        image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot decode the image: {exc}") from exc
    if image.format == "JPEG":
        image.draft("RGB", (min_side, min_side))
    return open_rgb(image)


def transform_from_card(card: ModelCard) -> EvalTransform:
    spec = card.raw.get("preprocessing") or {}
    norm = card.normalization
    transform = EvalTransform.for_size(card.image_size, norm.mean, norm.std)
    if (
        spec.get("method", transform.method) != transform.method
        or spec.get("interpolation", transform.interpolation) != transform.interpolation
    ):
        raise BundleError(f"{CARD_FILE}: unsupported preprocessing {spec}")
    if int(spec.get("resize", transform.resize)) != transform.resize:
        raise BundleError(
            f"{CARD_FILE}: preprocessing resize {spec['resize']} != {transform.resize}"
        )
    return transform


def make_session(model_path: Path, threads: int | None = None) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or 0
    options.inter_op_num_threads = 1
    # Idle ORT threads would spin on the cores the web process shares with the workers: measured
    # under load, spinning off was faster (9.5 vs 14 ms) and used 2.5x less CPU per prediction.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ORT raises its own unrelated exception types
        raise BundleError(
            f"{model_path} cannot be loaded by ONNX Runtime {ort.__version__} "
            f"({type(exc).__name__}: {str(exc)[:300]}); the file is corrupt or not an ONNX model"
        ) from exc


class BundlePredictor:
    """A loaded bundle. Thread-safe (ONNX Runtime sessions are); build it via ``load_predictor``."""

    def __init__(self, bundle_dir: Path | str, *, threads: int | None = None) -> None:
        self.bundle_dir, self.threads = Path(bundle_dir), threads
        if not self.bundle_dir.is_dir():
            raise BundleError(f"{self.bundle_dir} is not a directory; no model bundle there")
        self.card = read_card(self.bundle_dir)
        self.classes = self.card.classes
        self.eval_transform = transform_from_card(self.card)
        self.session = make_session(verify_file(self.bundle_dir, self.card, MODEL_FILE), threads)
        self._input = self.session.get_inputs()[0].name
        self.density = self._load_density()
        self._check_outputs()

    def _load_density(self) -> FeatureDensity | None:
        if self.card.feature_threshold is None:
            return None
        path = verify_file(self.bundle_dir, self.card, FEATURES_FILE)
        with np.load(path, allow_pickle=False) as arrays:
            return FeatureDensity.from_arrays(arrays)

    def _check_outputs(self) -> None:
        size = self.card.image_size
        try:
            out = self.session.run(None, {self._input: np.zeros((1, 3, size, size), np.float32)})
        except Exception as exc:  # noqa: BLE001 - ORT's runtime errors have no common base
            raise BundleError(f"{MODEL_FILE} fails on a {size}px input: {exc}") from exc
        if out[0].shape != (1, len(self.classes)):
            raise BundleError(
                f"{MODEL_FILE} outputs shape {tuple(out[0].shape[1:])} but {CARD_FILE} lists "
                f"{len(self.classes)} classes {list(self.classes)}"
            )
        if self.density is not None and (
            len(out) < 2 or out[-1].shape[1] != self.density.mean.shape[0]
        ):
            raise BundleError(f"{MODEL_FILE} has no features output matching {FEATURES_FILE}")

    def preprocess(self, image: ImageInput) -> np.ndarray:
        """CHW float32, exactly the validation preprocessing (``ml.transforms.EvalTransform``)."""
        transform = self.eval_transform
        return transform(decode_image(image, transform.resize * DRAFT_MARGIN))

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(logits, penultimate features or None) of a preprocessed NCHW float32 batch."""
        out = self.session.run(None, {self._input: np.ascontiguousarray(batch, np.float32)})
        return out[0], (out[1] if len(out) > 1 else None)

    def predict_logits(self, batch: np.ndarray) -> np.ndarray:
        return self.run(batch)[0]

    def predict(self, image: ImageInput) -> Prediction:
        return self.from_outputs(*self.run(self.preprocess(image)[None]))[0]

    def predict_batch(self, images: Sequence[ImageInput], batch_size: int = 32) -> list[Prediction]:
        """Predictions in input order; images are decoded on a few threads (Pillow releases the
        GIL while decoding and resizing), then run through the graph ``batch_size`` at a time."""
        out: list[Prediction] = []
        workers = max(1, min(self.threads or os.cpu_count() or 1, 4))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for start in range(0, len(images), batch_size):
                arrays = list(pool.map(self.preprocess, images[start : start + batch_size]))
                out += self.from_outputs(*self.run(np.stack(arrays)))
        return out

    def from_outputs(
        self, logits: np.ndarray, features: np.ndarray | None = None
    ) -> list[Prediction]:
        """Temperature-scaled probabilities and the uncertainty rules of the card."""
        card = self.card
        probs = softmax(logits, card.temperature)
        energies = energy_score(logits)
        distances: list[float | None] = [None] * len(probs)
        if self.density is not None and features is not None:
            distances = [float(d) for d in self.density.score(features)]
        out = []
        for row, energy, distance in zip(probs, energies, distances, strict=True):
            top = int(row.argmax())
            reasons = []
            if row[top] < card.confidence_threshold:
                reasons.append(LOW_CONFIDENCE)
            far = distance is not None and distance > (card.feature_threshold or np.inf)
            if energy > card.ood_threshold or far:
                reasons.append(OUT_OF_DISTRIBUTION)
            out.append(
                Prediction(
                    classes=self.classes,
                    probabilities={c: float(p) for c, p in zip(self.classes, row, strict=True)},
                    top_class=self.classes[top],
                    top_probability=float(row[top]),
                    uncertain=bool(reasons),
                    reasons=tuple(reasons),
                    ood_score=float(energy),
                    feature_distance=distance,
                )
            )
        return out


def load_predictor(bundle_dir: Path | str, *, threads: int | None = None) -> BundlePredictor:
    """The predictor of a bundle, loaded once per process; a rewritten card.json (new mtime)
    loads it again. Raises ``BundleError`` with a message saying what is wrong."""
    path = Path(bundle_dir).resolve()
    try:
        mtime = os.stat(path / CARD_FILE).st_mtime_ns
    except OSError as exc:
        raise BundleError(f"{bundle_dir}: {CARD_FILE} is missing; not a model bundle") from exc
    return _load_cached(path, mtime, threads)


@functools.lru_cache(maxsize=16)
def _load_cached(path: Path, card_mtime_ns: int, threads: int | None) -> BundlePredictor:
    return BundlePredictor(path, threads=threads)
