"""Hostile and honest zip archives against the pre-check and the streaming extraction."""

from __future__ import annotations

import io
import stat
import struct
import warnings
import zipfile
from pathlib import Path

import pytest

from tests.training.factories import make_zip, synthetic_image
from training.archives import ArchiveRejected, Limits, extract, hash_tree, precheck

LIMITS = Limits(max_files=50_000, max_total_bytes=200 * 1024 * 1024, max_ratio=100)


def _zip(path: Path, entries: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def _rule(source, limits: Limits = LIMITS) -> str:
    with pytest.raises(ArchiveRejected) as info:
        precheck(source, limits)
    assert info.value.message  # every refusal says why, to a person
    return info.value.rule


@pytest.mark.parametrize(
    "name", ["../evil.png", "blue/../../evil.png", "/etc/evil.png", "C:/evil.png", "..\\evil.png"]
)
def test_paths_escaping_the_folder_are_refused(tmp_path, name):
    archive = _zip(tmp_path / "a.zip", {"blue/ok.png": b"x", name: b"evil"})
    assert _rule(archive) == "path_traversal"


def test_symbolic_links_are_refused(tmp_path):
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("blue/ok.png", synthetic_image("blue", 0))
        link = zipfile.ZipInfo("blue/passwd.png")
        link.create_system = 3  # unix
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    assert _rule(path) == "link"


def test_a_zip_bomb_is_refused_by_its_expansion_ratio(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", {"blue/zeros.png": b"\0" * (20 * 1024 * 1024)})
    assert archive.stat().st_size < 100_000
    assert _rule(archive) == "expansion_ratio"


def test_overall_expansion_ratio_is_bounded_too(tmp_path):
    archive = _zip(tmp_path / "many.zip", {f"blue/{i}.txt": b"a" * 5000 for i in range(50)})
    limits = Limits(max_files=100, max_total_bytes=10**9, max_ratio=10, ratio_min_total_bytes=1000)
    assert _rule(archive, limits) == "expansion_ratio"


@pytest.fixture(scope="module")
def hundred_thousand_empty_files(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("many") / "empty-files.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for i in range(100_000):
            archive.writestr(f"blue/{i}.png", b"")
    return path


def test_one_hundred_thousand_empty_files_are_refused(hundred_thousand_empty_files):
    assert _rule(hundred_thousand_empty_files) == "too_many_files"


def test_total_uncompressed_size_is_bounded(tmp_path):
    archive = make_zip(tmp_path / "ok.zip")
    small = Limits(max_files=100, max_total_bytes=10_000, max_ratio=100)
    assert _rule(archive, small) == "total_size"


def test_not_a_zip_is_refused(tmp_path):
    fake = tmp_path / "photo.zip"
    fake.write_bytes(synthetic_image("blue", 0, fmt="JPEG"))
    assert _rule(fake) == "not_a_zip"
    assert _rule(io.BytesIO(b"PK\x03\x04 truncated")) == "not_a_zip"


def test_encrypted_entries_are_refused(tmp_path):
    path = _zip(tmp_path / "enc.zip", {"blue/a.png": b"secret"})
    data = bytearray(path.read_bytes())  # set the "encrypted" bit in the central directory
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 8, struct.unpack_from("<H", data, central + 8)[0] | 1)
    path.write_bytes(bytes(data))
    assert _rule(path) == "encrypted"


def test_duplicate_entries_are_refused(tmp_path):
    path = tmp_path / "dup.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _zip(path, {"blue/a.png": b"1"})
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr("blue/a.png", b"2")
    assert _rule(path) == "duplicate_entry"


def test_empty_archive_is_refused(tmp_path):
    assert _rule(_zip(tmp_path / "e.zip", {"__MACOSX/._x": b"", ".DS_Store": b""})) == "empty"


def _lie_about_size(path: Path, declared: int) -> None:
    """Rewrite the uncompressed size of the (only) entry in both headers: headers lie."""
    data = bytearray(path.read_bytes())
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, declared)
    struct.pack_into("<I", data, central + 24, declared)
    path.write_bytes(bytes(data))


def test_a_bomb_with_lying_headers_passes_the_precheck_but_not_extraction(tmp_path):
    path = _zip(tmp_path / "liar.zip", {"blue/zeros.png": b"\0" * (8 * 1024 * 1024)})
    _lie_about_size(path, 1000)
    precheck(path, LIMITS)  # the central directory looks harmless
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(ArchiveRejected) as info:
        extract(path, dest, LIMITS)
    assert info.value.rule in ("size_mismatch", "corrupt_archive", "expansion_ratio")
    written = [p for p in dest.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in written) <= 1000


def test_extraction_puts_class_folders_at_the_top_and_hashes_content(tmp_path):
    wrapped = make_zip(tmp_path / "wrapped.zip", prefix="my-data/", extra={"__MACOSX/._x": b""})
    plain = tmp_path / "plain.zip"
    # Same files, other order and no compression: the content hash must not change.
    with zipfile.ZipFile(wrapped) as src, zipfile.ZipFile(plain, "w", zipfile.ZIP_STORED) as out:
        for info in reversed(src.infolist()):
            if info.filename.startswith("my-data/"):
                out.writestr(info.filename.removeprefix("my-data/"), src.read(info))
    assert precheck(wrapped, LIMITS).strip_prefix == "my-data/"
    trees = []
    for archive in (wrapped, plain):
        dest = tmp_path / archive.stem
        dest.mkdir()
        trees.append(extract(archive, dest, LIMITS))
        assert sorted(p.name for p in dest.iterdir()) == ["blue", "red"]
        assert len(list((dest / "blue").iterdir())) == 8
        assert not (dest / "__MACOSX").exists()
    assert trees[0].sha256 == trees[1].sha256
    assert trees[0].sha256 == hash_tree(tmp_path / "wrapped").sha256
    assert trees[0].total_bytes == sum(size for _, _, size in trees[0].files)


def test_a_single_class_folder_is_not_mistaken_for_a_wrapper(tmp_path):
    archive = make_zip(tmp_path / "one.zip", {"blue": 3})
    assert precheck(archive, LIMITS).strip_prefix == ""
