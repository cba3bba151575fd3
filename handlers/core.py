"""The single entry point: one incoming message, one unit of work, the replies."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from handlers import bukti, figures_upload, registration, roster_upload
from handlers.base import Ctx, not_registered
from handlers.commands import FLOWS, lookup
from models.app import Deps, UserError
from models.flood import SLOW_DOWN, Verdict
from models.messages import Button, Channel, Incoming, Reply
from models.outbox import WINDOW, OutMessage, decode_buttons, enqueue, replies_written, reply_writes
from models.tables import SENT_STATUSES, ChatState, Contact, InboundSeen, Outbox, Role, Unit

log = logging.getLogger(__name__)


TROUBLE = "Mohon maaf, terjadi gangguan saat memproses pesan Bapak/Ibu. Silakan coba lagi beberapa saat lagi."


_WITH_UNIT = (
    select(Contact, Unit, ChatState)
    .outerjoin(Unit, col(Unit.id) == col(Contact.unit_id))
    .outerjoin(ChatState, col(ChatState.contact_id) == col(Contact.id))
)
"""A sender with their unit and open conversation, in one statement (in the session after, so the handler's
`my_unit` and `get_state` read no more)."""
_BY_TELEGRAM = _WITH_UNIT.where(col(Contact.telegram_user_id) == bindparam("address"))
_BY_WHATSAPP = _WITH_UNIT.where(col(Contact.wa_number) == bindparam("address"))
_SEEN = select(InboundSeen.key).where(
    col(InboundSeen.channel) == bindparam("channel"), col(InboundSeen.key) == bindparam("key")
)
_MARK_SEEN = insert(InboundSeen)
"""Statements of every message, built once (SQLAlchemy caches their compiled form by the object)."""


def identify(session: Session, incoming: Incoming) -> Contact | None:
    """The registered, active contact who sent `incoming`, if any."""
    return _identify(session, incoming).contact


@dataclasses.dataclass(frozen=True)
class _Sender:
    """`identify`'s contact with what was read alongside: the session only remembers the unit and the conversation
    while someone holds them, so the caller keeps this for the message's handling (`my_unit` and `get_state` then
    read nothing). `state_read`: whether the conversation was read (None then means there is none)."""

    contact: Contact | None = None
    unit: Unit | None = None
    state: ChatState | None = None
    state_read: bool = False


def _identify(session: Session, incoming: Incoming) -> _Sender:
    if incoming.channel is Channel.TELEGRAM:
        stmt = _BY_TELEGRAM
    elif incoming.channel is Channel.WHATSAPP:
        stmt = _BY_WHATSAPP
    else:
        if not incoming.address.isdigit():
            return _Sender()
        contact = session.get(Contact, int(incoming.address))
        return _Sender(contact if contact is not None and contact.active else None)
    found = session.exec(stmt, params={"address": incoming.address}).first()
    if found is None:
        return _Sender()
    contact, unit, state = found
    if not contact.active or contact.unit_id is None:
        return _Sender(unit=unit)
    return _Sender(contact, unit, state, state_read=True)


DURABLE = (Channel.TELEGRAM, Channel.WHATSAPP)
"""Channels whose replies to registered people are written to the outbox with the message's handling."""


async def handle(deps: Deps, incoming: Incoming, *, dedupe_key: str | None = None) -> list[Reply]:
    """Answer one message. Nothing is saved unless the handler succeeds; errors never reach the person raw.

    The unit of work runs on a handling thread (`Deps.handling`), or in a worker process (`Deps.workers`, a
    message without a file), never on the caller's event loop. On Telegram
    and WhatsApp the replies to a registered person are written to the outbox in the same transaction as the
    message's handling and seen-mark, due a little later: the adapter sends them at once and marks them sent; if
    it cannot (a failure, a crash), the dispatcher sends them.
    """
    started = time.perf_counter()
    deps.meter.count("inbound_messages", channel=incoming.channel.value)
    if deps.guard is not None and deps.guard.muted(incoming.channel.value, incoming.address):
        return []  # a flooding sender, already told: no database work at all
    if deps.workers is not None and incoming.document_ref is None:  # a file is fetched over the channel's client
        replies = await deps.workers.handle(incoming, dedupe_key)
    else:
        replies = await deps.handling.run(handle_here, deps, incoming, dedupe_key)
    deps.meter.observe("reply_seconds", time.perf_counter() - started, channel=incoming.channel.value)
    return replies


async def handle_here(deps: Deps, incoming: Incoming, dedupe_key: str | None) -> list[Reply]:
    """`handle`'s unit of work, in the calling thread: on a handling thread, or in a worker process
    (`bot.workers`)."""
    now = deps.clock.now()
    channel = incoming.channel.value
    with deps.db.uow() as uow:
        session = uow.session
        sender = _identify(session, incoming)  # held: the handler finds the unit and conversation in the session
        contact = sender.contact
        verdict = Verdict.OK
        if deps.guard is not None:
            verdict = deps.guard.check(channel, incoming.address, registered=contact is not None)
        if verdict is Verdict.IGNORE:
            return []  # muted for flooding: no answer, no work
        ctx = Ctx(deps=deps, uow=uow, incoming=incoming, contact=contact, now=now)
        ctx.known_state(sender.state, read=sender.state_read)
        if verdict is Verdict.WARN:
            log.warning("a %s sender is flooding; muted for a while", channel)
            replies = [Reply(SLOW_DOWN)]
        else:
            try:
                replies = await _route(ctx)
            except UserError as exc:
                uow.rollback()
                replies = [Reply(str(exc))]
            except Exception:
                log.exception("handler failed for a %s message", channel)
                uow.rollback()
                replies = [Reply(TROUBLE)]
        try:
            _touch_contact(ctx)
            durable = _durable(ctx, replies, dedupe_key) if replies and incoming.channel in DURABLE else None
            writes = list(durable.writes) if durable is not None else []
            if dedupe_key is not None:
                # Marked last, with the commit: a slow command holds no write lock while it reads (SQLite has one
                # writer), and a stranger's refused message costs no insert rolled back and made again.
                writes.append((_MARK_SEEN, {"channel": channel, "key": dedupe_key, "at": now}))
            written = uow.commit_with(writes)  # the replies' rows, the seen-mark and the COMMIT: one round trip
            if durable is not None:
                replies = durable.written(session, written)
        except IntegrityError:
            uow.rollback()
            if dedupe_key is None or not _seen(session, channel, dedupe_key):
                raise
            # Handled before (a redelivery, a restart after a crash, or another delivery at the same time), and
            # this handling is undone. A registered person's replies were written with the first one: none is
            # lost. A stranger's were not stored, so they are answered again: at most twice, never not at all.
            log.info("duplicate %s message ignored", channel)
            return [] if contact is not None else [dataclasses.replace(r, outbox_id=None) for r in replies]
        return replies


def _seen(session: Session, channel: str, key: str) -> bool:
    """Whether a message with this provider id was handled (committed) already."""
    return session.exec(_SEEN, params={"channel": channel, "key": key}).first() is not None


@dataclasses.dataclass(frozen=True)
class _Durable:
    """The replies to a registered sender as outbox rows still to write (`reply_writes`), for the commit."""

    replies: list[Reply]
    """What each row holds, in order."""
    writes: list[tuple[Any, dict[str, Any]]]

    def written(self, session: Session, ids: list[Any]) -> list[Reply]:
        """The replies with their rows' ids, given what the commit's writes returned (the seen-mark's after them)."""
        return replies_written(session, self.replies, self.writes, ids[: len(self.writes)])


def _durable(ctx: Ctx, replies: list[Reply], dedupe_key: str | None) -> _Durable | None:
    """The replies to write to the outbox for the (possibly just registered) sender; None for a stranger (nobody to
    address a row to: the adapter sends them as they are, best effort)."""
    session = ctx.session
    contact = session.get(Contact, ctx.contact.id) if ctx.contact is not None else None
    if contact is None or not contact.active or contact.unit_id is None:
        session.flush()
        contact = identify(session, ctx.incoming)  # someone who registered with this very message
    if contact is None:
        return None
    key = dedupe_key or ctx.incoming.message_id or uuid.uuid4().hex
    return _Durable(*reply_writes(session, contact, ctx.incoming.channel, key, replies, ctx.now))


def _touch_contact(ctx: Ctx) -> None:
    """A person who writes is reachable again on that channel (and opens WhatsApp's 24-hour window)."""
    contact = ctx.contact
    if contact is None or contact.id is None:
        return
    contact = ctx.session.get(Contact, contact.id)
    if contact is None:
        return
    if ctx.incoming.channel is Channel.TELEGRAM:
        if contact.unreachable_telegram:  # set only when it changes: an unchanged contact costs the commit nothing
            contact.unreachable_telegram = False
    elif ctx.incoming.channel is Channel.WHATSAPP:
        contact.unreachable_whatsapp = False
        _resend_files_sent_as_templates(ctx, contact)
        contact.wa_last_inbound_at = ctx.now
        ctx.session.add(contact)


RESEND_WITHIN = timedelta(days=30)


def _resend_files_sent_as_templates(ctx: Ctx, contact: Contact) -> None:
    """Documents (letters) that went out while the 24-hour window was closed arrived as template text only;
    now that the person wrote, queue them again so the file itself reaches them."""
    since = ctx.now - RESEND_WITHIN
    if contact.wa_last_inbound_at is not None:
        since = max(since, contact.wa_last_inbound_at + WINDOW)
    rows = ctx.session.exec(
        select(Outbox).where(
            Outbox.contact_id == contact.id,
            Outbox.channel == Channel.WHATSAPP.value,
            col(Outbox.attachment_id).is_not(None),
            col(Outbox.status).in_(SENT_STATUSES),
            col(Outbox.sent_at) >= since,
        )
    ).all()
    for row in rows:
        copy = OutMessage(
            text="Berikut dokumen yang kami kirim sebelumnya:\n" + row.text,
            kind=row.kind,
            buttons=decode_buttons(row.buttons),
            attachment_id=row.attachment_id,
        )
        enqueue(ctx.session, f"{row.idem_key}|berkas", contact, copy, ctx.now, on=ctx.deps.sends_on)


async def _route(ctx: Ctx) -> list[Reply]:
    incoming = ctx.incoming
    name = incoming.command
    document = incoming.document_ref is not None and incoming.extra.get("type") not in NOT_DOCUMENTS
    if document and name is None and ctx.contact is not None:
        return await _document(ctx)
    if name is None:
        if ctx.contact is None:
            return await _unregistered_text(ctx)
        state = ctx.get_state()
        if state is not None and state.flow in FLOWS:
            return await FLOWS[state.flow](ctx)
        if not incoming.body:
            return [Reply("Pesan diterima. Ketik /bantuan untuk melihat perintah.")]
        if _looks_like_code(incoming.args):  # a registered person sends a bare invite code: asked before any move
            return await registration.start(ctx)
        if (suggested := _without_slash(ctx)) is not None:
            return [suggested]
        raise UserError("Mohon maaf, pesan itu tidak dikenali. Ketik /bantuan untuk melihat perintah, misalnya /lapor.")
    command = lookup(name)
    if command is None:
        raise UserError(f"Perintah “/{name}” tidak dikenal. Ketik /bantuan untuk melihat daftar perintah.")
    role = Role(ctx.contact.role) if ctx.contact is not None else None
    if not command.allowed(role):
        if ctx.contact is None:
            raise UserError(not_registered(ctx.session, incoming))
        raise UserError(f"Perintah /{command.name} tidak tersedia untuk peran Bapak/Ibu. Ketik /bantuan.")
    return await command.handler(ctx)


NOT_DOCUMENTS = frozenset({"audio", "video", "sticker"})
"""WhatsApp media that are never a roster, an export or evidence: answered like a message without text."""


async def _document(ctx: Ctx) -> list[Reply]:
    """A file sent without a command, by a registered person: what is it?

    - caption `impor …`: a figures import (`handlers.figures_upload`);
    - a spreadsheet (.xlsx/.csv) without caption (or with `nonaktifkan`) from an admin: the roster upload; a
      spreadsheet named roster… from anyone else is told that only admins change the roster;
    - anything else (a caption such as `mcp 2.1`, `inovasi <judul>`, `katalog`, or a file from a non-admin):
      evidence (bukti dukung), placed with buttons when it came without a caption.
    """
    incoming = ctx.incoming
    words = [w.lower() for w in incoming.args]
    if figures_upload.claims(ctx):  # caption "impor …": an LKPP export of figures (an admin's, or refused)
        return await figures_upload.upload(ctx)
    if roster_upload.is_spreadsheet(incoming.document_name):
        name = (incoming.document_name or "").lower()
        if ctx.role is Role.ADMIN and words in ([], [roster_upload.PRUNE_WORD]):
            return await roster_upload.upload(ctx)
        if ctx.role is not Role.ADMIN and not words and name.rsplit("/", 1)[-1].startswith("roster"):
            return await roster_upload.upload(ctx)  # refused: only admins change the roster
    return await bukti.document(ctx)


SUGGEST_PAYLOAD_LIMIT = 64
"""The longest command offered as a button (Telegram carries 64 bytes); a longer one is only written out."""


def _without_slash(ctx: Ctx) -> Reply | None:
    """'lapor katalog 31' or 'status' from a registered person: the command they may have meant, with the slash."""
    words = ctx.incoming.args
    command = lookup(words[0].lower()) if words and words[0].isascii() else None
    if command is None or not command.allowed(ctx.role):
        return None
    meant = " ".join([f"/{words[0].lower()}", *words[1:]])
    text = f"Maksud Anda {meant}? Perintah diawali garis miring (/)."
    if len(meant.encode("utf-8")) > SUGGEST_PAYLOAD_LIMIT:
        return Reply(f"{text} Mohon kirim ulang dengan garis miring di depannya.")
    return Reply(text, (Button(meant, meant),))


def _looks_like_code(words: list[str]) -> bool:
    """One word of exactly the invite code's length, in its alphabet (case-insensitive)."""
    return (
        len(words) == 1
        and len(words[0]) == registration.CODE_LENGTH
        and all(ch in registration.CODE_ALPHABET for ch in words[0].upper())
    )


async def _unregistered_text(ctx: Ctx) -> list[Reply]:
    """An unknown person typed text: on WhatsApp a bare invite code is accepted, otherwise explain."""
    words = ctx.incoming.args
    if len(words) == 1 and len(words[0]) == 8 and words[0].isalnum():
        return await registration.start(ctx)
    raise UserError(not_registered(ctx.session, ctx.incoming))
