"""Settings for the process-level fault tests: the real settings (a run is stale after 30 s
without a heartbeat, swept every minute, as deployed), with a heartbeat every second so the
test's epochs are recorded promptly."""

from skinplatform.settings import *  # noqa: F403

TRAINING_HEARTBEAT_S = 1.0
