"""Two django-q2 clusters on one Redis (the scale-out setup) never run the same training
session twice, even when its task is on the broker twice: real Redis on 127.0.0.1:6379, two
real `manage.py qcluster` processes, a real tiny training."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from tests.skinplatform.test_fault_worker_killed import _action, _cluster, _env, _stop
from tests.training.factories import make_image_folder

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.services, pytest.mark.xdist_group("processes")]


def _redis_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), 1).close()
        return True
    except OSError:
        return False


def test_two_clusters_on_one_redis_run_a_session_once(tmp_path):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("REDIS_URL unset: real-services lane only")
    if not _redis_answers():
        pytest.skip("Redis on 127.0.0.1:6379 does not answer")
    import redis

    db = 13
    redis.Redis(host="127.0.0.1", port=6379, db=db).flushdb()
    env = {**_env(tmp_path), "REDIS_URL": f"redis://127.0.0.1:6379/{db}"}
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO, env=env, check=True, timeout=180,
    )  # fmt: skip
    folder = make_image_folder(tmp_path / "colours", {"blue": 24, "red": 24}, size=40)
    log = tmp_path / "qcluster.log"
    clusters = [_cluster(env, log), _cluster(env, log)]
    try:
        session = _action(env, "start_training", str(folder))["session"]
        _action(env, "enqueue_again", str(session))
        _action(env, "enqueue_again", str(session))
        deadline = time.monotonic() + 180
        state = _action(env, "session_state", str(session))
        while state["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, (state, log.read_text()[-3000:])
            time.sleep(1)
            state = _action(env, "session_state", str(session))
        time.sleep(3)  # let the duplicate deliveries reach a worker too
        state = _action(env, "session_state", str(session))
        text = log.read_text()
    finally:
        for proc in clusters:
            _stop(proc)
        redis.Redis(host="127.0.0.1", port=6379, db=db).flushdb()
    assert state["status"] == "done", state
    assert state["attempt"] == 1, state  # claimed once
    assert state["epochs"] == list(range(1, 10)), state["epochs"]
    assert text.count("run_training_session") >= 3, "three deliveries were expected"
