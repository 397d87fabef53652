"""Cleaning before training: drop unusable files, extra copies of duplicates, label conflicts.

Pure Python; must not import torch or Django.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ml.data.index import DatasetIndex
from ml.data.inspect import ImageInfo


@dataclass(frozen=True)
class CleanSummary:
    """Relative paths removed, by reason."""

    unusable: tuple[str, ...] = ()
    duplicate_copies: tuple[str, ...] = ()
    label_conflicts: tuple[str, ...] = ()

    @property
    def removed(self) -> int:
        return len(self.unusable) + len(self.duplicate_copies) + len(self.label_conflicts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def clean(
    index: DatasetIndex,
    infos: Sequence[ImageInfo],
    *,
    drop_duplicates: bool = True,
    drop_label_conflicts: bool = True,
) -> tuple[DatasetIndex, list[ImageInfo], CleanSummary]:
    """Keep decodable images; keep one copy per identical file; drop files whose identical
    copies carry different labels (after any label mapping). Order is preserved."""
    labels_by_hash: dict[str, set[str]] = defaultdict(set)
    for info in infos:
        if info.status == "ok" and info.sha256:
            labels_by_hash[info.sha256].add(info.label)
    seen: set[tuple[str, str]] = set()
    kept_records, kept_infos = [], []
    removed: dict[str, list[str]] = {"unusable": [], "duplicate_copies": [], "label_conflicts": []}
    for record, info in zip(index.records, infos, strict=True):
        reason = None
        if info.status != "ok":
            reason = "unusable"
        elif drop_label_conflicts and len(labels_by_hash[info.sha256 or ""]) > 1:
            reason = "label_conflicts"
        elif drop_duplicates and (info.sha256 or "", info.label) in seen:
            reason = "duplicate_copies"
        if reason:
            removed[reason].append(info.key)
            continue
        seen.add((info.sha256 or "", info.label))
        kept_records.append(record)
        kept_infos.append(info)
    summary = CleanSummary(**{k: tuple(v) for k, v in removed.items()})
    return index.with_records(kept_records), kept_infos, summary
