from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from analysis.intake import IntakeError, accept_photo, decode_base64_image
from tests.analysis import images

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 40_000_000}


def _code(raw: bytes, filename: str | None = "photo.jpg") -> str:
    with pytest.raises(IntakeError) as info:
        accept_photo(raw, filename=filename, **LIMITS)
    assert info.value.message  # every refusal explains itself
    return info.value.code


def test_accepts_a_photo_and_reencodes_it_without_metadata():
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPS latitude
    raw = images.photo((320, 240), exif=exif.tobytes())
    photo = accept_photo(raw, filename="IMG_0001.JPG", **LIMITS)
    assert photo.image.size == (240, 320)  # orientation applied
    stored = Image.open(io.BytesIO(photo.jpeg))
    assert stored.format == "JPEG"
    assert not stored.getexif()  # no GPS, no EXIF at all
    assert max(Image.open(io.BytesIO(photo.thumbnail)).size) <= 256


def test_png_with_alpha_becomes_rgb():
    out = io.BytesIO()
    Image.new("RGBA", (300, 300), (200, 100, 50, 128)).save(out, "PNG")
    assert accept_photo(out.getvalue(), filename="a.png", **LIMITS).image.mode == "RGB"


def test_refuses_empty_body():
    assert _code(b"") == "empty"


def test_refuses_oversized_file():
    with pytest.raises(IntakeError) as info:
        accept_photo(images.photo(), filename="a.jpg", max_bytes=1000, max_pixels=10**8)
    assert info.value.code == "too_large"
    assert "limit" in info.value.message


def test_refuses_non_image_with_image_extension():
    assert _code(b"just some text, not a photo", "photo.jpg") == "not_an_image"


def test_refuses_image_with_executable_extension():
    assert _code(images.photo(), "photo.exe") == "bad_extension"


def test_refuses_30000x30000_png_from_its_header():
    assert _code(images.png_header_only(30_000, 30_000), "big.png") == "too_many_pixels"


def test_refuses_compressed_decompression_bomb():
    bomb = images.compressed_bomb(12_000, 12_000)  # 144 Mpx in a small file
    assert len(bomb) < 1_000_000
    assert _code(bomb, "bomb.png") == "too_many_pixels"


def test_refuses_truncated_jpeg():
    raw = images.photo((640, 480))
    assert _code(raw[: len(raw) // 2]) == "corrupt"


def test_refuses_polyglot_jpeg_with_zip_appended():
    assert _code(images.photo() + images.zip_bytes()) == "polyglot"


def test_refuses_polyglot_with_script_inside():
    raw = images.photo()
    # Hide HTML in a JPEG comment segment right after the SOI marker.
    comment = b"<html><script>alert(1)</script></html>"
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    assert _code(raw[:2] + segment + raw[2:]) == "polyglot"


def test_accepts_jpeg_with_a_second_jpeg_frame_appended():
    # Phones store extra frames (MPO, depth) after the end marker: not a polyglot.
    raw = images.photo() + images.photo((64, 64), seed=2)
    assert accept_photo(raw, filename="pic.jpg", **LIMITS).image.size == (320, 240)


def test_refuses_png_with_trailing_data():
    assert _code(images.photo(fmt="PNG") + b"MZ\x90\x00 trailing program", "p.png") == "polyglot"


def test_base64_plain_and_data_url():
    raw = images.photo()
    encoded = base64.b64encode(raw).decode()
    assert decode_base64_image(encoded) == raw
    assert decode_base64_image("data:image/jpeg;base64," + encoded) == raw
    wrapped = base64.encodebytes(raw).decode()  # MIME: 76 characters a line
    assert "\n" in wrapped.strip()
    assert decode_base64_image(wrapped) == raw
    assert (
        decode_base64_image("data:image/jpeg;base64,\r\n " + wrapped.replace("\n", "\r\n")) == raw
    )


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("not*base64!", "bad_base64"),
        ("aGVs bG8*", "bad_base64"),
        ("abc", "bad_base64"),
        ("data:image/jpeg,plain", "bad_base64"),
    ],
)
def test_base64_refusals(payload, code):
    with pytest.raises(IntakeError) as info:
        decode_base64_image(payload)
    assert info.value.code == code
