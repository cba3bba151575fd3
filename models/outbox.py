"""The write side of the outbox: every message the bot sends on its own is written here first.

Handlers, letters, alerts and the sweep queue messages through this module (one row encoder, one
channel choice, an idempotency key per message); `jobs.dispatcher` alone reads the queue and sends.
Provider delivery reports come back through `record_status`.

A text longer than one chat message (`TEXT_LIMIT`) is cut here, and only here, into chunks at paragraph, else line,
else word boundaries, each chunk its own row (the buttons and the file on the last one): a failure at chunk 5 is
retried from chunk 5, not from chunk 1. Rows queued together for one person go out in the order written
(`queue_order`, which the dispatcher's claim applies).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, bindparam, exists, func, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from models.db import bulk_insert, core, insert_skipping_duplicates, skipping_duplicates
from models.messages import CHAT_CHANNELS, Button, Channel, Reply
from models.outbound import Template
from models.tables import OPEN_STATUSES, SENT_STATUSES, Contact, Failure, Outbox, OutboxStatus, StoredFile

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


def reachable_channels(contact: Reachable, on: Collection[Channel] = CHAT_CHANNELS) -> list[Channel]:
    """The channels of `on` (those the deployment sends on; default: both) the bot can send to `contact` on (an
    address there, not blocked), the preferred one first. `models.reach` says why a contact has none."""
    channels = []
    if contact.telegram_user_id and not contact.unreachable_telegram and Channel.TELEGRAM in on:
        channels.append(Channel.TELEGRAM)
    if contact.wa_number and not contact.unreachable_whatsapp and Channel.WHATSAPP in on:
        channels.append(Channel.WHATSAPP)
    if len(channels) == 2 and contact.preferred_channel == Channel.WHATSAPP.value:
        channels.reverse()
    return channels


def choose_channel(
    contact: Reachable, *, excluding: Channel | None = None, on: Collection[Channel] = CHAT_CHANNELS
) -> Channel | None:
    """The contact's preferred reachable channel of `on`, else the other reachable one, else None (the one choice)."""
    for channel in reachable_channels(contact, on):
        if channel is not excluding:
            return channel
    return None


def window_open(contact: Contact, now: datetime) -> bool:
    """Whether WhatsApp still takes free text for `contact` (they wrote within the last 24 hours)."""
    return contact.wa_last_inbound_at is not None and now - contact.wa_last_inbound_at < WINDOW


# -- long texts: one chunk per message -------------------------------------------------------------

TEXT_LIMIT = 4096
"""Longest text of one chat message: Telegram counts UTF-16 code units (an emoji counts twice), WhatsApp characters;
4,096 both, so a chunk measured in UTF-16 units fits either."""
LAST_LIMIT = 1024
"""Longest text sent together with a file (a caption, on both channels) or, on WhatsApp, with buttons (the body of an
interactive message): the last chunk of such a message is at most this long."""
WHATSAPP_BUTTONS = 10
"""WhatsApp shows at most this many choices as an interactive message (a list); more are written out as text."""
_BREAKS = ("\n\n", "\n", " ")


def units(text: str) -> int:
    """Length of `text` as Telegram counts it (UTF-16 code units)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2  # in C: a character beyond the BMP takes two units


def _fit(text: str, limit: int) -> int:
    """How many characters from the start of `text` fit in `limit` UTF-16 units."""
    if len(text) <= limit and units(text) <= limit:
        return len(text)
    size = 0
    for index, char in enumerate(text):
        size += 2 if ord(char) > 0xFFFF else 1
        if size > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """`text` in chunks of at most `limit` UTF-16 units, cut between paragraphs, else lines, else words.

    A cut falls at the last paragraph break in the second half of the chunk, else the last line break there, else the
    last paragraph or line break anywhere, else the last space; only a word longer than `limit` (a long link) is cut
    inside. The breaks at a cut are dropped, blank chunks left out; each chunk's text is otherwise as written.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    chunks: list[str] = []
    rest = text
    while units(rest) > limit:
        size = _fit(rest, limit)
        window = rest[: size + 1]  # a break right after the limit still lets the chunk be `limit` long
        cut = _break_in(window, size)
        if cut is None:
            chunks.append(rest[: max(size, 1)])
            rest = rest[max(size, 1) :]
            continue
        at, width = cut
        chunks.append(rest[:at].rstrip("\n"))
        rest = rest[at + width :].lstrip("\n")
    chunks.append(rest)
    return [chunk for chunk in chunks if chunk.strip()] or [text[: max(_fit(text, limit), 1)]]


def _break_in(window: str, size: int) -> tuple[int, int] | None:
    """Where to cut `window` (at most `size` characters before the cut): (index, width of the break), or None."""
    anywhere: tuple[int, int] | None = None
    for separator in _BREAKS[:2]:
        found = window.rfind(separator, 1, size + len(separator))
        if found > size // 2:
            return found, len(separator)
        if found > 0 and (anywhere is None or found > anywhere[0]):
            anywhere = (found, len(separator))
    if anywhere is not None:
        return anywhere
    space = window.rfind(" ", 1, size + 1)
    return (space, 1) if space > 0 else None


def split_tail(text: str, limit: int) -> tuple[str, str]:
    """`text` as (head, tail): the longest tail of at most `limit` UTF-16 units that starts after a paragraph break,
    else after a line break, else after a space (cut inside a word only when there is none); the head may be empty."""
    if units(text) <= limit:
        return "", text
    start = len(text) - _fit(text[::-1], limit)  # the longest tail that fits starts here
    for separator in _BREAKS:
        found = text.find(separator, max(start - len(separator), 1))
        if found > 0 and text[found + len(separator) :].strip():
            return text[:found].rstrip("\n"), text[found + len(separator) :].lstrip("\n")
    return text[:start], text[start:]


def chunk_texts(text: str, channel: Channel | str, *, buttons: int = 0, attachment: bool = False) -> list[str]:
    """The texts of the messages `text` goes out as on `channel`: itself when it fits one message, else its chunks
    (`split_text`); with a file, or with buttons on WhatsApp, the last chunk fits `LAST_LIMIT` so it goes with them."""
    small_last = attachment or (channel == Channel.WHATSAPP.value and 0 < buttons <= WHATSAPP_BUTTONS)
    if units(text) <= (LAST_LIMIT if small_last else TEXT_LIMIT):
        return [text]
    chunks = split_text(text)
    if small_last:
        head, tail = split_tail(chunks.pop(), LAST_LIMIT)
        chunks += [head, tail] if head.strip() else [tail]
    return chunks


def chunk_key(key: str, index: int) -> str:
    """The idempotency key of chunk `index` (0-based) of the message keyed `key`: the first keeps the key."""
    if index == 0:
        return key[:MAX_KEY]
    suffix = f"#{index + 1}"
    return key[: MAX_KEY - len(suffix)] + suffix


def _chunk_row(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One `outbox_row` mapping as the rows of its chunks (itself, when it fits in one message).

    Buttons and the file go with the last chunk. A WhatsApp message with a template stays whole: outside the 24-hour
    window it is sent as the one template (the sender cuts an over-long text inside the window). On other channels
    only the first chunk keeps the template, so a chunked message moved to WhatsApp sends it once.
    """
    text, channel = row["text"], row["channel"]
    if len(text) <= LAST_LIMIT // 2 or (channel == Channel.WHATSAPP.value and row["template_name"]):
        return [dict(row)]
    buttons = len(json.loads(row["buttons"] or "[]"))
    texts = chunk_texts(text, channel, buttons=buttons, attachment=row["attachment_id"] is not None)
    if len(texts) == 1:
        return [dict(row)]
    last = len(texts) - 1
    chunks = []
    for index, chunk in enumerate(texts):
        part = dict(row, idem_key=chunk_key(row["idem_key"], index), text=chunk)
        if index != last:
            part.update(buttons="[]", attachment_id=None)
        if index:
            part.update(template_name=None, template_params="[]")
        chunks.append(part)
    return chunks


def queue_order() -> ColumnElement[bool]:
    """Rows no earlier row waits before: the rows queued for one person at one moment (the chunks of a long text, the
    replies to one message) go out in the order written, each only once every row written before it is settled.

    The dispatcher's claim applies it, so a chunk that fails (a 429, a time-out) is retried before the next is sent.
    """
    earlier = aliased(Outbox)
    return ~exists().where(
        col(earlier.contact_id) == col(Outbox.contact_id),
        col(earlier.created_at) == col(Outbox.created_at),
        col(earlier.id) < col(Outbox.id),
        col(earlier.status).in_(OPEN_STATUSES),
    )


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
    """Insert rows given as `outbox_values` tuples sharing `fixed` (a long text as one row per chunk); a key already
    there is skipped, never doubled."""
    text = OUTBOX_COLUMNS.index("text")
    if any(len(row[text]) > LAST_LIMIT // 2 for row in rows):  # rare (a sweep's messages are short): the slow path
        rows = [
            tuple(chunk[name] for name in OUTBOX_COLUMNS)
            for row in rows
            for chunk in _chunk_row(dict(zip(OUTBOX_COLUMNS, row, strict=True)))
        ]
    bulk_insert(session, Outbox.__table__, OUTBOX_COLUMNS, rows, "(idem_key)", fixed=fixed)  # type: ignore[attr-defined]


def insert_rows(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows given as `outbox_row` mappings (a long text as one row per chunk); a key already there is skipped,
    never doubled."""
    table = Outbox.__table__  # type: ignore[attr-defined]
    chunked = [chunk for row in rows for chunk in _chunk_row(row)]
    for start in range(0, len(chunked), 500):
        statement = insert_skipping_duplicates(session, table, "idem_key")
        session.execute(statement.values(chunked[start : start + 500]))


def enqueue(
    session: Session,
    key: str,
    contact: Contact,
    message: OutMessage,
    now: datetime,
    *,
    not_before: datetime | None = None,
    broadcast_id: int | None = None,
    on: Collection[Channel] = CHAT_CHANNELS,
) -> Outbox | None:
    """Queue one message for `contact` on their channel of `on`; None when they have no reachable channel."""
    channel = choose_channel(contact, on=on)
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


def dead_since(session: Session, since: datetime) -> list[Outbox]:
    """The rows that gave up since `since` and may be worth sending again: not those whose person blocked the bot
    (`Failure.UNREACHABLE`: a retry would fail the same way)."""
    stmt = (
        select(Outbox)
        .where(
            Outbox.status == OutboxStatus.DEAD.value,
            col(Outbox.created_at) >= since,
            Outbox.failure != Failure.UNREACHABLE.value,
        )
        .order_by(col(Outbox.id))
    )
    return list(session.exec(stmt).all())


def retry(session: Session, rows: Sequence[Outbox], now: datetime) -> None:
    """Queue `rows` again: pending, due now, attempts counted from zero; the dispatcher sends them (each once: the
    row keeps its idempotency key)."""
    for row in rows:
        row.status = OutboxStatus.PENDING.value
        row.attempts = 0
        row.next_attempt_at = now
        row.claimed_until = None
        row.last_error = f"dikirim ulang setelah mati: {row.last_error}"[:500]
        session.add(row)


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


def chunk_reply(reply: Reply, channel: Channel) -> list[Reply]:
    """`reply` as the replies of its chunks (`chunk_texts`): the buttons, the file and a broadcast's id go with the
    last; itself when it fits in one message."""
    texts = chunk_texts(reply.text, channel, buttons=len(reply.buttons), attachment=reply.attachment is not None)
    if len(texts) == 1:
        return [reply]
    *leading, last = texts
    return [Reply(text) for text in leading] + [dataclasses.replace(reply, text=last)]


def queue_replies(
    session: Session, contact: Contact, channel: Channel, key: str, replies: Sequence[Reply], now: datetime
) -> list[Reply]:
    """Write `replies` to `contact` on `channel` as outbox rows due after `REPLY_GRACE` (same transaction as the
    message's handling), a long one as one row per chunk (`chunk_reply`); return what each row holds, in order,
    with its `outbox_id`, for the adapter to send at once and mark (the dispatcher resumes where it failed)."""
    sent, writes = reply_writes(session, contact, channel, key, replies, now)
    connection = core(session)  # as `session.execute` would, after the autoflush
    ids = [connection.execute(statement, row).scalar() for statement, row in writes]
    return replies_written(session, sent, writes, ids)


def replies_written(
    session: Session, sent: Sequence[Reply], writes: Sequence[tuple[Any, Mapping[str, Any]]], ids: Sequence[Any]
) -> list[Reply]:
    """`sent` with the outbox id of each row of `writes` (`reply_writes`) given `ids`, what each insert returned: a
    row whose key was there already (the message seen again) returned none and is looked up by its key."""
    _insert, existing = _reply_statements(session.get_bind().dialect.name)
    found = [
        outbox_id if outbox_id is not None else core(session).execute(existing, {"key": row["idem_key"]}).scalar()
        for (_statement, row), outbox_id in zip(writes, ids, strict=True)
    ]
    return [dataclasses.replace(reply, outbox_id=outbox_id) for reply, outbox_id in zip(sent, found, strict=True)]


def reply_writes(
    session: Session, contact: Contact, channel: Channel, key: str, replies: Sequence[Reply], now: datetime
) -> tuple[list[Reply], list[tuple[Any, dict[str, Any]]]]:
    """`queue_replies`' rows, not yet written: what each row holds (a long reply chunked), and each row's INSERT
    ... ON CONFLICT DO NOTHING RETURNING id with its values (for `UnitOfWork.commit_with`). An attachment's file is
    stored now."""
    rows = []
    sent: list[Reply] = []
    for index, whole in enumerate(replies):
        attachment_id = None
        if whole.attachment is not None:
            file = whole.attachment
            attachment_id = file.stored_id or store_file(session, file.filename, file.mime, file.content, now)
        for part, reply in enumerate(chunk_reply(whole, channel)):
            message = OutMessage(
                text=reply.text,
                kind=REPLY_KIND,
                buttons=reply.buttons,
                attachment_id=attachment_id if reply.attachment is not None else None,
            )
            row_key = chunk_key(f"reply|{channel.value}|{key}|{index}", part)
            sent.append(reply)
            rows.append(outbox_row(row_key, contact, message, now, channel=channel, not_before=now + REPLY_GRACE))
    insert, _existing = _reply_statements(session.get_bind().dialect.name)
    return sent, [(insert, row) for row in rows]  # each already fits one message: written as it is


@functools.cache
def _reply_statements(dialect: str) -> tuple[Any, Any]:
    """A reply row's INSERT ... ON CONFLICT DO NOTHING RETURNING id, and the id of a row already there by its key:
    built once (a reply is written for every message)."""
    table = Outbox.__table__  # type: ignore[attr-defined]
    insert = skipping_duplicates(dialect, table, "idem_key").returning(table.c.id)
    return insert, sa_select(table.c.id).where(table.c.idem_key == bindparam("key"))


def mark_reply_sent(session: Session, outbox_id: int, provider_id: str, now: datetime) -> bool:
    """The adapter sent the reply itself: settle its row (unless the dispatcher already took it)."""
    result = core(session).execute(MARK_REPLY_SENT, reply_sent_values(outbox_id, provider_id, now))
    return bool(getattr(result, "rowcount", 0))


def reply_sent_values(outbox_id: int, provider_id: str, now: datetime) -> dict[str, Any]:
    """`MARK_REPLY_SENT`'s values for one reply."""
    return {"outbox_id": outbox_id, "provider_id": provider_id[:128], "sent_at": now}


MARK_REPLY_SENT = (
    update(Outbox)
    .where(col(Outbox.id) == bindparam("outbox_id"), col(Outbox.status) == OutboxStatus.PENDING.value)
    .values(
        status=OutboxStatus.SENT.value, provider_id=bindparam("provider_id"), sent_at=bindparam("sent_at"), attempts=1
    )
)
"""A reply the adapter sent marked sent, unless the dispatcher took it (`reply_sent_values`): built once."""
MARK_REPLIES_SENT = text(
    "UPDATE outbox SET status = :sent, provider_id = sent.provider_id, sent_at = sent.sent_at, attempts = 1 "
    "FROM unnest(CAST(:outbox_id AS integer[]), CAST(:provider_id AS varchar[]), CAST(:sent_at AS timestamptz[])) "
    "AS sent(id, provider_id, sent_at) WHERE outbox.id = sent.id AND outbox.status = :pending"
).bindparams(sent=OutboxStatus.SENT.value, pending=OutboxStatus.PENDING.value)
"""`MARK_REPLY_SENT` of many replies at once on PostgreSQL: each value an array (`Statement.many`)."""


def release_reply(session: Session, outbox_id: int, error: str, now: datetime) -> None:
    """Sending the reply at once failed: hand it to the dispatcher now (it retries like any row)."""
    session.execute(
        update(Outbox)
        .where(col(Outbox.id) == outbox_id, col(Outbox.status) == OutboxStatus.PENDING.value)
        .values(next_attempt_at=now, attempts=col(Outbox.attempts) + 1, last_error=error[:500])
    )
