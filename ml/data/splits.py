"""Stratified, group-aware train/validation/test splits; duplicates never straddle splits.

Pure Python; must not import torch or Django.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ml.data.index import DatasetIndex, ImageRecord
from ml.data.inspect import ImageInfo, clusters, exact_duplicate_groups, near_duplicate_pairs

SPLIT_NAMES = ("train", "val", "test")
GroupKey = str | Callable[[ImageRecord], str | None] | None


@dataclass(frozen=True)
class Splits:
    """Relative file paths (``DatasetIndex.key``) per split, and how they were drawn."""

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]
    seed: int = 0
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    grouped: bool = False

    def keys(self, name: str) -> tuple[str, ...]:
        if name not in SPLIT_NAMES:
            raise KeyError(f"unknown split {name!r}; use one of {SPLIT_NAMES}")
        return getattr(self, name)

    def records(self, index: DatasetIndex, name: str) -> list[ImageRecord]:
        by_key = {index.key(r): r for r in index.records}
        missing = [k for k in self.keys(name) if k not in by_key]
        if missing:
            raise KeyError(
                f"{len(missing)} file(s) of the {name} split are not in the dataset, "
                f"e.g. {missing[:3]}"
            )
        return [by_key[k] for k in self.keys(name)]

    def class_counts(self, index: DatasetIndex) -> dict[str, dict[str, int]]:
        label = {index.key(r): r.label for r in index.records}
        return {
            n: dict(sorted(Counter(label[k] for k in self.keys(n)).items())) for n in SPLIT_NAMES
        }

    def fingerprint(self) -> str:
        text = json.dumps([self.train, self.val, self.test])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Splits:
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        for name in SPLIT_NAMES:
            fields[name] = tuple(fields.get(name, ()))
        return cls(**fields)

    def save(self, path: Path, **extra: Any) -> None:
        path.write_text(json.dumps({**self.to_dict(), **extra}, indent=1))

    @classmethod
    def load(cls, path: Path) -> Splits:
        return cls.from_dict(json.loads(path.read_text()))


def split(
    index: DatasetIndex,
    *,
    val: float = 0.15,
    test: float = 0.15,
    seed: int = 0,
    group_key: GroupKey = "group",
    infos: Sequence[ImageInfo] | None = None,
    near_duplicate_distance: int = 4,
) -> Splits:
    """Assign whole units (a group, plus every exact or near duplicate of its images) to splits
    so each split's class mix approaches its fraction. Deterministic for a given seed.

    ``group_key`` is a record attribute name, a function of the record, or None (no grouping).
    Without ``infos`` exact duplicates are found by hashing the file bytes.
    """
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ValueError(f"val ({val}) and test ({test}) must be in [0, 1) and sum below 1")
    keys = index.all_keys()
    labels = [r.label for r in index.records]
    unit_of = _units(index, group_key, infos, near_duplicate_distance)
    members: dict[int, list[int]] = {}
    for i, unit in enumerate(unit_of):
        members.setdefault(unit, []).append(i)
    order = list(members.values())
    random.Random(seed).shuffle(order)  # noqa: S311 - reproducible, not secret
    order.sort(key=len, reverse=True)  # stable: big units first, random among equals
    fractions = {"train": 1 - val - test, "val": val, "test": test}
    assigned = _assign(order, labels, fractions)
    out = {n: tuple(keys[i] for i in sorted(assigned[n])) for n in SPLIT_NAMES}
    grouped = group_key is not None and any(r.group for r in index.records)
    return Splits(**out, seed=seed, val_fraction=val, test_fraction=test, grouped=grouped)


def _units(
    index: DatasetIndex,
    group_key: GroupKey,
    infos: Sequence[ImageInfo] | None,
    near_distance: int,
) -> list[int]:
    records = index.records
    if infos is None:
        infos = _hash_only(index)
    links: list[list[int]] = list(exact_duplicate_groups(infos))
    links += [list(p) for p in near_duplicate_pairs(infos, near_distance)]
    if group_key is not None:
        get = group_key if callable(group_key) else (lambda r: getattr(r, group_key))
        by_group: dict[str, list[int]] = {}
        for i, record in enumerate(records):
            group = get(record)
            if group:
                by_group.setdefault(f"{record.source}:{group}", []).append(i)
        links += list(by_group.values())
    return clusters(len(records), links)


def _hash_only(index: DatasetIndex) -> list[ImageInfo]:
    with index.reader() as read:
        return [
            ImageInfo(index.key(r), r.label, "ok", hashlib.sha256(read(r)).hexdigest())
            for r in index.records
        ]


def _assign(
    units: Sequence[Sequence[int]], labels: Sequence[str], fractions: dict[str, float]
) -> dict[str, list[int]]:
    totals = Counter(labels)
    target = {s: {c: f * n for c, n in totals.items()} for s, f in fractions.items()}
    current = {s: Counter[str]() for s in fractions}
    assigned: dict[str, list[int]] = {s: [] for s in fractions}
    for unit in units:
        counts = Counter(labels[i] for i in unit)
        best, best_need = "train", float("-inf")
        for s in SPLIT_NAMES:
            if fractions[s] <= 0:
                continue
            need = sum(
                n * (target[s][c] - current[s][c]) / max(target[s][c], 1e-9)
                for c, n in counts.items()
            )
            if need > best_need + 1e-12:
                best, best_need = s, need
        assigned[best] += list(unit)
        current[best].update(counts)
    return assigned
