"""OpenAPI schema generation (drf-spectacular) tuned to our API style."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as _AutoSchema


class AutoSchema(_AutoSchema):
    """Names components after their qualified class name, so the nested `InputSerializer` /
    `OutputSerializer` of every `<Entity><Action>Api` get distinct names
    (`TeamInviteApiInput`, not a clash of many `Input`)."""

    def get_serializer_name(self, serializer, direction) -> str:
        return type(serializer).__qualname__.replace(".", "")
