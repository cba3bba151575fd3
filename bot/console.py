"""The console channel: a chat in the terminal over the same handlers; buttons become numbered choices."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from handlers.base import Deps
from handlers.core import handle
from models.messages import Button, Channel, Incoming, Reply
from models.tables import Contact

Ask = Callable[[str], Awaitable[str | None]]
Say = Callable[[str], None]


async def _ask_stdin(prompt: str) -> str | None:
    try:
        return await asyncio.to_thread(input, prompt)
    except EOFError:
        return None


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
        if text.isdigit() and choices and 1 <= int(text) <= len(choices):
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
