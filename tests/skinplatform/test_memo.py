"""skinplatform.memo (per-process memo of the advice catalogue and the production model, with a
generation token in the shared cache, read once per request), and the shared Redis pool.

The memo is bypassed inside a transaction, so these tests run with transaction=True (no wrapping
transaction): what they see is what a web process sees."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from recommendations.services import build_advice
from skinplatform import memo
from tests.recommendations.factories import TASK, ConditionFactory, TipFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_memo")]


def _advice():
    return build_advice(task=TASK, probabilities={"acne": 0.9, "other": 0.1}, profile=None)


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as queries:
        fn()
    return len(queries)


def test_the_advice_catalogue_is_read_once_then_from_the_memo():
    condition = ConditionFactory(key="acne")
    TipFactory(conditions=[condition], text="Wash gently.")
    first = _advice()
    assert [t.text for t in first.tips] == ["Wash gently."]
    assert _queries(_advice) == 0  # generation check only: the cache, not the database
    assert _advice() == first


def test_an_admin_edit_shows_on_the_next_analysis():
    condition = ConditionFactory(key="acne", description="Old text.")
    tip = TipFactory(conditions=[condition], text="Wash gently.")
    assert _advice().description == "Old text."
    condition.description = "New text."
    condition.save()  # what the admin does
    assert _advice().description == "New text."
    tip.text = "Wash twice a day."
    tip.save()
    assert [t.text for t in _advice().tips] == ["Wash twice a day."]
    TipFactory(conditions=[condition], text="Sleep well.")  # m2m change too
    assert {t.text for t in _advice().tips} == {"Wash twice a day.", "Sleep well."}


def test_bulk_deactivation_through_the_service_invalidates():
    from recommendations.models import Tip
    from recommendations.services import tip_set_active

    condition = ConditionFactory(key="acne")
    TipFactory(conditions=[condition], text="Wash gently.")
    assert len(_advice().tips) == 1
    tip_set_active(tips=Tip.objects.all(), active=False)  # update(): no signal, explicit bump
    assert _advice().tips == []


def test_another_process_sees_the_change_through_the_generation():
    """A bump from elsewhere (another process) only changes the token in the shared cache."""
    condition = ConditionFactory(key="acne", description="Old text.")
    assert _advice().description == "Old text."
    from recommendations.models import Condition

    Condition.objects.filter(pk=condition.pk).update(description="Changed elsewhere.")
    assert _advice().description == "Old text."  # no signal reached this process's memo...
    cache.set("memo:gen:advice", "another-token", timeout=None)  # ...the other process bumped
    assert _advice().description == "Changed elsewhere."


def test_inside_a_transaction_the_database_is_read_directly():
    ConditionFactory(key="acne", description="Committed.")
    assert _advice().description == "Committed."
    with transaction.atomic():
        from recommendations.models import Condition

        Condition.objects.filter(key="acne").update(description="Uncommitted.")
        assert _advice().description == "Uncommitted."
        transaction.set_rollback(True)
    assert _advice().description == "Committed."  # nothing of the rolled-back read was kept


def test_with_the_cache_down_the_database_is_read(settings):
    ConditionFactory(key="acne", description="Text.")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    assert memo.generation("advice") is None
    assert _advice().description == "Text."
    assert _queries(_advice) > 0


def test_a_promotion_reaches_the_next_analysis(tmp_path):
    from analysis import predictors
    from tests.factories import TeamFactory, UserFactory
    from tests.training.factories import ModelVersionFactory
    from training.services import model_version_set_production

    owner = UserFactory()
    team = TeamFactory(owner=owner)
    made = {"task": "memo-task", "source_session__dataset_version__dataset__team": team}
    first = ModelVersionFactory(bundle_path=str(tmp_path / "a"), **made)
    second = ModelVersionFactory(bundle_path=str(tmp_path / "b"), **made)
    model_version_set_production(model_version=first, user=owner)
    assert predictors.resolve("memo-task").model_version_id == first.pk
    assert _queries(lambda: predictors.resolve("memo-task")) == 0
    model_version_set_production(model_version=second, user=owner)
    assert predictors.resolve("memo-task").model_version_id == second.pk


def test_one_redis_pool_per_process_whatever_the_thread():
    from django.core.cache.backends.redis import RedisCache

    params = {"OPTIONS": {"pool_class": "skinplatform.cache.SharedConnectionPool"}}
    pools = []

    def in_a_thread() -> None:  # what each ASGI request does: a new cache object
        backend = RedisCache("redis://127.0.0.1:1/0", params)
        pools.append(backend._cache._get_connection_pool(write=True))

    threads = [threading.Thread(target=in_a_thread) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(pools) == 3
    assert pools[0] is pools[1] is pools[2]
    plain = RedisCache("redis://127.0.0.1:1/0", {})._cache._get_connection_pool(write=True)
    assert plain is not pools[0]  # Django's own behaviour: a pool per cache object


def test_the_cache_keeps_its_redis_client(redis_url):
    """Django built a redis-py client for every cache call; skinplatform.cache.RedisCache (the
    settings' backend on Redis) keeps one per pool, and commands still go through the pool."""
    from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

    from skinplatform.cache import RedisCache

    params = {"OPTIONS": {"pool_class": "skinplatform.cache.SharedConnectionPool"}}
    backend = RedisCache(redis_url, params)
    client = backend._cache.get_client(write=True)
    assert backend._cache.get_client(write=False) is client  # one server: one pool
    backend.set("kept-client", {"n": 1}, 30)
    assert backend.get_many(["kept-client", "missing"]) == {"kept-client": {"n": 1}}
    other_thread: list = []
    thread = threading.Thread(target=lambda: other_thread.append(backend._cache.get_client()))
    thread.start()
    thread.join()
    assert other_thread == [client]  # thread-safe: redis-py borrows a connection per command
    django_own = DjangoRedisCache(redis_url, params)._cache
    assert django_own.get_client() is not django_own.get_client()


def _counting_cache(monkeypatch) -> list[str]:
    """The calls made on the cache backend from outside it (LocMemCache.get_many calls get)."""
    from django.core.cache import caches

    backend = caches["default"]
    calls: list[str] = []
    depth = [0]
    for name in ("get", "get_many", "add", "set"):
        original = getattr(backend, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            if depth[0] == 0:
                calls.append(_name)
            depth[0] += 1
            try:
                return _original(*args, **kwargs)
            finally:
                depth[0] -= 1

        monkeypatch.setattr(backend, name, counted)
    return calls


def test_a_request_reads_every_generation_in_one_round_trip(monkeypatch):
    ConditionFactory(key="acne")
    memo.memoised("registry", "warm", lambda: 1)  # a second name this process knows
    _advice()
    calls = _counting_cache(monkeypatch)
    _advice()
    assert calls == ["get_many"] * 3  # outside a request: one read per memoised value
    calls.clear()
    with memo.snapshot():
        _advice()
        _advice()
        assert memo.generation("registry") is not None
    assert calls == ["get_many"]  # conditions, tips, products and the registry: one read


def test_a_bump_during_the_request_shows_in_the_same_request():
    condition = ConditionFactory(key="acne", description="Old text.")
    with memo.snapshot():
        assert _advice().description == "Old text."
        condition.description = "New text."
        condition.save()
        assert _advice().description == "New text."


def test_another_process_bump_shows_from_the_next_request():
    """A snapshot is one request's consistent view; the next request sees other processes'
    bumps."""
    condition = ConditionFactory(key="acne", description="Old text.")
    from recommendations.models import Condition

    with memo.snapshot():
        assert _advice().description == "Old text."
        Condition.objects.filter(pk=condition.pk).update(description="Changed elsewhere.")
        cache.set("memo:gen:advice", "another-token", timeout=None)
        assert _advice().description == "Old text."
    with memo.snapshot():
        assert _advice().description == "Changed elsewhere."


def test_the_middleware_gives_each_request_a_snapshot(settings, rf):
    assert "skinplatform.memo.MemoSnapshotMiddleware" in settings.MIDDLEWARE
    seen = []

    def view(request):
        seen.append(dict(memo._snapshot.get()))  # fails when there is no snapshot
        memo.generation("advice")
        seen.append(dict(memo._snapshot.get()))
        return None

    middleware = memo.MemoSnapshotMiddleware(view)
    middleware(rf.get("/"))
    assert seen[0] == {}
    assert "advice" in seen[1]
    assert memo._snapshot.get() is None  # gone after the request
