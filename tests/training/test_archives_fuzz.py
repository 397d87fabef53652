"""Property-based fuzzing of dataset zip handling (hypothesis): any archive is either extracted
entirely inside the destination or refused with ArchiveRejected; never another exception, and
never a file outside the destination."""

from __future__ import annotations

import io
import os
import stat
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from training.archives import ArchiveRejected, Limits, extract, precheck

LIMITS = Limits(
    max_files=50,
    max_total_bytes=256 * 1024,
    max_ratio=50.0,
    ratio_min_file_bytes=4096,
    ratio_min_total_bytes=16 * 1024,
)
# FUZZ_EXAMPLES=4000 for a longer hunt (4,000 archives pass in about 100 s).
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 120)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

name_part = st.sampled_from(
    ["mel", "nv", "a.jpg", "..", ".", "", "x y", "é.png", "C:", "__MACOSX", "._a.jpg", "sub"]
)
entry_name = st.builds(
    lambda parts, lead: lead + "/".join(parts),
    st.lists(name_part, min_size=1, max_size=4),
    st.sampled_from(["", "", "/", "\\", "../"]),
)


def _outcome(fn):
    """(result, None) or (None, ArchiveRejected); any other exception fails the test."""
    try:
        return fn(), None
    except ArchiveRejected as exc:
        return None, exc


@st.composite
def archives(draw) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for _ in range(draw(st.integers(0, 8))):
            info = zipfile.ZipInfo(draw(entry_name))
            info.compress_type = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
            if draw(st.booleans()) and draw(st.booleans()):
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            data = draw(
                st.one_of(
                    st.binary(max_size=512), st.integers(0, 64 * 1024).map(lambda n: b"\0" * n)
                )
            )
            try:
                archive.writestr(info, data)
            except (ValueError, UnicodeEncodeError):
                continue
    raw = bytearray(out.getvalue())
    for _ in range(draw(st.integers(0, 4))):  # then damage it
        if raw:
            raw[draw(st.integers(0, len(raw) - 1))] ^= draw(st.integers(1, 255))
    return bytes(raw)


@pytest.mark.filterwarnings("ignore:Duplicate name")
@FUZZ
@given(raw=archives())
def test_any_archive_is_extracted_inside_or_refused(raw):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        archive_path = root / "upload.zip"
        archive_path.write_bytes(raw)
        dest = root / "out"
        dest.mkdir()
        tree, refusal = _outcome(
            lambda: (precheck(archive_path, LIMITS), extract(archive_path, dest, LIMITS))[1]
        )
        if refusal is not None:
            assert refusal.rule
            assert refusal.message
        else:
            assert len(tree.files) <= LIMITS.max_files
            assert tree.total_bytes <= LIMITS.max_total_bytes
        outside = [
            p
            for p in root.rglob("*")
            if p.is_file() and p != archive_path and not p.resolve().is_relative_to(dest.resolve())
        ]
        assert outside == []
        assert not any(p.is_symlink() for p in dest.rglob("*"))


@FUZZ
@given(raw=st.binary(max_size=2048))
def test_random_bytes_are_not_a_zip(raw):
    _, refusal = _outcome(lambda: precheck(io.BytesIO(raw), LIMITS))
    if refusal is not None:
        assert refusal.rule in (
            "not_a_zip",
            "empty",
            "path_traversal",
            "link",
            "encrypted",
            "duplicate_entry",
            "too_many_files",
        )
