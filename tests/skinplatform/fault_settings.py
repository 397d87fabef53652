"""Settings for the process-level fault tests: the real settings, with a run declared stale
after 10 s without a heartbeat instead of 30 s (the sweep still runs every minute, as deployed)."""

from skinplatform.settings import *  # noqa: F403

TRAINING_HEARTBEAT_S = 1.0
TRAINING_STALE_AFTER_S = 10.0
