"""A fake WhatsApp Cloud API (Graph) served over real HTTP on 127.0.0.1, plus webhook payload builders.

    async with FakeGraphApi(token="tok", phone_number_id="1055") as g:
        client = WhatsAppClient("tok", "1055", base_url=g.base_url)
        ...
        assert g.texts_to("+628123") == ["Halo"]

The fake validates the request shapes Meta documents (reply buttons, lists, templates, media), answers with
Graph's error JSON, can be told to fail (`fail_next`, `fail_for`) and simulates the 24-hour customer-service
window with its own clock (`set_last_inbound`, `advance`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

WINDOW = timedelta(hours=24)
WABA_ID = "102290129340398"

_ERROR_TEXT: dict[int, tuple[str, str]] = {
    100: ("(#100) Invalid parameter", "Invalid parameter"),
    190: ("Invalid OAuth access token - Cannot parse access token", ""),
    130429: ("(#130429) Rate limit hit", "Cloud API message throughput has been reached."),
    131026: ("(#131026) Message Undeliverable", "Unable to deliver message."),
    131047: (
        "(#131047) Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
    ),
    131056: (
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone number to the "
        "same phone number in a short period of time.",
    ),
    131000: ("(#131000) Something went wrong", "Message failed to send due to an unknown error."),
}


def digits(number: str) -> str:
    """A phone number as Graph writes it: digits only, no '+'."""
    return "".join(ch for ch in number if ch.isdigit())


@dataclass(frozen=True)
class SentMessage:
    """One message the fake accepted."""

    to: str
    type: str
    body: dict[str, Any]
    opaque: str | None
    wamid: str
    raw: dict[str, Any]


@dataclass(frozen=True)
class UploadedMedia:
    """One file uploaded to the fake's media store."""

    id: str
    content: bytes
    mime: str
    filename: str


@dataclass
class Failure:
    """An injected Graph error."""

    code: int
    status: int = 400
    message: str | None = None
    details: str | None = None
    retry_after: float | None = None
    times: int = 1


class _Server(uvicorn.Server):
    """uvicorn tuned for tests: no signal handling (the runner owns Ctrl-C) and no polling on shutdown."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.stop = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def main_loop(self) -> None:
        await self.on_tick(0)  # sets the default response headers once
        await self.stop.wait()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        for server in self.servers:
            await server.wait_closed()


def graph_error(
    code: int,
    status: int = 400,
    message: str | None = None,
    details: str | None = None,
    retry_after: float | None = None,
) -> JSONResponse:
    """A response in Graph's error format."""
    default_message, default_details = _ERROR_TEXT.get(code, (f"(#{code}) Error", ""))
    error: dict[str, Any] = {
        "message": message or default_message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AfakeTraceId",
    }
    if details or default_details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details or default_details}
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
    return JSONResponse({"error": error}, status_code=status, headers=headers)


class FakeGraphApi:
    """The WhatsApp Cloud API endpoints Sigap uses, in-process, over real HTTP."""

    def __init__(
        self,
        token: str = "tok",
        phone_number_id: str = "1055",
        *,
        enforce_window: bool = False,
        now: datetime | None = None,
    ) -> None:
        self.token = token
        self.phone_number_id = phone_number_id
        self.enforce_window = enforce_window
        self.sent: list[SentMessage] = []
        self.media: dict[str, UploadedMedia] = {}
        self.read_marks: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.waba_id = WABA_ID
        self.display_phone_number = "+62 811-0000-0000"
        self.verified_name = "Sigap Pemkab Sukamakmur"
        self.templates: list[dict[str, Any]] = []
        """The WABA's message templates (`add_template`), as GET /{waba-id}/message_templates lists them."""
        self._now = now
        self._last_inbound: dict[str, datetime] = {}
        self._next_failures: list[Failure] = []
        self._recipient_failures: dict[str, Failure] = {}
        self._counter = 0
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None
        self.base_url = ""
        self.app = Starlette(
            routes=[
                Route("/lookaside/{media_id}/download", self._download, methods=["GET"]),
                Route("/{version}/{phone_id}/messages", self._messages, methods=["POST"]),
                Route("/{version}/{phone_id}/media", self._upload, methods=["POST"]),
                Route("/{version}/{waba_id}/message_templates", self._message_templates, methods=["GET"]),
                Route("/{version}/{media_id}", self._media_info, methods=["GET"]),
            ]
        )

    # ------------------------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FakeGraphApi:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: without, a keep-alive answer waits ~40 ms for the client's delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        self._sock = sock
        host, port = sock.getsockname()[:2]
        self.base_url = f"http://{host}:{port}"
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            ws="none",
            http="h11",
            timeout_graceful_shutdown=1,
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                sock.close()
                self._task.result()
                raise RuntimeError("fake Graph API did not start")
            await asyncio.sleep(0.001)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            self._server.stop.set()
            await self._task
        if self._sock is not None:
            self._sock.close()

    # -------------------------------------------------------------------------------- test controls

    @property
    def now(self) -> datetime:
        """The fake's clock: frozen if set, otherwise the real UTC time."""
        return self._now if self._now is not None else datetime.now(UTC)

    def set_clock(self, now: datetime) -> None:
        """Freeze the fake's clock at `now`."""
        self._now = now

    def advance(self, delta: timedelta) -> None:
        """Move the fake's clock forward (freezing it first if needed)."""
        self._now = self.now + delta

    def set_last_inbound(self, number: str, at: datetime) -> None:
        """Record when `number` last wrote to the business: opens its 24-hour window from `at`."""
        self._last_inbound[digits(number)] = at

    def fail_next(
        self,
        code: int = 131047,
        status: int = 400,
        *,
        message: str | None = None,
        details: str | None = None,
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` API calls (messages or media) fail with Graph error `code`."""
        self._next_failures.append(Failure(code, status, message, details, retry_after, times))

    def fail_for(self, number: str, code: int = 131026, status: int = 400, *, message: str | None = None) -> None:
        """Make every message to `number` fail with `code` until `clear_failures()`."""
        self._recipient_failures[digits(number)] = Failure(code, status, message)

    def clear_failures(self) -> None:
        """Drop every injected failure."""
        self._next_failures.clear()
        self._recipient_failures.clear()

    def add_template(
        self, name: str, *, status: str = "APPROVED", language: str = "id", category: str = "UTILITY"
    ) -> None:
        """Register a message template in the fake WABA (as WhatsApp Manager would list it)."""
        self.templates.append(
            {
                "name": name,
                "status": status,
                "language": language,
                "category": category,
                "id": str(1000 + len(self.templates)),
            }
        )

    def sent_to(self, number: str) -> list[SentMessage]:
        """Accepted messages addressed to `number` (with or without '+')."""
        wanted = digits(number)
        return [m for m in self.sent if m.to == wanted]

    def texts_to(self, number: str) -> list[str]:
        """Bodies of the plain text messages sent to `number`, in order."""
        return [str(m.body.get("body", "")) for m in self.sent_to(number) if m.type == "text"]

    # ----------------------------------------------------------------------------------- handlers

    def _authorised(self, request: Request) -> bool:
        expected = f"Bearer {self.token}".encode()
        return hmac.compare_digest(request.headers.get("authorization", "").encode(), expected)

    def _pop_failure(self) -> Failure | None:
        if not self._next_failures:
            return None
        failure = self._next_failures[0]
        failure.times -= 1
        if failure.times <= 0:
            self._next_failures.pop(0)
        return failure

    def _common_checks(self, request: Request) -> Response | None:
        self.requests.append((request.method, request.url.path))
        if not self._authorised(request):
            return graph_error(190, 401)
        phone_id = request.path_params["phone_id"]
        if phone_id != self.phone_number_id:
            return graph_error(100, 400, f"Unsupported post request. Object with ID '{phone_id}' does not exist")
        failure = self._pop_failure()
        if failure is not None:
            return graph_error(failure.code, failure.status, failure.message, failure.details, failure.retry_after)
        return None

    async def _messages(self, request: Request) -> Response:
        refused = self._common_checks(request)
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.body())
        except ValueError:
            return graph_error(100, 400, "(#100) The request body is not valid JSON")
        if not isinstance(body, dict):
            return graph_error(100, 400, "(#100) The request body must be an object")
        if body.get("messaging_product") != "whatsapp":
            return graph_error(100, 400, "(#100) The parameter messaging_product is required.")
        if "status" in body:
            if body["status"] != "read" or not isinstance(body.get("message_id"), str):
                return graph_error(100, 400, "(#100) Invalid parameter")
            self.read_marks.append(body["message_id"])
            return JSONResponse({"success": True})

        problem = self._validate_message(body)
        if problem is not None:
            return graph_error(100, 400, f"(#100) {problem}")
        to = digits(body["to"])
        kind = body["type"]
        rule = self._recipient_failures.get(to)
        if rule is not None:
            return graph_error(rule.code, rule.status, rule.message)
        if kind != "template" and self._window_closed(to):
            return graph_error(131047, 400)

        self._counter += 1
        wamid = f"wamid.fake-{self._counter}"
        opaque = body.get("biz_opaque_callback_data")
        self.sent.append(SentMessage(to, kind, body[kind], opaque, wamid, body))
        message: dict[str, str] = {"id": wamid}
        if kind == "template":
            message["message_status"] = "accepted"
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": to}],
                "messages": [message],
            }
        )

    def _window_closed(self, to: str) -> bool:
        last = self._last_inbound.get(to)
        if last is None:
            return self.enforce_window
        return self.now - last > WINDOW

    async def _upload(self, request: Request) -> Response:
        refused = self._common_checks(request)
        if refused is not None:
            return refused
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return graph_error(100, 400, "(#100) Upload must be multipart/form-data")
        try:
            fields, files = parse_multipart(content_type, await request.body())
        except ValueError as exc:
            return graph_error(100, 400, f"(#100) Bad multipart body: {exc}")
        if fields.get("messaging_product") != "whatsapp":
            return graph_error(100, 400, "(#100) The parameter messaging_product is required.")
        if "file" not in files:
            return graph_error(100, 400, "(#100) The parameter file is required.")
        filename, mime, content = files["file"]
        mime = fields.get("type") or mime
        if not content:
            return graph_error(100, 400, "(#100) The uploaded file is empty.")
        media_id = f"media-{len(self.media) + 1}"
        self.media[media_id] = UploadedMedia(media_id, content, mime, filename)
        return JSONResponse({"id": media_id})

    async def _media_info(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        if not self._authorised(request):
            return graph_error(190, 401)
        if request.path_params["media_id"] == self.phone_number_id:
            return JSONResponse(
                {
                    "verified_name": self.verified_name,
                    "display_phone_number": self.display_phone_number,
                    "quality_rating": "GREEN",
                    "id": self.phone_number_id,
                }
            )
        media = self.media.get(request.path_params["media_id"])
        if media is None:
            return graph_error(100, 400, "(#100) Unsupported get request.")
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": f"{self.base_url}/lookaside/{media.id}/download",
                "mime_type": media.mime,
                "sha256": hashlib.sha256(media.content).hexdigest(),
                "file_size": len(media.content),
                "id": media.id,
            }
        )

    async def _message_templates(self, request: Request) -> Response:
        """The WABA's templates, `limit` per page, with Graph's cursor paging (`after`, `paging.next`)."""
        self.requests.append((request.method, request.url.path))
        if not self._authorised(request):
            return graph_error(190, 401)
        if request.path_params["waba_id"] != self.waba_id:
            return graph_error(100, 400, f"Unsupported get request. Object with ID '{request.path_params['waba_id']}'")
        failure = self._pop_failure()
        if failure is not None:
            return graph_error(failure.code, failure.status, failure.message, failure.details, failure.retry_after)
        limit = int(request.query_params.get("limit", "25"))
        start = int(request.query_params.get("after", "0"))
        page = self.templates[start : start + limit]
        body: dict[str, Any] = {"data": page}
        if start + limit < len(self.templates):
            query = f"limit={limit}&after={start + limit}"
            body["paging"] = {"cursors": {"after": str(start + limit)}, "next": str(request.url.replace(query=query))}
        return JSONResponse(body)

    async def _download(self, request: Request) -> Response:
        if not self._authorised(request):
            return Response(status_code=401)
        media = self.media.get(request.path_params["media_id"])
        if media is None:
            return Response(status_code=404)
        return Response(media.content, media_type=media.mime)

    # --------------------------------------------------------------------------------- validation

    def _validate_message(self, body: dict[str, Any]) -> str | None:
        """The first reason Graph would refuse this message, or None."""
        to = body.get("to")
        if not isinstance(to, str) or not digits(to) or not to.lstrip("+").isdigit():
            return "The parameter to is required and must be a phone number."
        opaque = body.get("biz_opaque_callback_data")
        if opaque is not None and (not isinstance(opaque, str) or len(opaque) > 512):
            return "biz_opaque_callback_data must be a string of at most 512 characters."
        kind = body.get("type")
        content = body.get(kind) if isinstance(kind, str) else None
        if not isinstance(content, dict):
            return f"Missing the {kind} object for a message of type {kind}."
        if kind == "text":
            text = content.get("body")
            if not isinstance(text, str) or not text or len(text) > 4096:
                return "text.body must be 1 to 4096 characters."
            return None
        if kind == "interactive":
            return _validate_interactive(content)
        if kind == "template":
            return _validate_template(content)
        if kind in ("document", "image"):
            media_id = content.get("id")
            if media_id is None and not content.get("link"):
                return f"{kind} needs an id or a link."
            if media_id is not None and (not isinstance(media_id, str) or media_id not in self.media):
                return f"{kind}.id {media_id} is not an uploaded media id."
            caption = content.get("caption")
            if caption is not None and (not isinstance(caption, str) or len(caption) > 1024):
                return f"{kind}.caption must be at most 1024 characters."
            return None
        return f"Unsupported message type {kind}."


def _text_ok(value: object, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit


def _validate_interactive(content: dict[str, Any]) -> str | None:
    body = content.get("body")
    if not isinstance(body, dict) or not _text_ok(body.get("text"), 1024):
        return "interactive.body.text must be 1 to 1024 characters."
    action = content.get("action")
    if not isinstance(action, dict):
        return "interactive.action is required."
    if content.get("type") == "button":
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            return "Reply buttons: between 1 and 3 buttons are allowed."
        ids: set[str] = set()
        titles: set[str] = set()
        for button in buttons:
            reply = button.get("reply") if isinstance(button, dict) else None
            if not isinstance(button, dict) or button.get("type") != "reply" or not isinstance(reply, dict):
                return "Each button must be {type: reply, reply: {id, title}}."
            if not _text_ok(reply.get("id"), 256):
                return "Button id must be 1 to 256 characters."
            if not _text_ok(reply.get("title"), 20):
                return "Button title must be 1 to 20 characters."
            if reply["id"] in ids or reply["title"] in titles:
                return "Button ids and titles must be unique."
            ids.add(reply["id"])
            titles.add(reply["title"])
        return None
    if content.get("type") == "list":
        if not _text_ok(action.get("button"), 20):
            return "List button label must be 1 to 20 characters."
        sections = action.get("sections")
        if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
            return "A list needs 1 to 10 sections."
        row_ids: set[str] = set()
        for section in sections:
            rows = section.get("rows") if isinstance(section, dict) else None
            if not isinstance(rows, list) or not rows:
                return "Each section needs rows."
            if len(sections) > 1 and not _text_ok(section.get("title"), 24):
                return "Sections need a title when there are several."
            for row in rows:
                if not isinstance(row, dict) or not _text_ok(row.get("id"), 200):
                    return "Row id must be 1 to 200 characters."
                if not _text_ok(row.get("title"), 24):
                    return "Row title must be 1 to 24 characters."
                if "description" in row and not _text_ok(row["description"], 72):
                    return "Row description must be at most 72 characters."
                if row["id"] in row_ids:
                    return "Row ids must be unique."
                row_ids.add(row["id"])
        if len(row_ids) > 10:
            return "A list allows at most 10 rows in total."
        return None
    return f"Unsupported interactive type {content.get('type')}."


def _validate_template(content: dict[str, Any]) -> str | None:
    if not _text_ok(content.get("name"), 512):
        return "template.name is required."
    language = content.get("language")
    if not isinstance(language, dict) or not _text_ok(language.get("code"), 15):
        return "template.language.code is required."
    components = content.get("components", [])
    if not isinstance(components, list):
        return "template.components must be a list."
    for component in components:
        if not isinstance(component, dict) or not isinstance(component.get("type"), str):
            return "Each template component needs a type."
        for parameter in component.get("parameters", []):
            if not isinstance(parameter, dict) or parameter.get("type") != "text":
                return "Only text parameters are supported by this fake."
            if not isinstance(parameter.get("text"), str):
                return "A text parameter needs text."
    return None


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
    """Split a multipart/form-data body into text fields and files (filename, content type, bytes)."""
    boundary = ""
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip('"')
    if not boundary:
        raise ValueError("no boundary")
    delimiter = b"--" + boundary.encode()
    pieces = body.split(b"\r\n" + delimiter)
    if not pieces[0].startswith(delimiter):
        raise ValueError("body does not start with the boundary")
    pieces[0] = pieces[0][len(delimiter) :]
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    for piece in pieces:
        if piece.startswith(b"--"):
            break  # closing delimiter
        if not piece.startswith(b"\r\n"):
            raise ValueError("malformed part")
        head, sep, content = piece[2:].partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("part without headers")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8").split("\r\n"):
            header, _, value = line.partition(":")
            headers[header.strip().lower()] = value.strip()
        params: dict[str, str] = {}
        for item in headers.get("content-disposition", "").split(";")[1:]:
            key, _, value = item.strip().partition("=")
            params[key.lower()] = value.strip('"')
        name = params.get("name")
        if not name:
            raise ValueError("part without a name")
        if "filename" in params:
            files[name] = (
                params["filename"],
                headers.get("content-type", "application/octet-stream"),
                content,
            )
        else:
            fields[name] = content.decode("utf-8")
    return fields, files


# ------------------------------------------------------------------------------------ webhook payloads


def _unix(at: datetime | None) -> str:
    return str(int(at.timestamp() if at is not None else time.time()))


def envelope(value: dict[str, Any], *, phone_number_id: str = "1055") -> dict[str, Any]:
    """Wrap a `value` object (messages/statuses/contacts) in Meta's webhook envelope."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": phone_number_id,
                            },
                            **value,
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def _inbound(
    from_: str,
    wamid: str,
    kind: str,
    content: dict[str, Any],
    name: str,
    at: datetime | None,
    context_wamid: str | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "from": digits(from_),
        "id": wamid,
        "timestamp": _unix(at),
        "type": kind,
        kind: content,
    }
    if context_wamid is not None:
        message["context"] = {"from": "15550783881", "id": context_wamid}
    return envelope({"contacts": [{"profile": {"name": name}, "wa_id": digits(from_)}], "messages": [message]})


def make_text_message(
    from_: str, text: str, wamid: str = "wamid.in-text", *, name: str = "Budi", at: datetime | None = None
) -> dict[str, Any]:
    """A webhook body for a text message a person sent."""
    return _inbound(from_, wamid, "text", {"body": text}, name, at)


def make_button_reply(
    from_: str,
    button_id: str,
    title: str,
    wamid: str = "wamid.in-button",
    *,
    context_wamid: str | None = None,
    name: str = "Budi",
    at: datetime | None = None,
) -> dict[str, Any]:
    """A webhook body for a tap on an interactive reply button."""
    content = {"type": "button_reply", "button_reply": {"id": button_id, "title": title}}
    return _inbound(from_, wamid, "interactive", content, name, at, context_wamid)


def make_list_reply(
    from_: str,
    row_id: str,
    title: str,
    wamid: str = "wamid.in-list",
    *,
    description: str | None = None,
    context_wamid: str | None = None,
    name: str = "Budi",
    at: datetime | None = None,
) -> dict[str, Any]:
    """A webhook body for a choice made in an interactive list."""
    reply = {"id": row_id, "title": title}
    if description is not None:
        reply["description"] = description
    content = {"type": "list_reply", "list_reply": reply}
    return _inbound(from_, wamid, "interactive", content, name, at, context_wamid)


def make_template_button(
    from_: str,
    payload: str,
    text: str,
    wamid: str = "wamid.in-tbutton",
    *,
    name: str = "Budi",
    at: datetime | None = None,
) -> dict[str, Any]:
    """A webhook body for a tap on a template's quick-reply button."""
    return _inbound(from_, wamid, "button", {"payload": payload, "text": text}, name, at, "wamid.template")


def make_document(
    from_: str,
    media_id: str,
    filename: str,
    wamid: str = "wamid.in-doc",
    *,
    mime: str = "application/pdf",
    caption: str | None = None,
    name: str = "Budi",
    at: datetime | None = None,
) -> dict[str, Any]:
    """A webhook body for a document a person sent."""
    content = {"filename": filename, "mime_type": mime, "sha256": "0" * 64, "id": media_id}
    if caption is not None:
        content["caption"] = caption
    return _inbound(from_, wamid, "document", content, name, at)


def make_status(
    wamid: str,
    status: str,
    opaque: str | None = None,
    *,
    recipient: str = "6281234567890",
    at: datetime | None = None,
    error_code: int | None = None,
    error_title: str | None = None,
    error_details: str | None = None,
) -> dict[str, Any]:
    """A webhook body for a delivery status of a message the business sent."""
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": _unix(at),
        "recipient_id": digits(recipient),
    }
    if opaque is not None:
        item["biz_opaque_callback_data"] = opaque
    if status in ("sent", "delivered"):
        item["conversation"] = {"id": "conv-1", "origin": {"type": "utility"}}
        item["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "utility"}
    if error_code is not None:
        error: dict[str, Any] = {"code": error_code, "title": error_title or f"Error {error_code}"}
        error["message"] = error["title"]
        if error_details:
            error["error_data"] = {"details": error_details}
        item["errors"] = [error]
    return envelope({"statuses": [item]})


def combine(*payloads: dict[str, Any]) -> dict[str, Any]:
    """Merge several webhook bodies into one with all their entries."""
    entries: list[Any] = []
    for payload in payloads:
        entries.extend(payload["entry"])
    return {"object": "whatsapp_business_account", "entry": entries}


def encode(payload: dict[str, Any]) -> bytes:
    """The raw bytes Meta would POST for `payload`."""
    return json.dumps(payload, separators=(",", ":")).encode()


def sign(app_secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` header value Meta would send for `body`."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
