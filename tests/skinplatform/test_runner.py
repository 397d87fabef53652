"""The real process runner (`make run`): embedded Redis + ASGI server + django-q2 cluster.

Starts it on a free port with a fresh database, checks /healthz, then proves the
web -> broker -> worker -> channel layer -> websocket path with a worker ping, and stops it
with Ctrl-C (SIGINT): every child must be gone."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from websockets.sync.client import connect

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("processes")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, *, data: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(
        url,
        data=body,
        headers={
            "Content-Type": "application/json",
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


class _Output:
    """Collects the runner's output on a thread so the pipe never fills up."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream) -> None:
        for line in iter(stream.readline, ""):
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)


def _wait_for(predicate, timeout: float, what: str, output: _Output):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}; runner output:\n{output.text()[-4000:]}")


def _start_runner(
    root: Path, port: int, **extra_env: str
) -> tuple[subprocess.Popen, _Output, dict[str, str]]:
    """`python -m skinplatform.runner` on `port` with a fresh SQLite database and media folder
    under `root` (embedded Redis: REDIS_URL and DATABASE_URL of the caller are dropped)."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="skinplatform.settings",
        DATABASE_URL=f"sqlite:///{root / 'db.sqlite3'}",
        MEDIA_ROOT=str(root / "media"),
        Q_WORKERS="1",
        PYTHONUNBUFFERED="1",
        **extra_env,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "skinplatform.runner", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, _Output(proc.stdout), env


def test_runner_serves_health_and_pushes_worker_events_then_stops(tmp_path):
    port = _free_port()
    proc, output, _ = _start_runner(tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    try:
        password = _wait_for(
            lambda: (m := re.search(r"DEMO-ACCOUNT alice (\S+)", output.text())) and m.group(1),
            120,
            "demo accounts",
            output,
        )
        health = _wait_for(
            lambda: (r := _get(f"{base}/healthz"))[0] == 200 and r[1]["workers"]["ok"] and r[1],
            120,
            "a healthy platform with a worker",
            output,
        )
        assert health["redis"]["configured"] is True
        status, body = _get(
            f"{base}/api/auth/token", data={"username": "alice", "password": password}
        )
        assert status == 200, body
        auth = {"Authorization": f"Token {body['token']}"}
        with connect(
            f"ws://127.0.0.1:{port}/ws/notifications/",
            open_timeout=10,
            additional_headers={**auth, "Origin": base},
        ) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
            status, body = _get(f"{base}/api/ping", data={}, headers=auth)
            assert status == 202
            message = json.loads(ws.recv(timeout=30))
            assert message["event"] == "pong"
            assert message["nonce"] == body["nonce"]
        children = [int(p) for p in re.findall(r"started \w+ \(pid (\d+)\)", output.text())]
        assert len(children) == 3  # redis, web, worker
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    assert code == 0, output.text()[-3000:]
    # Each child stopped on its own, in time (q2's cluster hung when its whole group got SIGTERM).
    assert "did not stop in time" not in output.text(), output.text()[-3000:]
    assert re.search(r"Q Cluster \S+ has stopped", output.text()), output.text()[-3000:]
    for pid in children:
        assert (
            not Path(f"/proc/{pid}").exists()
            or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
        ), f"child {pid} still running"
