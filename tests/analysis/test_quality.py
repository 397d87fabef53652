from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from analysis.quality import assess


def _codes(report) -> set[str]:
    return {f.code for f in report.errors} | {f.code for f in report.warnings}


def _real(shared_data, pattern: str, n: int) -> list[Image.Image]:
    files = sorted(shared_data.glob(pattern))
    random.Random(0).shuffle(files)
    return [Image.open(f).convert("RGB") for f in files[:n]]


@pytest.mark.shared_data
@pytest.mark.parametrize("pattern", ["ham10000/images/*/*.jpg", "acne04/*/*.jpg", "facial/*/*.jpg"])
def test_real_photos_pass_and_their_blurred_or_dark_copies_are_flagged(shared_data, pattern):
    photos = _real(shared_data, pattern, 8)
    for image in photos:
        assert not {"blurred", "dark", "too_dark", "too_small"} & _codes(
            assess(image, needs_face=False)
        )
        blurred = image.filter(ImageFilter.GaussianBlur(radius=max(image.size) / 80))
        assert "blurred" in _codes(assess(blurred, needs_face=False))
        dark = ImageEnhance.Brightness(image).enhance(0.25)
        assert {"dark", "too_dark"} & _codes(assess(dark, needs_face=False))


@pytest.mark.shared_data
def test_face_check_finds_faces_in_most_acne_photos_and_warns_on_dermoscopy(shared_data):
    faces = _real(shared_data, "acne04/*/*.jpg", 20)
    found = sum("no_face" not in _codes(assess(im, needs_face=True)) for im in faces)
    assert found >= 15
    lesion = _real(shared_data, "ham10000/images/*/*.jpg", 1)[0]
    assert "no_face" not in _codes(assess(lesion, needs_face=False))


def test_tiny_image_is_an_error_not_a_warning():
    report = assess(Image.new("RGB", (40, 40), (180, 140, 120)), needs_face=False)
    assert [e.code for e in report.errors] == ["too_small"]


def test_black_and_white_images_are_errors():
    assert "too_dark" in {
        e.code for e in assess(Image.new("RGB", (300, 300)), needs_face=False).errors
    }
    white = Image.new("RGB", (300, 300), (255, 255, 255))
    assert "too_bright" in {e.code for e in assess(white, needs_face=False).errors}


def test_sharp_synthetic_texture_passes_without_face_check():
    rng = np.random.default_rng(0)
    arr = np.clip(rng.normal(150, 40, (300, 300, 3)), 0, 255).astype(np.uint8)
    report = assess(Image.fromarray(arr), needs_face=False)
    assert report.ok
    assert report.measures["sharpness"] > 12
