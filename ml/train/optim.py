"""Optimiser, learning-rate schedule, loss and early stopping for one training stage. No Django."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ml.metrics import is_better
from ml.train.config import TrainConfig


def make_optimizer(
    params: Sequence[nn.Parameter], cfg: TrainConfig, lr: float
) -> torch.optim.Optimizer:
    """Weight decay on weights only, never on biases or normalisation parameters."""
    trainable = [p for p in params if p.requires_grad]
    groups = [
        {"params": [p for p in trainable if p.ndim > 1], "weight_decay": cfg.weight_decay},
        {"params": [p for p in trainable if p.ndim <= 1], "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0)
    return torch.optim.AdamW(groups, lr=lr)


@dataclass(frozen=True)
class LrSchedule:
    """Multiplier of the base learning rate at optimiser step ``step`` of a stage."""

    kind: str
    steps_per_epoch: int
    epochs: int
    warmup_epochs: float = 0.0
    step_epochs: int = 5
    step_gamma: float = 0.1

    def __call__(self, step: int) -> float:
        warmup = int(self.warmup_epochs * self.steps_per_epoch)
        if step < warmup:
            return (step + 1) / warmup
        if self.kind == "constant":
            return 1.0
        if self.kind == "step":
            return self.step_gamma ** ((step // self.steps_per_epoch) // self.step_epochs)
        total = max(self.epochs * self.steps_per_epoch - warmup, 1)
        progress = min((step - warmup) / total, 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * progress))


def make_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int, epochs: int
) -> torch.optim.lr_scheduler.LambdaLR:
    schedule = LrSchedule(
        cfg.schedule,
        max(steps_per_epoch, 1),
        epochs,
        cfg.warmup_epochs,
        cfg.step_epochs,
        cfg.step_gamma,
    )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


def make_loss(cfg: TrainConfig, labels: np.ndarray, num_classes: int) -> nn.CrossEntropyLoss:
    """Cross-entropy with optional label smoothing and 'balanced' class weights
    (n / (k * n_c), as scikit-learn defines them)."""
    weight = None
    if cfg.class_weights == "balanced":
        counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
        w = len(labels) / (num_classes * np.maximum(counts, 1))
        weight = torch.tensor(w, dtype=torch.float32)
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=cfg.label_smoothing)


@dataclass
class EarlyStopping:
    """Stops a stage after ``patience`` epochs without a new best (0 disables)."""

    metric: str
    patience: int
    best_value: float | None = None
    best_epoch: int = 0
    bad_epochs: int = 0

    def update(self, epoch: int, value: float | None) -> bool:
        """Record an epoch; True when it is a new best."""
        if value is not None and is_better(self.metric, value, self.best_value):
            self.best_value, self.best_epoch, self.bad_epochs = value, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.bad_epochs >= self.patience

    def new_stage(self) -> None:
        self.bad_epochs = 0

    def state_dict(self) -> dict[str, object]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, object]) -> None:
        for key, value in state.items():
            setattr(self, key, value)
