"""ml.data: scanning dirs and zips, validation findings, cleaning, label mappings, data specs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from ml.data import (
    ACNE_SEED_MAPPING,
    DatasetError,
    DataSpec,
    LabelMapping,
    acne_seed_spec,
    clean,
    inspect_images,
    scan,
    validate,
)
from tests.ml.helpers import jpeg_bytes, make_dataset, make_image, zip_dir


@pytest.fixture
def dataset(tmp_path):
    return make_dataset(tmp_path / "ds", {"cats": 6, "dogs": 4})


def test_scan_reads_a_folder_per_class(dataset) -> None:
    index = scan(dataset)
    assert index.classes == ("cats", "dogs")
    assert index.class_counts == {"cats": 6, "dogs": 4}
    assert "cats/img_cats_0.jpg" in index.all_keys()


def test_scan_reads_a_zip_with_a_wrapping_folder_like_the_directory(dataset, tmp_path) -> None:
    archive = zip_dir(dataset, tmp_path / "upload.zip", wrap="my_dataset")
    from_zip, from_dir = scan(archive), scan(dataset)
    assert from_zip.all_keys() == from_dir.all_keys()
    assert from_zip.sources[0].prefix == "my_dataset"
    with from_zip.reader() as read_zip, from_dir.reader() as read_dir:
        assert read_zip(from_zip.records[3]) == read_dir(from_dir.records[3])


def test_scan_descends_into_a_single_images_folder_and_finds_metadata_groups(tmp_path) -> None:
    make_dataset(tmp_path / "ham" / "images", {"mel": 3, "nv": 3})
    rows = ["lesion_id,image_id,dx"] + [
        f"L{i // 2},img_{c}_{i},{c}" for c in ("mel", "nv") for i in range(3)
    ]
    (tmp_path / "ham" / "metadata.csv").write_text("\n".join(rows[:-1]) + "\n")  # one left out
    index = scan(tmp_path / "ham")
    assert index.sources[0].prefix == "images"
    groups = {index.key(r): r.group for r in index.records}
    assert groups["mel/img_mel_0.jpg"] == groups["mel/img_mel_1.jpg"] == "L0"
    assert index.ungrouped == ("nv/img_nv_2.jpg",)


def test_scan_rejects_missing_paths_and_folders_without_images(tmp_path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        scan(tmp_path / "nope")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    (tmp_path / "empty" / "a" / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match="no images"):
        scan(tmp_path / "empty")


def _inject_problems(root):
    """Corrupt, truncated, non-image, tiny, duplicate, cross-class and near-duplicate files."""
    cats, dogs = root / "cats", root / "dogs"
    (cats / "corrupt.jpg").write_bytes(b"this is not a jpeg at all")
    whole = jpeg_bytes(make_image(np.random.default_rng(9), (10, 10, 10), 96))
    (cats / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (cats / "notes.txt").write_text("labels are in the folder names")
    Image.new("RGB", (20, 20), "white").save(cats / "tiny.png")
    shutil.copy(cats / "img_cats_0.jpg", cats / "copy_of_0.jpg")
    shutil.copy(cats / "img_cats_1.jpg", dogs / "filed_twice.jpg")
    Image.open(cats / "img_cats_2.jpg").save(cats / "resaved_2.jpg", quality=70)
    (root / "stray.jpg").write_bytes((cats / "img_cats_3.jpg").read_bytes())


def test_validation_finds_injected_problems_with_example_files(dataset) -> None:
    _inject_problems(dataset)
    report = validate(dataset)
    found = {f.code: f for f in report.findings}
    assert found["non_image"].examples == ("cats/notes.txt", "cats/corrupt.jpg")
    assert found["truncated"].examples == ("cats/truncated.jpg",)
    assert "cats/tiny.png" in found["too_small"].examples
    assert found["exact_duplicates"].groups == (("cats/copy_of_0.jpg", "cats/img_cats_0.jpg"),)
    assert found["label_conflict"].groups == (("cats/img_cats_1.jpg", "dogs/filed_twice.jpg"),)
    assert ("cats/img_cats_2.jpg", "cats/resaved_2.jpg") in found["near_duplicates"].groups
    assert found["stray_files"].examples == ("stray.jpg",)
    assert found["too_few_images"].examples == ("cats", "dogs")  # under 20 each
    assert not report.ok  # truncated + label conflict are errors
    for finding in report.findings:
        assert finding.message
        assert finding.suggestion
        assert finding.severity in ("error", "warning", "info")
    assert json.loads(json.dumps(report.to_dict()))["ok"] is False


def test_validation_of_a_clean_dataset_has_no_errors(tmp_path) -> None:
    report = validate(make_dataset(tmp_path / "ok", {"a": 20, "b": 25}, size=64))
    assert report.ok
    assert report.class_counts == {"a": 20, "b": 25}
    assert report.imbalance_ratio == 1.25
    assert report.codes() == set()


def test_clean_keeps_one_copy_and_drops_label_conflicts(dataset) -> None:
    _inject_problems(dataset)
    index = scan(dataset)
    kept, infos, summary = clean(index, inspect_images(index, perceptual=False))
    keys = kept.all_keys()
    assert ("cats/img_cats_0.jpg" in keys) != ("cats/copy_of_0.jpg" in keys)  # exactly one copy
    assert "cats/img_cats_1.jpg" not in keys
    assert "dogs/filed_twice.jpg" not in keys
    assert set(summary.unusable) == {"cats/corrupt.jpg", "cats/truncated.jpg"}
    assert summary.label_conflicts == ("cats/img_cats_1.jpg", "dogs/filed_twice.jpg")
    assert len(infos) == len(kept.records)


def test_label_mapping_merges_renames_and_drops(dataset, tmp_path) -> None:
    make_dataset(dataset, {"birds": 2}, seed=3)
    index = scan(dataset)
    mapped = LabelMapping({"cats": "pets", "dogs": "pets", "birds": None}).apply(index)
    assert mapped.class_counts == {"pets": 10}
    assert {r.folder for r in mapped.records} == {"cats", "dogs"}
    only_cats = LabelMapping({"cats": "cat"}, unmapped="drop").apply(index)
    assert only_cats.class_counts == {"cat": 6}
    with pytest.raises(DatasetError, match="does not have"):
        LabelMapping({"horses": "pets"}).apply(index)


def test_acne_seed_spec_merges_grades_and_adds_clear_from_another_folder(tmp_path) -> None:
    make_dataset(tmp_path / "acne04", dict.fromkeys(ACNE_SEED_MAPPING.rules, 2))
    make_dataset(tmp_path / "clear_skin_parent" / "clear_skin", {"x": 3}, seed=5)
    flat = tmp_path / "clear_skin_parent" / "clear_skin" / "x"
    spec = acne_seed_spec(tmp_path / "acne04", flat)
    index = spec.load()
    assert index.class_counts == {"clear": 3, "mild_moderate": 4, "severe": 4}
    assert any(k.startswith("x/") for k in index.all_keys())  # source-prefixed keys
    assert DataSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
