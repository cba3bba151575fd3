"""The HTTP server stops on time even while a request hangs (sigap run must not hang on SIGTERM)."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.http import HttpServer, build_app


async def test_stop_does_not_wait_forever_for_a_hanging_request() -> None:
    entered = asyncio.Event()

    async def hang(_request: Request) -> Response:
        entered.set()
        await asyncio.Event().wait()
        return Response()

    server = HttpServer(build_app([Route("/hang", hang, methods=["POST"])]), "127.0.0.1", 0, grace=1)
    await server.start()
    async with httpx.AsyncClient(timeout=10) as client:
        request = asyncio.create_task(client.post(f"http://127.0.0.1:{server.port}/hang"))
        await asyncio.wait_for(entered.wait(), timeout=5)
        await asyncio.wait_for(server.stop(), timeout=5)
        with contextlib.suppress(httpx.HTTPError):  # the hanging request is cut off, whatever it answers
            await request
