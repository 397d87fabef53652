"""Dataset indexing: a folder per class, read from a directory or a trusted zip archive.

Pure Python; must not import torch or Django. Extracting untrusted uploads safely is the web app's
job; here a zip is read in place, entry by entry.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Literal

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
_IGNORED_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})
GROUP_CSV_NAMES = ("metadata.csv", "groups.csv")


class DatasetError(ValueError):
    """The path cannot be read as a dataset (missing, not a folder or zip, no class folders)."""


@dataclass(frozen=True)
class Source:
    """One place images come from: a directory or a zip, with class folders under ``prefix``."""

    name: str
    root: str
    kind: Literal["dir", "zip"]
    prefix: str = ""
    group_csv: str | None = None


@dataclass(frozen=True)
class ImageRecord:
    """One image file. ``path`` is relative to its source's class-folder level: ``folder/file``."""

    path: str
    label: str
    folder: str
    source: int = 0
    group: str | None = None


@dataclass(frozen=True)
class DatasetIndex:
    """Every image of a dataset with its class, plus the files that are not usable images."""

    sources: tuple[Source, ...]
    records: tuple[ImageRecord, ...]
    non_image_files: tuple[str, ...] = ()
    stray_files: tuple[str, ...] = ()
    ungrouped: tuple[str, ...] = field(default=())

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(sorted({r.label for r in self.records}))

    @property
    def class_counts(self) -> dict[str, int]:
        counts = Counter(r.label for r in self.records)
        return {c: counts[c] for c in self.classes}

    def key(self, record: ImageRecord) -> str:
        """A stable, human-readable relative path naming the file across all sources."""
        if len(self.sources) == 1:
            return record.path
        return f"{self.sources[record.source].name}/{record.path}"

    def all_keys(self) -> list[str]:
        return [self.key(r) for r in self.records]

    def with_records(self, records: Sequence[ImageRecord]) -> DatasetIndex:
        return replace(self, records=tuple(records))

    @contextmanager
    def reader(self) -> Iterator[Callable[[ImageRecord], bytes]]:
        """Yield a function returning a record's bytes; zip archives stay open meanwhile."""
        archives: dict[int, zipfile.ZipFile] = {}

        def read(record: ImageRecord) -> bytes:
            src = self.sources[record.source]
            if src.kind == "dir":
                return (Path(src.root) / src.prefix / record.path).read_bytes()
            if record.source not in archives:
                archives[record.source] = zipfile.ZipFile(src.root)
            return archives[record.source].read(_join(src.prefix, record.path))

        try:
            yield read
        finally:
            for archive in archives.values():
                archive.close()


def scan(
    path: Path | str,
    *,
    group_csv: Path | str | None = None,
    group_column: str = "lesion_id",
    id_column: str = "image_id",
    as_class: str | None = None,
    name: str | None = None,
) -> DatasetIndex:
    """Index a folder-per-class dataset in a directory or a .zip.

    A single wrapping folder (``ham10000/images/<class>/``) is descended into. With ``as_class``
    the path is one flat folder of images of that class. A ``metadata.csv`` next to the class
    folders (or ``group_csv``) maps file stems in ``id_column`` to groups in ``group_column``.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path} does not exist")
    if path.is_dir():
        names = [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()]
        kind: Literal["dir", "zip"] = "dir"
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [i.filename for i in archive.infolist() if not i.is_dir()]
        kind = "zip"
    else:
        raise DatasetError(f"{path} is neither a directory nor a zip archive")
    names = [n for n in names if not _ignored(n)]
    prefix = "" if as_class else _class_level(names)
    source = Source(name=name or path.stem, root=str(path), kind=kind, prefix=prefix)
    index = _index_names(source, names, as_class)
    csv_text = _group_csv_text(path, kind, names, prefix, group_csv)
    if csv_text is None:
        return index
    source = replace(source, group_csv=str(group_csv) if group_csv else "metadata.csv")
    return _attach_groups(replace(index, sources=(source,)), csv_text, group_column, id_column)


def concat(*indexes: DatasetIndex) -> DatasetIndex:
    """One dataset from several (e.g. ACNE04 grades + a clear-skin folder); keys get prefixes."""
    sources: list[Source] = []
    records: list[ImageRecord] = []
    extra: dict[str, list[str]] = {"non_image_files": [], "stray_files": [], "ungrouped": []}
    for index in indexes:
        offset = len(sources)
        for src in index.sources:
            taken = {s.name for s in sources}
            unique = src.name if src.name not in taken else f"{src.name}_{len(sources)}"
            sources.append(replace(src, name=unique))
        records += [replace(r, source=r.source + offset) for r in index.records]
        for attr, values in extra.items():
            prefix = "" if len(index.sources) > 1 else f"{sources[offset].name}/"
            values += [prefix + v for v in getattr(index, attr)]
    return DatasetIndex(
        sources=tuple(sources),
        records=tuple(records),
        **{k: tuple(v) for k, v in extra.items()},
    )


def _join(prefix: str, rel: str) -> str:
    return f"{prefix}/{rel}" if prefix else rel


def _ignored(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts) or (
        parts[-1].lower() in _IGNORED_NAMES
    )


def _is_image_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES


def _class_level(names: Sequence[str]) -> str:
    """Descend through single wrapping folders that hold no images of their own."""
    prefix: tuple[str, ...] = ()
    while True:
        below = [PurePosixPath(n).parts[len(prefix) :] for n in names if _under(n, prefix)]
        dirs = {p[0] for p in below if len(p) > 1}
        loose_images = [p for p in below if len(p) == 1 and _is_image_name(p[0])]
        if len(dirs) != 1 or loose_images:
            return "/".join(prefix)
        only = next(iter(dirs))
        has_subdirs = any(len(p) > 2 for p in below if p[0] == only)
        if not has_subdirs:
            return "/".join(prefix)
        prefix = (*prefix, only)


def _under(name: str, prefix: tuple[str, ...]) -> bool:
    return PurePosixPath(name).parts[: len(prefix)] == prefix


def _index_names(source: Source, names: Sequence[str], as_class: str | None) -> DatasetIndex:
    prefix = tuple(PurePosixPath(source.prefix).parts) if source.prefix else ()
    records, non_images, strays = [], [], []
    for name in sorted(names):
        if not _under(name, prefix):
            continue
        rel = PurePosixPath(*PurePosixPath(name).parts[len(prefix) :])
        if as_class is None and len(rel.parts) == 1:
            if _is_image_name(name):
                strays.append(rel.as_posix())
            continue
        folder = as_class if as_class is not None else rel.parts[0]
        if not _is_image_name(name):
            non_images.append(rel.as_posix())
            continue
        records.append(ImageRecord(path=rel.as_posix(), label=folder, folder=folder))
    if not records:
        raise DatasetError(f"{source.root}: no images found in class folders")
    return DatasetIndex(
        sources=(source,),
        records=tuple(records),
        non_image_files=tuple(non_images),
        stray_files=tuple(strays),
    )


def _group_csv_text(
    path: Path, kind: str, names: Sequence[str], prefix: str, group_csv: Path | str | None
) -> str | None:
    if group_csv is not None:
        return Path(group_csv).read_text(encoding="utf-8-sig")
    candidates = [
        _join("/".join(PurePosixPath(prefix).parts[:depth]), csv_name)
        for depth in range(len(PurePosixPath(prefix).parts), -1, -1)
        for csv_name in GROUP_CSV_NAMES
    ]
    for candidate in candidates:
        if candidate not in names:
            continue
        if kind == "dir":
            return (path / candidate).read_text(encoding="utf-8-sig")
        with zipfile.ZipFile(path) as archive:
            return archive.read(candidate).decode("utf-8-sig")
    return None


def _attach_groups(
    index: DatasetIndex, csv_text: str, group_column: str, id_column: str
) -> DatasetIndex:
    reader = csv.DictReader(io.StringIO(csv_text))
    columns = reader.fieldnames or []
    if group_column not in columns or id_column not in columns:
        if index.sources[0].group_csv == "metadata.csv":
            # An auto-discovered CSV without the columns is just unrelated metadata.
            return replace(index, sources=(replace(index.sources[0], group_csv=None),))
        raise DatasetError(
            f"group CSV needs columns {id_column!r} and {group_column!r}; it has {columns}"
        )
    groups = {row[id_column]: row[group_column] for row in reader if row.get(group_column)}
    records, ungrouped = [], []
    for record in index.records:
        group = groups.get(PurePosixPath(record.path).stem)
        if group is None:
            ungrouped.append(record.path)
        records.append(replace(record, group=group))
    return replace(index, records=tuple(records), ungrouped=tuple(ungrouped))
