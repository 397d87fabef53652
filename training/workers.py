"""Hooks into the django-q2 worker processes. Never imports torch (this runs in every worker
as it starts, before any task)."""

from __future__ import annotations

import logging

log = logging.getLogger("training")


def sweep_when_a_worker_starts(sender, proc_name: str = "", **kwargs) -> None:
    """A worker starts: the cluster is new, or the guard replaced a worker that died. Runs the
    stale sweep at once, so a run whose worker process was killed on this host resumes within
    seconds instead of waiting for the heartbeat to go stale and the next scheduled sweep."""
    from training.services import training_session_sweep_stale

    try:
        outcome = training_session_sweep_stale()
        if any(outcome.values()):
            log.warning("%s started: stale runs swept %s", proc_name, outcome)
    except Exception:  # a worker must start even if the database is briefly away
        log.exception("stale sweep at worker start failed")
