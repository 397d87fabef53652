"""ml.transforms: the documented eval preprocessing, and the training cache that mirrors it."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from ml.train.images import Normalizer, eval_batches
from ml.transforms import (
    AUGMENTATIONS,
    EvalTransform,
    center_crop,
    open_rgb,
    preprocess,
    resize_size,
    resized_array,
    train_augmentation,
    tta_views,
)
from tests.ml.helpers import jpeg_bytes, make_image

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@pytest.fixture
def photo() -> Image.Image:
    return make_image(np.random.default_rng(1), (120, 80, 60), 60).resize((300, 200))


def test_eval_preprocessing_is_resize_shorter_then_centre_crop(photo) -> None:
    assert resize_size(160) == 183
    assert resize_size(224) == 256
    x = preprocess(jpeg_bytes(photo), 160, MEAN, STD)
    assert x.shape == (3, 160, 160)
    assert x.dtype == np.float32
    resized = open_rgb(jpeg_bytes(photo)).resize((274, 183), Image.BILINEAR)  # 300x200 -> short 183
    crop = torch.from_numpy(np.array(resized)).permute(2, 0, 1)
    expected = v2.CenterCrop(160)(crop).permute(1, 2, 0).numpy()  # torchvision's crop offsets
    manual = (expected / 255.0 - np.array(MEAN)) / np.array(STD)
    np.testing.assert_allclose(x, manual.transpose(2, 0, 1), atol=1e-5)


def test_exif_orientation_is_applied(photo) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    buf = io.BytesIO()
    photo.save(buf, format="JPEG", exif=exif)
    assert open_rgb(buf.getvalue()).size == (200, 300)


def test_training_cache_crops_equal_the_inference_preprocessing(photo) -> None:
    size = 64
    cached = resized_array(photo, size)
    batch = next(eval_batches([cached], size, 8))
    ours = Normalizer(MEAN, STD, channels_last=True)(batch)[0].numpy()
    np.testing.assert_allclose(ours, preprocess(photo, size, MEAN, STD), atol=1e-5)
    assert np.array_equal(center_crop(cached, size), np.asarray(batch[0].permute(1, 2, 0)))
    assert EvalTransform.for_size(size, MEAN, STD).to_dict()["resize"] == 73


def test_small_images_are_padded_not_crashed() -> None:
    assert center_crop(np.zeros((10, 20, 3), np.uint8), 16).shape == (16, 16, 3)


@pytest.mark.parametrize("preset", AUGMENTATIONS)
def test_augmentation_presets_return_uint8_crops_of_the_size(preset, photo) -> None:
    chw = torch.from_numpy(resized_array(photo, 48)).permute(2, 0, 1)
    torch.manual_seed(0)
    out = train_augmentation(preset, 48)(chw)
    assert out.shape == (3, 48, 48)
    assert out.dtype == torch.uint8
    if preset != "none":
        assert not torch.equal(out, train_augmentation(preset, 48)(chw))  # random


def test_unknown_augmentation_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown augmentation"):
        train_augmentation("mixup", 32)


@pytest.mark.parametrize(("mode", "count"), [("none", 1), ("hflip", 2), ("dihedral", 8)])
def test_tta_views_match_between_numpy_and_torch(mode, count) -> None:
    from ml.train.stages import _views

    batch = np.random.default_rng(0).normal(size=(2, 3, 8, 8)).astype(np.float32)
    views = tta_views(batch, mode)
    assert len(views) == count
    assert len({v.tobytes() for v in views}) == count  # all different
    for ours, theirs in zip(views, _views(torch.from_numpy(batch), mode), strict=True):
        np.testing.assert_array_equal(ours, theirs.numpy())
