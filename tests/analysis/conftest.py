from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _shipped_models(settings):
    """Analyses are answered by the default bundles committed under models/."""
    settings.MODELS_DIR = REPO / "models"
    assert (REPO / "models" / "lesions" / "model.onnx").is_file(), "default bundles missing"


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "analyze": "10000/min",
        },
    }


def media_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())
