"""ml.data.split: stratified, seeded, group-aware; duplicates never straddle two splits."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.data import DatasetIndex, ImageRecord, Source, Splits, split
from ml.data.inspect import ImageInfo


def _index(labels: list[str], groups: list[str | None]) -> DatasetIndex:
    records = tuple(
        ImageRecord(path=f"{lab}/{i}.jpg", label=lab, folder=lab, group=g)
        for i, (lab, g) in enumerate(zip(labels, groups, strict=True))
    )
    return DatasetIndex(sources=(Source("s", "/nowhere", "dir"),), records=records)


def _infos(index: DatasetIndex, content: list[int]) -> list[ImageInfo]:
    """One ImageInfo per record; equal ``content`` numbers mean byte-identical files."""
    return [
        ImageInfo(index.key(r), r.label, "ok", hashlib.sha256(str(c).encode()).hexdigest())
        for r, c in zip(index.records, content, strict=True)
    ]


def _split_of(splits: Splits) -> dict[str, str]:
    return {k: name for name in ("train", "val", "test") for k in splits.keys(name)}


@settings(max_examples=40, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 25)), min_size=5, max_size=150),
    seed=st.integers(0, 1000),
)
def test_grouped_split_never_leaks_a_group(data, seed) -> None:
    labels = [f"c{lab}" for lab, _ in data]
    groups = [f"g{g}" for _, g in data]
    index = _index(labels, groups)
    splits = split(index, val=0.2, test=0.2, seed=seed, infos=_infos(index, list(range(len(data)))))
    where = _split_of(splits)
    assert len(where) == len(data)  # every image in exactly one split
    by_group: dict[str, set[str]] = {}
    for record, key in zip(index.records, index.all_keys(), strict=True):
        by_group.setdefault(record.group, set()).add(where[key])
    assert all(len(s) == 1 for s in by_group.values())


@settings(max_examples=30, deadline=None)
@given(content=st.lists(st.integers(0, 30), min_size=5, max_size=120), seed=st.integers(0, 99))
def test_identical_files_never_straddle_splits(content, seed) -> None:
    labels = ["a" if i % 3 else "b" for i in range(len(content))]
    index = _index(labels, [None] * len(content))
    splits = split(index, val=0.15, test=0.15, seed=seed, infos=_infos(index, content))
    where = _split_of(splits)
    by_content: dict[int, set[str]] = {}
    for c, key in zip(content, index.all_keys(), strict=True):
        by_content.setdefault(c, set()).add(where[key])
    assert all(len(s) == 1 for s in by_content.values())


def test_split_is_stratified_and_seeded() -> None:
    labels = ["big"] * 400 + ["small"] * 40
    index = _index(labels, [None] * len(labels))
    infos = _infos(index, list(range(len(labels))))
    splits = split(index, val=0.15, test=0.15, seed=1, infos=infos)
    counts = splits.class_counts(index)
    assert counts["val"] == {"big": 60, "small": 6}
    assert counts["test"] == {"big": 60, "small": 6}
    assert counts["train"] == {"big": 280, "small": 28}
    assert split(index, val=0.15, test=0.15, seed=1, infos=infos) == splits
    assert split(index, val=0.15, test=0.15, seed=2, infos=infos).val != splits.val


def test_split_rejects_bad_fractions() -> None:
    index = _index(["a", "b"], [None, None])
    with pytest.raises(ValueError, match="sum below 1"):
        split(index, val=0.6, test=0.5)


def test_splits_round_trip_through_json(tmp_path) -> None:
    labels = ["a", "b"] * 20
    groups = [f"g{i // 4}" for i in range(40)]
    index = _index(labels, groups)
    splits = split(index, seed=3, infos=_infos(index, list(range(40))))
    assert splits.grouped
    splits.save(tmp_path / "splits.json", note="extra keys are ignored on load")
    loaded = Splits.load(tmp_path / "splits.json")
    assert loaded == splits
    assert [r.path for r in loaded.records(index, "test")] == list(splits.test)
    assert Counter(len(splits.keys(n)) > 0 for n in ("train", "val", "test")) == {True: 3}
