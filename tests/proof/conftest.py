"""tests/proof runs under `-p no:xdist` too (pytest -p no:xdist tests/proof): then xdist does
not register its xdist_group marker and --strict-markers would refuse the module that uses it.
Also the fault tests' running training session."""

import pytest
from django.utils import timezone

from tests.factories import TeamFactory, UserFactory
from tests.training.factories import EpochMetricFactory, TrainingSessionFactory


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one xdist worker")


@pytest.fixture
def running(db):
    """A running session of alice's team (bob a member), one epoch in: (alice, session)."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    team = TeamFactory(owner=alice, members={bob: "member"})
    now = timezone.now()
    session = TrainingSessionFactory(
        dataset_version__dataset__team=team,
        name="live run",
        status="running",
        started_at=now,
        heartbeat_at=now,
        epoch=1,
        log_tail=[{"at": now.isoformat(), "level": "info", "message": "epoch 1 done"}],
    )
    EpochMetricFactory(session=session, epoch=1)
    return alice, session
