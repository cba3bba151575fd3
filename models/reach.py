"""Who the bot can reach now, and why not: a contact's addresses and blocks against the channels it sends on.

One notion of "reachable", shared by the outbox's channel choice (`models.outbox.choose_channel` with `on`), /siaran's
preview, /takterjangkau, the sweep's plan and `sigap doctor`: a contact is reachable when they have an address on a
channel this deployment sends on (`models.app.Deps.sends_on`, from the settings) that has not bounced. A contact with
only a WhatsApp number is not reachable where WhatsApp is not configured, and nobody is reachable on the console
(no chat channel configured): the messages say so instead of counting them as recipients.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from enum import StrEnum

from models.messages import Channel
from models.outbox import Reachable, choose_channel


class Unreachable(StrEnum):
    """Why a contact cannot be reached now (the first that applies)."""

    NO_ADDRESS = "no_address"
    """No Telegram id and no WhatsApp number."""
    BLOCKED = "blocked"
    """Every address on a configured channel bounced (blocked the bot, number not on WhatsApp)."""
    ONLY_WHATSAPP = "only_whatsapp"
    """Only a WhatsApp number, and WhatsApp is not configured."""
    ONLY_TELEGRAM = "only_telegram"
    """Only a Telegram id, and Telegram is not configured."""
    NO_CHANNEL = "no_channel"
    """Both addresses, and neither channel is configured (the console)."""


REASONS = {
    Unreachable.NO_ADDRESS: "belum punya Telegram maupun nomor WhatsApp",
    Unreachable.BLOCKED: "memblokir bot atau tidak dapat dikirimi",
    Unreachable.ONLY_WHATSAPP: "hanya punya nomor WhatsApp, tetapi WhatsApp belum diatur",
    Unreachable.ONLY_TELEGRAM: "hanya punya Telegram, tetapi Telegram belum diatur",
    Unreachable.NO_CHANNEL: "punya Telegram dan WhatsApp, tetapi keduanya belum diatur",
}
"""Each reason after a count of people: '8 hanya punya nomor WhatsApp, tetapi WhatsApp belum diatur'."""

SHORT = {
    Unreachable.NO_ADDRESS: "tanpa Telegram/WhatsApp",
    Unreachable.BLOCKED: "memblokir bot",
    Unreachable.ONLY_WHATSAPP: "WhatsApp belum diatur",
    Unreachable.ONLY_TELEGRAM: "Telegram belum diatur",
    Unreachable.NO_CHANNEL: "belum ada kanal",
}
"""Each reason in a few words, for one person in a list or a table column."""

HINTS = {
    Unreachable.NO_ADDRESS: "Isi nomor WhatsApp atau Telegram mereka di roster, atau kirim kode undangan (/undang).",
    Unreachable.BLOCKED: "Minta mereka membuka blokir lalu mengirim pesan ke bot, misalnya /status.",
    Unreachable.ONLY_WHATSAPP: "Atur WhatsApp di .env (sigap doctor menunjukkan caranya), "
    "atau minta mereka mendaftar di Telegram dengan kode undangan (/undang).",
    Unreachable.ONLY_TELEGRAM: "Atur Telegram di .env (sigap doctor menunjukkan caranya), "
    "atau isi nomor WhatsApp mereka di roster.",
    Unreachable.NO_CHANNEL: "Atur Telegram atau WhatsApp di .env (sigap doctor menunjukkan caranya).",
}
"""What to do about each reason, one sentence."""

CONSOLE_NOTE = (
    "Belum ada kanal obrolan yang diatur (Sigap hanya berjalan di konsol), "
    "jadi tidak ada pesan yang dapat dikirim ke siapa pun."
)
"""Said wherever people are counted on a deployment without Telegram and WhatsApp (the console is for trying)."""
CONSOLE_HINT = "Atur Telegram atau WhatsApp di .env lalu jalankan sigap run (sigap doctor menunjukkan caranya)."

SETUP_REASONS = frozenset({Unreachable.ONLY_WHATSAPP, Unreachable.ONLY_TELEGRAM, Unreachable.NO_CHANNEL})
"""Reasons that are the deployment's (a channel not set up), not the person's: they end once it is set up."""

_ORDER = list(Unreachable)


def why_unreachable(contact: Reachable, on: Collection[Channel]) -> Unreachable | None:
    """Why the bot cannot reach `contact` on the channels `on` now; None when it can."""
    if choose_channel(contact, on=on) is not None:
        return None
    telegram, whatsapp = bool(contact.telegram_user_id), bool(contact.wa_number)
    if not telegram and not whatsapp:
        return Unreachable.NO_ADDRESS
    if (telegram and Channel.TELEGRAM in on) or (whatsapp and Channel.WHATSAPP in on):
        return Unreachable.BLOCKED
    if telegram and whatsapp:
        return Unreachable.NO_CHANNEL
    return Unreachable.ONLY_WHATSAPP if whatsapp else Unreachable.ONLY_TELEGRAM


def count_reasons(contacts: Iterable[Reachable], on: Collection[Channel]) -> Counter[Unreachable]:
    """How many of `contacts` cannot be reached on `on`, per reason."""
    found = (why_unreachable(contact, on) for contact in contacts)
    return Counter(reason for reason in found if reason is not None)


def describe(counts: Mapping[Unreachable, int]) -> str:
    """'1 memblokir bot atau tidak dapat dikirimi; 8 hanya punya nomor WhatsApp, tetapi WhatsApp belum diatur'."""
    return "; ".join(f"{counts[r]} {REASONS[r]}" for r in _ORDER if counts.get(r))


def hints(reasons: Iterable[Unreachable], on: Collection[Channel]) -> list[str]:
    """What to do about `reasons`, one sentence each; on the console (`on` empty) one sentence for all the channel
    reasons (registering on Telegram does not help there), and the roster's own gaps."""
    wanted = set(reasons)
    if not on and wanted - {Unreachable.NO_ADDRESS}:
        return [CONSOLE_HINT] + ([HINTS[Unreachable.NO_ADDRESS]] if Unreachable.NO_ADDRESS in wanted else [])
    return [HINTS[r] for r in _ORDER if r in wanted]
