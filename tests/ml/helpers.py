"""Tiny generated image datasets for ml/ tests: learnable, distinct images (no accidental
duplicates), written as a folder per class."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

# Class -> base colour; every image adds its own noise and a random bright square.
COLOURS = [(200, 40, 40), (40, 160, 60), (50, 70, 200), (200, 180, 40)]


def make_image(
    rng: np.random.Generator, colour: tuple[int, int, int], size: int = 48
) -> Image.Image:
    pixels = rng.normal(0, 40, (size, size, 3)) + np.array(colour)
    x, y = rng.integers(0, size // 2, 2)
    pixels[y : y + size // 3, x : x + size // 3] += 60
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def make_dataset(
    root: Path, counts: dict[str, int], *, size: int = 48, seed: int = 0, prefix: str = "img"
) -> Path:
    """``root/<class>/<prefix>_<i>.jpg`` with ``counts[class]`` images each."""
    rng = np.random.default_rng(seed)
    for k, (cls, n) in enumerate(counts.items()):
        folder = root / cls
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            image = make_image(rng, COLOURS[k % len(COLOURS)], size)
            (folder / f"{prefix}_{cls}_{i}.jpg").write_bytes(jpeg_bytes(image))
    return root


def zip_dir(root: Path, target: Path, *, wrap: str = "") -> Path:
    """Zip every file under ``root``, optionally under one wrapping folder."""
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                name = path.relative_to(root).as_posix()
                archive.write(path, f"{wrap}/{name}" if wrap else name)
    return target
