from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_redis_and_workers(client, settings):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is True
    assert body["redis"]["configured"] is bool(settings.REDIS_URL)
    # No q2 cluster runs inside the test process: the site still serves, and says so.
    assert body["workers"]["ok"] is bool(body["workers"]["clusters"])
    assert body["status"] == ("ok" if body["workers"]["ok"] else "degraded")


def test_healthz_is_503_when_redis_is_unreachable(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"]["ok"] is False
    assert response.json()["status"] == "down"
