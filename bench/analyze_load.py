"""Analysis serving under load: in-process pipeline vs HTTP /api/analyze with 1, 8, 32 clients.

Run against a started server, e.g. (2 web processes, rate limit lifted for the benchmark):

    ANALYZE_RATE=1000000/min WEB_CONCURRENCY=2 make run        # terminal 1
    .venv/bin/python bench/analyze_load.py                    # terminal 2

It gets an API token for the user `bench` (`manage.py api_token bench --create`, same database
as the server) unless --token is given, analyses the same real photo (a HAM10000 image from
../shared/data, or --image) many times, prints the figures, then deletes the bench analyses.
The in-process pipeline is timed in two child processes: on a fresh database with the local
cache, and in the server's own state (its database and Redis, which `make run` records in
var/redis/url): the second isolates what HTTP and the framework add. The one-client HTTP figure
and both in-process ones are taken in alternating rounds, so a machine that speeds up or slows
down during the run moves all three alike (on this shared 2-core machine the same pipeline took
anywhere from 7 to 21 ms from one hour to the next). The server also reports its own pipeline
time per answer (`Server-Timing: analysis;dur=...`): HTTP time minus that, request by request,
is what HTTP and the framework add, whatever the machine's speed.
Goals: HTTP p50 <= 1.5x in-process; >= 50 analyses/s with 8 clients; p95 <= 250 ms; 0 errors.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"


def _photo(path: str | None) -> bytes:
    if path:
        return Path(path).read_bytes()
    candidates = sorted((SHARED / "ham10000" / "images" / "nv").glob("*.jpg"))
    if candidates:
        return candidates[0].read_bytes()
    sys.path.insert(0, str(REPO))
    from tests.analysis.images import photo

    return photo((600, 450))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def in_process(raw: bytes, task: str, state: str, redis_url: str) -> None:
    """analysis_submit end to end (intake, quality, ONNX model, advice, files, row) in this
    process, N times for each line "N" read from stdin, answering each with one JSON line of
    milliseconds. `fresh`: a throwaway SQLite database, the local cache. `served`: the state the
    server works in: its database, cache (Redis) and media folder, inside a memo snapshot as a
    request is; the rows and photos are deleted at the end, and so are the bench users' photo
    folders (see _remove_bench_folders)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-analyze-"))
    os.environ.update(DJANGO_SETTINGS_MODULE="skinplatform.settings")
    if state == "fresh":
        os.environ.update(
            DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}", MEDIA_ROOT=str(tmp / "media")
        )
        os.environ.pop("REDIS_URL", None)
    elif redis_url:
        os.environ.update(REDIS_URL=redis_url)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from analysis.services import analysis_delete_all, analysis_submit
    from skinplatform.memo import snapshot

    if state == "fresh":
        call_command("migrate", verbosity=0)
    from accounts.selectors import profile_for

    profile_for(get_user_model().objects.get_or_create(username="bench-inprocess")[0])
    # The user as the API's token authentication hands it over: its profile read with it. (A
    # user just created had its profile attached by the signal, one that already existed not,
    # which cost the server-state figure a query per analysis that the fresh one skipped.)
    user = get_user_model().objects.select_related("profile").get(username="bench-inprocess")

    def run(n: int) -> list[float]:
        times = []
        for _ in range(n):
            start = time.perf_counter()
            with snapshot():
                analysis_submit(user=user, task=task, raw=raw, filename="b.jpg")
            times.append((time.perf_counter() - start) * 1000)
        return times

    try:
        run(5)  # warm-up: model load, caches
        print("ready", flush=True)
        for line in sys.stdin:
            print(json.dumps(run(int(line))), flush=True)
    finally:
        analysis_delete_all(user=user)
        if state == "served":  # the parent has deleted the HTTP analyses by now
            _remove_bench_folders(["bench", user.username])


def _remove_bench_folders(usernames: list[str]) -> None:
    """The bench users' photo folders, once empty. ext4 never shrinks a directory: one that has
    held the files of thousands of bench analyses stayed large, and saving a photo into it took
    1.4 ms more than into a new one (2.2 vs 3.6 ms here), which the next runs then measured."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    for user in get_user_model().objects.filter(username__in=usernames):
        with contextlib.suppress(OSError):  # not there, or not empty
            os.rmdir(Path(settings.MEDIA_ROOT) / "analysis" / str(user.pk))


class InProcess:
    """in_process() in a child process (each state needs its own Django settings), kept alive
    between rounds."""

    def __init__(self, args, state: str, redis_url: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--in-process", state, "--task", args.task]
            + (["--image", args.image] if args.image else [])
            + (["--redis-url", redis_url] if redis_url else []),
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._read()  # "ready"
        self.times: list[float] = []

    def _read(self) -> str:
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"the in-process child failed (exit {self.proc.wait()}); see its stderr")
        return line

    def run(self, n: int) -> None:
        self.proc.stdin.write(f"{n}\n")
        self.proc.stdin.flush()
        self.times += json.loads(self._read())

    def close(self) -> None:
        self.proc.stdin.close()  # the child deletes its analyses, then exits
        self.proc.wait(timeout=60)


def _redis_url(args) -> str:
    """The server's Redis: --redis-url, else REDIS_URL, else the embedded one `make run`
    started (its URL is in var/redis/url)."""
    if args.redis_url or os.environ.get("REDIS_URL"):
        return args.redis_url or os.environ["REDIS_URL"]
    url_file = REPO / "var" / "redis" / "url"
    return url_file.read_text().strip() if url_file.exists() else ""


class Client:
    def __init__(self, url: str, token: str) -> None:
        parsed = urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        self.server_timing = ""

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=self.headers)
                response = self.conn.getresponse()
                self.server_timing = response.getheader("Server-Timing", "")
                return response.status, response.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _server_ms(header: str) -> float | None:
    """The pipeline's own time from `Server-Timing: analysis;dur=12.3;desc=...`."""
    match = re.search(r"(?:^|,)\s*analysis;dur=([0-9.]+)", header)
    return float(match.group(1)) if match else None


def http_load(url: str, token: str, body: bytes, clients: int, per_client: int) -> dict:
    latencies: list[float] = []
    overheads: list[float] = []  # HTTP time minus the server's own pipeline time, per request
    errors: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        client = Client(url, token)
        client.request("GET", "/api/me")
        for _ in range(per_client):
            start = time.perf_counter()
            try:
                status, payload = client.request("POST", "/api/analyze", body)
            except Exception as exc:  # noqa: BLE001 - every failure counts as an error
                status, payload = 0, str(exc).encode()
            elapsed = (time.perf_counter() - start) * 1000
            server_ms = _server_ms(client.server_timing) if status == 201 else None
            with lock:
                latencies.append(elapsed)
                if server_ms is not None:
                    overheads.append(elapsed - server_ms)
                if status != 201:
                    errors.append(f"{status} {payload[:120]!r}")

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {
        "clients": clients,
        "n": len(latencies),
        "latencies": latencies,
        "overheads": overheads,
        "wall": wall,
        "p50": _pct(latencies, 50),
        "p95": _pct(latencies, 95),
        "per_s": len(latencies) / wall,
        "errors": errors,
    }


def _token(args) -> str:
    if args.token:
        return args.token
    out = subprocess.run(
        [sys.executable, "manage.py", "api_token", "bench", "--create"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token")
    parser.add_argument("--task", default="lesions")
    parser.add_argument("--image")
    parser.add_argument("--requests", type=int, default=160, help="per client-count run")
    parser.add_argument(
        "--rounds", type=int, default=4, help="alternating 1-client / in-process rounds"
    )
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--redis-url", help="the server's Redis (default: see _redis_url)")
    parser.add_argument("--in-process", choices=["fresh", "served"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    raw = _photo(args.image)
    if args.in_process:  # child: answers "N" lines with timings as JSON
        in_process(raw, args.task, args.in_process, args.redis_url or "")
        return
    token = _token(args)
    body = json.dumps({"task": args.task, "image": base64.b64encode(raw).decode()}).encode()
    probe = Client(args.url, token).request("POST", "/api/analyze", body)
    if probe[0] != 201:
        sys.exit(
            f"the server refused the bench analysis: {probe[0]} {probe[1][:300]!r} "
            "(is it running? is ANALYZE_RATE lifted for the benchmark?)"
        )
    redis_url = _redis_url(args)
    local = {"fresh": InProcess(args, "fresh", ""), "served": InProcess(args, "served", redis_url)}
    counts = [int(c) for c in args.clients.split(",")]
    results = []
    try:
        for clients in counts:
            per_client = max(3, args.requests // clients)
            http_load(args.url, token, body, clients, 2)  # warm every connection/process
            if clients != 1:
                results.append(http_load(args.url, token, body, clients, per_client))
                continue
            # One client: in rounds alternating with the in-process pipeline (see the docstring).
            rounds = []
            for _ in range(args.rounds):
                rounds.append(http_load(args.url, token, body, 1, per_client // args.rounds))
                for child in local.values():
                    child.run(max(5, 60 // args.rounds))
            results.append(
                {
                    "clients": 1,
                    "n": sum(r["n"] for r in rounds),
                    "latencies": [x for r in rounds for x in r["latencies"]],
                    "overheads": [x for r in rounds for x in r["overheads"]],
                    "wall": sum(r["wall"] for r in rounds),
                    "errors": [e for r in rounds for e in r["errors"]],
                }
            )
    finally:
        Client(args.url, token).request("DELETE", "/api/analyses")
        for child in local.values():
            child.close()
    for r in results:
        r["p50"], r["p95"] = _pct(r["latencies"], 50), _pct(r["latencies"], 95)
        r["per_s"] = r["n"] / r["wall"]
    print(f"photo: {len(raw) / 1024:.0f} KiB JPEG, task {args.task}, server {args.url}")
    labels = {
        "fresh": "fresh SQLite database, local cache",
        "served": f"the server's database and cache ({redis_url or 'its default cache'})",
    }
    for state, child in local.items():
        times = child.times
        print(
            f"in-process analysis_submit, {labels[state]}: p50 {statistics.median(times):.1f} ms, "
            f"p95 {_pct(times, 95):.1f} ms (n={len(times)})"
        )
    print("HTTP POST /api/analyze:")
    for r in results:
        print(
            f"  {r['clients']:>3} clients: p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms  "
            f"{r['per_s']:6.1f} analyses/s  errors {len(r['errors'])}/{r['n']}"
            + (f"  first error: {r['errors'][0]}" if r["errors"] else "")
        )
    one = results[0]
    if one["overheads"]:
        print(
            f"1 client, HTTP time minus the server's own pipeline time (Server-Timing), per "
            f"request: p50 {statistics.median(one['overheads']):.1f} ms, "
            f"p95 {_pct(one['overheads'], 95):.1f} ms"
        )
    for state, child in local.items():
        print(
            f"HTTP p50 (1 client) / in-process p50 ({state}), alternating rounds: "
            f"{one['p50'] / statistics.median(child.times):.2f}x (goal <= 1.5x)"
        )


if __name__ == "__main__":
    main()
