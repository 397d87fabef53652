"""The training run: prepare data, build the model, run both stages with per-epoch checkpoints,
then score the best checkpoint on validation and test. Emits typed events; no Django.
"""

from __future__ import annotations

import json
import random
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ml.data import Splits
from ml.metrics import (
    Metrics,
    classification_metrics,
    cross_entropy,
    metric_or_none,
    metrics_from_dict,
    softmax,
)
from ml.models import build_model, normalization_for
from ml.train.checkpoint import (
    describe,
    history_from,
    read_checkpoint,
    read_resumable,
    rng_state,
    save_atomic,
    save_logits,
    set_rng_state,
)
from ml.train.config import TrainConfig
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
from ml.train.images import Normalizer
from ml.train.optim import EarlyStopping
from ml.train.prepare import Prepared, TrainData, prepare
from ml.train.stages import EpochOutput, StageState, finetune_stage, frozen_stage, run_model


class Stop(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, step: int) -> None:
        super().__init__(f"stopped at step {step}")
        self.step = step


class Trainer:
    """One run. Public attributes are shared with ``ml.train.stages``."""

    def __init__(
        self,
        cfg: TrainConfig,
        data: TrainData,
        *,
        on_event: Callable[[Event], None],
        should_stop: Callable[[], bool],
        run_dir: Path,
        resume: bool,
        splits: Splits | None,
    ) -> None:
        self.cfg, self.data, self.on_event, self.should_stop = cfg, data, on_event, should_stop
        self.run_dir, self.resume, self.given_splits = Path(run_dir), resume, splits
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.stopper = EarlyStopping(cfg.early_stopping_metric, cfg.patience)
        self.epoch, self.history, self.stopped_early = 0, [], False
        self.best_val: Metrics | None = None
        self.t0 = time.perf_counter()

    # ------------------------------------------------------------------ plumbing
    def emit(self, event: Event) -> None:
        self.on_event(event)
        if event.kind != "batch":
            with open(self.run_dir / "events.jsonl", "a") as fh:
                fh.write(json.dumps(event.to_dict()) + "\n")

    def log(self, message: str, level: str = "info") -> None:
        self.emit(LogLine(message, level))

    def check_stop(self, step: int) -> None:
        if self.should_stop():
            raise Stop(step)

    def run(self) -> TrainResult:
        previous = torch.get_num_threads()
        torch.set_num_threads(self.cfg.threads)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            return self._run()
        except Stop as stop:
            return self._cancelled(stop.step)
        except Exception as exc:
            self.emit(
                Failed(f"{type(exc).__name__}: {exc}", traceback.format_exc(), self.epoch + 1)
            )
            raise
        finally:
            torch.set_num_threads(previous)

    # ------------------------------------------------------------------ the run
    def _run(self) -> TrainResult:
        cfg = self.cfg
        ckpt = self._load_last() if self.resume else None
        _seed_everything(cfg.seed)
        (self.run_dir / "config.json").write_text(cfg.to_json())
        self.prep: Prepared = prepare(
            cfg,
            self.data,
            self.run_dir,
            splits=self.given_splits,
            resume=ckpt is not None,
            progress=self._prepare_progress,
        )
        self._log_data()
        self.mean, self.std = normalization_for(cfg.backbone)
        self.normalizer = Normalizer(self.mean, self.std, cfg.channels_last)
        weights = Path(cfg.weights_path) if cfg.weights_path else None
        self.model = build_model(
            cfg.backbone,
            len(self.prep.classes),
            dropout=cfg.dropout,
            pretrained=cfg.pretrained and ckpt is None,
            weights=weights,
        )
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.eval_model: torch.nn.Module = self.model  # the weights validation sees (EMA or not)
        if ckpt is not None:
            self._restore_run(ckpt)
        self.emit(
            RunStarted(
                str(self.run_dir),
                cfg.to_dict(),
                self.prep.classes,
                {n: len(self.prep.splits.keys(n)) for n in ("train", "val", "test")},
                self.prep.splits.class_counts(self.prep.index),
                cfg.total_epochs,
                self.epoch,
                cfg.threads,
            )
        )
        stage, done = (ckpt["stage"], ckpt["stage_done"]) if ckpt else (None, False)
        if cfg.frozen_epochs > 0 and (ckpt is None or (stage == "frozen" and not done)):
            frozen_stage(self, ckpt if stage == "frozen" else None)
        if cfg.finetune_epochs > 0 and not (stage == "finetune" and done):
            finetune_stage(self, ckpt if stage == "finetune" else None)
        return self._finish()

    def _prepare_progress(self, done: int, total: int) -> None:
        if done % 25 and done != total:
            return
        self.check_stop(done)
        rate = done / max(time.perf_counter() - self.t0, 1e-9)
        self.emit(
            BatchProgress("prepare", "prepare", 0, done, total, None, rate, (total - done) / rate)
        )

    def _log_data(self) -> None:
        p = self.prep
        sizes = {n: len(p.splits.keys(n)) for n in ("train", "val", "test")}
        self.log(
            f"{len(p.index.records)} usable images in {len(p.classes)} classes; removed "
            f"{len(p.cleaned.unusable)} unusable, {len(p.cleaned.duplicate_copies)} duplicate "
            f"copies, {len(p.cleaned.label_conflicts)} label conflicts"
        )
        grouped = "grouped" if p.splits.grouped else "not grouped (no group column)"
        self.log(f"split {sizes}, {grouped}, duplicates kept together; seed {p.splits.seed}")

    # ------------------------------------------------------------------ epochs + checkpoints
    def restore_stage(self, stage: StageState, ckpt: dict[str, Any] | None) -> None:
        if ckpt is None:
            self.stopper.new_stage()
            return
        stage.optimizer.load_state_dict(ckpt["optimizer"])
        if stage.ema is not None:
            stage.ema.load_state_dict(ckpt["ema"])
        stage.scheduler.load_state_dict(ckpt["scheduler"])
        stage.start_epoch = int(ckpt["stage_epoch"])

    def end_epoch(
        self,
        stage: StageState,
        epoch: int,
        out: EpochOutput,
        val_logits: np.ndarray | None,
        y_val: np.ndarray,
    ) -> bool:
        """Metrics, best/last checkpoints and events for a finished epoch; True ends the stage."""
        classes = self.prep.classes
        train = classification_metrics(
            out.labels, classes=classes, probs=softmax(out.logits), loss=out.loss
        )
        val = None
        if val_logits is not None and len(val_logits):
            val = classification_metrics(
                y_val,
                classes=classes,
                probs=softmax(val_logits),
                loss=cross_entropy(val_logits, y_val),
            )
        value = metric_or_none(val or train, self.cfg.early_stopping_metric)
        self.epoch += 1
        is_best = self.stopper.update(self.epoch, value)
        lr = float(stage.optimizer.param_groups[0]["lr"])
        self.history.append(EpochSummary(self.epoch, stage.name, train, val, lr, out.seconds))
        done = epoch + 1 >= stage.epochs or self.stopper.should_stop
        if self.stopper.should_stop and epoch + 1 < stage.epochs:
            self.stopped_early = True
            self.log(f"early stopping: {self.stopper.patience} epoch(s) without a better metric")
        if is_best:
            self.best_val = val
            self._save(self.ckpt_dir / "best.pt", stage, epoch, done, full=False)
            if val_logits is not None:
                self._save_logits("val_logits.npz", "val", val_logits)
        self._save(self.ckpt_dir / "last.pt", stage, epoch, done, full=True)
        elapsed = time.perf_counter() - self.t0
        self.emit(EpochEnd(stage.name, self.epoch, self.cfg.total_epochs, train, val, lr,
                           out.seconds, out.images_per_s, self.stopper.metric, value, is_best,
                           self.stopper.best_epoch, elapsed))  # fmt: skip
        if is_best:
            self.emit(CheckpointSaved(str(self.ckpt_dir / "best.pt"), self.epoch, True))
        self.emit(CheckpointSaved(str(self.ckpt_dir / "last.pt"), self.epoch, False))
        return done

    def _save(self, path: Path, stage: StageState, epoch: int, done: bool, *, full: bool) -> None:
        ckpt = describe(
            config=self.cfg.to_dict(),
            classes=self.prep.classes,
            mean=self.mean,
            std=self.std,
            dataset=self.prep.dataset_info(),
        )
        ckpt.update(
            # best.pt: the weights validation saw (the EMA when on); last.pt: the trained weights
            model=(self.model if full else self.eval_model).state_dict(),
            epoch=self.epoch,
            stage=stage.name,
            stage_epoch=epoch + 1,
            stage_done=done,
            best=self._best_info(),
            history=[asdict(h) for h in self.history],
        )
        if full:
            ckpt.update(
                optimizer=stage.optimizer.state_dict(),
                scheduler=stage.scheduler.state_dict(),
                early_stopping=self.stopper.state_dict(),
                rng=rng_state(self.generator),
                stopped_early=self.stopped_early,
            )
            if stage.ema is not None:
                ckpt["ema"] = stage.ema.state_dict()
        save_atomic(ckpt, path)

    def _best_info(self) -> dict[str, Any]:
        return {
            "epoch": self.stopper.best_epoch,
            "metric": self.stopper.metric,
            "value": self.stopper.best_value,
            "val": self.best_val.to_dict() if self.best_val else None,
        }

    def _save_logits(self, name: str, split: str, logits: np.ndarray, **extra: np.ndarray) -> None:
        keys, _, labels = self.prep.split_arrays(split)
        save_logits(self.run_dir / name, logits, labels, keys, self.prep.classes,
                    self.stopper.best_epoch, **extra)  # fmt: skip

    # ------------------------------------------------------------------ resume
    def _load_last(self) -> dict[str, Any] | None:
        path = self.ckpt_dir / "last.pt"
        if not path.is_file():
            self.log(f"resume asked but {path} does not exist: starting from scratch", "warning")
            return None
        return read_resumable(path, self.cfg.to_dict())

    def _restore_run(self, ckpt: dict[str, Any]) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.epoch = int(ckpt["epoch"])
        self.stopper.load_state_dict(ckpt["early_stopping"])
        self.stopped_early = bool(ckpt.get("stopped_early", False))
        self.history = history_from(ckpt)
        best_val = ckpt["best"].get("val")
        self.best_val = metrics_from_dict(best_val) if best_val else None
        set_rng_state(ckpt["rng"], self.generator)
        self.log(f"resumed from {self.ckpt_dir / 'last.pt'} after epoch {self.epoch}")

    # ------------------------------------------------------------------ the end
    def _finish(self) -> TrainResult:
        best_path = self.ckpt_dir / "best.pt"
        if best_path.is_file():
            self.model.load_state_dict(read_checkpoint(best_path)["model"])
        scores = {split: self._score(split) for split in ("val", "test")}
        result = self._result("finished", scores["val"][0], *scores["test"])
        if best_path.is_file():
            best = read_checkpoint(best_path)
            best["best"]["test"] = result.test.to_dict() if result.test else None
            best["best"]["test_tta"] = result.test_tta.to_dict() if result.test_tta else None
            save_atomic(best, best_path)
        (self.run_dir / "metrics.json").write_text(json.dumps(result.to_dict(), indent=1))
        self.emit(Finished(result))
        return result

    def _score(self, split: str) -> tuple[Metrics | None, Metrics | None]:
        """Plain and (when ``tta`` is set) test-time-augmented metrics of the model on a split."""
        _, arrays, labels = self.prep.split_arrays(split)
        if not arrays:
            return None, None
        logits = run_model(self, arrays, self.model, "eval")
        tta = (
            None
            if self.cfg.tta == "none"
            else run_model(self, arrays, self.model, "eval", self.cfg.tta)
        )
        self._save_logits(
            f"{split}_logits.npz", split, logits, **({"logits_tta": tta} if tta is not None else {})
        )
        plain = classification_metrics(
            labels,
            classes=self.prep.classes,
            probs=softmax(logits),
            loss=cross_entropy(logits, labels),
        )
        flipped = None
        if tta is not None:
            flipped = classification_metrics(labels, classes=self.prep.classes, probs=softmax(tta))
        return plain, flipped

    def _result(
        self,
        status: str,
        val: Metrics | None = None,
        test: Metrics | None = None,
        test_tta: Metrics | None = None,
    ) -> TrainResult:
        best, last = self.ckpt_dir / "best.pt", self.ckpt_dir / "last.pt"
        return TrainResult(
            status=status,
            run_dir=str(self.run_dir),
            classes=self.prep.classes,
            epochs_completed=self.epoch,
            best_epoch=self.stopper.best_epoch,
            metric=self.stopper.metric,
            best_value=self.stopper.best_value,
            best_checkpoint=str(best) if best.is_file() else None,
            last_checkpoint=str(last) if last.is_file() else None,
            val=val or self.best_val,
            test=test,
            test_tta=test_tta,
            stopped_early=self.stopped_early,
            seconds=time.perf_counter() - self.t0,
            history=tuple(self.history),
        )

    def _cancelled(self, step: int) -> TrainResult:
        last = self.ckpt_dir / "last.pt"
        self.emit(Cancelled(self.epoch + 1, step, str(last) if last.is_file() else None))
        if not hasattr(self, "prep"):
            return TrainResult(
                "cancelled",
                str(self.run_dir),
                (),
                0,
                0,
                self.cfg.early_stopping_metric,
                None,
                None,
                None,
                seconds=time.perf_counter() - self.t0,
            )
        return self._result("cancelled")


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
