"""ml.train: events, run-dir layout, checkpoints, cancel, resume equivalence, early stopping."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ml.data import Splits, scan
from ml.models import build_model
from ml.train import TrainConfig, train
from ml.train.checkpoint import model_from_checkpoint, read_checkpoint
from tests.ml.helpers import make_dataset

TINY = TrainConfig(
    pretrained=False,
    image_size=32,
    batch_size=8,
    eval_batch_size=16,
    frozen_epochs=1,
    finetune_epochs=1,
    unfreeze_blocks=3,
    lr=0.01,
    finetune_lr=0.003,
    val_fraction=0.2,
    test_fraction=0.2,
    threads=1,
)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("tiny"), {"red": 16, "green": 16}, size=40)


class Recorder:
    def __init__(self) -> None:
        self.events = []

    def __call__(self, event) -> None:
        json.dumps(event.to_dict())  # every event must be JSON-serialisable as it is
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


def test_training_emits_events_and_writes_a_self_describing_run_dir(tiny_data, tmp_path) -> None:
    rec = Recorder()
    result = train(TINY.replace(tta="dihedral"), tiny_data, on_event=rec, run_dir=tmp_path / "run")
    kinds = rec.kinds()
    assert kinds[kinds.index("run_started") - 1] == "log"
    assert kinds[-1] == "finished"
    assert kinds.count("epoch_end") == 2
    assert "batch" in kinds
    assert result.status == "finished"
    assert result.test is not None
    assert result.test_tta is not None
    run = tmp_path / "run"
    for name in ("config.json", "splits.json", "validation.json", "events.jsonl", "metrics.json"):
        assert (run / name).is_file(), name
    ckpt = read_checkpoint(run / "checkpoints" / "last.pt")
    assert {"model", "optimizer", "scheduler", "early_stopping", "rng", "epoch", "config"} <= set(
        ckpt
    )
    best = read_checkpoint(run)  # a run dir means its best.pt
    assert best["arch"] == {"backbone": "mobilenet_v2", "num_classes": 2, "dropout": 0.2}
    assert best["classes"] == ["green", "red"]
    assert best["image_size"] == 32
    assert best["preprocessing"]["resize"] == 37
    assert best["dataset"]["class_counts"] == {"green": 16, "red": 16}
    assert best["best"]["val"]["macro_f1"] == result.best_value
    assert best["best"]["test"]["accuracy"] == result.test.accuracy


def test_a_checkpoint_alone_reproduces_the_saved_test_logits(tiny_data, tmp_path) -> None:
    train(TINY, tiny_data, on_event=lambda e: None, run_dir=tmp_path / "run")
    saved = np.load(tmp_path / "run" / "test_logits.npz")
    model, info = model_from_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")
    from ml.transforms import preprocess

    root = tiny_data
    batch = np.stack(
        [preprocess(root / key, info.image_size, info.mean, info.std) for key in saved["keys"]]
    )
    with torch.no_grad():
        logits = model(torch.from_numpy(batch)).numpy()
    np.testing.assert_allclose(logits, saved["logits"], atol=1e-4)
    assert list(saved["classes"]) == list(info.classes)
    splits = Splits.load(tmp_path / "run" / "splits.json")
    assert list(saved["keys"]) == list(splits.test)
    assert len(np.load(tmp_path / "run" / "val_logits.npz")["labels"]) == len(splits.val)


def test_cancel_stops_within_one_batch(tiny_data, tmp_path) -> None:
    rec = Recorder()
    state = {"stop": False, "after": 0}

    def on_event(event) -> None:
        rec(event)
        if state["stop"] and event.kind == "batch":
            state["after"] += 1
        if event.kind == "batch" and event.phase == "train" and event.stage == "finetune":
            state["stop"] = True

    result = train(TINY, tiny_data, on_event=on_event, should_stop=lambda: state["stop"],
                   run_dir=tmp_path / "run")  # fmt: skip
    assert result.status == "cancelled"
    assert state["after"] == 0  # not a single batch after the flag was raised
    assert rec.kinds()[-1] == "cancelled"
    assert rec.events[-1].last_checkpoint.endswith("last.pt")
    assert result.epochs_completed == 1


def _stop_after_epochs(n: int):
    seen = {"epochs": 0}

    def on_event(event) -> None:
        if event.kind == "epoch_end":
            seen["epochs"] += 1

    return on_event, lambda: seen["epochs"] >= n


@pytest.mark.parametrize(
    ("frozen", "finetune"),
    [(0, 2), (1, 1)],
    ids=["within-finetune", "across-stages"],
)
def test_resume_continues_exactly(tiny_data, tmp_path, frozen, finetune) -> None:
    cfg = TINY.replace(
        frozen_epochs=frozen,
        finetune_epochs=finetune,
        augmentation="photometric",
        sampler="balanced",
        class_weights="balanced",
        label_smoothing=0.1,
        ema_decay=0.9,
    )
    straight = train(cfg, tiny_data, on_event=lambda e: None, run_dir=tmp_path / "straight")
    on_event, stop = _stop_after_epochs(1)
    first = train(cfg, tiny_data, on_event=on_event, should_stop=stop, run_dir=tmp_path / "resumed")
    assert first.status == "cancelled"
    assert first.epochs_completed == 1
    rec = Recorder()
    resumed = train(cfg, tiny_data, on_event=rec, run_dir=tmp_path / "resumed", resume=True)
    assert resumed.epochs_completed == 2
    assert rec.kinds().count("epoch_end") == 1
    a = read_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    b = read_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert all(torch.equal(a["ema"][k], b["ema"][k]) for k in a["ema"])  # the average too
    assert not torch.equal(a["ema"]["module.head.1.weight"], a["model"]["head.1.weight"])
    assert resumed.test == straight.test


def test_resume_refuses_a_changed_config(tiny_data, tmp_path) -> None:
    cfg = TINY.replace(frozen_epochs=2, finetune_epochs=0)
    on_event, stop = _stop_after_epochs(1)
    train(cfg, tiny_data, on_event=on_event, should_stop=stop, run_dir=tmp_path / "run")
    rec = Recorder()
    with pytest.raises(ValueError, match=r"config changed \(\['lr'\]\)"):
        train(cfg.replace(lr=0.5), tiny_data, on_event=rec, run_dir=tmp_path / "run", resume=True)
    assert rec.kinds()[-1] == "failed"


def test_frozen_stage_computes_features_once_and_keeps_the_backbone(tiny_data, tmp_path) -> None:
    rec = Recorder()
    cfg = TINY.replace(frozen_epochs=3, finetune_epochs=0, patience=0)
    train(cfg, tiny_data, on_event=rec, run_dir=tmp_path / "run")
    feature_batches = [e for e in rec.events if e.kind == "batch" and e.phase == "features"]
    passes = [e for e in feature_batches if e.step == 1]
    assert len(passes) == 2  # one pass over train + one over val, not one per epoch
    assert len(feature_batches) == sum(e.total_steps for e in passes)
    torch.manual_seed(cfg.seed)
    initial = build_model("mobilenet_v2", 2, pretrained=False).state_dict()
    trained = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(initial[k], trained[k]) for k in initial if k.startswith("backbone."))
    assert not torch.equal(initial["head.1.weight"], trained["head.1.weight"])


def test_train_image_size_crops_smaller_in_stage_2_and_evaluates_at_image_size(
    tiny_data, tmp_path
) -> None:
    """FixRes: stage 2's augmented batches are train_image_size; every evaluation and the saved
    model use image_size. Seen by the first convolution (the stem) itself."""
    seen: set[tuple[bool, int]] = set()

    def stem(module, args) -> None:
        if isinstance(module, torch.nn.Conv2d) and module.in_channels == 3:
            seen.add((torch.is_grad_enabled(), args[0].shape[-1]))

    cfg = TINY.replace(image_size=48, train_image_size=32, frozen_epochs=0, finetune_epochs=1)
    handle = torch.nn.modules.module.register_module_forward_pre_hook(stem)
    try:
        train(cfg, tiny_data, on_event=lambda e: None, run_dir=tmp_path / "run")
    finally:
        handle.remove()
    assert seen == {(True, 32), (False, 48)}
    best = read_checkpoint(tmp_path / "run")
    assert best["image_size"] == 48
    assert best["preprocessing"]["size"] == 48


def test_early_stopping_ends_a_stage_without_progress(tiny_data, tmp_path) -> None:
    cfg = TINY.replace(frozen_epochs=6, finetune_epochs=0, lr=1e-8, patience=2)
    result = train(cfg, tiny_data, on_event=lambda e: None, run_dir=tmp_path / "run")
    assert result.stopped_early
    assert result.epochs_completed == 3
    assert result.best_epoch == 1


def test_given_splits_are_used_and_recorded(tiny_data, tmp_path) -> None:
    keys = scan(tiny_data).all_keys()
    splits = Splits(train=tuple(keys[4:-4]), val=tuple(keys[:4]), test=tuple(keys[-4:]))
    train(TINY, tiny_data, on_event=lambda e: None, run_dir=tmp_path / "run", splits=splits)
    assert Splits.load(tmp_path / "run" / "splits.json").test == splits.test


def test_a_failure_emits_failed_and_propagates(tmp_path) -> None:
    data = make_dataset(tmp_path / "one", {"only": 6}, size=40)
    rec = Recorder()
    with pytest.raises(ValueError, match="at least two classes"):
        train(TINY, data, on_event=rec, run_dir=tmp_path / "run")
    assert rec.kinds()[-1] == "failed"
    assert "at least two classes" in rec.events[-1].error
