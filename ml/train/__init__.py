"""Training: ``TrainConfig``, typed events, ``TrainResult`` and ``train()``.

Importing this package does not import torch (the web app builds configs and reads events);
``train()`` imports the torch loop when called. Never imports Django.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ml.train.config import ConfigError, TrainConfig
from ml.train.events import (
    BatchProgress,
    Cancelled,
    CheckpointSaved,
    EpochEnd,
    EpochSummary,
    Event,
    Failed,
    Finished,
    LogLine,
    RunStarted,
    TrainResult,
)

if TYPE_CHECKING:
    from ml.data import DatasetIndex, DataSpec, Splits

__all__ = [
    "BatchProgress",
    "Cancelled",
    "CheckpointSaved",
    "ConfigError",
    "EpochEnd",
    "EpochSummary",
    "Event",
    "Failed",
    "Finished",
    "LogLine",
    "RunStarted",
    "TrainConfig",
    "TrainResult",
    "train",
]


def _never() -> bool:
    return False


def train(
    config: TrainConfig,
    data: DatasetIndex | DataSpec | Path | str,
    *,
    on_event: Callable[[Event], None],
    should_stop: Callable[[], bool] = _never,
    run_dir: Path | str,
    resume: bool = False,
    splits: Splits | None = None,
) -> TrainResult:
    """Train a classifier on ``data`` (a dataset index, a multi-source spec, or a dir/zip path).

    ``should_stop`` is polled before every batch (and every 25 images while reading); when it
    returns True the run emits ``Cancelled`` and returns a result with status "cancelled", the
    last finished epoch's checkpoint intact. ``resume=True`` continues from
    ``run_dir/checkpoints/last.pt`` exactly (same splits, optimiser, scheduler, RNG states).
    Exceptions emit ``Failed`` and propagate. ``splits`` overrides the split drawn from the
    config's fractions and seed.
    """
    from ml.train.loop import Trainer

    trainer = Trainer(
        config,
        data,
        on_event=on_event,
        should_stop=should_stop,
        run_dir=Path(run_dir),
        resume=resume,
        splits=splits,
    )
    return trainer.run()
