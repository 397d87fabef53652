from __future__ import annotations

import json

import pytest

from recommendations import coverage
from tests.recommendations.factories import TASK, ConditionFactory

pytestmark = pytest.mark.django_db


def _card(models_dir, folder: str, card: dict | str) -> None:
    (models_dir / folder).mkdir(parents=True)
    text = card if isinstance(card, str) else json.dumps(card)
    (models_dir / folder / "card.json").write_text(text, encoding="utf-8")


@pytest.fixture
def models_dir(tmp_path, settings):
    settings.MODELS_DIR = tmp_path / "models"
    settings.MODELS_DIR.mkdir()
    return settings.MODELS_DIR


@pytest.fixture
def registered():
    added = []

    def register(fn):
        added.append(coverage.register_class_source(fn))
        return fn

    yield register
    for fn in added:
        coverage.unregister_class_source(fn)


def test_shipped_model_classes_reads_every_card(models_dir):
    _card(models_dir, "lesions", {"task": "lesions", "classes": ["mel", "nv"], "arch": "x"})
    _card(models_dir, "facial", {"task": "facial", "classes": ["wrinkles", "acne"]})
    assert coverage.shipped_model_classes() == {
        "facial": ["wrinkles", "acne"],
        "lesions": ["mel", "nv"],
    }


def test_shipped_model_classes_without_models_dir(tmp_path, settings):
    settings.MODELS_DIR = tmp_path / "does-not-exist"
    assert coverage.shipped_model_classes() == {}


def test_shipped_model_classes_skips_broken_cards(models_dir, caplog):
    _card(models_dir, "broken", "{not json")
    _card(models_dir, "no-classes", {"task": "no-classes"})
    _card(models_dir, "ok", {"classes": ["a"]})  # task falls back to the folder name
    assert coverage.shipped_model_classes() == {"ok": ["a"]}
    assert "unreadable model card" in caplog.text


def test_missing_advice_from_shipped_cards(models_dir):
    _card(models_dir, "lesions", {"task": "lesions", "classes": ["mel", "nv", "scc"]})
    _card(models_dir, "facial", {"task": "facial", "classes": ["clear_skin", "wrinkles"]})
    assert coverage.missing_advice() == {"lesions": ["scc"]}


def test_missing_advice_is_empty_without_sources(models_dir):
    assert coverage.missing_advice() == {}


def test_registered_sources_are_merged_and_deduplicated(models_dir, registered):
    _card(models_dir, TASK, {"task": TASK, "classes": ["b", "a"]})
    registered(lambda: {TASK: ["a", "c"], "lesions": ["mel"]})
    assert coverage.production_classes() == {"lesions": ["mel"], TASK: ["a", "b", "c"]}
    ConditionFactory(key="a")
    assert coverage.missing_advice() == {TASK: ["b", "c"]}


def test_register_class_source_is_idempotent(registered):
    def source():
        return {TASK: ["x"]}

    registered(source)
    coverage.register_class_source(source)
    assert coverage._sources.count(source) == 1


def test_failing_source_is_skipped(models_dir, registered, caplog):
    def broken():
        raise RuntimeError("registry down")

    registered(broken)
    registered(lambda: {TASK: ["still_reported"]})
    assert coverage.missing_advice() == {TASK: ["still_reported"]}
    assert "failed" in caplog.text


def test_every_class_the_platform_ships_has_advice(models_dir, registered):
    """The classes named in the brief and in ../shared/data all have seeded advice."""
    registered(
        lambda: {
            "lesions": ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"],
            "acne-severity": [
                "clear",
                "mild_moderate",
                "severe",
                "levle0_mild",
                "levle1_moderate",
                "levle2_severe",
                "levle3_very_severe",
            ],
            "facial": [
                "acne",
                "dark_spots",
                "clear_skin",
                "normal",
                "pigmentation",
                "wrinkles",
                "puffy_eyes",
            ],
        }
    )
    assert coverage.missing_advice() == {}
