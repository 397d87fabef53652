"""Grad-CAM (Selvaraju et al. 2017) on the eager PyTorch model rebuilt from a bundle, as a heatmap
and as a PNG overlay. Worker side: imports torch (never in the web process); no Django.

The target layer is the backbone's last block (MobileNetV2's 1280-channel conv, EfficientNet's
head conv), the last feature map before global pooling, for all three backbones.
"""

from __future__ import annotations

import functools
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ml.bundle import BundleError, ModelCard, read_card, verify_file
from ml.inference import transform_from_card
from ml.transforms import EvalTransform, open_rgb, resize_shorter

if TYPE_CHECKING:
    import torch

IGNORED_BUFFERS = ("num_batches_tracked",)


def model_from_bundle(bundle_dir: Path | str) -> tuple[torch.nn.Module, ModelCard]:
    """The eager model of a bundle, from the float weights stored in its ONNX graph (the
    initializers keep the state-dict names). Cached per process on path + card mtime."""
    path = Path(bundle_dir).resolve()
    try:
        mtime = os.stat(path / "card.json").st_mtime_ns
    except OSError as exc:
        raise BundleError(f"{bundle_dir}: card.json is missing; not a model bundle") from exc
    return _model_cached(path, mtime)


@functools.lru_cache(maxsize=8)
def _model_cached(path: Path, card_mtime_ns: int) -> tuple[torch.nn.Module, ModelCard]:
    import torch

    from ml.export.onnx_graph import read_float_weights
    from ml.models import build_model

    card = read_card(path)
    weights = read_float_weights(verify_file(path, card, card.gradcam_file))
    arch = card.arch
    model = build_model(
        arch["backbone"], len(card.classes), pretrained=False, dropout=float(arch["dropout"])
    )
    state = model.state_dict()
    missing = [k for k in state if k not in weights and not k.endswith(IGNORED_BUFFERS)]
    if missing:
        raise BundleError(
            f"{card.gradcam_file} lacks {len(missing)} weight(s) of a {arch['backbone']} model, "
            f"e.g. {missing[:3]}; Grad-CAM needs a float graph exported by ml.export"
        )
    wrong = [k for k in state if k in weights and tuple(state[k].shape) != weights[k].shape]
    if wrong:
        raise BundleError(f"{card.gradcam_file}: weights {wrong[:3]} have the wrong shape")
    for key in state:
        if key in weights:
            state[key] = torch.from_numpy(weights[key])
    model.load_state_dict(state)
    return model.eval(), card


def gradcam(
    model: torch.nn.Module, batch: np.ndarray, class_index: int | None = None
) -> tuple[np.ndarray, int]:
    """Grad-CAM of one preprocessed image (1xCxHxW) for ``class_index`` (default: the top
    class): ReLU(sum_k mean(d logit / d A_k) * A_k) over the last feature map, upsampled to HxW,
    scaled to [0, 1]. Returns (heatmap, class index)."""
    import torch
    import torch.nn.functional as F  # noqa: N812 - the usual torch alias

    layer = _target_layer(model)
    store: dict[str, torch.Tensor] = {}
    handle = layer.register_forward_hook(lambda m, i, out: store.__setitem__("a", out))
    try:
        with torch.enable_grad():
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).requires_grad_(True)
            logits = model(x)
            index = int(logits[0].argmax()) if class_index is None else int(class_index)
            (grads,) = torch.autograd.grad(logits[0, index], store["a"])
    finally:
        handle.remove()
    acts = store["a"].detach()
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * acts).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False)
    heat = cam[0, 0].numpy().astype(np.float32)
    top = float(heat.max())
    return (heat / top if top > 0 else heat), index


def _target_layer(model: torch.nn.Module) -> torch.nn.Module:
    backbone = getattr(model, "backbone", None)
    blocks = getattr(backbone, "blocks", None)
    if blocks is None or not len(blocks):
        raise ValueError("Grad-CAM expects an ml.models SkinClassifier (backbone.blocks)")
    return blocks[-1]


def to_image_geometry(
    heat: np.ndarray, size: tuple[int, int], transform: EvalTransform
) -> np.ndarray:
    """Place a crop-sized heatmap back on the (upright) image it came from: undo the centre crop
    (zero outside it) and the resize. ``size`` is the image's (width, height)."""
    w, h = size
    short = transform.resize  # always > transform.size, so the crop never pads
    rw, rh = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
    canvas = np.zeros((rh, rw), dtype=np.float32)
    top = int(round((rh - transform.size) / 2.0))
    left = int(round((rw - transform.size) / 2.0))
    canvas[top : top + transform.size, left : left + transform.size] = heat
    out = np.asarray(Image.fromarray(canvas, mode="F").resize((w, h), Image.BILINEAR))
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def gradcam_for_bundle(
    bundle_dir: Path | str, image: Image.Image, class_name: str | None = None
) -> np.ndarray:
    """HxW float32 heatmap in [0, 1], the size of the upright ``image`` (EXIF orientation
    applied), for ``class_name`` (default: the predicted class)."""
    model, card = model_from_bundle(bundle_dir)
    transform = transform_from_card(card)
    if class_name is not None and class_name not in card.classes:
        raise ValueError(f"{class_name!r} is not one of the model's classes {list(card.classes)}")
    upright = open_rgb(image)
    batch = transform(resize_shorter(upright, transform.resize))[None]
    index = None if class_name is None else card.classes.index(class_name)
    heat, _ = gradcam(model, batch, index)
    return to_image_geometry(heat, upright.size, transform)


def _colormap(heat: np.ndarray) -> np.ndarray:
    """A perceptual blue -> cyan -> yellow -> red ramp (jet-like, no matplotlib), HxWx3 uint8."""
    x = np.clip(heat, 0.0, 1.0)[..., None]
    stops = np.array([0.0, 0.35, 0.65, 1.0])
    colours = np.array([[30, 60, 200], [40, 200, 220], [250, 220, 50], [220, 30, 30]], float)
    rgb = np.stack([np.interp(x[..., 0], stops, colours[:, c]) for c in range(3)], axis=-1)
    return rgb.astype(np.uint8)


def overlay_png(image: Image.Image, heatmap: np.ndarray, alpha: float = 0.45) -> bytes:
    """The upright photo with the heatmap blended over it (weight ``alpha * heat``), as PNG."""
    base = open_rgb(image)
    if heatmap.shape != (base.height, base.width):
        heatmap = np.asarray(
            Image.fromarray(heatmap.astype(np.float32), mode="F").resize(base.size, Image.BILINEAR)
        )
    weight = (alpha * np.clip(heatmap, 0.0, 1.0))[..., None]
    blended = np.asarray(base, dtype=np.float32) * (1 - weight) + _colormap(heatmap) * weight
    out = io.BytesIO()
    Image.fromarray(blended.round().astype(np.uint8)).save(out, format="PNG")
    return out.getvalue()
