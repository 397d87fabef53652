"""Property-based fuzzing of photo intake (hypothesis): whatever bytes arrive, intake either
accepts a photo or refuses it with IntakeError; never another exception."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.intake import AcceptedPhoto, IntakeError, accept_photo, decode_base64_image
from tests.analysis import images

LIMITS = {"max_bytes": 2 * 1024 * 1024, "max_pixels": 4_000_000}
SEEDS = {
    "jpeg": images.photo((96, 80)),
    "png": images.photo((64, 48), fmt="PNG"),
    "webp": images.photo((64, 64), fmt="WEBP"),
}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _outcome(fn):
    """(result, None) or (None, IntakeError); any other exception fails the test."""
    try:
        return fn(), None
    except IntakeError as exc:
        return None, exc


def _intake(raw: bytes, filename: str) -> None:
    result, refusal = _outcome(lambda: accept_photo(raw, filename=filename, **LIMITS))
    if refusal is not None:
        assert refusal.code
        assert refusal.message
        return
    assert isinstance(result, AcceptedPhoto)
    assert result.jpeg[:2] == b"\xff\xd8"
    assert result.image.mode == "RGB"


@st.composite
def mutated_image(draw) -> bytes:
    raw = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        pos = draw(st.integers(0, max(0, len(raw) - 1)))
        if op == "flip" and raw:
            raw[pos] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del raw[pos : pos + draw(st.integers(1, 64))]
        elif op == "insert":
            raw[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        else:
            raw = raw[:pos]
    return bytes(raw)


@FUZZ
@given(raw=mutated_image(), name=st.sampled_from(["a.jpg", "b.png", "c.webp", "d", "e.JPEG"]))
def test_mutated_images_are_accepted_or_refused_cleanly(raw, name):
    _intake(raw, name)


@FUZZ
@given(raw=st.binary(max_size=4096), name=st.text(max_size=30))
def test_arbitrary_bytes_and_names_are_refused_cleanly(raw, name):
    _intake(raw, name)


@FUZZ
@given(text=st.one_of(st.text(max_size=300), st.from_regex(r"data:[a-z/;]*,[A-Za-z0-9+/=\s]*")))
def test_base64_decoding_never_raises_anything_else(text):
    result, refusal = _outcome(lambda: decode_base64_image(text))
    if refusal is not None:
        assert refusal.code in ("empty", "bad_base64")
    else:
        assert isinstance(result, bytes)


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(raw=mutated_image())
def test_refused_uploads_write_nothing_through_the_api(raw, auth_client, media_root):
    import base64

    from analysis.models import Analysis

    before = Analysis.objects.count()
    response = auth_client.post(
        "/api/analyze",
        {"task": "lesions", "image": base64.b64encode(raw).decode(), "accept_warnings": True},
        format="json",
    )
    assert response.status_code in (201, 400, 413), response.content
    if response.status_code != 201:
        assert Analysis.objects.count() == before
        written = {p.name for p in media_root.rglob("*") if p.is_file()}
        stored = {
            n
            for a in Analysis.objects.all()
            for n in (a.image.name.rsplit("/", 1)[-1], a.thumbnail.name.rsplit("/", 1)[-1])
        }
        assert written <= stored
