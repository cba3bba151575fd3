"""The console channel: a chat in the terminal over the same handlers; buttons become numbered choices."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlmodel import col, select

from bot.settings import Settings
from handlers.core import handle
from models.app import Deps
from models.db import Database
from models.messages import Button, Channel, Incoming, Reply
from models.tables import Contact, Role

Ask = Callable[[str], Awaitable[str | None]]
Say = Callable[[str], None]


async def _ask_stdin(prompt: str) -> str | None:
    """One line from the terminal; None at end of input (Ctrl-D).

    The line is read with `os.read` in a daemon thread of its own: with `input` in the loop's executor,
    Ctrl-C left asyncio.run waiting for that thread until the person pressed Enter, and a daemon thread
    blocked in `input` holds stdin's lock, which aborts the interpreter at exit.
    """
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str | None] = loop.create_future()

    def settle(value: str | None) -> None:
        if not answer.done():
            answer.set_result(value)

    def read() -> None:
        sys.stdout.write(prompt)
        sys.stdout.flush()
        line = bytearray()
        ended = False
        while True:
            try:
                byte = os.read(sys.stdin.fileno(), 1)  # one byte: never swallow the next line of a pipe
            except OSError:
                byte = b""
            if not byte:
                ended = True
                break
            if byte == b"\n":
                break
            line += byte
        text = line.decode("utf-8", errors="replace").rstrip("\r")
        loop.call_soon_threadsafe(settle, None if ended and not line else text)

    threading.Thread(target=read, name="console-input", daemon=True).start()
    return await answer


def render(reply: Reply, files_dir: Path) -> str:
    """A reply as terminal text; attachments are saved and their path shown."""
    lines = [reply.text]
    for number, button in enumerate(reply.buttons, start=1):
        lines.append(f"  [{number}] {button.label}")
    if reply.attachment is not None:
        files_dir.mkdir(parents=True, exist_ok=True)
        path = files_dir / reply.attachment.filename
        path.write_bytes(reply.attachment.content)
        lines.append(f"  (berkas disimpan: {path})")
    return "\n".join(lines)


async def run_console(
    deps: Deps,
    contact: Contact,
    *,
    ask: Ask = _ask_stdin,
    say: Say = print,
    files_dir: Path = Path("sigap-files"),
) -> None:
    """Chat as `contact` until /keluar or end of input."""
    say(f"Sigap — konsol. Anda masuk sebagai {contact.name} ({contact.role}). Ketik /bantuan, /keluar untuk selesai.")
    choices: tuple[Button, ...] = ()
    while True:
        line = await ask("> ")
        if line is None or line.strip().lower() in ("/keluar", "/exit", "/quit"):
            say("Sampai jumpa.")
            return
        text = line.strip()
        if not text:
            continue
        payload = None
        if text.isascii() and text.isdigit() and choices:
            if not 1 <= int(text) <= len(choices):
                say(f"Pilihan {text} tidak ada. Ketik nomor 1 sampai {len(choices)}, atau sebuah perintah (/bantuan).")
                continue
            payload = choices[int(text) - 1].payload
        incoming = Incoming(
            channel=Channel.CONSOLE, address=str(contact.id), text=text, payload=payload, display_name=contact.name
        )
        replies = await handle(deps, incoming)
        choices = ()
        for reply in replies:
            say(render(reply, files_dir))
            if reply.buttons:
                choices = reply.buttons


def default_console_contact(db: Database) -> Contact | None:
    """The first active admin, for the console when nobody is named."""
    with db.uow() as uow:
        return uow.session.exec(
            select(Contact)
            .where(Contact.role == Role.ADMIN.value, col(Contact.active).is_(True))
            .order_by(col(Contact.id))
        ).first()


async def open_console(settings: Settings, who: str) -> int:
    """`sigap console --as WHO` (and `sigap run` with no channel): chat in the terminal as a contact."""
    from bot.wiring import build_deps
    from handlers.registration import find_contact

    deps = build_deps(settings)
    with deps.db.uow() as uow:
        contact = find_contact(uow.session, who) if who else None
    contact = contact or default_console_contact(deps.db)
    if contact is None:
        print("Belum ada kontak. Jalankan: sigap import roster", file=sys.stderr)
        return 1
    await run_console(deps, contact)
    return 0
