"""The two training stages and the batch loops they share (fit one epoch, predict, features).

Stage 1 ("frozen") trains the head on backbone features computed once; stage 2 ("finetune")
trains the last K blocks + head on augmented images. No Django.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import TensorDataset

from ml.models import unfreeze_last
from ml.train.events import BatchProgress
from ml.train.images import AugmentedImages, eval_batches, train_loader
from ml.train.optim import make_loss, make_optimizer, make_scheduler
from ml.transforms import train_augmentation

if TYPE_CHECKING:
    from ml.train.loop import Trainer


@dataclass
class EpochOutput:
    loss: float
    logits: np.ndarray
    labels: np.ndarray
    seconds: float
    images_per_s: float


@dataclass
class StageState:
    """Optimiser + scheduler of a stage, and where to start it (resume)."""

    name: str
    epochs: int
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    start_epoch: int = 0
    ema: AveragedModel | None = None


def fit_epoch(
    t: Trainer,
    stage: StageState,
    epoch: int,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    steps: int,
    forward: Callable[[torch.Tensor], torch.Tensor],
    loss_fn: torch.nn.Module,
) -> EpochOutput:
    """One pass over ``batches`` (at most ``steps``), polling ``should_stop`` every batch."""
    start, seen, losses, outs, ys = time.perf_counter(), 0, [], [], []
    for step, (x, y) in enumerate(batches):
        if step >= steps:
            break
        t.check_stop(step)
        logits = forward(x)
        loss = loss_fn(logits, y)
        stage.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        stage.optimizer.step()
        stage.scheduler.step()
        if stage.ema is not None:
            stage.ema.update_parameters(t.model)
        seen += len(y)
        losses.append(float(loss.detach()) * len(y))
        outs.append(logits.detach().float().numpy())
        ys.append(y.numpy())
        elapsed = time.perf_counter() - start
        left = (steps - step - 1) + steps * (stage.epochs - epoch - 1)
        t.emit(
            BatchProgress(
                stage.name,
                "train",
                t.epoch + 1,
                step + 1,
                steps,
                float(loss.detach()),
                seen / elapsed,
                left * elapsed / (step + 1),
            )
        )
    seconds = time.perf_counter() - start
    return EpochOutput(
        sum(losses) / max(seen, 1),
        np.concatenate(outs),
        np.concatenate(ys),
        seconds,
        seen / max(seconds, 1e-9),
    )


@torch.inference_mode()
def run_model(
    t: Trainer,
    arrays: list[np.ndarray],
    fn: Callable[[torch.Tensor], torch.Tensor],
    phase: str,
    tta: str = "none",
) -> np.ndarray:
    """Apply ``fn`` to normalised centre crops of cached images, in order; with ``tta`` the
    logits are averaged over the views of ``ml.transforms.tta_views``."""
    t.model.eval()
    if isinstance(fn, torch.nn.Module):
        fn.eval()
    outs, total = [], (len(arrays) + t.cfg.eval_batch_size - 1) // t.cfg.eval_batch_size
    start, seen, stage = time.perf_counter(), 0, "frozen" if phase == "features" else "eval"
    for step, batch in enumerate(eval_batches(arrays, t.cfg.image_size, t.cfg.eval_batch_size)):
        t.check_stop(step)
        x = t.normalizer(batch)
        views = _views(x, tta)
        out = sum(fn(v) for v in views) / len(views)
        outs.append(out.float().numpy())
        seen += len(batch)
        rate = seen / (time.perf_counter() - start)
        t.emit(
            BatchProgress(
                stage, phase, t.epoch + 1, step + 1, total, None, rate, (len(arrays) - seen) / rate
            )
        )
    if not outs:
        return np.zeros((0, len(t.prep.classes)), dtype=np.float32)
    return np.concatenate(outs)


def frozen_stage(t: Trainer, resume: dict[str, Any] | None) -> None:
    """Head on cached features: backbone features of train + val are computed once."""
    cfg = t.cfg
    _, train_arrays, y_train = t.prep.split_arrays("train")
    _, val_arrays, y_val = t.prep.split_arrays("val")
    t.log("stage 1: computing backbone features once (frozen backbone)")
    feats = torch.from_numpy(run_model(t, train_arrays, t.model.backbone, "features"))
    val_feats = torch.from_numpy(run_model(t, val_arrays, t.model.backbone, "features"))
    t.model.requires_grad_(False)
    t.model.head.requires_grad_(True)
    data = TensorDataset(feats, torch.from_numpy(y_train))
    loader = train_loader(
        data,
        y_train,
        batch_size=cfg.batch_size,
        sampler=cfg.sampler,
        generator=t.generator,
        workers=0,
    )
    steps = _steps(cfg.max_steps_per_epoch, len(loader))
    optimizer = make_optimizer(list(t.model.head.parameters()), cfg, cfg.lr)
    stage = StageState(
        "frozen",
        cfg.frozen_epochs,
        optimizer,
        make_scheduler(optimizer, cfg, steps, cfg.frozen_epochs),
    )
    t.restore_stage(stage, resume)
    loss_fn = make_loss(cfg, y_train, len(t.prep.classes))
    for epoch in range(stage.start_epoch, stage.epochs):
        t.model.head.train()
        out = fit_epoch(t, stage, epoch, loader, steps, t.model.head, loss_fn)
        t.model.head.eval()
        with torch.inference_mode():
            val_logits = t.model.head(val_feats).numpy() if len(val_feats) else None
        if t.end_epoch(stage, epoch, out, val_logits, y_val):
            break


def finetune_stage(t: Trainer, resume: dict[str, Any] | None) -> None:
    """The last ``unfreeze_blocks`` blocks + head on augmented images, lower learning rate."""
    cfg = t.cfg
    _, train_arrays, y_train = t.prep.split_arrays("train")
    _, val_arrays, y_val = t.prep.split_arrays("val")
    frozen = unfreeze_last(t.model, cfg.unfreeze_blocks)
    t.log(
        f"stage 2: fine-tuning the last {cfg.unfreeze_blocks} block(s) "
        f"({len(t.model.backbone.blocks) - len(frozen)} of {len(t.model.backbone.blocks)})"
    )
    dataset = AugmentedImages(
        train_arrays,
        y_train,
        train_augmentation(cfg.augmentation, cfg.train_image_size or cfg.image_size),
    )
    loader = train_loader(
        dataset,
        y_train,
        batch_size=cfg.batch_size,
        sampler=cfg.sampler,
        generator=t.generator,
        workers=cfg.workers,
    )
    steps = _steps(cfg.max_steps_per_epoch, len(loader))
    optimizer = make_optimizer(list(t.model.parameters()), cfg, cfg.finetune_lr)
    stage = StageState(
        "finetune",
        cfg.finetune_epochs,
        optimizer,
        make_scheduler(optimizer, cfg, steps, cfg.finetune_epochs),
    )
    if cfg.ema_decay > 0:
        stage.ema = AveragedModel(
            t.model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True
        )
    t.restore_stage(stage, resume)
    t.eval_model = stage.ema.module if stage.ema is not None else t.model
    loss_fn = make_loss(cfg, y_train, len(t.prep.classes))
    for epoch in range(stage.start_epoch, stage.epochs):
        t.model.train()
        for module in frozen + (_batch_norms(t.model) if cfg.freeze_bn else []):
            module.eval()  # frozen blocks (+ every BatchNorm with freeze_bn) keep their statistics
        out = fit_epoch(t, stage, epoch, loader, steps, lambda x: t.model(t.normalizer(x)), loss_fn)
        val_logits = run_model(t, val_arrays, t.eval_model, "eval") if val_arrays else None
        if t.end_epoch(stage, epoch, out, val_logits, y_val):
            break


def _views(x: torch.Tensor, mode: str) -> list[torch.Tensor]:
    """The torch twin of ``ml.transforms.tta_views`` (same order)."""
    if mode == "none":
        return [x]
    if mode == "hflip":
        return [x, torch.flip(x, dims=[3])]
    rotations = [torch.rot90(x, k, dims=(2, 3)) for k in range(4)]
    return [
        v.contiguous(memory_format=torch.channels_last)
        for r in rotations
        for v in (r, torch.flip(r, dims=[3]))
    ]


def _batch_norms(model: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def _steps(cap: int, available: int) -> int:
    return min(cap, available) if cap > 0 else available
