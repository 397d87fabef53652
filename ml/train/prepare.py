"""Run preparation: read + validate + clean the data, decode it into memory, fix the splits.

Writes ``validation.json`` and ``splits.json`` into the run dir. Imports no torch and no Django.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ml.data import (
    CleanSummary,
    DatasetIndex,
    DataSpec,
    ImageInfo,
    Splits,
    ValidationReport,
    ValidationSettings,
    clean,
    inspect_images,
    scan,
    split,
)
from ml.data.validation import build_report
from ml.train.config import TrainConfig
from ml.transforms import resized_array

TrainData = DatasetIndex | DataSpec | Path | str


@dataclass
class Prepared:
    index: DatasetIndex
    classes: tuple[str, ...]
    labels: dict[str, int]  # key -> class index
    arrays: dict[str, np.ndarray]  # key -> HWC uint8, shorter side = resize_size(image_size)
    report: ValidationReport
    cleaned: CleanSummary
    splits: Splits
    dataset_hash: str

    def split_arrays(self, name: str) -> tuple[list[str], list[np.ndarray], np.ndarray]:
        keys = list(self.splits.keys(name))
        labels = np.array([self.labels[k] for k in keys], dtype=np.int64)
        return keys, [self.arrays[k] for k in keys], labels

    def dataset_info(self) -> dict[str, object]:
        return {
            "hash": self.dataset_hash,
            "class_counts": self.index.class_counts,
            "num_images": len(self.index.records),
            "sources": [s.root for s in self.index.sources],
            "split_sizes": {n: len(self.splits.keys(n)) for n in ("train", "val", "test")},
            "splits_fingerprint": self.splits.fingerprint(),
        }


def load_index(data: TrainData) -> DatasetIndex:
    if isinstance(data, DatasetIndex):
        return data
    if isinstance(data, DataSpec):
        return data.load()
    return scan(Path(data))


def prepare(
    cfg: TrainConfig,
    data: TrainData,
    run_dir: Path,
    *,
    splits: Splits | None,
    resume: bool,
    progress: Callable[[int, int], None],
) -> Prepared:
    """Inspect every image once (decode, hashes), cache it resized, clean, then split."""
    index = load_index(data)
    raw: dict[int, np.ndarray] = {}

    def keep(i: int, image: Image.Image) -> None:
        raw[i] = resized_array(image, cfg.image_size)

    infos = inspect_images(
        index, perceptual=cfg.near_duplicate_distance >= 0, on_decoded=keep, progress=progress
    )
    report = build_report(
        index, infos, ValidationSettings(near_duplicate_distance=cfg.near_duplicate_distance)
    )
    (run_dir / "validation.json").write_text(json.dumps(report.to_dict(), indent=1))
    arrays = {info.key: raw[i] for i, info in enumerate(infos) if i in raw}
    index, infos, cleaned = clean(
        index,
        infos,
        drop_duplicates=cfg.drop_duplicates,
        drop_label_conflicts=cfg.drop_label_conflicts,
    )
    classes = index.classes
    if len(classes) < 2:
        raise ValueError(f"training needs at least two classes with usable images, got {classes}")
    labels = {index.key(r): classes.index(r.label) for r in index.records}
    arrays = {k: arrays[k] for k in labels}
    splits = _fix_splits(cfg, index, infos, run_dir, splits, resume)
    prepared = Prepared(index, classes, labels, arrays, report, cleaned, splits, _hash(infos))
    splits.save(
        run_dir / "splits.json",
        classes=list(classes),
        class_counts=splits.class_counts(index),
        dataset=prepared.dataset_info(),
        removed=cleaned.to_dict(),
    )
    return prepared


def _fix_splits(
    cfg: TrainConfig,
    index: DatasetIndex,
    infos: list[ImageInfo],
    run_dir: Path,
    given: Splits | None,
    resume: bool,
) -> Splits:
    saved = run_dir / "splits.json"
    if resume and saved.is_file():
        splits = Splits.load(saved)
    elif given is not None:
        splits = given
    else:
        splits = split(
            index,
            val=cfg.val_fraction,
            test=cfg.test_fraction,
            seed=cfg.seed,
            infos=infos,
            near_duplicate_distance=cfg.near_duplicate_distance,
        )
    known = set(index.all_keys())
    missing = [k for n in ("train", "val", "test") for k in splits.keys(n) if k not in known]
    if missing:
        raise ValueError(
            f"{len(missing)} file(s) named by the splits are not usable images of the "
            f"dataset, e.g. {missing[:3]}"
        )
    if not splits.train:
        raise ValueError("the training split is empty")
    return splits


def _hash(infos: list[ImageInfo]) -> str:
    lines = sorted(f"{i.label}\t{i.sha256}" for i in infos)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
