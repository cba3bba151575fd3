"""The one ASGI app for webhooks (Telegram's and WhatsApp's), /healthz and /metrics, served by uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

MAX_BODY_BYTES = 1024 * 1024
"""Largest webhook body read (Telegram updates and WhatsApp batches are a few kB; 1 MiB leaves ample room)."""


class BodyTooLarge(Exception):
    """The request body is larger than the limit; answer 413 without reading the rest."""


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, read in chunks and refused (`BodyTooLarge`) as soon as it passes `limit` bytes.

    A declared Content-Length over the limit is refused before reading anything; a chunked body (no
    length) is counted as it arrives, so a client cannot make the server buffer more than `limit`.
    """
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.strip().isdigit() or int(declared) > limit):
        raise BodyTooLarge(declared)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(size)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large() -> Response:
    """The answer to a body over the limit."""
    return Response("Payload too large", status_code=413, headers={"connection": "close"})


async def healthz(_request: Request) -> Response:
    """Liveness probe for load balancers and uptime checks."""
    return JSONResponse({"status": "ok"})


def build_app(routes: Sequence[BaseRoute], *, operations: Sequence[BaseRoute] = ()) -> Starlette:
    """The app with the channels' webhook routes and /healthz (`operations`: /healthz and /metrics of `sigap run`)."""
    own = list(operations) or [Route("/healthz", healthz, methods=["GET"])]
    return Starlette(routes=[*own, *routes])


class HttpServer:
    """uvicorn in the running event loop; port 0 picks a free port (tests)."""

    def __init__(self, app: Starlette, host: str, port: int, *, grace: int = 5) -> None:
        # `grace`: seconds `stop` lets requests in progress finish before closing their connections.
        self._config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            log_config=None,  # uvicorn's records go through the root handler and its secret filter
            lifespan="off",
            timeout_graceful_shutdown=grace,
        )
        self._server = uvicorn.Server(self._config)
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self.port = port

    async def start(self) -> None:
        """Bind and start serving."""
        family = socket.AF_INET6 if ":" in self._config.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._config.host, self._config.port))
        except OSError:
            sock.close()  # a port in use: no socket left behind
            raise
        sock.set_inheritable(True)
        self._socket = sock
        self.port = sock.getsockname()[1]
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._socket is not None:
            self._socket.close()
