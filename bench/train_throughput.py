"""Training speed of ml.train, in one run:

1. throughput: images/s of ``ml.train`` (fine-tune stage: augmentation, batching, events,
   metrics included) against bare PyTorch loops with the same model, batch, resolution and threads:
   (a) forward + backward + step on ready-made tensors (the compute ceiling), and
   (b) the textbook loop: PIL decode + torchvision transforms + DataLoader, same images;
2. time-to-accuracy: wall-clock minutes from ``train()`` until HAM10000 balanced accuracy 0.75 on
   the lesion-grouped validation split (reading the images and stage 1 included), then the test
   split's figures for the checkpoint that got there.

    .venv/bin/python bench/train_throughput.py --data ../shared/data/ham10000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ml.data import scan  # noqa: E402
from ml.evaluate import evaluate  # noqa: E402
from ml.models import build_model, normalization_for  # noqa: E402
from ml.train import BatchProgress, EpochEnd, Event, TrainConfig, train  # noqa: E402

WARMUP = 3
# The time-to-accuracy recipe: head on cached features, then the last 15 of 19 blocks fine-tuned
# on 128 px crops while validation stays at 160 px (FixRes: ``train_image_size``), 9 epochs.
FAST = {
    "backbone": "mobilenet_v2",
    "image_size": 160,
    "train_image_size": 128,
    "batch_size": 32,
    "lr": 0.003,
    "finetune_lr": 0.001,
    "frozen_epochs": 3,
    "finetune_epochs": 9,
    "unfreeze_blocks": 15,
    "class_weights": "balanced",
    "label_smoothing": 0.1,
    "augmentation": "photometric",
    "early_stopping_metric": "balanced_accuracy",
    "patience": 0,
    "warmup_epochs": 0.5,
}


def _rate(stamps: list[float], batch: int) -> float:
    """Images/s over the timed batches, the first WARMUP excluded."""
    timed = stamps[WARMUP:]
    return (len(timed) - 1) * batch / (timed[-1] - timed[0])


def ml_train_rate(cfg: TrainConfig, data: Path, steps: int, run_dir: Path) -> float:
    stamps: list[float] = []

    def on_event(event: Event) -> None:
        if isinstance(event, BatchProgress) and event.phase == "train":
            stamps.append(time.perf_counter())

    cfg = cfg.replace(frozen_epochs=0, finetune_epochs=1, max_steps_per_epoch=steps, patience=0)
    train(cfg, data, on_event=on_event, run_dir=run_dir)
    return _rate(stamps, cfg.batch_size)


def bare_tensor_rate(cfg: TrainConfig, steps: int, num_classes: int) -> float:
    """(a) the compute ceiling: the same model and optimiser on ready-made tensors."""
    torch.set_num_threads(cfg.threads)
    model = build_model(cfg.backbone, num_classes, pretrained=True).to(
        memory_format=torch.channels_last
    )
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.finetune_lr)
    x = torch.randn(cfg.batch_size, 3, cfg.image_size, cfg.image_size).contiguous(
        memory_format=torch.channels_last
    )
    y = torch.randint(0, num_classes, (cfg.batch_size,))
    stamps = []
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        stamps.append(time.perf_counter())
    return _rate(stamps, cfg.batch_size)


def bare_pipeline_rate(cfg: TrainConfig, data: Path, steps: int) -> float:
    """(b) the textbook loop: ImageFolder-style PIL decode + torchvision transforms each epoch."""
    from torchvision import datasets, transforms

    torch.set_num_threads(cfg.threads)
    mean, std = normalization_for(cfg.backbone)
    tf = transforms.Compose(
        [
            transforms.RandomResizedCrop(cfg.image_size, scale=(0.35, 1.0)),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(mean, std),
        ]
    )
    root = _class_root(data)
    folder = datasets.ImageFolder(str(root), transform=tf)
    loader = torch.utils.data.DataLoader(
        folder, batch_size=cfg.batch_size, shuffle=True, drop_last=True
    )
    model = build_model(cfg.backbone, len(folder.classes), pretrained=True)
    model = model.to(memory_format=torch.channels_last).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.finetune_lr)
    stamps = []
    for step, (x, y) in enumerate(loader):
        if step >= steps:
            break
        loss = torch.nn.functional.cross_entropy(
            model(x.contiguous(memory_format=torch.channels_last)), y
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        stamps.append(time.perf_counter())
    return _rate(stamps, cfg.batch_size)


def _class_root(data: Path) -> Path:
    index = scan(data)
    return Path(index.sources[0].root) / index.sources[0].prefix


def synthetic_data(root: Path, n: int = 320) -> Path:
    rng = np.random.default_rng(0)
    for c in range(4):
        (root / f"class{c}").mkdir(parents=True, exist_ok=True)
        for i in range(n // 4):
            pixels = rng.integers(0, 255, (250, 250, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"class{c}" / f"{i}.jpg", quality=90)
    return root


def throughput(
    cfg: TrainConfig, data: Path, steps: int, rounds: int, work: Path
) -> dict[str, object]:
    """Alternate the three loops ``rounds`` times (other processes share the cores) and
    report the median of each."""
    num_classes = len(scan(data).classes)
    rates: dict[str, list[float]] = {"ml.train": [], "bare tensors": [], "bare torchvision": []}
    for r in range(rounds):
        rates["ml.train"].append(ml_train_rate(cfg, data, steps, work / f"tp{r}"))
        rates["bare tensors"].append(bare_tensor_rate(cfg, steps, num_classes))
        rates["bare torchvision"].append(bare_pipeline_rate(cfg, data, steps))
        print(
            f"  round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in rates.items()),
            flush=True,
        )
    median = {k: statistics.median(v) for k, v in rates.items()}
    return {
        "images_per_s": median,
        "ratio_vs_bare_tensors": median["ml.train"] / median["bare tensors"],
        "ratio_vs_bare_torchvision": median["ml.train"] / median["bare torchvision"],
        "all_rounds": rates,
    }


def time_to_accuracy(
    data: Path, target: float, config: dict[str, object], work: Path, seed: int = 0
) -> dict[str, object]:
    cfg = TrainConfig.from_dict({**config, "seed": seed, "threads": 2})
    state: dict[str, float | None] = {"reached": None}
    epochs: list[tuple[int, str, float, float, float]] = []
    start, cpu_start = time.perf_counter(), time.process_time()

    def on_event(event: Event) -> None:
        if not isinstance(event, EpochEnd) or event.val is None:
            return
        minutes = (time.perf_counter() - start) / 60
        # CPU seconds of this process / threads: what the wall clock would be on 2 idle cores.
        cpu_minutes = (time.process_time() - cpu_start) / 60 / cfg.threads
        bal = event.val.balanced_accuracy
        epochs.append(
            (event.epoch, event.stage, round(minutes, 2), round(cpu_minutes, 2), round(bal, 4))
        )
        where = f"  epoch {event.epoch} [{event.stage}]"
        print(f"{where} {minutes:.2f} min wall, {cpu_minutes:.2f} min CPU/{cfg.threads}: "
              f"val bal. acc. {bal:.3f}", flush=True)  # fmt: skip
        if bal >= target and state["reached"] is None:
            state["reached"], state["reached_cpu"] = minutes, cpu_minutes

    run_dir = work / "tta"
    result = train(
        cfg,
        data,
        on_event=on_event,
        should_stop=lambda: state["reached"] is not None,
        run_dir=run_dir,
    )
    test = evaluate(run_dir, data, split="test").metrics
    return {
        "target_val_balanced_accuracy": target,
        "minutes": state["reached"],
        "cpu_minutes_per_thread": state.get("reached_cpu"),
        "load_average_at_end": list(os.getloadavg()),
        "status": result.status,
        "epochs": epochs,
        "test_of_that_checkpoint": {
            "accuracy": test.accuracy,
            "balanced_accuracy": test.balanced_accuracy,
            "macro_f1": test.macro_f1,
            "n": test.n,
        },
        "config": cfg.to_dict(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "ham10000")
    parser.add_argument("--image-size", type=int, default=160)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=15, help="batches per throughput measurement")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--target", type=float, default=0.75)
    parser.add_argument("--seed", type=int, default=0, help="time-to-accuracy run's seed")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-time-to-accuracy", action="store_true")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="override the time-to-accuracy recipe (FAST), e.g. --set finetune_epochs=24",
    )
    parser.add_argument("--work", type=Path, help="where run dirs go (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="ml-bench-"))
    data = args.data if args.data.exists() else synthetic_data(work / "synthetic")
    out: dict[str, object] = {"data": str(data), "threads": args.threads}
    if not args.skip_throughput:
        cfg = TrainConfig(
            image_size=args.image_size,
            batch_size=args.batch_size,
            threads=args.threads,
            unfreeze_blocks=-1,
            augmentation="crop_flip",
            val_fraction=0.05,
            test_fraction=0.05,
        )
        print(
            f"throughput: mobilenet_v2, {args.image_size} px, batch {args.batch_size}, "
            f"{args.threads} threads, full fine-tune, channels_last",
            flush=True,
        )
        out["throughput"] = tp = throughput(cfg, data, args.steps, args.rounds, work)
        rates = tp["images_per_s"]
        print(
            f"ml.train {rates['ml.train']:.1f} img/s | bare tensors {rates['bare tensors']:.1f} | "
            f"bare torchvision {rates['bare torchvision']:.1f}\n"
            f"ratio ml.train / bare tensors = {tp['ratio_vs_bare_tensors']:.2f} (goal >= 0.9); "
            f"/ bare torchvision = {tp['ratio_vs_bare_torchvision']:.2f}",
            flush=True,
        )
    if not args.skip_time_to_accuracy:
        if not args.data.exists():
            print("time-to-accuracy needs HAM10000 (--data); skipped")
        else:
            print(f"time-to-accuracy: HAM10000, val balanced accuracy >= {args.target}", flush=True)
            recipe = {**FAST}
            for item in args.set:
                key, _, value = item.partition("=")
                recipe[key] = json.loads(value)
            out["time_to_accuracy"] = tta = time_to_accuracy(
                data, args.target, recipe, work, args.seed
            )
            minutes, cpu = tta["minutes"], tta["cpu_minutes_per_thread"]
            took = (
                "not reached" if minutes is None else f"{minutes:.2f} wall, {cpu:.2f} CPU/threads"
            )
            print(f"minutes to balanced accuracy {args.target}: {took} (goal <= 5); "
                  f"test split of that checkpoint: {tta['test_of_that_checkpoint']}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
