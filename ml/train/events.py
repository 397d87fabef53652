"""Typed training events (frozen dataclasses with ``kind`` and ``to_dict()``) and the result.

Pure Python; must not import torch or Django. The web app relays ``to_dict()`` over websockets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ml.metrics import Metrics

EVENT_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Event:
    """Base class; ``kind`` names the concrete event."""

    kind: str = field(init=False, default="event")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunStarted(Event):
    run_dir: str
    config: dict[str, Any]
    classes: tuple[str, ...]
    split_sizes: dict[str, int]
    class_counts: dict[str, dict[str, int]]
    total_epochs: int
    resumed_from_epoch: int = 0
    threads: int = 1
    format_version: int = EVENT_FORMAT_VERSION
    kind: str = field(init=False, default="run_started")


@dataclass(frozen=True)
class BatchProgress(Event):
    """One batch. ``phase`` is "prepare" (reading images), "features" (stage-1 feature pass),
    "train" or "eval"; ``loss`` is None outside "train"; ``eta_s`` covers the current stage."""

    stage: str
    phase: str
    epoch: int
    step: int
    total_steps: int
    loss: float | None
    images_per_s: float
    eta_s: float | None
    kind: str = field(init=False, default="batch")


@dataclass(frozen=True)
class EpochEnd(Event):
    stage: str
    epoch: int
    total_epochs: int
    train: Metrics
    val: Metrics | None
    lr: float
    seconds: float
    images_per_s: float
    metric: str
    value: float | None
    is_best: bool
    best_epoch: int
    elapsed_s: float = 0.0  # since train() was called, reading the data included
    kind: str = field(init=False, default="epoch_end")


@dataclass(frozen=True)
class LogLine(Event):
    message: str
    level: str = "info"
    kind: str = field(init=False, default="log")


@dataclass(frozen=True)
class CheckpointSaved(Event):
    path: str
    epoch: int
    best: bool
    kind: str = field(init=False, default="checkpoint")


@dataclass(frozen=True)
class Finished(Event):
    result: TrainResult
    kind: str = field(init=False, default="finished")


@dataclass(frozen=True)
class Failed(Event):
    error: str
    traceback: str
    epoch: int
    kind: str = field(init=False, default="failed")


@dataclass(frozen=True)
class Cancelled(Event):
    epoch: int
    step: int
    last_checkpoint: str | None
    kind: str = field(init=False, default="cancelled")


@dataclass(frozen=True)
class EpochSummary:
    epoch: int
    stage: str
    train: Metrics
    val: Metrics | None
    lr: float
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    """What a run produced. ``test``/``test_tta`` are measured once, at the end, with the best
    checkpoint (chosen on validation only); ``status`` is "finished" or "cancelled"."""

    status: str
    run_dir: str
    classes: tuple[str, ...]
    epochs_completed: int
    best_epoch: int
    metric: str
    best_value: float | None
    best_checkpoint: str | None
    last_checkpoint: str | None
    val: Metrics | None = None
    test: Metrics | None = None
    test_tta: Metrics | None = None
    stopped_early: bool = False
    seconds: float = 0.0
    history: tuple[EpochSummary, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
