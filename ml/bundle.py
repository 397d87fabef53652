"""Model bundles: the directory layout, ``card.json`` read into a ``ModelCard``, integrity checks.

Standard library only (the web process reads cards); never imports torch, onnx or Django.

A bundle is one directory::

    model.onnx            the served graph (float32 compute; weights stored float16 or int8)
    card.json             the model card (schema ``CARD_FORMAT``; see ``ModelCard``)
    heldout_logits.npz    the served model's logits + labels on the validation and test splits
    feature_density.npz   the Gaussian model of in-distribution features (feature-space OOD score)
    reference.onnx        only when model.onnx is int8: the float graph Grad-CAM reads weights from
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CARD_FORMAT = "skinplatform-model-card/1"
MODEL_FILE = "model.onnx"
CARD_FILE = "card.json"
LOGITS_FILE = "heldout_logits.npz"
REFERENCE_FILE = "reference.onnx"
FEATURES_FILE = "feature_density.npz"


class BundleError(ValueError):
    """A model bundle cannot be used; the message says which file and what is wrong."""


@dataclass(frozen=True)
class Normalization:
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


@dataclass(frozen=True)
class ModelCard:
    """The parts of ``card.json`` code relies on, typed; everything else stays in ``raw``."""

    task: str
    classes: tuple[str, ...]
    image_size: int
    normalization: Normalization
    temperature: float
    confidence_threshold: float
    ood_threshold: float
    ood_score: str
    feature_threshold: float | None
    arch: dict[str, Any]
    metrics: dict[str, Any]
    versions: dict[str, Any]
    created: str
    intended_use: str
    licence: str
    files: dict[str, dict[str, Any]]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def gradcam_file(self) -> str:
        return str(self.raw.get("gradcam", {}).get("weights_file", MODEL_FILE))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelCard:
        try:
            unc, norm = raw["uncertainty"], raw["normalization"]
            return cls(
                task=str(raw["task"]),
                classes=tuple(str(c) for c in raw["classes"]),
                image_size=int(raw["image_size"]),
                normalization=Normalization(_triple(norm["mean"]), _triple(norm["std"])),
                temperature=float(raw["calibration"]["temperature"]),
                confidence_threshold=float(unc["confidence_threshold"]),
                ood_threshold=float(unc["ood_threshold"]),
                ood_score=str(unc.get("ood_score", "energy")),
                feature_threshold=_optional_float(unc.get("feature_ood", {}).get("threshold")),
                arch=dict(raw["arch"]),
                metrics=dict(raw.get("metrics", {})),
                versions=dict(raw.get("versions", {})),
                created=str(raw.get("created", "")),
                intended_use=str(raw.get("intended_use", "")),
                licence=str(raw.get("data_licence", "")),
                files=dict(raw.get("files", {})),
                raw=raw,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"{CARD_FILE} is missing or has an invalid field: {exc!r}") from exc

    def validate(self) -> None:
        if not self.classes or len(set(self.classes)) != len(self.classes):
            raise BundleError(f"{CARD_FILE}: classes must be a non-empty list of unique names")
        if not (self.temperature > 0 and self.image_size > 0):
            raise BundleError(f"{CARD_FILE}: temperature and image_size must be positive")
        if self.ood_score != "energy":
            raise BundleError(f"{CARD_FILE}: unknown ood_score {self.ood_score!r}")


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _triple(values: Any) -> tuple[float, float, float]:
    out = tuple(float(v) for v in values)
    if len(out) != 3:
        raise ValueError(f"expected 3 values, got {values!r}")
    return out  # type: ignore[return-value]


def read_card(bundle_dir: Path) -> ModelCard:
    path = Path(bundle_dir) / CARD_FILE
    if not path.is_file():
        raise BundleError(f"{bundle_dir}: {CARD_FILE} is missing; not a model bundle")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path} is not valid JSON ({exc}); the card is corrupt") from exc
    if not isinstance(raw, dict) or raw.get("format") != CARD_FORMAT:
        raise BundleError(f"{path} is not a {CARD_FORMAT} model card")
    card = ModelCard.from_dict(raw)
    card.validate()
    return card


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_entry(path: Path) -> dict[str, Any]:
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def verify_file(bundle_dir: Path, card: ModelCard, name: str) -> Path:
    """The path of a bundle file that exists and matches the size and sha256 the card records."""
    path = Path(bundle_dir) / name
    if not path.is_file():
        raise BundleError(f"{bundle_dir}: {name} is missing; re-export or re-copy the bundle")
    expected = card.files.get(name)
    if expected is None:
        raise BundleError(f"{bundle_dir}: {CARD_FILE} does not list {name}")
    size = path.stat().st_size
    if size != expected.get("bytes"):
        raise BundleError(
            f"{path} has {size} bytes, the card says {expected.get('bytes')}: the file is "
            "truncated or was replaced"
        )
    if sha256_file(path) != expected.get("sha256"):
        raise BundleError(f"{path} does not match the sha256 in {CARD_FILE}: the file is corrupt")
    return path


def bundle_size(bundle_dir: Path) -> int:
    return sum(p.stat().st_size for p in Path(bundle_dir).iterdir() if p.is_file())


def write_card(bundle_dir: Path, raw: dict[str, Any]) -> ModelCard:
    card = ModelCard.from_dict({"format": CARD_FORMAT, **raw})
    card.validate()
    text = json.dumps(card.raw, indent=1, sort_keys=False, ensure_ascii=False)
    (Path(bundle_dir) / CARD_FILE).write_text(text + "\n", encoding="utf-8")
    return card
