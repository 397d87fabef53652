"""django-q2 entry points of accounts: load by id, push, return."""

from __future__ import annotations

import os
import socket

from accounts import notifications


def run_ping(user_id: int, nonce: str) -> dict:
    payload = {
        "type": "event",
        "event": "pong",
        "nonce": nonce,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }
    delivered = notifications.publish(user_id, payload)
    return {"delivered": delivered, **payload}
