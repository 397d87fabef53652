"""ml/ must never import Django, and its torch-free front doors must not import torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _imported_after(statement: str) -> dict[str, bool]:
    code = (
        f"import json, sys\n{statement}\n"
        "print(json.dumps({'django': any(m == 'django' or m.startswith('django.') for m in "
        "sys.modules), 'torch': 'torch' in sys.modules}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_ml_modules_never_import_django() -> None:
    seen = _imported_after(
        "import ml, ml.data, ml.metrics, ml.transforms, ml.train, ml.train.loop, ml.models, "
        "ml.evaluate, ml.cli"
    )
    assert seen["torch"] is True  # the loop really was imported
    assert seen["django"] is False


def test_front_doors_do_not_import_torch() -> None:
    seen = _imported_after(
        "import ml, ml.data, ml.metrics, ml.transforms, ml.train\n"
        "from ml.train import TrainConfig\nTrainConfig().to_json()"
    )
    assert seen == {"django": False, "torch": False}
