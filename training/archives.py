"""Dataset archives: a synchronous pre-check of a zip's central directory, and a streaming
extraction that enforces the same limits again on the bytes actually read (headers lie).

Plain Python (zipfile + hashlib): knows nothing of models, requests or ml/.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

MiB = 1024 * 1024
CHUNK = MiB
# Files every OS sprinkles into archives; never part of a dataset.
IGNORED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
IGNORED_DIRS = {"__MACOSX"}


@dataclass(frozen=True)
class Limits:
    max_files: int
    max_total_bytes: int
    max_ratio: float
    # The ratio rules only bite above these sizes: a 40-byte text file compressed to 2 bytes is
    # no bomb.
    ratio_min_file_bytes: int = MiB
    ratio_min_total_bytes: int = 64 * MiB


class ArchiveRejected(Exception):
    """The archive breaks a rule; `rule` is a stable code, `message` says it to a person."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


@dataclass
class ArchiveSummary:
    file_count: int
    total_bytes: int
    strip_prefix: str = ""


@dataclass
class ExtractedTree:
    files: list[tuple[str, str, int]] = field(default_factory=list)  # (relpath, sha256, size)
    total_bytes: int = 0

    @property
    def sha256(self) -> str:
        return content_hash(self.files)


def content_hash(files: Iterable[tuple[str, str, int]]) -> str:
    digest = hashlib.sha256()
    for relpath, file_sha, size in sorted(files):
        digest.update(f"{relpath}\0{file_sha}\0{size}\n".encode())
    return digest.hexdigest()


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _is_ignored(parts: tuple[str, ...]) -> bool:
    return (
        any(p in IGNORED_DIRS for p in parts)
        or parts[-1] in IGNORED_NAMES
        or parts[-1].startswith("._")
    )


def _safe_parts(name: str) -> tuple[str, ...]:
    """The path components of an entry name, or ArchiveRejected if it could land outside the
    extraction folder (.., absolute, drive letters, NUL bytes)."""
    normalized = name.replace("\\", "/")
    if "\0" in normalized:
        raise ArchiveRejected("path_traversal", f"Entry {name!r} has a NUL byte in its name.")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        raise ArchiveRejected(
            "path_traversal",
            f"Entry {name!r} has an absolute path; entries must be relative (class/image.jpg).",
        )
    parts = tuple(p for p in PurePosixPath(normalized).parts if p not in ("", "."))
    if ".." in parts:
        raise ArchiveRejected(
            "path_traversal",
            f"Entry {name!r} points outside the archive's folder (..); refused.",
        )
    return parts


def _is_dir(info: zipfile.ZipInfo) -> bool:
    # zipfile's ZipInfo.is_dir() raises IndexError on an empty entry name (found by fuzzing).
    return info.filename.endswith("/")


def _is_link(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return stat.S_ISLNK(mode)


def _strip_prefix(file_parts: list[tuple[str, ...]]) -> str:
    """One folder around everything (data/mel/x.jpg, data/nv/y.jpg) is dropped so that class
    folders sit at the top; a lone class folder (mel/x.jpg) is kept."""
    if not file_parts:
        return ""
    first = file_parts[0][0]
    if all(len(p) >= 3 and p[0] == first for p in file_parts):
        return first + "/"
    return ""


def precheck(source: str | os.PathLike | BinaryIO, limits: Limits) -> ArchiveSummary:
    """Read only the central directory and refuse what breaks a rule. Nothing is extracted."""
    try:
        archive = zipfile.ZipFile(source)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        EOFError,
        ValueError,
        NotImplementedError,
    ) as exc:
        raise ArchiveRejected(
            "not_a_zip", f"This file is not a readable zip archive ({exc})."
        ) from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_files:
            raise ArchiveRejected(
                "too_many_files",
                f"The archive has {len(infos):,} entries; the limit is {limits.max_files:,}.",
            )
        archive_size = _archive_size(source)
        return _check_entries(infos, limits, archive_size)


def _archive_size(source) -> int:
    if isinstance(source, str | os.PathLike):
        return os.path.getsize(source)
    position = source.tell()
    source.seek(0, os.SEEK_END)
    size = source.tell()
    source.seek(position)
    return size


def _check_entries(
    infos: list[zipfile.ZipInfo], limits: Limits, archive_size: int
) -> ArchiveSummary:
    seen: set[tuple[str, ...]] = set()
    file_parts: list[tuple[str, ...]] = []
    total = 0
    for info in infos:
        parts = _safe_parts(info.filename)
        if _is_link(info):
            raise ArchiveRejected(
                "link", f"Entry {info.filename!r} is a symbolic link; links are refused."
            )
        if info.flag_bits & 0x1:
            raise ArchiveRejected(
                "encrypted", f"Entry {info.filename!r} is encrypted; upload an unencrypted zip."
            )
        if not parts or _is_dir(info) or _is_ignored(parts):
            continue
        if parts in seen:
            raise ArchiveRejected(
                "duplicate_entry", f"Entry {info.filename!r} appears twice in the archive."
            )
        seen.add(parts)
        _check_file_ratio(info.filename, info.file_size, info.compress_size, limits)
        total += info.file_size
        if total > limits.max_total_bytes:
            raise ArchiveRejected(
                "total_size",
                f"The archive expands to more than {_fmt_bytes(limits.max_total_bytes)}; "
                "split it or raise the limit.",
            )
        file_parts.append(parts)
    _check_overall_ratio(total, archive_size, limits)
    _check_file_folder_clash(file_parts)
    if not file_parts:
        raise ArchiveRejected("empty", "The archive holds no files; expected one folder per class.")
    return ArchiveSummary(len(file_parts), total, _strip_prefix(file_parts))


def _check_file_folder_clash(file_parts: list[tuple[str, ...]]) -> None:
    """`mel` as a file and `mel/x.jpg` cannot both exist on disk (found by fuzzing)."""
    folders = {parts[:i] for parts in file_parts for i in range(1, len(parts))}
    for parts in file_parts:
        if parts in folders:
            name = "/".join(parts)
            raise ArchiveRejected(
                "path_conflict", f"Entry {name!r} is both a file and a folder in the archive."
            )


def _check_file_ratio(name: str, size: int, compressed: int, limits: Limits) -> None:
    if size > limits.ratio_min_file_bytes and size / max(compressed, 1) > limits.max_ratio:
        raise ArchiveRejected(
            "expansion_ratio",
            f"Entry {name!r} expands {size / max(compressed, 1):,.0f} times "
            f"(limit {limits.max_ratio:g}): this looks like a zip bomb.",
        )


def _check_overall_ratio(total: int, archive_size: int, limits: Limits) -> None:
    if total > limits.ratio_min_total_bytes and total / max(archive_size, 1) > limits.max_ratio:
        raise ArchiveRejected(
            "expansion_ratio",
            f"The archive expands {total / max(archive_size, 1):,.0f} times its size "
            f"(limit {limits.max_ratio:g}): this looks like a zip bomb.",
        )


def extract(archive_path: str | os.PathLike, dest: Path, limits: Limits) -> ExtractedTree:
    """Extract into `dest` (which must exist and be empty), streaming every entry and counting the
    bytes really produced. Raises ArchiveRejected or OSError; the caller removes `dest` then."""
    summary = precheck(archive_path, limits)
    archive_size = os.path.getsize(archive_path)
    tree = ExtractedTree()
    dest_resolved = dest.resolve()
    with zipfile.ZipFile(archive_path) as archive:
        for info in archive.infolist():
            parts = _safe_parts(info.filename)
            if not parts or _is_dir(info) or _is_ignored(parts):
                continue
            relpath = "/".join(parts)
            if summary.strip_prefix:
                relpath = relpath[len(summary.strip_prefix) :]
            target = dest_resolved / relpath
            if not target.resolve().is_relative_to(dest_resolved):
                raise ArchiveRejected("path_traversal", f"Entry {info.filename!r} escapes.")
            target.parent.mkdir(parents=True, exist_ok=True)
            file_sha, size = _stream_entry(archive, info, target, tree.total_bytes, limits)
            tree.total_bytes += size
            _check_overall_ratio(tree.total_bytes, archive_size, limits)
            tree.files.append((relpath, file_sha, size))
    return tree


def _stream_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, done: int, limits: Limits
) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with _open_entry(archive, info) as src, open(target, "xb") as out:
        for chunk in _read_chunks(src, info):
            size += len(chunk)
            if size > info.file_size:
                raise ArchiveRejected(
                    "size_mismatch",
                    f"Entry {info.filename!r} produces more bytes than its header declares.",
                )
            if done + size > limits.max_total_bytes:
                raise ArchiveRejected(
                    "total_size",
                    f"The archive expands to more than {_fmt_bytes(limits.max_total_bytes)}.",
                )
            _check_file_ratio(info.filename, size, info.compress_size, limits)
            digest.update(chunk)
            write_chunk(out, chunk)
    return digest.hexdigest(), size


# Errors of *reading* a damaged archive (bad offsets, bad deflate data, bad CRC...). Errors of
# writing the output (a full disk) are OSErrors too but come from write_chunk and propagate.
_READ_ERRORS = (
    zipfile.BadZipFile,
    EOFError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    OSError,
    zlib.error,
)


def _corrupt(info: zipfile.ZipInfo, exc: BaseException) -> ArchiveRejected:
    return ArchiveRejected("corrupt_archive", f"Entry {info.filename!r} could not be read: {exc}.")


def _open_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> BinaryIO:
    try:
        return archive.open(info)
    except _READ_ERRORS as exc:
        raise _corrupt(info, exc) from exc


def _read_chunks(src: BinaryIO, info: zipfile.ZipInfo) -> Iterable[bytes]:
    while True:
        try:
            chunk = src.read(CHUNK)
        except _READ_ERRORS as exc:
            raise _corrupt(info, exc) from exc
        if not chunk:
            return
        yield chunk


def write_chunk(out: BinaryIO, chunk: bytes) -> None:
    """The one place bytes hit the disk during extraction (a full disk raises OSError here)."""
    out.write(chunk)


def hash_tree(root: Path) -> ExtractedTree:
    """Content hash of a folder on the server (hidden files skipped), same scheme as extract()."""
    tree = ExtractedTree()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in IGNORED_DIRS)
        for name in sorted(filenames):
            if name.startswith(".") or name in IGNORED_NAMES:
                continue
            path = Path(dirpath) / name
            digest = hashlib.sha256()
            size = 0
            with open(path, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
            tree.files.append((path.relative_to(root).as_posix(), digest.hexdigest(), size))
            tree.total_bytes += size
    return tree
