"""Image bytes for analysis tests: real-looking generated photos and hostile files."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def photo(
    size: tuple[int, int] = (320, 240),
    *,
    seed: int = 0,
    fmt: str = "JPEG",
    exif: bytes | None = None,
) -> bytes:
    """A textured, well-lit, sharp synthetic photo (passes the quality gate)."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack(
        [180 + 30 * np.sin(xx / 7), 140 + 30 * np.cos(yy / 5), 120 + 20 * np.sin((xx + yy) / 9)],
        axis=-1,
    )
    noise = rng.normal(0, 12, size=(h, w, 3))
    arr = np.clip(base + noise, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    kwargs = {"exif": exif} if exif else {}
    Image.fromarray(arr).save(out, fmt, **kwargs)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with a tiny (invalid) body: a bomb that must
    be refused from the header, before any decoding."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def compressed_bomb(width: int = 12_000, height: int = 12_000) -> bytes:
    """A real, fully valid PNG of width x height zeros: a few hundred KB that decodes to
    hundreds of MB."""
    raw_row = b"\x00" + b"\x00" * width  # filter byte + 1 byte per pixel (grayscale)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(raw_row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def zip_bytes() -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("payload.txt", "hello")
    return out.getvalue()
