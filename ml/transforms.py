"""Image preprocessing: the eval transform that inference must mirror, and training augmentation.

The eval path is Pillow + numpy only (the web process runs ONNX without torch); the augmentation
presets import torchvision lazily, inside the functions that build them. No Django.

Eval preprocessing, exactly (``preprocess``):
  1. decode, apply the EXIF orientation (``ImageOps.exif_transpose``), convert to RGB;
  2. resize so the shorter side is ``resize_size(size) = round(size / 0.875)`` (160 -> 183,
     224 -> 256) with Pillow ``Image.BILINEAR`` (Pillow filters with antialiasing when it
     shrinks); the longer side becomes ``int(resize * long / short)`` (floor, as torchvision);
  3. centre crop ``size`` x ``size`` at ``top = int(round((h - size) / 2))``,
     ``left = int(round((w - size) / 2))`` (torchvision's offsets);
  4. float32 in [0, 1] (``/ 255``), then ``(x - mean) / std`` per channel, layout CHW.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

CROP_FRACTION = 0.875
AUGMENTATIONS = ("none", "crop_flip", "geometric", "photometric")
TTA_MODES = ("none", "hflip", "dihedral")


@dataclass(frozen=True)
class EvalTransform:
    """Everything an inference engine needs to reproduce the eval preprocessing."""

    size: int
    resize: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bilinear"
    method: str = "resize_shorter_center_crop"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def for_size(cls, size: int, mean: Sequence[float], std: Sequence[float]) -> EvalTransform:
        return cls(size, resize_size(size), tuple(mean), tuple(std))  # type: ignore[arg-type]

    def __call__(self, image: Image.Image) -> np.ndarray:
        return normalize(
            center_crop(resize_shorter(image, self.resize), self.size), self.mean, self.std
        )


def resize_size(size: int) -> int:
    return int(round(size / CROP_FRACTION))


def open_rgb(source: bytes | str | Path | Image.Image) -> Image.Image:
    """Decode (bytes, path or an open image), honour EXIF orientation, convert to RGB."""
    if isinstance(source, bytes):
        image = Image.open(io.BytesIO(source))
    elif isinstance(source, str | Path):
        image = Image.open(source)
    else:
        image = source
    image = ImageOps.exif_transpose(image) or image
    return image.convert("RGB")


def resize_shorter(image: Image.Image, shorter: int) -> Image.Image:
    w, h = image.size
    new = (shorter, int(shorter * h / w)) if w <= h else (int(shorter * w / h), shorter)
    if new == (w, h):
        return image
    return image.resize(new, Image.BILINEAR)


def resized_array(image: Image.Image, size: int) -> np.ndarray:
    """Steps 1-2 of the eval preprocessing for crop ``size``, as a writable HWC uint8 array
    (what training keeps in memory; its centre crop is exactly steps 1-3)."""
    return np.array(resize_shorter(open_rgb(image), resize_size(size)), dtype=np.uint8)


def center_crop(image: Image.Image | np.ndarray, size: int) -> np.ndarray:
    """Centre crop to an HWC uint8 array (pads with black first when the image is smaller)."""
    array = np.asarray(image, dtype=np.uint8)
    h, w = array.shape[:2]
    if h < size or w < size:
        pad_h, pad_w = max(size - h, 0), max(size - w, 0)
        array = np.pad(
            array, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0))
        )
        h, w = array.shape[:2]
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return array[top : top + size, left : left + size]


def normalize(array: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """HWC uint8 -> CHW float32, ``(x / 255 - mean) / std``."""
    x = array.astype(np.float32) / 255.0
    x = (x - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def preprocess(
    source: bytes | str | Path | Image.Image,
    size: int,
    mean: Sequence[float],
    std: Sequence[float],
) -> np.ndarray:
    """The eval/inference preprocessing of one image: a CHW float32 array (see module doc)."""
    return EvalTransform.for_size(size, mean, std)(open_rgb(source))


def tta_views(batch: np.ndarray, mode: str) -> list[np.ndarray]:
    """Test-time views of an NCHW batch whose logits are averaged: ``hflip`` adds the mirror
    image; ``dihedral`` uses all 8 rotations/flips (for dermoscopy, which has no "up")."""
    if mode not in TTA_MODES:
        raise ValueError(f"unknown TTA mode {mode!r}; choose one of {TTA_MODES}")
    if mode == "none":
        return [batch]
    if mode == "hflip":
        return [batch, np.ascontiguousarray(batch[..., ::-1])]
    rotations = [np.rot90(batch, k, axes=(2, 3)) for k in range(4)]
    return [np.ascontiguousarray(v) for r in rotations for v in (r, r[..., ::-1])]


def train_augmentation(preset: str, size: int) -> Callable[[Any], Any]:
    """A transform of a CHW uint8 tensor (already resized to ``resize_size(size)``) to a
    ``size`` x ``size`` uint8 tensor. Presets, after the three papers we follow:

    - ``crop_flip``: random resized crop (scale 0.35-1) + horizontal flip;
    - ``geometric``: + rotation (+-30 deg), vertical flip, zoom (0.9-1.1) and shift (10 %);
    - ``photometric``: ``geometric`` + brightness and contrast jitter (+-20 %);
    - ``none``: the eval centre crop (for tests and benchmarks).
    """
    from torchvision.transforms import v2  # imported here: the eval path must stay torch-free

    if preset not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {preset!r}; choose one of {AUGMENTATIONS}")
    if preset == "none":
        return v2.CenterCrop(size)
    steps: list[Any] = [
        v2.RandomResizedCrop(size, scale=(0.35, 1.0), antialias=True),
        v2.RandomHorizontalFlip(),
    ]
    if preset in ("geometric", "photometric"):
        steps += [
            v2.RandomVerticalFlip(),
            v2.RandomAffine(degrees=30, translate=(0.1, 0.1), scale=(0.9, 1.1)),
        ]
    if preset == "photometric":
        steps.append(v2.ColorJitter(brightness=0.2, contrast=0.2))
    return v2.Compose(steps)
