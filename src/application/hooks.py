"""What every auth hook payload starts with (GoTrue's v0hooks `Metadata`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pytrue.application.context import RequestContext


def hook_metadata(uuid: str, name: str, now: datetime, ctx: RequestContext) -> dict[str, Any]:
    metadata: dict[str, Any] = {"uuid": uuid, "time": now.isoformat().replace("+00:00", "Z"), "name": name}
    if ctx.ip:
        metadata["ip_address"] = ctx.ip
    return metadata
