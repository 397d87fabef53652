"""Dataset validation report: every problem a training run would trip over, with example files.

Builds on ``ml.data.inspect``; must not import torch or Django. ``ValidationReport.to_dict()`` is
plain JSON for the web app.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ml.data.index import DatasetIndex, scan
from ml.data.inspect import (
    ImageInfo,
    ProgressHook,
    exact_duplicate_groups,
    inspect_images,
    near_duplicate_pairs,
)

Severity = Literal["error", "warning", "info"]
MAX_EXAMPLES = 10


@dataclass(frozen=True)
class Finding:
    """One kind of problem. ``examples`` are relative file paths; ``groups`` lists files that
    belong together (duplicates), each group a list of relative paths."""

    code: str
    severity: Severity
    message: str
    suggestion: str
    count: int
    examples: tuple[str, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class ValidationSettings:
    min_size: int = 64
    min_per_class: int = 20
    near_duplicate_distance: int = 4
    imbalance_warning: float = 10.0


@dataclass(frozen=True)
class ValidationReport:
    """The result of ``validate``: per-class counts, image size summary and findings."""

    root: str
    num_images: int
    classes: tuple[str, ...]
    class_counts: dict[str, int]
    imbalance_ratio: float
    image_sizes: dict[str, int]
    findings: tuple[Finding, ...]
    settings: ValidationSettings = field(default_factory=ValidationSettings)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def codes(self) -> set[str]:
        return {f.code for f in self.findings}

    def finding(self, code: str) -> Finding | None:
        return next((f for f in self.findings if f.code == code), None)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def validate(
    index_or_path: DatasetIndex | Path | str,
    *,
    settings: ValidationSettings | None = None,
    infos: Sequence[ImageInfo] | None = None,
    progress: ProgressHook | None = None,
    **scan_kwargs: Any,
) -> ValidationReport:
    """Inspect every file of a dataset (or reuse ``infos``) and report what is wrong with it."""
    index = index_or_path
    if not isinstance(index, DatasetIndex):
        index = scan(index, **scan_kwargs)
    if infos is None:
        infos = inspect_images(index, progress=progress)
    return build_report(index, infos, settings or ValidationSettings())


def build_report(
    index: DatasetIndex, infos: Sequence[ImageInfo], settings: ValidationSettings
) -> ValidationReport:
    usable = [i for i in infos if i.status == "ok"]
    counts = Counter(i.label for i in usable)
    class_counts = {c: counts.get(c, 0) for c in index.classes}
    nonzero = [n for n in class_counts.values() if n]
    ratio = max(nonzero) / min(nonzero) if nonzero else 0.0
    findings = [
        *_file_findings(index, infos, settings),
        *_duplicate_findings(infos, settings),
        *_class_findings(class_counts, ratio, settings),
    ]
    return ValidationReport(
        root=", ".join(s.root for s in index.sources),
        num_images=len(usable),
        classes=index.classes,
        class_counts=class_counts,
        imbalance_ratio=round(ratio, 3),
        image_sizes=_size_summary(usable),
        findings=tuple(f for f in findings if f is not None),
        settings=settings,
    )


def _size_summary(usable: Sequence[ImageInfo]) -> dict[str, int]:
    if not usable:
        return {}
    sides = [min(i.width, i.height) for i in usable]
    return {
        "min_side": min(sides),
        "median_side": int(statistics.median(sides)),
        "max_side": max(sides),
    }


def _finding(
    code: str,
    severity: Severity,
    keys: Sequence[str],
    message: str,
    suggestion: str,
    groups: Sequence[Sequence[str]] = (),
) -> Finding | None:
    if not keys and not groups:
        return None
    count = len(groups) if groups else len(keys)
    return Finding(
        code=code,
        severity=severity,
        message=message.format(n=count),
        suggestion=suggestion,
        count=count,
        examples=tuple(keys[:MAX_EXAMPLES]),
        groups=tuple(tuple(g) for g in groups[:MAX_EXAMPLES]),
    )


def _file_findings(
    index: DatasetIndex, infos: Sequence[ImageInfo], settings: ValidationSettings
) -> list[Finding | None]:
    by_status = {
        s: [i.key for i in infos if i.status == s] for s in ("non_image", "unreadable", "truncated")
    }
    small = [
        i.key for i in infos if i.status == "ok" and min(i.width, i.height) < settings.min_size
    ]
    return [
        _finding(
            "non_image",
            "warning",
            [*index.non_image_files, *by_status["non_image"]],
            "{n} file(s) in class folders are not images",
            "Remove them; they are skipped during training.",
        ),
        _finding(
            "unreadable",
            "error",
            by_status["unreadable"],
            "{n} image file(s) cannot be decoded",
            "Re-export or delete them; they are skipped during training.",
        ),
        _finding(
            "truncated",
            "error",
            by_status["truncated"],
            "{n} image file(s) are truncated (incomplete download or copy)",
            "Copy them again from the original source, or delete them.",
        ),
        _finding(
            "too_small",
            "warning",
            small,
            f"{{n}} image(s) have a side under {settings.min_size} px",
            "Use larger originals; tiny images carry too little detail to learn from.",
        ),
        _finding(
            "stray_files",
            "warning",
            list(index.stray_files),
            "{n} image(s) lie outside any class folder and are ignored",
            "Move each into the folder named after its class.",
        ),
        _finding(
            "missing_group",
            "warning",
            list(index.ungrouped),
            "{n} image(s) are not listed in the group CSV; each becomes its own group",
            "Add them to the CSV so images of one lesion/person stay in one split.",
        ),
    ]


def _duplicate_findings(
    infos: Sequence[ImageInfo], settings: ValidationSettings
) -> list[Finding | None]:
    same_class, conflicts = [], []
    for group in exact_duplicate_groups(infos):
        keys = [infos[i].key for i in group]
        labels = {infos[i].label for i in group}
        (conflicts if len(labels) > 1 else same_class).append(keys)
    pairs = near_duplicate_pairs(infos, settings.near_duplicate_distance)
    near = [[infos[a].key, infos[b].key] for a, b in pairs]
    return [
        _finding(
            "label_conflict",
            "error",
            [k for g in conflicts for k in g],
            "{n} set(s) of identical files are filed under two or more classes",
            "Decide the right class and delete the other copies; training drops them.",
            groups=conflicts,
        ),
        _finding(
            "exact_duplicates",
            "warning",
            [k for g in same_class for k in g],
            "{n} group(s) of identical files within a class",
            "Keep one copy; training keeps one and never splits copies apart.",
            groups=same_class,
        ),
        _finding(
            "near_duplicates",
            "info",
            [k for g in near for k in g],
            "{n} pair(s) of visually near-identical images (perceptual hash)",
            "Check they are not the same photo re-saved; they are kept in the same split.",
            groups=near,
        ),
    ]


def _class_findings(
    counts: dict[str, int], ratio: float, settings: ValidationSettings
) -> list[Finding | None]:
    few = [c for c, n in counts.items() if n < settings.min_per_class]
    out = [
        _finding(
            "too_few_images",
            "error" if any(counts[c] < 2 for c in few) else "warning",
            few,
            f"{{n}} class(es) have fewer than {settings.min_per_class} usable images",
            "Add images, or merge/drop the class with a label mapping.",
        ),
    ]
    if len(counts) < 2:
        out.append(
            Finding(
                "too_few_classes",
                "error",
                "A classifier needs at least two classes",
                "Add a folder per class.",
                len(counts),
                tuple(counts),
            )
        )
    if ratio > settings.imbalance_warning or ratio > 3:
        severity: Severity = "warning" if ratio > settings.imbalance_warning else "info"
        largest, smallest = max(counts, key=counts.__getitem__), min(counts, key=counts.__getitem__)
        message = (
            f"class imbalance {ratio:.1f}:1 "
            f"({largest} {counts[largest]} vs {smallest} {counts[smallest]})"
        )
        out.append(
            Finding(
                "class_imbalance",
                severity,
                message,
                "Use class_weights='balanced' or sampler='balanced'; read balanced "
                "accuracy and macro F1, not accuracy.",
                1,
                (),
            )
        )
    return out
