"""The write side of the outbox: every message the bot sends on its own is written here first.

Handlers, letters, alerts and the sweep queue messages through this module (one row encoder, one
channel choice, an idempotency key per message); `jobs.dispatcher` alone reads the queue and sends.
Provider delivery reports come back through `record_status`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from models.db import bulk_insert, insert_skipping_duplicates
from models.messages import Button, Channel, Reply
from models.outbound import Template
from models.tables import SENT_STATUSES, Contact, Failure, Outbox, OutboxStatus, StoredFile

WINDOW = timedelta(hours=24)
"""WhatsApp's customer-service window: free text only this long after the person's last message."""

MAX_KEY = 200
"""Longest idempotency key (the column's size); longer keys are cut."""
REPLY_KIND = "reply"
"""The outbox kind of a direct reply to someone who just wrote."""


@dataclass(frozen=True)
class OutMessage:
    """What to send to one person; `template` is what WhatsApp gets outside the 24-hour window."""

    text: str
    kind: str = "reminder"
    buttons: tuple[Button, ...] = ()
    template: Template | None = None
    attachment_id: int | None = None


class Reachable(Protocol):
    """What the channel choice reads of a person (a `Contact`, or the sweep's plain `ContactRef`)."""

    @property
    def telegram_user_id(self) -> str | None: ...
    @property
    def wa_number(self) -> str | None: ...
    @property
    def preferred_channel(self) -> str | None: ...
    @property
    def unreachable_telegram(self) -> bool: ...
    @property
    def unreachable_whatsapp(self) -> bool: ...


def reachable_channels(contact: Reachable) -> list[Channel]:
    """The channels the bot can send to `contact` on (an address there, not blocked), the preferred one first."""
    channels = []
    if contact.telegram_user_id and not contact.unreachable_telegram:
        channels.append(Channel.TELEGRAM)
    if contact.wa_number and not contact.unreachable_whatsapp:
        channels.append(Channel.WHATSAPP)
    if len(channels) == 2 and contact.preferred_channel == Channel.WHATSAPP.value:
        channels.reverse()
    return channels


def choose_channel(contact: Reachable, *, excluding: Channel | None = None) -> Channel | None:
    """The contact's preferred reachable channel, else the other reachable one, else None (the one choice)."""
    for channel in reachable_channels(contact):
        if channel is not excluding:
            return channel
    return None


def window_open(contact: Contact, now: datetime) -> bool:
    """Whether WhatsApp still takes free text for `contact` (they wrote within the last 24 hours)."""
    return contact.wa_last_inbound_at is not None and now - contact.wa_last_inbound_at < WINDOW


# -- the one row encoder -------------------------------------------------------------------------

OUTBOX_COLUMNS = (
    "idem_key",
    "contact_id",
    "channel",
    "kind",
    "text",
    "buttons",
    "template_name",
    "template_params",
    "attachment_id",
)
"""The outbox columns that vary per message, in the order `outbox_values` gives them; `outbox_fixed` has the rest."""

_to_json = json.JSONEncoder(ensure_ascii=False).encode  # = json.dumps(..., ensure_ascii=False), without its set-up
_json_string: Any = getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring
_BUTTONS: dict[tuple[Button, ...], str] = {}


def _strings_json(values: Sequence[str]) -> str:
    """json.dumps(list(values), ensure_ascii=False) for a list of strings, at a fraction of the cost."""
    return f"[{', '.join(map(_json_string, values))}]"


def _buttons_json(buttons: tuple[Button, ...]) -> str:
    """The stored form of `buttons`: [[label, payload], ...] (memoised: a sweep repeats a few sets)."""
    found = _BUTTONS.get(buttons)
    if found is None:
        found = _to_json([[b.label, b.payload] for b in buttons])
        if len(_BUTTONS) < 1000:
            _BUTTONS[buttons] = found
    return found


def decode_buttons(stored: str | None) -> tuple[Button, ...]:
    """The buttons of a stored row (the inverse of the encoder)."""
    return tuple(Button(label, payload) for label, payload in json.loads(stored or "[]"))


def outbox_values(key: str, contact_id: int, channel: Channel, message: OutMessage) -> tuple[Any, ...]:
    """The `OUTBOX_COLUMNS` of one message to one person on one channel."""
    template = message.template
    return (
        key[:MAX_KEY],
        contact_id,
        channel.value,
        message.kind,
        message.text,
        _buttons_json(message.buttons),
        template.name if template else None,
        _strings_json(template.params) if template else "[]",
        message.attachment_id,
    )


def outbox_fixed(
    now: datetime, *, not_before: datetime | None = None, broadcast_id: int | None = None
) -> dict[str, Any]:
    """The outbox columns a batch of new rows shares: pending, due at `not_before` (default now), no attempts yet."""
    return {
        "use_template": False,
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": not_before or now,
        "broadcast_id": broadcast_id,
        "created_at": now,
        "last_error": "",
        "failure": Failure.NONE.value,
    }


def outbox_row(
    key: str,
    contact: Contact,
    message: OutMessage,
    now: datetime,
    *,
    channel: Channel,
    not_before: datetime | None = None,
    broadcast_id: int | None = None,
) -> dict[str, Any]:
    """The column values of one outbox row, as a mapping (the same encoder as the bulk path)."""
    assert contact.id is not None
    row = dict(zip(OUTBOX_COLUMNS, outbox_values(key, contact.id, channel, message), strict=True))
    row.update(outbox_fixed(now, not_before=not_before, broadcast_id=broadcast_id))
    return row


# -- writing ---------------------------------------------------------------------------------------


def insert_values(session: Session, rows: Sequence[tuple[Any, ...]], fixed: Mapping[str, Any]) -> None:
    """Insert rows given as `outbox_values` tuples sharing `fixed`; a key already there is skipped, never doubled."""
    bulk_insert(session, Outbox.__table__, OUTBOX_COLUMNS, rows, "(idem_key)", fixed=fixed)  # type: ignore[attr-defined]


def insert_rows(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows given as `outbox_row` mappings; a key already there is skipped, never doubled."""
    table = Outbox.__table__  # type: ignore[attr-defined]
    for start in range(0, len(rows), 500):
        session.execute(insert_skipping_duplicates(session, table, "idem_key").values(list(rows[start : start + 500])))


def enqueue(
    session: Session,
    key: str,
    contact: Contact,
    message: OutMessage,
    now: datetime,
    *,
    not_before: datetime | None = None,
    broadcast_id: int | None = None,
) -> Outbox | None:
    """Queue one message for `contact` on their channel; None when they have no reachable channel."""
    channel = choose_channel(contact)
    if channel is None:
        return None
    row = outbox_row(key, contact, message, now, channel=channel, not_before=not_before, broadcast_id=broadcast_id)
    insert_rows(session, [row])
    return session.exec(select(Outbox).where(Outbox.idem_key == row["idem_key"])).one()


# -- reading and provider reports ------------------------------------------------------------------


def status_counts(session: Session) -> dict[str, int]:
    """How many rows are in each status."""
    rows = session.exec(select(Outbox.status, func.count()).group_by(col(Outbox.status))).all()
    return {status: int(count) for status, count in rows}


def latest_dead(session: Session, limit: int = 10) -> list[Outbox]:
    """The most recent rows that gave up, with their reasons."""
    stmt = select(Outbox).where(Outbox.status == OutboxStatus.DEAD.value).order_by(col(Outbox.id).desc()).limit(limit)
    return list(session.exec(stmt).all())


def record_status(session: Session, provider_id: str, status: str, at: datetime, error: str = "") -> Outbox | None:
    """Apply a provider's delivery event (sent, delivered, read, failed) to the row it belongs to."""
    row = session.exec(select(Outbox).where(Outbox.provider_id == provider_id)).first()
    if row is None:
        return None
    order = list(SENT_STATUSES)
    if status == "failed":
        row.status = OutboxStatus.FAILED.value
        row.last_error = error[:500] or "gagal terkirim (laporan penyedia)"
    elif status in order:
        if status == "delivered":
            row.delivered_at = row.delivered_at or at
        if status == "read":
            row.read_at = row.read_at or at
            row.delivered_at = row.delivered_at or at
        if row.status not in order or order.index(status) > order.index(row.status):
            row.status = status
    session.add(row)
    return row


# -- durable replies -------------------------------------------------------------------------------

REPLY_GRACE = timedelta(seconds=45)
"""How long the dispatcher leaves a reply to the adapter that sends it at once (then it sends it itself)."""


def store_file(session: Session, filename: str, mime: str, content: bytes, now: datetime) -> int:
    """The id of a stored file with these bytes and name (an existing one is reused)."""
    digest = hashlib.sha256(content).hexdigest()
    found = session.exec(
        select(StoredFile.id).where(StoredFile.sha256 == digest, StoredFile.filename == filename[:200])
    ).first()
    if found is not None:
        return found
    row = StoredFile(filename=filename[:200], mime=mime[:100], sha256=digest, content=content, created_at=now)
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def queue_replies(
    session: Session, contact: Contact, channel: Channel, key: str, replies: Sequence[Reply], now: datetime
) -> list[Reply]:
    """Write `replies` to `contact` on `channel` as outbox rows due after `REPLY_GRACE` (same transaction as the
    message's handling); return them with their `outbox_id`, for the adapter to send at once and mark."""
    rows = []
    keys = []
    for index, reply in enumerate(replies):
        attachment_id = None
        if reply.attachment is not None:
            file = reply.attachment
            attachment_id = file.stored_id or store_file(session, file.filename, file.mime, file.content, now)
        message = OutMessage(text=reply.text, kind=REPLY_KIND, buttons=reply.buttons, attachment_id=attachment_id)
        row_key = f"reply|{channel.value}|{key}|{index}"[:MAX_KEY]
        keys.append(row_key)
        rows.append(outbox_row(row_key, contact, message, now, channel=channel, not_before=now + REPLY_GRACE))
    insert_rows(session, rows)
    ids = dict(session.exec(select(Outbox.idem_key, Outbox.id).where(col(Outbox.idem_key).in_(keys))).all())
    return [dataclasses.replace(reply, outbox_id=ids.get(k)) for reply, k in zip(replies, keys, strict=True)]


def mark_reply_sent(session: Session, outbox_id: int, provider_id: str, now: datetime) -> bool:
    """The adapter sent the reply itself: settle its row (unless the dispatcher already took it)."""
    result = session.execute(
        update(Outbox)
        .where(col(Outbox.id) == outbox_id, col(Outbox.status) == OutboxStatus.PENDING.value)
        .values(status=OutboxStatus.SENT.value, provider_id=provider_id[:128], sent_at=now, attempts=1)
    )
    return bool(getattr(result, "rowcount", 0))


def release_reply(session: Session, outbox_id: int, error: str, now: datetime) -> None:
    """Sending the reply at once failed: hand it to the dispatcher now (it retries like any row)."""
    session.execute(
        update(Outbox)
        .where(col(Outbox.id) == outbox_id, col(Outbox.status) == OutboxStatus.PENDING.value)
        .values(next_attempt_at=now, attempts=col(Outbox.attempts) + 1, last_error=error[:500])
    )
