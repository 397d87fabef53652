"""The analysis rate limit's cost per request on Redis: DRF's ScopedRateThrottle (GET + SET of a
pickled timestamp list) against skinplatform.throttling's (one EVALSHA), with a window already
holding `--history` requests (120/min fills up to 120; the load bench's lifted limit, thousands;
the window grows by --n while measuring).

    .venv/bin/python bench/throttle.py --redis-url redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    parser.add_argument("--history", type=int, nargs="+", default=[0, 100, 3000])
    parser.add_argument("--n", type=int, default=400)
    args = parser.parse_args()
    if not args.redis_url:
        parser.error("--redis-url (or REDIS_URL) is required: this measures the Redis path")
    os.environ.update(DJANGO_SETTINGS_MODULE="skinplatform.settings", REDIS_URL=args.redis_url)
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import caches
    from django.test import RequestFactory
    from rest_framework import throttling as drf
    from rest_framework.request import Request

    from skinplatform import throttling

    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["bench"] = "1000000/min"

    class View:
        throttle_scope = "bench"

    class User:
        pk = "bench-throttle"
        is_authenticated = True

    request = Request(RequestFactory().post("/"))
    request.user = User()
    cache = caches["default"]
    for history in args.history:
        pair = (("DRF", drf.ScopedRateThrottle), ("one trip", throttling.ScopedRateThrottle))
        for name, cls in pair:
            cls.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
            cache.delete(f"throttle_bench_{User.pk}")
            for _ in range(history):  # fill the window
                cls().allow_request(request, View())
            times = []
            for _ in range(args.n):
                start = time.perf_counter()
                assert cls().allow_request(request, View())
                times.append((time.perf_counter() - start) * 1000)
            p50, mean = statistics.median(times), statistics.fmean(times)
            print(f"window of {history:>5} requests, {name:>8}: p50 {p50:.3f}, mean {mean:.3f} ms")
        cache.delete(f"throttle_bench_{User.pk}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
