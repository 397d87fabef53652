"""Training knobs: read from Django settings when set there, else these defaults. Read at call
time (not import time) so tests and deployments can change them."""

from __future__ import annotations

from django.conf import settings

DEFAULTS = {
    # archives
    "TRAINING_DATASET_MAX_FILES": 50_000,
    "TRAINING_DATASET_MAX_UNCOMPRESSED_BYTES": None,  # None: 8 x DATASET_UPLOAD_MAX_BYTES
    "TRAINING_DATASET_MAX_RATIO": 100,  # expansion ratio per file (> 1 MiB) and overall (> 64 MiB)
    # runs
    "TRAINING_HEARTBEAT_S": 5.0,
    "TRAINING_STALE_AFTER_S": 30.0,
    "TRAINING_MAX_ATTEMPTS": 3,
    "TRAINING_PROGRESS_INTERVAL_S": 0.5,
    "TRAINING_CANCEL_POLL_S": 1.0,
    "TRAINING_LOG_TAIL_LINES": 200,
    # presence
    "TRAINING_PRESENCE_TTL_S": 90.0,
}


def get(name: str):
    value = getattr(settings, name, DEFAULTS[name])
    if name == "TRAINING_DATASET_MAX_UNCOMPRESSED_BYTES" and value is None:
        return 8 * settings.DATASET_UPLOAD_MAX_BYTES
    return value
