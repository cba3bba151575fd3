"""The audit log written from outside a chat message: the command line (`channel="cli"`) and jobs. A chat handler
writes through `handlers.base.Ctx.audit`, the dashboard through `bot.web.auth.audit`; all three rows read the same
in /jejak."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session

from models.tables import AuditLog, utcnow


def record(
    session: Session,
    action: str,
    target: str = "",
    detail: Mapping[str, Any] | None = None,
    *,
    channel: str = "cli",
    actor_id: int | None = None,
    at: datetime | None = None,
) -> None:
    """Add one audit row to `session` (written with the caller's commit, or not at all)."""
    session.add(
        AuditLog(
            at=at or utcnow(),
            actor_id=actor_id,
            channel=channel,
            action=action,
            target=target[:200],
            detail=json.dumps(dict(detail), ensure_ascii=False, default=str) if detail else "",
        )
    )
