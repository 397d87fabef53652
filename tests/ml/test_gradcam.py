"""ml.gradcam: heatmaps with the input's shape that highlight something, for all three backbones,
from a bundle's own weights; PNG overlays; on a real photo the lesion, not the border, lights up."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ml.gradcam import gradcam, gradcam_for_bundle, model_from_bundle, overlay_png
from ml.models import build_model
from ml.train.checkpoint import model_from_checkpoint
from tests.ml.serving_helpers import REPO, colour_image, tiny_bundle, tiny_run


@pytest.mark.parametrize("backbone", ["mobilenet_v2", "efficientnet_b0", "efficientnet_lite0"])
def test_gradcam_on_every_backbone_is_an_informative_map(backbone: str) -> None:
    torch.manual_seed(0)
    model = build_model(backbone, 3, pretrained=False).eval()
    x = np.random.default_rng(0).normal(0, 1, (1, 3, 96, 96)).astype(np.float32)
    heat, index = gradcam(model, x)
    assert heat.shape == (96, 96)
    assert heat.dtype == np.float32
    assert heat.min() >= 0
    assert heat.max() == pytest.approx(1.0)
    assert heat.std() > 0.05  # not a constant
    assert index == int(model(torch.from_numpy(x)).argmax())


def test_bundle_weights_rebuild_the_checkpoint_model() -> None:
    rebuilt, card = model_from_bundle(tiny_bundle())
    original, _ = model_from_checkpoint(tiny_run())
    x = torch.from_numpy(np.random.default_rng(1).normal(0, 1, (2, 3, 128, 128)).astype(np.float32))
    with torch.inference_mode():
        assert torch.allclose(rebuilt(x), original(x), atol=2e-2)
    assert card.classes == ("blue", "green", "red")


def test_heatmap_has_the_input_shape_and_points_at_the_class_evidence() -> None:
    left = colour_image("red", (150, 150), seed=4)
    right = colour_image("green", (150, 150), seed=5)
    image = Image.new("RGB", (300, 150))
    image.paste(left, (0, 0))
    image.paste(right, (150, 0))
    red = gradcam_for_bundle(tiny_bundle(), image, "red")
    green = gradcam_for_bundle(tiny_bundle(), image, "green")
    assert red.shape == green.shape == (150, 300)
    assert red.dtype == np.float32
    assert red.min() >= 0
    assert red.max() == pytest.approx(1.0, abs=0.05)
    assert red.std() > 0.05  # not a constant
    assert red[:, :150].mean() > 1.5 * red[:, 150:].mean()  # red evidence is on the left
    assert green[:, 150:].mean() > 1.5 * green[:, :150].mean()  # green evidence on the right
    with pytest.raises(ValueError, match="not one of the model's classes"):
        gradcam_for_bundle(tiny_bundle(), image, "purple")


def test_overlay_is_a_png_of_the_photo_tinted_where_the_heat_is() -> None:
    image = Image.new("RGB", (80, 60), (128, 128, 128))
    heat = np.zeros((60, 80), np.float32)
    heat[10:30, 20:50] = 1.0
    png = overlay_png(image, heat, alpha=0.5)
    out = Image.open(io.BytesIO(png))
    assert out.format == "PNG"
    assert out.size == (80, 60)
    pixels = np.asarray(out.convert("RGB"), dtype=int)
    assert (pixels[0, 0] == 128).all()  # no heat: the photo unchanged
    assert np.abs(pixels[20, 30] - 128).max() > 30  # heat: tinted


def test_lesion_heatmap_concentrates_on_the_lesion_of_a_real_photo(shared_data: Path) -> None:
    bundle = REPO / "models" / "lesions"
    if not (bundle / "card.json").is_file():
        pytest.skip("the default lesions bundle is not built yet")
    photos = sorted((shared_data / "ham10000" / "images" / "nv").iterdir())[:6]
    centre, border = [], []
    for photo in photos:
        heat = gradcam_for_bundle(bundle, Image.open(photo))
        h, w = heat.shape
        inner = heat[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]
        centre.append(inner.mean())
        border.append((heat.sum() - inner.sum()) / (heat.size - inner.size))
    # Dermoscopy photos are centred on the lesion: the map should be hotter there.
    assert np.mean(centre) > 1.5 * np.mean(border)
