"""In-memory image cache, torch datasets/loaders over it, and batch normalisation. No Django.

Images are decoded once and kept as HWC uint8 arrays whose shorter side is the eval resize size,
so the eval centre crop of a cached image equals ``ml.transforms.preprocess`` exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, WeightedRandomSampler

from ml.transforms import center_crop


class AugmentedImages(Dataset):
    """Cached arrays -> augmented ``size`` x ``size`` CHW uint8 tensors with integer labels."""

    def __init__(
        self, arrays: Sequence[np.ndarray], labels: np.ndarray, transform: Callable[[Any], Any]
    ) -> None:
        self.arrays, self.labels, self.transform = arrays, labels, transform

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        chw = torch.from_numpy(self.arrays[i]).permute(2, 0, 1)
        return self.transform(chw).contiguous(), int(self.labels[i])


def train_loader(
    dataset: Dataset,
    labels: np.ndarray,
    *,
    batch_size: int,
    sampler: str,
    generator: torch.Generator,
    workers: int,
) -> DataLoader:
    """Shuffled (or class-balanced, with replacement) batches; the last partial batch is dropped
    when there is at least one full batch (BatchNorm cannot train on a batch of one)."""
    if sampler == "balanced":
        counts = np.bincount(labels)
        weights = torch.tensor(1.0 / counts[labels], dtype=torch.double)
        chosen: Any = WeightedRandomSampler(
            weights, len(labels), replacement=True, generator=generator
        )
    else:
        chosen = RandomSampler(dataset, generator=generator)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=chosen,
        drop_last=len(labels) >= batch_size,
        num_workers=workers,
        persistent_workers=workers > 0,
        generator=generator,
    )


def eval_batches(
    arrays: Sequence[np.ndarray], size: int, batch_size: int
) -> Iterator[torch.Tensor]:
    """Centre crops of cached arrays as CHW uint8 batches, in order."""
    for start in range(0, len(arrays), batch_size):
        crops = [center_crop(a, size) for a in arrays[start : start + batch_size]]
        yield torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2)


class Normalizer:
    """uint8 NCHW batch -> normalised float32 (channels_last when asked)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], channels_last: bool) -> None:
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        self.std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        self.channels_last = channels_last

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = (batch.float() - self.mean) / self.std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x
