"""Small JPEG thumbnails of dataset images for the report page, made on demand with Pillow and
cached on disk under MEDIA_ROOT/thumbs/. Access checks belong to the view that serves them."""

from __future__ import annotations

import hashlib
import io
import shutil
import warnings
from pathlib import Path

from django.conf import settings
from PIL import Image, ImageDraw, ImageOps

from training.models import DatasetVersion

SIZES = (96, 160, 320)


def _cache_dir(version_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "thumbs" / "datasets" / str(version_id)


def source_path(version: DatasetVersion, relpath: str) -> Path | None:
    """The file behind a report path (relative to the class-folder level), or None when it
    does not exist or would resolve outside the version's folder."""
    if not version.storage_path or "\0" in relpath:
        return None
    root = Path(version.storage_path).resolve()
    prefix = (version.report or {}).get("scan", {}).get("prefix", "")
    candidate = (root / prefix / relpath).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def thumbnail(version: DatasetVersion, relpath: str, size: int = 160) -> Path | None:
    """Path of a cached JPEG thumbnail (made now if missing); a 'broken image' placeholder for a
    file that cannot be decoded; None when the file is not part of the version."""
    size = min(SIZES, key=lambda s: abs(s - size))
    src = source_path(version, relpath)
    if src is None:
        return None
    key = hashlib.sha256(f"{relpath}\0{size}".encode()).hexdigest()[:32]
    target = _cache_dir(version.pk) / f"{key}.jpg"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    data = _render(src, size)
    tmp = target.with_suffix(f".{key[:6]}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)  # atomic: a concurrent request never reads half a file
    return target


def _render(src: Path, size: int) -> bytes:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(src) as image:
                image.draft("RGB", (size * 2, size * 2))
                image = ImageOps.exif_transpose(image).convert("RGB")
                image.thumbnail((size, size))
                out = io.BytesIO()
                image.save(out, "JPEG", quality=80)
                return out.getvalue()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Warning):
        return broken_placeholder(size)


def broken_placeholder(size: int) -> bytes:
    image = Image.new("RGB", (size, size), (236, 236, 236))
    draw = ImageDraw.Draw(image)
    margin = size // 4
    draw.line((margin, margin, size - margin, size - margin), fill=(200, 60, 60), width=3)
    draw.line((margin, size - margin, size - margin, margin), fill=(200, 60, 60), width=3)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def forget(version_id: int) -> None:
    shutil.rmtree(_cache_dir(version_id), ignore_errors=True)
