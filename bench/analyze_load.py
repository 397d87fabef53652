"""Analysis serving under load: in-process pipeline vs HTTP /api/analyze with 1, 8, 32 clients.

Run against a started server, e.g. (2 web processes, rate limit lifted for the benchmark):

    ANALYZE_RATE=1000000/min WEB_CONCURRENCY=2 make run        # terminal 1
    .venv/bin/python bench/analyze_load.py                    # terminal 2

It gets an API token for the user `bench` (`manage.py api_token bench --create`, same database
as the server) unless --token is given, analyses the same real photo (a HAM10000 image from
../shared/data, or --image) many times, prints the figures, then deletes the bench analyses.
Goals: HTTP p50 <= 1.5x in-process; >= 50 analyses/s with 8 clients; p95 <= 250 ms; 0 errors.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
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


def in_process(raw: bytes, task: str, n: int) -> list[float]:
    """analysis_submit end to end (intake, quality, ONNX model, advice, files, row) in this
    process, on a throwaway SQLite database and media folder."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-analyze-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="skinplatform.settings",
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        MEDIA_ROOT=str(tmp / "m"),
    )
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from analysis.services import analysis_submit

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench-inprocess")
    for _ in range(5):  # warm-up: model load, caches
        analysis_submit(user=user, task=task, raw=raw, filename="b.jpg")
    times = []
    for _ in range(n):
        start = time.perf_counter()
        analysis_submit(user=user, task=task, raw=raw, filename="b.jpg")
        times.append((time.perf_counter() - start) * 1000)
    return times


class Client:
    def __init__(self, url: str, token: str) -> None:
        parsed = urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=self.headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def http_load(url: str, token: str, body: bytes, clients: int, per_client: int) -> dict:
    latencies: list[float] = []
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
            with lock:
                latencies.append(elapsed)
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
    parser.add_argument("--clients", default="1,8,32")
    args = parser.parse_args()
    raw = _photo(args.image)
    token = _token(args)
    body = json.dumps({"task": args.task, "image": base64.b64encode(raw).decode()}).encode()
    probe = Client(args.url, token).request("POST", "/api/analyze", body)
    if probe[0] != 201:
        sys.exit(
            f"the server refused the bench analysis: {probe[0]} {probe[1][:300]!r} "
            "(is it running? is ANALYZE_RATE lifted for the benchmark?)"
        )
    results = []
    for clients in [int(c) for c in args.clients.split(",")]:
        per_client = max(3, args.requests // clients)
        http_load(args.url, token, body, clients, 2)  # warm every connection/process
        results.append(http_load(args.url, token, body, clients, per_client))
    Client(args.url, token).request("DELETE", "/api/analyses")
    local = in_process(raw, args.task, 60)
    p50_local = statistics.median(local)
    print(f"photo: {len(raw) / 1024:.0f} KiB JPEG, task {args.task}, server {args.url}")
    print(
        f"in-process analysis_submit: p50 {p50_local:.1f} ms, p95 {_pct(local, 95):.1f} ms "
        f"(n={len(local)})"
    )
    print("HTTP POST /api/analyze:")
    for r in results:
        print(
            f"  {r['clients']:>3} clients: p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms  "
            f"{r['per_s']:6.1f} analyses/s  errors {len(r['errors'])}/{r['n']}"
            + (f"  first error: {r['errors'][0]}" if r["errors"] else "")
        )
    one = results[0]
    print(f"HTTP p50 (1 client) / in-process p50: {one['p50'] / p50_local:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
