"""Checkpoints: atomic save, RNG capture/restore, and rebuilding a model from a checkpoint alone.

A checkpoint is a plain dict loadable with ``torch.load(..., weights_only=True)``. No Django.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ml.metrics import metrics_from_dict
from ml.models import SkinClassifier, build_model
from ml.train.events import EpochSummary
from ml.transforms import EvalTransform

CHECKPOINT_FORMAT = "skinplatform-ml-checkpoint/1"
RESUME_MAY_CHANGE = frozenset({"threads", "workers", "eval_batch_size"})


def save_atomic(obj: dict[str, Any], path: Path) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        torch.save(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save_logits(path: Path, logits: np.ndarray, labels: np.ndarray, keys: list[str],
                classes: tuple[str, ...], epoch: int, **extra: np.ndarray) -> None:  # fmt: skip
    """``{split}_logits.npz``: logits (float32, N x K), labels, keys (relative paths), classes
    (the logits' column order), the epoch they come from, plus extras (e.g. ``logits_tta``)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, logits=logits.astype(np.float32), labels=labels, keys=np.array(keys),
                 classes=np.array(classes), epoch=np.array(epoch), **extra)  # fmt: skip
    os.replace(tmp, path)


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "generator": generator.get_state(),
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss, cached],
        "python": _tensorize(random.getstate()),
    }


def set_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    generator.set_state(state["generator"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal.tolist()), gauss))


def _tensorize(python_state: tuple[Any, ...]) -> list[Any]:
    version, internal, gauss = python_state
    return [version, torch.tensor(internal, dtype=torch.int64), gauss]


@dataclass(frozen=True)
class CheckpointInfo:
    """The self-describing part of a checkpoint: enough to rebuild and run the model."""

    backbone: str
    num_classes: int
    dropout: float
    classes: tuple[str, ...]
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    preprocessing: dict[str, Any]
    config: dict[str, Any]
    dataset: dict[str, Any]
    epoch: int
    best: dict[str, Any]

    @property
    def eval_transform(self) -> EvalTransform:
        return EvalTransform.for_size(self.image_size, self.mean, self.std)


def describe(
    *,
    config: dict[str, Any],
    classes: tuple[str, ...],
    mean: tuple[float, ...],
    std: tuple[float, ...],
    dataset: dict[str, Any],
) -> dict[str, Any]:
    """The descriptive keys every checkpoint carries."""
    size = int(config["image_size"])
    return {
        "format": CHECKPOINT_FORMAT,
        "arch": {
            "backbone": config["backbone"],
            "num_classes": len(classes),
            "dropout": config["dropout"],
        },
        "classes": list(classes),
        "image_size": size,
        "normalization": {"mean": list(mean), "std": list(std)},
        "preprocessing": EvalTransform.for_size(size, mean, std).to_dict(),
        "config": config,
        "dataset": dataset,
        "versions": {"torch": str(torch.__version__)},
    }


def read_checkpoint(path: Path | str) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / "best.pt"
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a {CHECKPOINT_FORMAT} checkpoint")
    return ckpt


def checkpoint_info(ckpt: dict[str, Any]) -> CheckpointInfo:
    arch, norm = ckpt["arch"], ckpt["normalization"]
    return CheckpointInfo(
        backbone=arch["backbone"],
        num_classes=int(arch["num_classes"]),
        dropout=float(arch["dropout"]),
        classes=tuple(ckpt["classes"]),
        image_size=int(ckpt["image_size"]),
        mean=tuple(norm["mean"]),
        std=tuple(norm["std"]),
        preprocessing=ckpt["preprocessing"],
        config=ckpt["config"],
        dataset=ckpt["dataset"],
        epoch=int(ckpt["epoch"]),
        best=ckpt.get("best", {}),
    )


def read_resumable(path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """``last.pt`` if ``config`` matches the one it was trained with (threads etc. may change)."""
    ckpt = read_checkpoint(path)
    old = {k: v for k, v in ckpt["config"].items() if k not in RESUME_MAY_CHANGE}
    changed = sorted(k for k, v in config.items() if k not in RESUME_MAY_CHANGE and old.get(k) != v)
    if changed:
        raise ValueError(f"cannot resume {path}: the config changed ({changed})")
    return ckpt


def history_from(ckpt: dict[str, Any]) -> list[EpochSummary]:
    out = []
    for h in ckpt["history"]:
        val = metrics_from_dict(h["val"]) if h.get("val") else None
        train = metrics_from_dict(h["train"])
        out.append(EpochSummary(h["epoch"], h["stage"], train, val, h["lr"], h["seconds"]))
    return out


def model_from_checkpoint(path: Path | str) -> tuple[SkinClassifier, CheckpointInfo]:
    """Rebuild the model in eval mode from a checkpoint (or a run dir's best.pt) alone."""
    ckpt = read_checkpoint(path)
    info = checkpoint_info(ckpt)
    model = build_model(info.backbone, info.num_classes, pretrained=False, dropout=info.dropout)
    model.load_state_dict(ckpt["model"])
    return model.eval(), info
