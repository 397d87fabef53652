"""Project-level pages: the home dashboard (composed from the apps' panels) and the health
endpoint. Holds no domain rules of its own."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from skinplatform import panels


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"panels": panels.collect("dashboard", request)})


def _check_database() -> dict:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {
        "ok": True,
        "vendor": connection.vendor,
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }


def _check_redis() -> dict:
    if not settings.REDIS_URL:
        return {
            "ok": True,
            "configured": False,
            "detail": "REDIS_URL unset: in-process channel layer, ORM broker",
        }
    import redis

    started = time.perf_counter()
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    finally:
        client.close()
    return {"ok": True, "configured": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _check_workers() -> dict:
    from django_q.status import Stat

    clusters = []
    for stat in Stat.get_all() or []:
        clusters.append(
            {
                "cluster": str(stat.cluster_id),
                "host": stat.host,
                "status": stat.status,
                "workers": len(stat.workers),
                "uptime_s": round(stat.uptime()),
            }
        )
    return {"ok": bool(clusters), "clusters": clusters}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when this web process can serve (database and Redis answer); workers are reported
    beside, since pages still work without them."""
    report: dict = {}
    for name, check in (
        ("database", _check_database),
        ("redis", _check_redis),
        ("workers", _check_workers),
    ):
        try:
            report[name] = check()
        except Exception as exc:  # a health check reports failures, it does not raise them
            report[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    serving = report["database"]["ok"] and report["redis"]["ok"]
    report["status"] = ("ok" if report["workers"]["ok"] else "degraded") if serving else "down"
    return JsonResponse(report, status=200 if serving else 503)
