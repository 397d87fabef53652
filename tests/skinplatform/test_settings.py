from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    clean.update(DJANGO_SETTINGS_MODULE="skinplatform.settings", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_refuses_to_start_with_placeholder_secret_when_not_debug():
    result = _manage("check", DEBUG="False")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_settings_pass_check_deploy(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="False",
        SECRET_KEY="k3y-" + "x9Q!" * 16,
        ALLOWED_HOSTS="skin.example.org",
        STATIC_ROOT=str(tmp_path / "static"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
