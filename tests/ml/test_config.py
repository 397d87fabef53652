"""ml.train.TrainConfig: JSON round-trip and clear errors on bad values."""

from __future__ import annotations

import json

import pytest

from ml.train import ConfigError, TrainConfig


def test_config_round_trips_through_json() -> None:
    cfg = TrainConfig(
        backbone="efficientnet_lite0", optimizer="sgd", lr=0.01, class_weights="balanced"
    )
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert TrainConfig.from_json(cfg.to_json()) == cfg


def test_integers_are_accepted_where_floats_are_expected() -> None:
    cfg = TrainConfig.from_dict({"lr": 1, "weight_decay": 0})
    assert cfg.lr == 1.0
    assert isinstance(cfg.lr, float)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"backbone": "resnet50"}, "backbone: 'resnet50' is not one of"),
        ({"optimizer": "adam"}, "optimizer"),
        ({"lr": 0}, r"lr: 0.0 is outside"),
        ({"batch_size": "32"}, "batch_size: expected int"),
        ({"batch_size": True}, "batch_size: expected int"),
        ({"pretrained": "yes"}, "pretrained: expected bool"),
        ({"label_smoothing": 0.7}, "label_smoothing"),
        ({"val_fraction": 0.5, "test_fraction": 0.45}, "at least 10 %"),
        ({"frozen_epochs": 0, "finetune_epochs": 0}, "at least 1"),
        ({"val_fraction": 0.0}, "needs a validation split"),
        ({"train_image_size": 16}, "train_image_size: 0 .* or at least 32"),
        ({"train_image_size": -1}, "train_image_size: -1 is outside"),
        ({"learning_rate": 0.1}, r"unknown config key\(s\) \['learning_rate'\]"),
    ],
)
def test_bad_values_raise_a_config_error_naming_the_field(changes, message) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_dict(changes)


def test_a_config_file_must_hold_an_object(tmp_path) -> None:
    (tmp_path / "cfg.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="JSON object"):
        TrainConfig.load(tmp_path / "cfg.json")
