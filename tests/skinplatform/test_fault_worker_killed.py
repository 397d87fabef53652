"""kill -9 of the worker mid-training, with real processes: a django-q2 cluster runs a real
training; the whole cluster (guard, pusher, monitor, workers) is killed with SIGKILL after an
epoch or two; a new cluster is started. Its workers run the stale-session sweep as they start,
see that the run's worker process (same host) is gone and resume the run from its last
checkpoint within a minute of the kill; it then finishes: never left "running", no epoch
recorded twice. (The heartbeat path - stale after 30 s, swept every minute - covers a worker on
another machine.)"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.training.factories import make_image_folder

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("processes")]


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.skinplatform.fault_settings",
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        MEDIA_ROOT=str(tmp / "media"),
        TORCH_THREADS="1",
        Q_WORKERS="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def _action(env: dict[str, str], *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", "from tests.skinplatform.fault_actions import main; main()", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def _quick_state(tmp: Path, session: int) -> tuple[str, int]:
    with contextlib.closing(sqlite3.connect(tmp / "db.sqlite3", timeout=10)) as db:
        [status] = db.execute(
            "SELECT status FROM training_trainingsession WHERE id = ?", (session,)
        ).fetchone()
        [epochs] = db.execute(
            "SELECT COUNT(*) FROM training_epochmetric WHERE session_id = ?", (session,)
        ).fetchone()
    return status, epochs


def _cluster(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_a_worker_killed_mid_training_is_resumed_by_another_cluster(tmp_path):
    env = _env(tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO, env=env, check=True, timeout=180,
    )  # fmt: skip
    folder = make_image_folder(tmp_path / "colours", {"blue": 40, "red": 40}, size=40)
    log = tmp_path / "qcluster.log"
    first = _cluster(env, log)
    second = None
    try:
        session = _action(env, "start_training", str(folder))["session"]
        # Poll the database file directly (a Django subprocess per poll takes seconds on a
        # loaded machine, long enough for the whole small run to finish before the kill).
        deadline = time.monotonic() + 180
        status, epochs = _quick_state(tmp_path, session)
        while epochs < 2 and status in ("queued", "running"):
            assert time.monotonic() < deadline, (status, epochs, log.read_text()[-3000:])
            time.sleep(0.1)
            status, epochs = _quick_state(tmp_path, session)
        assert status == "running", (status, epochs)
        killed_after = epochs
        os.killpg(first.pid, signal.SIGKILL)  # the whole cluster, like an OOM kill or a crash
        first.wait(timeout=10)
        killed_at = time.monotonic()
        time.sleep(2)
        state = _action(env, "session_state", str(session))
        assert state["status"] == "running"  # what a dead worker leaves behind

        second = _cluster(env, log)
        deadline = killed_at + 150
        resumed_in = None
        while state["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, (state, log.read_text()[-3000:])
            time.sleep(1)
            state = _action(env, "session_state", str(session))
            if resumed_in is None and state["auto_resumes"]:
                resumed_in = time.monotonic() - killed_at
        recovered_in = time.monotonic() - killed_at
        print(f"killed after epochs {killed_after}; resumed {resumed_in} s and run ended "
              f"{state['status']} {recovered_in:.0f} s after the kill")  # fmt: skip
        assert state["status"] == "done", state
        # The new cluster's workers sweep as they start: the dead pid on this host is seen at
        # once (the heartbeat would only go stale after TRAINING_STALE_AFTER_S = 30 s).
        assert resumed_in is not None
        assert resumed_in < 60, resumed_in
        assert state["auto_resumes"] == 1
        assert state["epochs"] == list(range(1, 10)), state["epochs"]  # none lost, none twice
        assert any("stopped responding" in m for m in state["log"]), state["log"]
    finally:
        _stop(first)
        if second is not None:
            _stop(second)
