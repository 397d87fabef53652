"""Restarting the web server during a stream of analyses, with real processes: uvicorn serves
/api/analyze while a client posts real photos without pause; the server is restarted gracefully
(SIGTERM) and then killed (SIGKILL) and started again. Every analysis the client was told about
(201) exists with its photo and thumbnail on disk; no row is half-written; a graceful restart
leaves no stray file either."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.analysis.images import photo
from tests.skinplatform.test_fault_worker_killed import _action
from tests.skinplatform.test_fault_worker_killed import _env as worker_env
from tests.skinplatform.test_runner import _free_port

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("processes")]


def _env(tmp: Path) -> dict[str, str]:
    return {
        **worker_env(tmp),
        "DJANGO_SETTINGS_MODULE": "skinplatform.settings",
        "ANALYZE_RATE": "100000/min",
    }


def _serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "skinplatform.asgi:application", "--port", str(port),
         "--lifespan", "off", "--no-access-log"],
        cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return proc
        except OSError:
            time.sleep(0.2)
    raise AssertionError(log.read_text()[-2000:])


def _migrated_and_served(env: dict[str, str], tmp: Path):
    """A migrated database with an API user, and uvicorn serving it: (token, port, log, server)."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO, env=env, check=True, timeout=180,
    )  # fmt: skip
    token = _action(env, "api_user")["token"]
    port, log = _free_port(), tmp / "web.log"
    return token, port, log, _serve(env, port, log)


def _analysis_body() -> str:
    return json.dumps({"task": "lesions", "image": base64.b64encode(photo((400, 300))).decode()})


class _Stream(threading.Thread):
    """Posts analyses back to back; keeps the ids the server acknowledged."""

    def __init__(self, port: int, token: str) -> None:
        super().__init__(daemon=True)
        self.port, self.token = port, token
        self.acknowledged: list[int] = []
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.body = _analysis_body()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("POST", "/api/analyze", self.body, {
                    "Content-Type": "application/json", "Authorization": f"Token {self.token}",
                })  # fmt: skip
                response = conn.getresponse()
                data = response.read()
                if response.status == 201:
                    self.acknowledged.append(json.loads(data)["id"])
                else:
                    self.failures.append(f"{response.status} {data[:200]!r}")
                conn.close()
            except (OSError, http.client.HTTPException) as exc:  # the server is restarting
                self.failures.append(type(exc).__name__)
                time.sleep(0.05)


def _wait_for(stream: _Stream, n: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while len(stream.acknowledged) < n:
        assert time.monotonic() < deadline, stream.failures[-5:]
        time.sleep(0.1)


def test_restarting_the_web_server_loses_no_acknowledged_analysis(tmp_path):
    env = _env(tmp_path)
    token, port, log, server = _migrated_and_served(env, tmp_path)
    stream = _Stream(port, token)
    stream.start()
    try:
        _wait_for(stream, 5)
        os.killpg(server.pid, signal.SIGTERM)  # graceful: in-flight requests finish
        server.wait(timeout=30)
        graceful = _action(env, "analyses_on_disk")
        server = _serve(env, port, log)
        _wait_for(stream, len(stream.acknowledged) + 5)
        os.killpg(server.pid, signal.SIGKILL)  # abrupt: a request may die half-way
        server.wait(timeout=10)
        server = _serve(env, port, log)
        _wait_for(stream, len(stream.acknowledged) + 5)
    finally:
        stream.stop.set()
        stream.join(timeout=60)
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    assert graceful["orphans"] == [], graceful["orphans"]
    final = _action(env, "analyses_on_disk")
    rows = final["rows"]
    assert all(str(pk) in rows for pk in stream.acknowledged), "an acknowledged analysis is lost"
    half = {pk: r for pk, r in rows.items() if not all(r.values())}
    assert half == {}, half
    assert len(stream.acknowledged) >= 15
    # Refused while down (connection errors) is fine; a server error is not.
    assert not [f for f in stream.failures if f.startswith("5")], stream.failures


def test_uploads_cut_off_half_way_write_nothing_and_free_their_threads(tmp_path):
    """Clients that vanish in the middle of their request body: more of them than the web
    process has HTTP threads (WEB_THREADS=4 here). Each pool thread must give its request up
    (nothing written), or the next analyses would wait for a thread forever."""
    env = {**_env(tmp_path), "WEB_THREADS": "4"}
    token, port, _, server = _migrated_and_served(env, tmp_path)
    body = _analysis_body().encode()
    head = (
        f"POST /api/analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    try:
        for _ in range(10):  # more than the pool's threads
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(head + body[: len(body) // 2])
                time.sleep(0.1)  # the view is reading the body when the client goes
        time.sleep(1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/api/analyze", body, {
            "Content-Type": "application/json", "Authorization": f"Token {token}",
        })  # fmt: skip
        response = conn.getresponse()
        assert response.status == 201, response.read()[:300]
        done = json.loads(response.read())["id"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    state = _action(env, "analyses_on_disk")
    assert list(state["rows"]) == [str(done)]  # only the whole request made an analysis
    assert state["orphans"] == [], state["orphans"]
