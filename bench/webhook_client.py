"""A lean webhook poster for the benches: HTTP/1.1 over connections opened before the clock starts.

Telegram delivers webhooks over persistent connections (up to 40 by default, 100 at most), already open when an
update comes. httpx in the driver costs about a millisecond of CPU per POST and opens a connection per request of a
fresh client; on a 2-core machine that CPU is taken from the bot under test, and the latency it measures starts
before the request leaves. This client writes prepared bytes to open sockets and reads the status line and body:
a few microseconds per POST, so what the bench measures is the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from urllib.parse import urlsplit


class WebhookError(RuntimeError):
    """The bot answered a POST with an error status."""


class Connection:
    """One keep-alive connection to the bot's webhook."""

    def __init__(self, client: WebhookClient) -> None:
        self.client = client
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        """Connect (again)."""
        await self.close()
        self.reader, self.writer = await asyncio.open_connection(self.client.host, self.client.port)

    async def post(self, body: bytes) -> None:
        """POST `body`; once more on a fresh connection when this one broke before the answer (as Telegram
        redelivers). Raises `WebhookError` on a status other than 2xx."""
        try:
            status = await self._post(body)
        except (ConnectionError, asyncio.IncompleteReadError):
            await self.open()
            status = await self._post(body)
        if not 200 <= status < 300:
            raise WebhookError(f"webhook answered {status}")

    async def _post(self, body: bytes) -> int:
        if self.writer is None or self.reader is None:
            await self.open()
        assert self.writer is not None and self.reader is not None
        self.writer.write(self.client.head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        status_line = await self.reader.readuntil(b"\r\n")
        parts = status_line.split()
        if len(parts) < 2 or not parts[1].isdigit():
            raise ConnectionError(f"not an HTTP answer: {status_line!r}")
        length = 0
        closing = False
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"connection" and value.strip().lower() == b"close":
                closing = True
        if length:
            await self.reader.readexactly(length)
        if closing:
            await self.close()
        return int(parts[1])

    async def close(self) -> None:
        """Close the connection (if open)."""
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


class WebhookClient:
    """Connections to one webhook URL (http only: the bot under test on 127.0.0.1) with fixed headers."""

    def __init__(self, url: str, headers: Mapping[str, str]) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"not an http URL: {url}")
        self.host = parts.hostname
        self.port = parts.port or 80
        lines = [f"POST {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}", "Content-Type: application/json"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.head = ("\r\n".join(lines) + "\r\n").encode("latin-1")

    async def connections(self, count: int) -> list[Connection]:
        """`count` connections, open."""
        opened = [Connection(self) for _ in range(count)]
        await asyncio.gather(*(c.open() for c in opened))
        return opened


async def close_all(connections: list[Connection]) -> None:
    """Close every connection."""
    await asyncio.gather(*(c.close() for c in connections))
