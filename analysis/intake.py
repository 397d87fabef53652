"""Photo intake: the checks every uploaded photo passes before anything is stored.

Size limit, type by content, decompression-bomb and dimension guard, polyglot refusal, full decode,
EXIF orientation applied, every metadata field (GPS included) dropped by re-encoding. Pure
functions over bytes: nothing here touches the database or the disk, so a refused photo leaves no
trace. Knows nothing of models or analyses.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import PurePath

from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "MPO": "jpg"}
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".jfif", ""}
STORED_MAX_SIDE = 2048
THUMB_SIDE = 256
# Another file format hidden inside an image (a "polyglot"): document or script markers anywhere
# (long enough never to occur by chance in compressed pixels), and a ZIP end-of-central-directory
# record where ZIP readers look for it (the last 64 KiB).
_POLYGLOT_MARKERS = re.compile(rb"%PDF-|<\?php|<script|<html|<!doctype html", re.IGNORECASE)
_ZIP_EOCD = b"PK\x05\x06"


class IntakeError(Exception):
    """A photo we refuse; `code` is stable for clients, `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class AcceptedPhoto:
    image: Image.Image  # RGB, orientation applied, at most STORED_MAX_SIDE
    jpeg: bytes  # what is stored: re-encoded, no metadata at all
    thumbnail: bytes
    source_format: str
    original_size: tuple[int, int]


def decode_base64_image(data: str) -> bytes:
    """Accepts plain base64 or a data URL (`data:image/jpeg;base64,...`)."""
    if not isinstance(data, str) or not data.strip():
        raise IntakeError("empty", "No image was sent.")
    payload = data.strip()
    if payload.startswith("data:"):
        header, _, payload = payload.partition(",")
        if ";base64" not in header:
            raise IntakeError("bad_base64", "The data URL is not base64-encoded.")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        # Line-wrapped base64 (MIME, `base64` on a terminal): without whitespace, once more.
        # Not first: that regex pass over the whole payload cost more than decoding it.
        try:
            raw = base64.b64decode(re.sub(r"\s+", "", payload), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise IntakeError("bad_base64", "The image is not valid base64.") from exc
    if not raw:
        raise IntakeError("empty", "No image was sent.")
    return raw


def check_name(filename: str | None) -> None:
    suffix = PurePath(filename or "").suffix.lower()
    if suffix not in IMAGE_EXTENSIONS:
        raise IntakeError(
            "bad_extension",
            f"A file ending in {suffix} is not a photo. Upload a JPEG, PNG or WebP image.",
        )


def accept_photo(
    raw: bytes, *, filename: str | None, max_bytes: int, max_pixels: int
) -> AcceptedPhoto:
    """Runs every check on `raw`; returns the photo as it will be stored, or raises IntakeError."""
    if not raw:
        raise IntakeError("empty", "The file is empty.")
    if len(raw) > max_bytes:
        raise IntakeError(
            "too_large",
            f"The photo is {len(raw) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB.",
        )
    check_name(filename)
    image = _open(raw, max_pixels=max_pixels)
    _refuse_polyglot(raw, image.format)
    source_format = image.format
    original_size = image.size
    image = _decode(image)
    return AcceptedPhoto(
        image=image,
        jpeg=_encode(image, STORED_MAX_SIDE, quality=90),
        thumbnail=_encode(image, THUMB_SIDE, quality=80),
        source_format=source_format,
        original_size=original_size,
    )


def _open(raw: bytes, *, max_pixels: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))  # reads the header only
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise IntakeError(
                "not_an_image", "This file is not a photo we can read (JPEG, PNG or WebP)."
            ) from exc
        raise IntakeError("too_many_pixels", "The image has too many pixels.") from exc
    except OSError as exc:
        raise IntakeError("not_an_image", "This file is not a readable image.") from exc
    if image.format not in ALLOWED_FORMATS:
        raise IntakeError(
            "unsupported_format", f"{image.format} images are not accepted; use JPEG, PNG or WebP."
        )
    width, height = image.size
    if width * height > max_pixels or max(width, height) > 20_000:
        raise IntakeError(
            "too_many_pixels",
            f"The image is {width}x{height} pixels; the limit is "
            f"{max_pixels / 1e6:.0f} megapixels. Resize it before uploading.",
        )
    return image


def _decode(image: Image.Image) -> Image.Image:
    try:
        if image.format in ("JPEG", "MPO"):
            # Decode large JPEGs at a reduced scale straight from the DCT (much faster).
            image.draft("RGB", (STORED_MAX_SIDE, STORED_MAX_SIDE))
        image.load()
        image = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise IntakeError(
            "corrupt", "The image is damaged or incomplete; try another copy."
        ) from exc
    if image.mode != "RGB":
        image = (
            image.convert("RGBA").convert("RGB")
            if "A" in image.mode or image.mode == "P"
            else image.convert("RGB")
        )
    return image


def _refuse_polyglot(raw: bytes, fmt: str) -> None:
    if fmt in ("JPEG", "MPO"):
        end = raw.rfind(b"\xff\xd9")
        trailing = raw[end + 2 :] if end >= 0 else b""
        # Phones append further JPEG frames (MPO, depth maps) after the end marker; anything
        # else after the image is another file riding along.
        if trailing.strip(b"\x00") and not trailing.lstrip(b"\x00").startswith(b"\xff\xd8"):
            raise IntakeError(
                "polyglot", "This file carries other data after the image; upload a plain photo."
            )
    elif fmt == "PNG":
        end = raw.rfind(b"IEND")
        if end >= 0 and raw[end + 8 :].strip(b"\x00"):
            raise IntakeError(
                "polyglot", "This file carries other data after the image; upload a plain photo."
            )
    if _POLYGLOT_MARKERS.search(raw) or _ZIP_EOCD in raw[-65_557:]:
        raise IntakeError(
            "polyglot",
            "This file contains another file (an archive, document or "
            "script) besides the image; upload a plain photo.",
        )


def _encode(image: Image.Image, side: int, *, quality: int) -> bytes:
    if max(image.size) > side:
        image = image.copy()
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # No exif=, no icc: nothing from the original file survives except its pixels.
    image.save(out, "JPEG", quality=quality, optimize=False)
    return out.getvalue()
