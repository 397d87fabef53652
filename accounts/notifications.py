"""The one module of accounts that talks to the channel layer: a user's personal group.

Used by services (and by other apps' services) to push notifications and small events to every
open page of one user. The database row is the record; the push only makes it live.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


def group_name(user_id: int) -> str:
    return f"user.{user_id}"


def publish(user_id: int, payload: dict[str, Any]) -> bool:
    """Send `payload` to the user's open pages. Returns False (and logs) when the layer is down:
    a push is never worth failing the caller's work for."""
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        async_to_sync(layer.group_send)(
            group_name(user_id), {"type": "user.event", "data": payload}
        )
    except Exception:  # Redis down or unreachable: the row is already saved.
        log.warning("could not push to user %s", user_id, exc_info=True)
        return False
    return True
