"""python-telegram-bot's requests to the Bot API over aiohttp, at most `size` at once on kept-alive connections.

PTB's own `HTTPXRequest` spends most of a reply's CPU in httpx and httpcore: measured here against the fake Bot API
on 127.0.0.1, about 0.5 ms per request one at a time and 1.1 ms with 16 at once (httpcore examines every pooled
connection, polling the idle ones' sockets, each time a request starts), against 0.16-0.19 ms with aiohttp, whose
HTTP parser is compiled. In `sigap run` that was 40 % of the process's CPU. PTB's contract is kept: `do_request`
returns (status, body) and PTB turns the status into its errors; a timeout is `TimedOut`, any other transport
failure `NetworkError`. aiohttp sets TCP_NODELAY on its connections itself.

A request without a file goes as one JSON body (the Bot API takes `application/json`): a long reply costs one
C-encoded `json.dumps`, where the form encoding PTB's own request uses escapes the text byte by byte in Python.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_JSON_HEADERS = {"Content-Type": "application/json"}
POOL_SIZE = 16
"""Requests to the Bot API at once, each on a kept-alive connection: replies and the dispatcher share them (30
messages/s need few; a reply to a burst of people waits its turn here)."""

class AiohttpRequest(BaseRequest):
    """A `BaseRequest` over one `aiohttp.ClientSession` (TCP_NODELAY, `size` connections kept alive).

    Timeouts as PTB's defaults: connect 5 s, read 5 s, write 5 s (20 s with a file), and waiting for a free
    connection 1 s, unless `size` requests are already under way: the rest wait their turn before that clock starts
    (a burst of replies queues here, not as failures). aiohttp has no write timeout of its own: a request is given
    connect + write + read seconds in all.
    """

    def __init__(
        self,
        size: int = POOL_SIZE,
        *,
        connect_timeout: float | None = 5.0,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self._size = size
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._gate = asyncio.Semaphore(size)
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout, in seconds."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (again, after a shutdown)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._size, limit_per_host=self._size, keepalive_timeout=30)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}, auto_decompress=True
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One request, once fewer than `size` are under way: (HTTP status, body)."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        default_write = self._media_write_timeout if files else self._write_timeout
        write = default_write if isinstance(write_timeout, DefaultValue) else write_timeout
        parts = (connect, write, read)
        timeout = aiohttp.ClientTimeout(
            total=None if None in parts else sum(p for p in parts if p is not None),
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )
        data: Any = None
        headers = None
        if files:
            data = _form(request_data.json_parameters if request_data else {}, files)
        elif request_data is not None and (parameters := request_data.parameters):
            data, headers = json.dumps(parameters, ensure_ascii=False).encode(), _JSON_HEADERS
        async with self._gate:
            try:
                async with self._session.request(method, url, data=data, headers=headers, timeout=timeout) as response:
                    return response.status, await response.read()
            except (TimeoutError, aiohttp.ServerTimeoutError) as err:
                raise TimedOut from err
            except aiohttp.ClientError as err:
                raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err


def _form(fields: dict[str, str], files: dict[str, Any]) -> aiohttp.FormData:
    """multipart/form-data of the JSON-encoded parameters and the files (name -> (filename, content, MIME type))."""
    form = aiohttp.FormData(quote_fields=False)
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (filename, content, mime) in files.items():
        form.add_field(name, content, filename=filename or name, content_type=mime)
    return form

