"""Held-out evaluation of a trained model on a folder-per-class dataset.

Models load through registered loaders (a training checkpoint or run dir today; the ONNX bundle
loader plugs in with ``register_loader``). Images go through ``ml.transforms`` exactly as
inference does. Never imports Django; torch only inside the checkpoint loader.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ml.data import DatasetIndex, Splits
from ml.data.inspect import decode
from ml.metrics import Metrics, classification_metrics, softmax
from ml.train.prepare import TrainData, load_index
from ml.transforms import EvalTransform, open_rgb, tta_views


class Predictor(Protocol):
    """A loaded model: its classes, its eval preprocessing, and logits for a CHW float batch."""

    classes: tuple[str, ...]
    eval_transform: EvalTransform

    def predict_logits(self, batch: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ModelLoader:
    name: str
    can_load: Callable[[Path], bool]
    load: Callable[[Path], Predictor]


_LOADERS: list[ModelLoader] = []


def register_loader(loader: ModelLoader, *, first: bool = True) -> None:
    """Add a model format; later issues register the ONNX bundle loader here."""
    _LOADERS.insert(0 if first else len(_LOADERS), loader)


def load_predictor(path: Path | str) -> Predictor:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model at {path}")
    for loader in _LOADERS:
        if loader.can_load(path):
            return loader.load(path)
    raise ValueError(f"{path}: not a model this version can load ({[ld.name for ld in _LOADERS]})")


@dataclass(frozen=True)
class EvaluationResult:
    model: str
    data: str
    split: str | None
    tta: str
    metrics: Metrics
    skipped: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        m = self.metrics.to_dict()
        head = {k: m[k] for k in ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1")}
        return {
            **head,
            "per_class": m["per_class"],
            "confusion_matrix": m["confusion_matrix"],
            "classes": list(self.metrics.classes),
            "roc_auc": m["roc_auc"],
            "n": m["n"],
            "model": self.model,
            "data": self.data,
            "split": self.split,
            "tta": self.tta,
            "skipped": list(self.skipped),
        }


def evaluate(
    model: Path | str,
    data: TrainData,
    *,
    split: str | None = None,
    splits_file: Path | None = None,
    tta: str = "none",
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> EvaluationResult:
    """Score ``model`` on every image of ``data`` whose class the model knows, or only on one
    split (``split="test"``) recorded in ``splits_file`` (default: the run dir's splits.json)."""
    predictor = load_predictor(model)
    index = load_index(data)
    labels, logits, skipped = predict_split(
        predictor,
        index,
        split,
        splits_file or _splits_beside(Path(model)),
        tta=tta,
        batch_size=batch_size,
        progress=progress,
    )
    metrics = classification_metrics(labels, classes=predictor.classes, probs=softmax(logits))
    source = ", ".join(s.root for s in index.sources)
    return EvaluationResult(str(model), source, split, tta, metrics, tuple(skipped))


def predict_split(
    predictor: Predictor,
    index: DatasetIndex,
    split: str | None,
    splits_file: Path | None,
    *,
    tta: str = "none",
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Labels and logits of every image of ``index`` (or of one split recorded in
    ``splits_file``) whose class the predictor knows, and the keys skipped (unknown class or
    unreadable)."""
    records, skipped = _select(index, predictor.classes, split, splits_file)
    labels, logits, unreadable = _predict_all(index, records, predictor, tta, batch_size, progress)
    return labels, logits, skipped + unreadable


def _splits_beside(model: Path) -> Path | None:
    run_dir = model if model.is_dir() else model.parent.parent
    candidate = run_dir / "splits.json"
    return candidate if candidate.is_file() else None


def _select(
    index: DatasetIndex, classes: Sequence[str], split: str | None, splits_file: Path | None
) -> tuple[list[Any], list[str]]:
    records = list(index.records)
    if split is not None:
        if splits_file is None:
            raise ValueError(f"split={split!r} needs a splits.json (give the run dir as the model)")
        records = Splits.load(splits_file).records(index, split)
    skipped = [index.key(r) for r in records if r.label not in classes]
    records = [r for r in records if r.label in classes]
    if not records:
        raise ValueError(f"no images of the model's classes {list(classes)} in the data")
    return records, skipped


def _predict_all(
    index: DatasetIndex,
    records: Sequence[Any],
    predictor: Predictor,
    tta: str,
    batch_size: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    labels, outputs, unreadable, batch, batch_labels = [], [], [], [], []
    with index.reader() as read:
        for i, record in enumerate(records):
            status, image, _ = decode(read(record))
            if image is None:
                unreadable.append(f"{index.key(record)} ({status})")
            else:
                batch.append(predictor.eval_transform(open_rgb(image)))
                batch_labels.append(predictor.classes.index(record.label))
            if len(batch) == batch_size or (i + 1 == len(records) and batch):
                outputs.append(_logits(predictor, np.stack(batch), tta))
                labels += batch_labels
                batch, batch_labels = [], []
            if progress is not None:
                progress(i + 1, len(records))
    logits = np.concatenate(outputs) if outputs else np.zeros((0, len(predictor.classes)))
    return np.asarray(labels, dtype=np.int64), logits, unreadable


def _logits(predictor: Predictor, batch: np.ndarray, tta: str) -> np.ndarray:
    views = tta_views(batch, tta)
    return sum(predictor.predict_logits(v) for v in views) / len(views)


class CheckpointPredictor:
    """A training checkpoint (``best.pt``/``last.pt``) or a run dir, run in eager PyTorch."""

    def __init__(self, path: Path) -> None:
        from ml.train.checkpoint import model_from_checkpoint

        self.model, self.info = model_from_checkpoint(path)
        self.classes = self.info.classes
        self.eval_transform = self.info.eval_transform

    def predict_logits(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.model(torch.from_numpy(batch)).float().numpy()


def _is_checkpoint(path: Path) -> bool:
    if path.is_dir():
        return (path / "checkpoints" / "best.pt").is_file()
    return path.suffix == ".pt"


register_loader(ModelLoader("checkpoint", _is_checkpoint, CheckpointPredictor), first=False)


def _load_bundle(path: Path) -> Predictor:
    from ml.inference import load_predictor as load_bundle  # ONNX model bundles; torch-free

    return load_bundle(path)


register_loader(ModelLoader("onnx-bundle", lambda p: (p / "card.json").is_file(), _load_bundle))
