"""The inbox: every incoming webhook body is written here before Sigap answers 200, and marked done once handled.

Telegram and Meta never resend a webhook that was answered 200, so a body that is only in memory is lost when
the process dies. Stored first, it is handled again at the next start until it is done (or has failed
`MAX_ATTEMPTS` times). Handling twice is harmless: the core answers each provider message id once.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from models.db import core, skipping_duplicates
from models.tables import InboundMessage, InboundSeen

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
"""After this many failed attempts a message is set aside (processed, with its last error) instead of retried."""
_ERROR_LENGTH = 500


def store(session: Session, channel: str, key: str, payload: str, now: datetime) -> bool:
    """Write one received body; False when (channel, key) is already there (a redelivery), never doubled."""
    connection = core(session)
    # RETURNING, not rowcount: with PostgreSQL's ON CONFLICT DO NOTHING the driver's rowcount is not reliable
    statement = store_statement(connection.dialect.name)
    return connection.execute(statement, store_values(channel, key, payload, now)).first() is not None


STORED = ("channel", "key")
"""The columns `store_statement` returns for a row it inserted (a duplicate returns nothing)."""


def store_values(channel: str, key: str, payload: str, now: datetime) -> dict[str, Any]:
    """The values of one received body for `store_statement` (`STORED` named as it returns them)."""
    return {"channel": channel, "key": key[:128], "payload": payload, "received_at": now}


@functools.cache
def store_statement(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (channel, key) DO NOTHING RETURNING channel, key of received bodies: built once;
    with the values of many bodies one multi-row INSERT that returns the rows it inserted."""
    table = InboundMessage.__table__  # type: ignore[attr-defined]
    insert = skipping_duplicates(dialect, table, "channel", "key")
    return insert.values(processed_at=None, attempts=0, last_error="").returning(table.c.channel, table.c.key)


def find(session: Session, channel: str, key: str) -> InboundMessage | None:
    """The stored message of `channel` with `key`, if any."""
    return session.exec(
        select(InboundMessage).where(InboundMessage.channel == channel, InboundMessage.key == key[:128])
    ).first()


def pending(session: Session, channel: str, limit: int = 1000) -> list[InboundMessage]:
    """Messages of `channel` not handled yet, oldest first."""
    return list(
        session.exec(
            select(InboundMessage)
            .where(InboundMessage.channel == channel, col(InboundMessage.processed_at).is_(None))
            .order_by(col(InboundMessage.received_at), col(InboundMessage.id))
            .limit(limit)
        ).all()
    )


def mark_done(session: Session, message_id: int, now: datetime) -> None:
    """The message was handled."""
    session.execute(
        update(InboundMessage)
        .where(col(InboundMessage.id) == message_id, col(InboundMessage.processed_at).is_(None))
        .values(processed_at=now)
    )


def mark_failed(session: Session, message_id: int, error: str, now: datetime) -> None:
    """Handling failed: count the attempt; after `MAX_ATTEMPTS` set the message aside so it cannot loop forever."""
    row = session.get(InboundMessage, message_id)
    if row is None or row.processed_at is not None:
        return
    row.attempts += 1
    row.last_error = error[:_ERROR_LENGTH]
    if row.attempts >= MAX_ATTEMPTS:
        row.processed_at = now
        # The error text may quote the message (and so a phone number): it stays in the row, not in the log.
        log.error(
            "%s inbound message %s set aside after %d failed attempts (see inbound_message.last_error)",
            row.channel,
            row.id,
            row.attempts,
        )
    session.add(row)


KEEP = timedelta(days=30)
"""How long handled bodies and processed message ids are kept; platforms redeliver within hours, not weeks."""


def prune(session: Session, now: datetime) -> int:
    """Forget handled inbound bodies and processed-message ids older than `KEEP`; returns rows removed."""
    cutoff = now - KEEP
    removed = 0
    for stmt in (
        delete(InboundMessage).where(col(InboundMessage.processed_at) < cutoff),
        delete(InboundSeen).where(col(InboundSeen.at) < cutoff),
    ):
        result = session.execute(stmt)
        removed += int(getattr(result, "rowcount", 0) or 0)
    return removed
