"""Seeds, backbones and ensembles on the shipped lesions model's own split.

Trains variants of the lesions recipe on HAM10000 with the split the shipped bundle was trained
on (seed 0, 70/15/15 by lesion), so only the initialisation or the recipe changes, then scores
each model, and the mean of their probabilities for every combination, on that test split once.
Last, a post-hoc prior correction per model (logits - tau * log prior, tau chosen on the
validation split). Nothing is chosen on the test split. Runs already trained under --work are
reused.

    .venv/bin/python bench/lesion_seeds.py                        # all variants, ~75 min
    .venv/bin/python bench/lesion_seeds.py --only seed1 --only fast

Figures of 24 Nov 2026 are in the README (ml/ -> Results on real data).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ml.data import SourceSpec, Splits  # noqa: E402
from ml.evaluate import load_predictor, predict_split  # noqa: E402
from ml.metrics import classification_metrics, softmax  # noqa: E402
from ml.train import EpochEnd, TrainConfig, train  # noqa: E402
from ml.train.prepare import prepare  # noqa: E402

# The lesions recipe of scripts/build_default_models.sh.
LESIONS = {
    "image_size": 160,
    "frozen_epochs": 3,
    "finetune_epochs": 24,
    "unfreeze_blocks": -1,
    "finetune_lr": 0.0005,
    "class_weights": "balanced",
    "augmentation": "photometric",
    "label_smoothing": 0.1,
    "patience": 8,
    "threads": 2,
}
FIXRES = {"train_image_size": 128, "finetune_lr": 0.001, "warmup_epochs": 0.5}
VARIANTS: dict[str, dict[str, object]] = {
    "seed1": {"seed": 1},
    "fast": {**FIXRES, "unfreeze_blocks": 15},
    "lite0": {"backbone": "efficientnet_lite0"},
    "long60": {**FIXRES, "finetune_epochs": 60, "patience": 0, "warmup_epochs": 1.0},
    # Train + validation as training data; no early stopping.
    "trainval": {"val_fraction": 0.0, "patience": 0},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/ham10000")
    parser.add_argument("--bundle", type=Path, default=ROOT / "models/lesions")
    parser.add_argument("--work", type=Path, default=ROOT / "runs/lesion-seeds")
    parser.add_argument("--only", action="append", choices=sorted(VARIANTS), default=[])
    args = parser.parse_args()

    index = SourceSpec(
        path=str(args.data / "images"), group_csv=str(args.data / "metadata.csv")
    ).load()
    args.work.mkdir(parents=True, exist_ok=True)
    splits = _shipped_split(index, args.work)
    members = {"shipped": args.bundle}
    for name in args.only or list(VARIANTS):
        members[name] = _trained(name, index, splits, args.work)

    split_file = args.work / "split-seed0.json"
    logits: dict[str, dict[str, np.ndarray]] = {}
    labels: dict[str, np.ndarray] = {}
    classes: list[str] = []
    for name, path in members.items():
        predictor = load_predictor(path)
        classes = list(predictor.classes)
        logits[name] = {}
        for part in ("val", "test"):
            labels[part], logits[name][part], _ = predict_split(predictor, index, part, split_file)
    print(f"test split: {len(labels['test'])} images, one view each")
    for k in range(1, len(members) + 1):
        for combo in itertools.combinations(members, k):
            mean = sum(softmax(logits[n]["test"]) for n in combo) / k
            m = classification_metrics(labels["test"], classes=classes, probs=mean)
            print(
                f"{' + '.join(combo):<48} balanced accuracy {m.balanced_accuracy:.3f}  "
                f"macro F1 {m.macro_f1:.3f}  accuracy {m.accuracy:.3f}"
            )
    counts = splits.class_counts(index)["train"]
    log_prior = np.log(np.array([counts[c] for c in classes]) / sum(counts.values()))
    print("prior correction, logits - tau * log(train prior), tau chosen on validation:")
    for name, by_part in logits.items():
        if name == "trainval":  # its validation images are training images
            continue

        def bal(part: str, tau: float, by_part=by_part) -> float:
            probs = softmax(by_part[part] - tau * log_prior)
            return classification_metrics(
                labels[part], classes=classes, probs=probs
            ).balanced_accuracy

        tau = max(np.linspace(-1, 1, 21), key=lambda t: (bal("val", t), -abs(t)))
        print(
            f"{name:<10} tau {tau:+.1f}: validation {bal('val', 0):.3f} -> {bal('val', tau):.3f}, "
            f"test {bal('test', 0):.3f} -> {bal('test', tau):.3f}"
        )
    return 0


def _shipped_split(index, work: Path) -> Splits:
    """The split the shipped bundle was trained on, drawn as the trainer draws it (default
    fractions, seed 0, duplicates kept together)."""
    saved = work / "split-seed0.json"
    if not saved.is_file():
        (work / "split-probe").mkdir(exist_ok=True)
        prepared = prepare(
            TrainConfig.from_dict(LESIONS),
            index,
            work / "split-probe",
            splits=None,
            resume=False,
            progress=lambda done, total: None,
        )
        prepared.splits.save(saved)
    return Splits.load(saved)


def _trained(name: str, index, splits: Splits, work: Path) -> Path:
    run_dir = work / name
    # Without a validation split there is no best epoch: the last one is scored.
    checkpoint = run_dir / "checkpoints" / ("last.pt" if name == "trainval" else "best.pt")
    if (run_dir / "done").is_file():
        return checkpoint
    cfg = TrainConfig.from_dict({**LESIONS, **VARIANTS[name]})
    if name == "trainval":
        splits = Splits.from_dict(
            {**splits.to_dict(), "train": splits.train + splits.val, "val": (), "val_fraction": 0}
        )
    start = time.perf_counter()

    def on_event(event) -> None:
        if isinstance(event, EpochEnd):
            val = event.val.balanced_accuracy if event.val is not None else float("nan")
            print(f"  {name} epoch {event.epoch}: val balanced accuracy {val:.3f}", flush=True)

    train(cfg, index, on_event=on_event, run_dir=run_dir, splits=splits)
    minutes = (time.perf_counter() - start) / 60
    (run_dir / "done").write_text(json.dumps({"minutes": round(minutes, 1)}))
    print(f"{name}: trained in {minutes:.1f} min", flush=True)
    return checkpoint


if __name__ == "__main__":
    raise SystemExit(main())
