"""With these settings, tests run faster: MD5 hasher, synchronous django-q2, in-memory channel
layer, locmem email and cache, media in a temporary folder (set per test by tests/conftest.py)."""

import os

from .settings import *  # noqa: F403
from .settings import Q_CLUSTER

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
Q_CLUSTER.pop("redis", None)
Q_CLUSTER["orm"] = "default"
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
AXES_ENABLED = True
TORCH_THREADS = 1

# The real-services lane (.ci/run, `make test-services`) sets DATABASE_URL and REDIS_URL: then the
# Channels layer is the real Redis one, with a key prefix per xdist worker so parallel workers'
# groups (same primary keys in their own databases) never meet.
if REDIS_URL:  # noqa: F405
    _worker = os.environ.get("PYTEST_XDIST_WORKER", "main")  # noqa: F405
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"test-{_worker}"},  # noqa: F405
        }
    }

# Threads of database_sync_to_async must not keep connections open past a test (PostgreSQL
# refuses to drop a test database that still has sessions).
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
