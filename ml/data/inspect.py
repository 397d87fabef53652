"""Per-image inspection: decode check, size, content hash and perceptual hash; duplicate clusters.

Pillow + imagehash + numpy only; must not import torch or Django.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import imagehash
import numpy as np
from PIL import Image, UnidentifiedImageError

from ml.data.index import DatasetIndex, ImageRecord

Status = Literal["ok", "non_image", "unreadable", "truncated"]
DecodedHook = Callable[[int, Image.Image], None]
ProgressHook = Callable[[int, int], None]


@dataclass(frozen=True)
class ImageInfo:
    """What one file turned out to be. ``sha256`` is of the file bytes; ``phash`` is hex."""

    key: str
    label: str
    status: Status
    sha256: str | None = None
    phash: str | None = None
    width: int = 0
    height: int = 0
    error: str | None = None


def inspect_images(
    index: DatasetIndex,
    *,
    perceptual: bool = True,
    on_decoded: DecodedHook | None = None,
    progress: ProgressHook | None = None,
) -> list[ImageInfo]:
    """Read and fully decode every record once, in index order.

    ``on_decoded(i, image)`` receives each successfully decoded image (so a caller can cache it
    without decoding twice); ``progress(done, total)`` is called after every file.
    """
    infos: list[ImageInfo] = []
    total = len(index.records)
    with index.reader() as read:
        for i, record in enumerate(index.records):
            info, image = _inspect_one(index, record, read, perceptual)
            infos.append(info)
            if image is not None and on_decoded is not None:
                on_decoded(i, image)
            if progress is not None:
                progress(i + 1, total)
    return infos


def _inspect_one(
    index: DatasetIndex,
    record: ImageRecord,
    read: Callable[[ImageRecord], bytes],
    perceptual: bool,
) -> tuple[ImageInfo, Image.Image | None]:
    key, label = index.key(record), record.label
    try:
        data = read(record)
    except OSError as exc:
        return ImageInfo(key, label, "unreadable", error=f"cannot read file: {exc}"), None
    digest = hashlib.sha256(data).hexdigest()
    if not data:
        return ImageInfo(key, label, "unreadable", digest, error="empty file"), None
    status, image, error = decode(data)
    if image is None:
        return ImageInfo(key, label, status, digest, error=error), None
    phash = str(imagehash.phash(image.convert("RGB"))) if perceptual else None
    info = ImageInfo(key, label, "ok", digest, phash, image.width, image.height)
    return info, image


def decode(data: bytes) -> tuple[Status, Image.Image | None, str | None]:
    """Fully decode image bytes; classify failures as non_image, truncated or unreadable."""
    try:
        image = Image.open(io.BytesIO(data))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image.load()
    except UnidentifiedImageError:
        return "non_image", None, "not an image format Pillow recognises"
    except OSError as exc:
        status: Status = "truncated" if "truncated" in str(exc).lower() else "unreadable"
        return status, None, str(exc)
    except (ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        return "unreadable", None, str(exc)
    return "ok", image, None


def exact_duplicate_groups(infos: Sequence[ImageInfo]) -> list[list[int]]:
    """Indices of files with identical bytes, one list per content hash seen more than once."""
    by_hash: dict[str, list[int]] = defaultdict(list)
    for i, info in enumerate(infos):
        if info.sha256 is not None and info.status != "non_image":
            by_hash[info.sha256].append(i)
    return [group for group in by_hash.values() if len(group) > 1]


def near_duplicate_pairs(infos: Sequence[ImageInfo], max_distance: int) -> list[tuple[int, int]]:
    """Pairs of decoded images whose perceptual hashes differ in at most ``max_distance`` bits
    (exact byte duplicates excluded)."""
    idx = [i for i, info in enumerate(infos) if info.phash is not None]
    if len(idx) < 2 or max_distance < 0:
        return []
    words = np.array([int(infos[i].phash, 16) for i in idx], dtype=np.uint64)  # type: ignore[arg-type]
    pairs: list[tuple[int, int]] = []
    for start in range(0, len(words), 1024):
        block = words[start : start + 1024, None] ^ words[None, :]
        dist = np.bitwise_count(block)
        rows, cols = np.nonzero(dist <= max_distance)
        for r, c in zip(rows + start, cols, strict=True):
            a, b = idx[r], idx[c]
            if a < b and infos[a].sha256 != infos[b].sha256:
                pairs.append((a, b))
    return pairs


def clusters(n: int, links: Sequence[Sequence[int]]) -> list[int]:
    """Union-find over ``n`` items: the cluster id (a representative index) of every item."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for link in links:
        for other in link[1:]:
            ra, rb = find(link[0]), find(other)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return [find(i) for i in range(n)]
