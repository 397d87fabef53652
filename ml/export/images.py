"""The images an export scores: the run's validation/test (and training) files found again from
``splits.json`` keys, plus plain folders (out-of-distribution sets). Pillow + numpy; no torch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ml.data import DatasetError, DatasetIndex, ImageRecord, concat, scan
from ml.data.index import IMAGE_SUFFIXES
from ml.export.report import ExportError
from ml.transforms import EvalTransform, open_rgb, resize_shorter

if TYPE_CHECKING:
    import onnxruntime as ort

    from ml.train.prepare import TrainData

Alter = Callable[[Image.Image], Image.Image]


@dataclass(frozen=True)
class RunSplit:
    """One split of the run: keys (``splits.json``), labels and the run's own PyTorch logits."""

    name: str
    keys: tuple[str, ...]
    labels: np.ndarray
    run_logits: np.ndarray
    records: tuple[ImageRecord, ...]


@dataclass(frozen=True)
class RunData:
    """The run's dataset index, its val/test splits, classes and eval preprocessing."""

    run_dir: Path
    index: DatasetIndex
    classes: tuple[str, ...]
    transform: EvalTransform
    val: RunSplit
    test: RunSplit

    def batches(
        self, records: Sequence[ImageRecord], alter: Alter | None = None, batch_size: int = 32
    ) -> Iterator[np.ndarray]:
        """Preprocessed CHW float32 batches in record order (``alter`` edits the resized image)."""
        with self.index.reader() as read:
            for start in range(0, len(records), batch_size):
                arrays = []
                for record in records[start : start + batch_size]:
                    image = resize_shorter(open_rgb(read(record)), self.transform.resize)
                    arrays.append(self.transform(alter(image) if alter else image))
                yield np.stack(arrays)

    def train_records(self, limit: int, seed: int = 0) -> list[ImageRecord]:
        keys = json.loads((self.run_dir / "splits.json").read_text())["train"]
        chosen = np.random.default_rng(seed).permutation(len(keys))[:limit]
        by_key = {self.index.key(r): r for r in self.index.records}
        return [by_key[keys[i]] for i in sorted(chosen) if keys[i] in by_key]


def load_run_data(
    run_dir: Path, classes: tuple[str, ...], transform: EvalTransform, data: TrainData | None
) -> RunData:
    index = run_index(run_dir, data)
    return RunData(
        run_dir,
        index,
        classes,
        transform,
        load_split(run_dir, "val", index, classes),
        load_split(run_dir, "test", index, classes),
    )


def _scan_any(root: Path) -> DatasetIndex:
    """A folder per class, or (the CLI's ``CLASS=PATH``) one flat folder named after its class."""
    try:
        return scan(root)
    except DatasetError:
        return scan(root, as_class=root.name)


def index_of_folders(roots: Sequence[Path]) -> DatasetIndex:
    indexes = [_scan_any(Path(r)) for r in roots]
    return indexes[0] if len(indexes) == 1 else concat(*indexes)


def run_index(run_dir: Path, data: TrainData | None) -> DatasetIndex:
    if data is not None:
        from ml.train.prepare import load_index

        return load_index(data)
    roots = json.loads((run_dir / "splits.json").read_text())["dataset"]["sources"]
    missing = [r for r in roots if not Path(r).exists()]
    if missing:
        raise ExportError(f"the run's data {missing} is not here; pass data= (--data) instead")
    return index_of_folders([Path(r) for r in roots])


def load_split(run_dir: Path, name: str, index: DatasetIndex, classes: Sequence[str]) -> RunSplit:
    path = run_dir / f"{name}_logits.npz"
    if not path.is_file():
        raise ExportError(f"{path} is missing: the run did not finish its {name} evaluation")
    with np.load(path, allow_pickle=False) as npz:
        keys, labels, logits = tuple(str(k) for k in npz["keys"]), npz["labels"], npz["logits"]
        if tuple(str(c) for c in npz["classes"]) != tuple(classes):
            raise ExportError(f"{path} lists other classes than the checkpoint")
    by_key = {index.key(r): r for r in index.records}
    absent = [k for k in keys if k not in by_key]
    if absent:
        raise ExportError(
            f"{len(absent)} {name} image(s) of the run are not in the data, e.g. {absent[:3]}; "
            "pass the data the run was trained on"
        )
    records = tuple(by_key[k] for k in keys)
    return RunSplit(name, keys, labels.astype(np.int64), logits, records)


def image_files(folder: Path, limit: int = 200) -> list[Path]:
    """Up to ``limit`` image files under ``folder``, evenly spread over the sorted list."""
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if len(files) > limit:
        files = [files[i] for i in np.linspace(0, len(files) - 1, limit).round().astype(int)]
    return files


def file_batches(files: Sequence[Path], transform: EvalTransform) -> Iterator[np.ndarray]:
    for start in range(0, len(files), 32):
        yield np.stack([transform(open_rgb(p)) for p in files[start : start + 32]])


@dataclass(frozen=True)
class Outputs:
    """What the served graph says about a list of images: logits and penultimate features."""

    logits: np.ndarray
    features: np.ndarray


def run_outputs(session: ort.InferenceSession, batches: Iterator[np.ndarray]) -> Outputs:
    name = session.get_inputs()[0].name
    outs = [session.run(None, {name: b}) for b in batches]
    if not outs:
        sizes = [o.shape[-1] for o in session.get_outputs()]
        return Outputs(np.zeros((0, sizes[0])), np.zeros((0, sizes[-1])))
    return Outputs(np.concatenate([o[0] for o in outs]), np.concatenate([o[-1] for o in outs]))


def run_session(session: ort.InferenceSession, batches: Iterator[np.ndarray]) -> np.ndarray:
    return run_outputs(session, batches).logits
