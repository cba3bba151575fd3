"""Alerts to the admins when a channel stops working (expired WhatsApp token, revoked Telegram token)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlmodel import col, select

from jobs import templates
from models.app import Deps
from models.messages import Channel
from models.outbox import OutMessage, choose_channel, insert_rows, outbox_row
from models.tables import Contact, Role

log = logging.getLogger(__name__)

AuthAlert = Callable[[Channel, str], Awaitable[None]]

_LABELS = {Channel.TELEGRAM: "Telegram", Channel.WHATSAPP: "WhatsApp", Channel.CONSOLE: "konsol"}
_FIX = {
    Channel.WHATSAPP: "Mohon perbarui WHATSAPP_ACCESS_TOKEN (token permanen system user di Meta Business) "
    "lalu jalankan ulang Sigap.",
    Channel.TELEGRAM: "Mohon perbarui TELEGRAM_BOT_TOKEN dari @BotFather lalu jalankan ulang Sigap.",
}


def alert_text(channel: Channel) -> str:
    """What the admins read when `channel` rejects our credentials."""
    label = _LABELS[channel]
    return (
        f"PERHATIAN: pengiriman pesan Sigap lewat {label} berhenti karena token akses ditolak "
        f"(kedaluwarsa atau dicabut). Pengingat untuk kontak {label} ditahan sampai diperbaiki.\n"
        + _FIX.get(channel, "Mohon periksa konfigurasi kanal lalu jalankan ulang Sigap.")
    )


def queue_auth_alert(deps: Deps, channel: Channel) -> int:
    """Queue the alert to every active admin on a channel other than `channel`, once a day; returns how many."""
    now = deps.clock.now()
    day = deps.calendar.local_date(now).isoformat()
    text = alert_text(channel)
    rows = []
    with deps.db.uow() as uow:
        admins = uow.session.exec(
            select(Contact).where(Contact.role == Role.ADMIN.value, col(Contact.active).is_(True))
        ).all()
        for admin in admins:
            other = choose_channel(admin, excluding=channel, on=deps.sends_on)
            if other is None:
                continue
            template = templates.broadcast(deps.pemda, text)
            message = OutMessage(text=text, kind="alert", template=template)
            rows.append(outbox_row(f"alert:auth:{channel.value}:{day}:{admin.id}", admin, message, now, channel=other))
        insert_rows(uow.session, rows)
        uow.commit()
    return len(rows)


def auth_alert(deps: Deps) -> AuthAlert:
    """The Dispatcher's `on_auth_failed`: log an error (never the token) and alert the admins elsewhere."""

    async def on_auth_failed(channel: Channel, error: str) -> None:
        log.error(
            "%s rejected the access token; sending on %s is stopped until the token is replaced and Sigap restarts "
            "(%s)",
            _LABELS[channel],
            channel.value,
            error,
        )
        try:
            queued = queue_auth_alert(deps, channel)
        except Exception:
            log.exception("could not queue the %s token alert for the admins", channel.value)
            return
        if not queued:
            log.error("no admin can be reached on another channel about the %s token", channel.value)

    return on_auth_failed
