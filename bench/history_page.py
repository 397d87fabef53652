"""History page with many analyses: server-side render time and query count.

    .venv/bin/python bench/history_page.py [--analyses 1000] [--requests 200]

Builds a throwaway SQLite database and media folder, gives one person N analyses spread over
the three tasks (rows written directly: the model is not what is measured here), then renders
``/analysis/history/`` (first page, and filtered by task) through Django's test client, which
runs the whole middleware stack and template. Prints p50/p95/max in ms and the number of SQL
queries per request. Goal: p95 <= 150 ms with 1,000 analyses.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _setup(tmp: Path) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="skinplatform.settings",
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        MEDIA_ROOT=str(tmp / "media"),
        DEBUG="False",
        SECRET_KEY="bench-" + "x" * 50,
        ALLOWED_HOSTS="testserver",
        STATIC_ROOT=str(tmp / "static"),
    )
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)  # DEBUG=False: manifest


def _populate(n: int) -> object:
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from analysis.models import Analysis

    classes = {
        "lesions": ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"],
        "acne-severity": ["clear", "mild_moderate", "severe"],
        "facial": ["clear_skin", "dark_spots", "puffy_eyes", "wrinkles"],
    }
    user = get_user_model().objects.create_user("bench-history", password="x" * 12)
    now = timezone.now()
    rows = []
    for i in range(n):
        task = list(classes)[i % 3]
        names = classes[task]
        raw = [((i * 7 + j * 13) % 17) + 1.0 for j in range(len(names))]
        total = sum(raw)
        probs = {c: v / total for c, v in zip(names, raw, strict=True)}
        top = max(probs, key=probs.get)
        rows.append(
            Analysis(
                owner=user,
                task=task,
                image=f"analyses/bench/{i}.jpg",
                thumbnail=f"analyses/bench/{i}-thumb.jpg",
                width=600,
                height=450,
                probabilities=probs,
                top_class=top,
                top_probability=probs[top],
                severity=["low", "medium", "high"][i % 3],
                model_label="bench",
            )
        )
    Analysis.objects.bulk_create(rows, batch_size=500)
    # spread them over a year so the timeline is a real one
    for k, pk in enumerate(Analysis.objects.order_by("pk").values_list("pk", flat=True)):
        Analysis.objects.filter(pk=pk).update(created_at=now - timedelta(hours=9 * (n - k)))
    return user


def _measure(client, url: str, requests: int) -> tuple[list[float], int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, secure=True)  # warm caches and template loading
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(url, secure=True)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, secure=True)
    return times, len(ctx.captured_queries), len(response.content)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--analyses", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-history-"))
    _setup(tmp)
    user = _populate(args.analyses)
    from django.test import Client

    client = Client()
    client.force_login(user)
    print(f"history page, {args.analyses} analyses of one person, {args.requests} requests each")
    print(f"{'url':<42} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'queries':>7} {'KiB':>6}")
    urls = ("/analysis/history/", "/analysis/history/?task=lesions", "/analysis/history/?page=5")
    for url in urls:
        times, queries, size = _measure(client, url, args.requests)
        print(
            f"{url:<42} {statistics.median(times):7.1f} {_pct(times, 95):7.1f} "
            f"{max(times):7.1f} {queries:7d} {size / 1024:6.0f}"
        )


if __name__ == "__main__":
    main()
