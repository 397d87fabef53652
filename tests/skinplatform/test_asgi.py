"""skinplatform.asgi: HTTP through Django's WSGI handler in a2wsgi's persistent threads."""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from a2wsgi import WSGIMiddleware
from django.core.signals import request_finished
from django.db import connection, connections

from skinplatform.asgi import FILE_BLOCK, application, django_wsgi_app, with_file_wrapper


def _scope(path: str) -> dict:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": b"", "root_path": "", "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip


def _run(coroutine):
    """asyncio.run in a thread of its own: a browser test may leave this one with a loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _get(app, path: str) -> list[dict]:
    messages = [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[dict] = []

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # the client stays connected

    async def send(message):
        sent.append(message)

    await app(_scope(path), receive, send)
    return sent


def test_http_goes_through_the_wsgi_pool():
    assert isinstance(application.application_mapping["http"], WSGIMiddleware)


@pytest.mark.django_db(transaction=True)
def test_pool_threads_keep_their_database_connection():
    """Django's ASGI handler ran each request in a new thread with a new connection; a pool
    thread keeps its own across requests (production's CONN_MAX_AGE; the test settings use 0)."""
    seen = []

    def record(**kwargs) -> None:
        seen.append(connection.connection)  # held: no address reuse between objects

    http = WSGIMiddleware(with_file_wrapper(django_wsgi_app), workers=1)  # as asgi.py, 1 thread
    connection.settings_dict["CONN_MAX_AGE"] = 60  # shared by every thread's wrapper
    request_finished.connect(record)
    try:

        async def five() -> list[int]:
            return [(await _get(http, "/healthz"))[0]["status"] for _ in range(5)]

        statuses = _run(five())
    finally:
        request_finished.disconnect(record)
        connection.settings_dict["CONN_MAX_AGE"] = 0
        http.executor.submit(connections.close_all).result()  # PostgreSQL drops the test db
        http.executor.shutdown()
    assert set(statuses) <= {200, 503}
    assert len(seen) == 5
    assert seen[0] is not None  # open at the end of the request...
    assert all(c is seen[0] for c in seen)  # ...and the same one for every later request


def test_files_stream_in_large_blocks():
    payload = bytes(range(256)) * 4096  # 1 MiB

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](io.BytesIO(payload), 4096)  # Django's block size

    sent = _run(_get(WSGIMiddleware(with_file_wrapper(app), workers=1), "/file"))
    body = [m["body"] for m in sent if m["type"] == "http.response.body"]
    assert b"".join(body) == payload
    assert max(len(b) for b in body) == FILE_BLOCK
    assert len(body) <= payload.__len__() // FILE_BLOCK + 2  # not 256 blocks of 4 KiB
