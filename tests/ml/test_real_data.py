"""ml/ on the real photos in ../shared/data (a dozen images at a time; skipped when absent)."""

from __future__ import annotations

import pytest

from ml.data import DatasetIndex, LabelMapping, acne_seed_spec, scan, split, validate
from ml.evaluate import evaluate
from ml.train import TrainConfig, train

pytestmark = pytest.mark.shared_data


def _subset(index: DatasetIndex, keys: list[str]) -> DatasetIndex:
    wanted = set(keys)
    return index.with_records([r for r in index.records if index.key(r) in wanted])


def test_acne04_exact_duplicates_and_cross_grade_copies_are_found(shared_data) -> None:
    index = scan(shared_data / "acne04")
    conflict = ["levle0_mild/levle0_120.jpg", "levle1_moderate/levle1_486.jpg"]
    duplicate = ["levle0_mild/levle0_116.jpg", "levle0_mild/levle0_23.jpg"]
    others = [k for k in index.all_keys() if k.startswith("levle3")][:8]
    report = validate(_subset(index, conflict + duplicate + others))
    assert tuple(conflict) in report.finding("label_conflict").groups
    assert tuple(duplicate) in report.finding("exact_duplicates").groups
    assert report.num_images == 12


def test_ham10000_split_by_lesion_never_leaks_a_lesion(shared_data) -> None:
    index = scan(shared_data / "ham10000")  # finds images/ and metadata.csv by itself
    assert len(index.records) == 1837
    assert not index.ungrouped
    splits = split(index, val=0.15, test=0.15, seed=0)
    where = {k: n for n in ("train", "val", "test") for k in splits.keys(n)}
    lesions: dict[str, set[str]] = {}
    for record in index.records:
        lesions.setdefault(record.group, set()).add(where[index.key(record)])
    assert all(len(s) == 1 for s in lesions.values())
    assert set(splits.class_counts(index)["test"]) == set(index.classes)  # all 7 classes


def test_acne_seed_paper_scheme_from_two_sources(shared_data) -> None:
    spec = acne_seed_spec(shared_data / "acne04", shared_data / "facial" / "clear_skin")
    index = spec.load()
    assert index.class_counts == {"clear": 80, "mild_moderate": 949, "severe": 266}


def test_pretrained_training_and_evaluation_on_a_dozen_real_images(shared_data, tmp_path) -> None:
    ham = LabelMapping({"nv": "nv", "vasc": "vasc"}, unmapped="drop").apply(
        scan(shared_data / "ham10000")
    )
    keys = [k for k in ham.all_keys() if k.startswith("nv/")][:6]
    keys += [k for k in ham.all_keys() if k.startswith("vasc/")][:6]
    data = _subset(ham, keys)
    cfg = TrainConfig(
        image_size=64,
        batch_size=4,
        frozen_epochs=2,
        finetune_epochs=1,
        val_fraction=0.25,
        test_fraction=0.25,
        threads=1,
        patience=0,
    )
    result = train(cfg, data, on_event=lambda e: None, run_dir=tmp_path / "run")
    assert result.status == "finished"
    assert result.classes == ("nv", "vasc")
    scores = evaluate(tmp_path / "run", data, split="test")
    assert scores.metrics.n == result.test.n
    assert scores.metrics.accuracy == pytest.approx(result.test.accuracy)
