"""The console channel: a chat in the terminal over the same handlers; buttons become numbered choices.

`/berkas PATH` sends a file on this computer as if it were attached in a chat (e.g. a roster .xlsx/.csv).
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlmodel import col, select

from bot.logs import log_to_file
from bot.settings import Settings
from handlers.core import handle
from models.app import Deps
from models.db import Database
from models.files import FileTooLarge, FileUnavailable
from models.messages import Button, Channel, Incoming, Reply
from models.tables import Contact, Role

Ask = Callable[[str], Awaitable[str | None]]
Say = Callable[[str], None]
ATTACH = "/berkas"


class LocalFiles:
    """`FileSource` for the console: the reference is a path on this computer."""

    async def fetch(self, ref: str, *, max_bytes: int) -> tuple[bytes, str]:
        """The file's bytes and MIME type (guessed from its name)."""
        return await asyncio.to_thread(_read_local, ref, max_bytes)


def _read_local(ref: str, max_bytes: int) -> tuple[bytes, str]:
    path = Path(ref).expanduser()
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise FileUnavailable(f"{path} is not a file")
        if size > max_bytes:
            raise FileTooLarge(max_bytes, size)
        content = path.read_bytes()
    except OSError as exc:
        raise FileUnavailable(f"{path}: {exc.strerror or type(exc).__name__}") from None
    return content, mimetypes.guess_type(path.name)[0] or ""


def attachment(text: str) -> tuple[str, str] | None:
    """(file name, path) when a console line is `/berkas PATH`; None for anything else."""
    word, _, rest = text.partition(" ")
    path = rest.strip().strip("\"'")
    if word.lower() != ATTACH or not path:
        return None
    return Path(path).name, path


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


def render(reply: Reply, files_dir: Path, first: int = 1) -> str:
    """A reply as terminal text, its buttons numbered from `first`; attachments are saved and their path shown."""
    lines = [reply.text]
    for number, button in enumerate(reply.buttons, start=first):
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
    log_note: str = "",
) -> None:
    """Chat as `contact` until /keluar or end of input; `/berkas PATH` sends a file. `log_note` says where the log
    lines go (`open_console`)."""
    deps.files.setdefault(Channel.CONSOLE, LocalFiles())
    say(
        f"Sigap — konsol. Anda masuk sebagai {contact.name} ({contact.role}). Ketik /bantuan; "
        f"{ATTACH} <path> untuk mengirim berkas; /keluar untuk selesai." + (f"\n{log_note}" if log_note else "")
    )
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
        document = attachment(text) if payload is None else None
        if text.lower() == ATTACH:
            say(f"Tulis path berkasnya, misalnya: {ATTACH} roster.xlsx")
            continue
        incoming = Incoming(
            channel=Channel.CONSOLE,
            address=str(contact.id),
            text="" if document else text,
            payload=payload,
            display_name=contact.name,
            document_name=document[0] if document else None,
            document_ref=document[1] if document else None,
        )
        replies = await handle(deps, incoming)
        choices = ()  # numbered on across the replies of one answer: every choice shown can be typed
        for reply in replies:
            say(render(reply, files_dir, len(choices) + 1))
            choices += reply.buttons


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

    where = log_to_file()  # the person at the terminal sees the conversation, not log lines
    deps = build_deps(settings)
    with deps.db.uow() as uow:
        contact = find_contact(uow.session, who) if who else None
    contact = contact or default_console_contact(deps.db)
    if contact is None:
        print("Belum ada kontak. Jalankan: sigap import roster", file=sys.stderr)
        return 1
    await run_console(deps, contact, log_note=log_note(where))
    return 0


def log_note(where: Path | None) -> str:
    """The console's one line on where its log lines go."""
    if where is None:
        return "Catatan sistem (log) tidak dapat ditulis ke berkas; hanya galat yang tampil di layar ini."
    return f"Catatan sistem (log) ditulis ke {where}, tidak ditampilkan di sini."
