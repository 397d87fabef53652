"""Label mappings (merge, drop, rename classes) and multi-source dataset specs.

Pure Python; must not import torch or Django. The acne "seed paper" scheme lives here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ml.data.index import DatasetError, DatasetIndex, concat, scan


@dataclass(frozen=True)
class LabelMapping:
    """``rules`` maps a folder (or current class) name to a new class, or to None to drop it.
    Several names mapping to one class merge them; unmapped classes are kept or dropped."""

    rules: Mapping[str, str | None] = field(default_factory=dict)
    unmapped: Literal["keep", "drop"] = "keep"

    def __post_init__(self) -> None:
        if self.unmapped not in ("keep", "drop"):
            raise ValueError(f"unmapped must be 'keep' or 'drop', not {self.unmapped!r}")

    def target(self, label: str) -> str | None:
        if label in self.rules:
            return self.rules[label]
        return label if self.unmapped == "keep" else None

    def apply(self, index: DatasetIndex) -> DatasetIndex:
        unknown = set(self.rules) - {r.label for r in index.records}
        if unknown:
            raise DatasetError(
                f"label mapping names classes the dataset does not have: {sorted(unknown)}; "
                f"it has {list(index.classes)}"
            )
        records = []
        for record in index.records:
            new = self.target(record.label)
            if new is not None:
                records.append(replace(record, label=new))
        if not records:
            raise DatasetError("label mapping dropped every image")
        return index.with_records(records)

    @classmethod
    def merge(
        cls, groups: Mapping[str, Sequence[str]], *, drop: Sequence[str] = ()
    ) -> LabelMapping:
        """``LabelMapping.merge({"severe": ["levle2_severe", "levle3_very_severe"]})``."""
        rules: dict[str, str | None] = {old: new for new, olds in groups.items() for old in olds}
        rules.update(dict.fromkeys(drop))
        return cls(rules=rules)

    def to_dict(self) -> dict[str, Any]:
        return {"rules": dict(self.rules), "unmapped": self.unmapped}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelMapping:
        return cls(rules=dict(data.get("rules", {})), unmapped=data.get("unmapped", "keep"))


# ACNE04 (Wu et al. 2019) Hayashi grades merged as the seed paper frames severity.
ACNE_SEED_MAPPING = LabelMapping.merge(
    {
        "mild_moderate": ["levle0_mild", "levle1_moderate"],
        "severe": ["levle2_severe", "levle3_very_severe"],
    }
)
ACNE_CLEAR_CLASS = "clear"


@dataclass(frozen=True)
class SourceSpec:
    """One dataset source: a folder-per-class dir/zip, or (``as_class``) a flat folder of one
    class; with an optional label mapping applied to it alone."""

    path: str
    as_class: str | None = None
    mapping: LabelMapping | None = None
    group_csv: str | None = None
    group_column: str = "lesion_id"
    id_column: str = "image_id"

    def load(self) -> DatasetIndex:
        index = scan(
            Path(self.path),
            group_csv=self.group_csv,
            group_column=self.group_column,
            id_column=self.id_column,
            as_class=self.as_class,
        )
        return self.mapping.apply(index) if self.mapping else index


@dataclass(frozen=True)
class DataSpec:
    """A dataset built from one or more sources; JSON round-trip through to_dict/from_dict."""

    sources: tuple[SourceSpec, ...]

    def load(self) -> DatasetIndex:
        if not self.sources:
            raise DatasetError("a data spec needs at least one source")
        indexes = [s.load() for s in self.sources]
        return indexes[0] if len(indexes) == 1 else concat(*indexes)

    def to_dict(self) -> dict[str, Any]:
        out = []
        for s in self.sources:
            item = asdict(s)
            item["mapping"] = s.mapping.to_dict() if s.mapping else None
            out.append(item)
        return {"sources": out}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataSpec:
        sources = []
        for item in data["sources"]:
            item = dict(item)
            mapping = item.pop("mapping", None)
            sources.append(
                SourceSpec(**item, mapping=LabelMapping.from_dict(mapping) if mapping else None)
            )
        return cls(sources=tuple(sources))


def acne_seed_spec(acne04: Path | str, clear_skin: Path | str) -> DataSpec:
    """ACNE04 grades 0+1 -> mild_moderate, 2+3 -> severe, plus ``clear`` from another folder.

    The clear class comes from a different source (camera, setting): a model can learn the
    photo source instead of the skin. Report it beside the figures.
    """
    return DataSpec(
        sources=(
            SourceSpec(path=str(acne04), mapping=ACNE_SEED_MAPPING),
            SourceSpec(path=str(clear_skin), as_class=ACNE_CLEAR_CLASS),
        )
    )
