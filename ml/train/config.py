"""TrainConfig: every knob of a training run, validated, with a JSON round-trip.

Pure Python; must not import torch or Django (the web app builds and validates it).
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

BACKBONE_NAMES = ("mobilenet_v2", "efficientnet_b0", "efficientnet_lite0")
CHOICES: dict[str, tuple[str, ...]] = {
    "backbone": BACKBONE_NAMES,
    "optimizer": ("adamw", "sgd"),
    "schedule": ("cosine", "step", "constant"),
    "class_weights": ("none", "balanced"),
    "sampler": ("shuffle", "balanced"),
    "augmentation": ("none", "crop_flip", "geometric", "photometric"),
    "tta": ("none", "hflip", "dihedral"),
    "early_stopping_metric": (
        "macro_f1",
        "balanced_accuracy",
        "accuracy",
        "weighted_f1",
        "roc_auc",
        "loss",
    ),
}


class ConfigError(ValueError):
    """A TrainConfig value is out of range or of the wrong type; the message names the field."""


@dataclass(frozen=True)
class TrainConfig:
    """A training run. Stage 1 trains the head on backbone features computed once (frozen
    backbone, ``frozen_epochs``); stage 2 unfreezes the last ``unfreeze_blocks`` blocks (-1: all)
    and fine-tunes with augmentation at ``finetune_lr`` for ``finetune_epochs``; ``freeze_bn``
    keeps every BatchNorm's running statistics fixed in stage 2 (scale and shift still learn);
    ``ema_decay`` > 0 evaluates and keeps an exponential moving average of the stage-2 weights;
    ``train_image_size`` > 0 makes stage 2's augmented crops that size while evaluation (and the
    exported model) stays at ``image_size`` ("FixRes": random-resized crops enlarge objects, so a
    model trained on smaller crops sees them at their trained size in a larger centre crop;
    also cheaper per step). 0: ``image_size``."""

    backbone: str = "mobilenet_v2"
    pretrained: bool = True
    weights_path: str | None = None
    image_size: int = 160
    train_image_size: int = 0
    batch_size: int = 32
    eval_batch_size: int = 64
    dropout: float = 0.2
    optimizer: str = "adamw"
    lr: float = 1e-3
    finetune_lr: float = 3e-4
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    step_epochs: int = 5
    step_gamma: float = 0.1
    label_smoothing: float = 0.0
    class_weights: str = "none"
    sampler: str = "shuffle"
    augmentation: str = "crop_flip"
    frozen_epochs: int = 5
    finetune_epochs: int = 10
    unfreeze_blocks: int = 4
    freeze_bn: bool = False
    ema_decay: float = 0.0
    early_stopping_metric: str = "macro_f1"
    patience: int = 5
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    drop_duplicates: bool = True
    drop_label_conflicts: bool = True
    near_duplicate_distance: int = 4
    tta: str = "none"
    seed: int = 0
    threads: int = 2
    workers: int = 0
    channels_last: bool = True
    max_steps_per_epoch: int = 0

    def __post_init__(self) -> None:
        self._check_types()
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name}: {getattr(self, name)!r} is not one of {allowed}")
        for name, low, high in _RANGES:
            value = getattr(self, name)
            if not low <= value <= high:
                raise ConfigError(f"{name}: {value!r} is outside [{low}, {high}]")
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ConfigError("val_fraction + test_fraction must leave at least 10 % for training")
        if self.frozen_epochs + self.finetune_epochs < 1:
            raise ConfigError("frozen_epochs + finetune_epochs must be at least 1")
        if 0 < self.train_image_size < 32:
            raise ConfigError("train_image_size: 0 (same as image_size) or at least 32")
        if self.val_fraction == 0 and self.patience > 0:
            raise ConfigError("early stopping (patience > 0) needs a validation split")

    def _check_types(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            value, expected = getattr(self, f.name), hints[f.name]
            allowed = (
                typing.get_args(expected) if isinstance(expected, types.UnionType) else (expected,)
            )
            if float in allowed and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
                continue
            ok = any(
                (t is type(None) and value is None)
                or (
                    t is not type(None)
                    and isinstance(value, t)
                    and not (t is int and isinstance(value, bool))
                )
                for t in allowed
            )
            if not ok:
                raise ConfigError(f"{f.name}: expected {_type_name(expected)}, got {value!r}")

    @property
    def total_epochs(self) -> int:
        return self.frozen_epochs + self.finetune_epochs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config key(s) {unknown}; known keys: {sorted(known)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ConfigError("a config file must hold a JSON object")
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: Path | str) -> TrainConfig:
        return cls.from_json(Path(path).read_text())

    def replace(self, **changes: Any) -> TrainConfig:
        return type(self).from_dict({**self.to_dict(), **changes})


def _type_name(expected: Any) -> str:
    return getattr(expected, "__name__", str(expected))


_RANGES: tuple[tuple[str, float, float], ...] = (
    ("image_size", 32, 1024),
    ("train_image_size", 0, 1024),
    ("batch_size", 1, 4096),
    ("eval_batch_size", 1, 4096),
    ("dropout", 0.0, 0.95),
    ("lr", 1e-8, 10.0),
    ("finetune_lr", 1e-8, 10.0),
    ("momentum", 0.0, 0.999),
    ("weight_decay", 0.0, 1.0),
    ("warmup_epochs", 0.0, 1000),
    ("step_epochs", 1, 10_000),
    ("step_gamma", 0.0, 1.0),
    ("label_smoothing", 0.0, 0.5),
    ("ema_decay", 0.0, 0.9999),
    ("frozen_epochs", 0, 10_000),
    ("finetune_epochs", 0, 10_000),
    ("unfreeze_blocks", -1, 1000),
    ("patience", 0, 10_000),
    ("val_fraction", 0.0, 0.5),
    ("test_fraction", 0.0, 0.5),
    ("near_duplicate_distance", -1, 32),
    ("seed", 0, 2**31 - 1),
    ("threads", 1, 256),
    ("workers", 0, 64),
    ("max_steps_per_epoch", 0, 10**9),
)
