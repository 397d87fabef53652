"""django-q2 forks its workers: torch must never be loaded by anything Django imports at start-up
(models, views, API, consumers, tasks at module level), or OpenMP deadlocks in the children."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import sys, django
django.setup()
import skinplatform.asgi, skinplatform.urls
import training.tasks, training.views, training.api, training.consumers, training.progress
import training.services, training.forms, training.panels, training.selectors
from training.services import training_config_suggest  # TrainConfig is torch-free
print(sorted(m for m in ("torch", "torchvision", "timm", "ml.train.loop") if m in sys.modules))
"""


def test_nothing_training_imports_at_start_up_loads_torch():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "skinplatform.settings_test"}
    command = [sys.executable, "-c", PROBE]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
