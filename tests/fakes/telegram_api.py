"""A fake Telegram Bot API server for tests: real HTTP on 127.0.0.1, real Bot API JSON.

Point python-telegram-bot at it with `Bot(token, base_url=api.base_url, base_file_url=api.base_file_url)`
or `ApplicationBuilder().base_url(api.base_url).base_file_url(api.base_file_url)`.

python-telegram-bot 22 emits a deprecation warning while building `RetryAfter` unless the environment
has `PTB_TIMEDELTA=true`; with pytest's `filterwarnings = error` a 429 test needs that variable set.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

JSON = dict[str, Any]

SEND_METHODS = frozenset({"sendmessage", "senddocument", "sendphoto", "editmessagetext"})
_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "language_code",
        "secret_token",
        "ip_address",
        "file_id",
        "action",
        "description",
        "short_description",
        "name",
    }
)
_DESCRIPTIONS = {
    400: "Bad Request: injected failure",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
_HARMLESS = frozenset(
    {"close", "logout", "sendchataction", "setmydescription", "setmyshortdescription", "setchatmenubutton"}
)


@dataclass
class SentRecord:
    """One message the bot sent or edited, as the fake received it."""

    method: str
    chat_id: int | str
    message_id: int
    text: str | None = None
    reply_markup: JSON | None = None
    filename: str | None = None
    content: bytes | None = None
    mime_type: str | None = None
    file_id: str | None = None
    params: JSON = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)

    @property
    def keyboard(self) -> list[list[JSON]]:
        """Rows of inline keyboard buttons, empty when there is no inline keyboard."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [list(row) for row in rows]

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """Every inline button as (label, callback_data or url), row by row."""
        return [
            (str(button["text"]), str(button.get("callback_data") or button.get("url") or ""))
            for row in self.keyboard
            for button in row
        ]


@dataclass
class ApiCall:
    """One request the fake answered, whatever its outcome."""

    method: str
    params: JSON
    status: int
    at: float = field(default_factory=time.monotonic)
    content_type: str = ""
    """How the parameters came: `application/json`, a form, or multipart (with files)."""


@dataclass
class UploadedFile:
    """A file part of a multipart request, or a file a test placed on the server."""

    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None
    remaining: int


class _ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


class _Signal:
    """An edge-triggered broadcast: `fire()` wakes everyone currently waiting."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> bool:
        event = self._event
        try:
            async with asyncio.timeout(seconds):
                await event.wait()
        except TimeoutError:
            return False
        return True


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


class FakeBotApi:
    """A Telegram Bot API look-alike served by uvicorn inside the running event loop."""

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        username: str = "sigap_test_bot",
        first_name: str = "Sigap Test",
    ) -> None:
        self.token = token
        self.username = username
        self.first_name = first_name
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 123
        self.sent: list[SentRecord] = []
        self.calls: list[ApiCall] = []
        self.callback_answers: list[JSON] = []
        self.commands: dict[str, list[JSON]] = {}
        self.webhook_url = ""
        self.webhook_last_error = ""
        """What getWebhookInfo reports as `last_error_message` (Telegram could not deliver to the webhook)."""
        self.count_429 = 0
        self.long_polls_waiting = 0
        self._updates: list[JSON] = []
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int | str, itertools.count[int]] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._names: dict[int, str] = {}
        self._channel_ids: dict[str, int] = {}
        self._files: dict[str, UploadedFile] = {}
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._failures: dict[str, deque[_Failure]] = {}
        self._blocked: set[int | str] = set()
        self._rate: tuple[int, float] | None = None
        self._recent_sends: deque[float] = deque()
        self._closing = False
        self._updates_signal: _Signal | None = None
        self._changed: _Signal | None = None
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Root URL of the running server."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Value for `Bot(base_url=...)`; python-telegram-bot appends the token."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for `Bot(base_file_url=...)`; python-telegram-bot appends the token."""
        return f"{self.url}/file/bot"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Bind a free port on 127.0.0.1 and serve until `stop()`."""
        if self._task is not None:
            raise RuntimeError("FakeBotApi is already running")
        self._closing = False
        self._updates_signal = _Signal()
        self._changed = _Signal()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Accepted connections inherit it: without, a keep-alive answer waits ~40 ms for the client's delayed ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app(),
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            http="h11",
            ws="none",
            timeout_graceful_shutdown=2,
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="fake-telegram-api")
        ready = asyncio.create_task(self._server.ready.wait())
        await asyncio.wait({ready, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            task, self._task = self._task, None
            sock.close()
            await task
            raise RuntimeError("fake Telegram API server stopped during start-up")

    async def stop(self) -> None:
        """Wake pending long polls, stop the server and close its socket."""
        if self._task is None or self._server is None:
            return
        self._closing = True
        self._fire_updates()
        self._server.should_exit = True
        task, self._task = self._task, None
        try:
            await task
        finally:
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    def push_update(self, update: JSON) -> JSON:
        """Queue a raw update for getUpdates, giving it the next update_id."""
        update = {"update_id": next(self._update_ids), **update}
        self._updates.append(update)
        self._fire_updates()
        return update

    def push_message(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str = "Budi",
        last_name: str | None = None,
        username: str | None = None,
    ) -> JSON:
        """Queue a private text message from `user_id`; a leading /command gets its entity."""
        message = self._user_message(user_id, first_name, last_name, username)
        message["text"] = text
        command = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
        if command:
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": command.end()}]
        return self.push_update({"message": message})

    def push_document(
        self,
        user_id: int,
        filename: str,
        content: bytes,
        *,
        mime_type: str = "application/pdf",
        caption: str | None = None,
        first_name: str = "Budi",
    ) -> JSON:
        """Queue a private message carrying a document the bot can fetch with getFile."""
        message = self._user_message(user_id, first_name, None, None)
        message["document"] = self._store_file(UploadedFile(filename, content, mime_type), "documents")
        if caption is not None:
            message["caption"] = caption
        return self.push_update({"message": message})

    def push_callback(
        self,
        user_id: int,
        data: str,
        *,
        message_id: int | None = None,
        first_name: str = "Budi",
    ) -> JSON:
        """Queue a button tap on `message_id` (default: the last message sent to that chat)."""
        if message_id is None:
            earlier = [record.message_id for record in self.sent if record.chat_id == user_id]
            if not earlier:
                raise ValueError(f"no message was sent to {user_id}; pass message_id")
            message_id = earlier[-1]
        self._names.setdefault(user_id, first_name)
        message = self._messages.get((user_id, message_id)) or {
            "message_id": message_id,
            "from": self._bot_user(),
            "chat": self._chat(user_id),
            "date": int(time.time()),
            "text": "",
        }
        query = {
            "id": str(next(self._callback_ids)),
            "from": self._user(user_id, first_name, None, None),
            "message": message,
            "chat_instance": str(user_id * 7919),
            "data": data,
        }
        return self.push_update({"callback_query": query})

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by a getUpdates offset."""
        return list(self._updates)

    def add_file(self, filename: str, content: bytes, mime_type: str = "application/octet-stream") -> str:
        """Store a file downloadable via getFile; returns its file_id."""
        return str(self._store_file(UploadedFile(filename, content, mime_type), "documents")["file_id"])

    def file_content(self, file_id: str) -> bytes:
        """Bytes stored under `file_id` (uploaded by the bot or added by a test)."""
        return self._files[file_id].content

    def fail_next(
        self,
        method: str,
        status: int = 429,
        *,
        retry_after: int = 3,
        description: str | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` ("*" for any method) fail with `status`."""
        failure = _Failure(
            status=status,
            description=description or _describe(status, retry_after),
            retry_after=retry_after if status == 429 else None,
            remaining=times,
        )
        self._failures.setdefault(method.lower(), deque()).append(failure)

    def block_chat(self, chat_id: int | str) -> None:
        """Answer every call aimed at `chat_id` with 403, as when the user blocked the bot."""
        self._blocked.add(_chat_key(chat_id))

    def unblock_chat(self, chat_id: int | str) -> None:
        """Undo `block_chat`."""
        self._blocked.discard(_chat_key(chat_id))

    def limit_global(self, per_second: float | None) -> None:
        """Answer sends beyond `per_second` in a sliding window with 429; None removes the limit."""
        if per_second is None:
            self._rate = None
            return
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        window = max(1.0, 1.0 / per_second)
        self._rate = (max(1, math.floor(per_second * window)), window)
        self._recent_sends.clear()

    def sent_to(self, chat_id: int | str) -> list[SentRecord]:
        """Every message sent or edited in `chat_id`, oldest first."""
        key = _chat_key(chat_id)
        return [record for record in self.sent if record.chat_id == key]

    def texts_to(self, chat_id: int | str) -> list[str]:
        """Texts (or captions) sent to `chat_id`, oldest first."""
        return [record.text for record in self.sent_to(chat_id) if record.text is not None]

    def last_to(self, chat_id: int | str) -> SentRecord:
        """The latest message sent to `chat_id`."""
        records = self.sent_to(chat_id)
        if not records:
            raise LookupError(f"nothing was sent to {chat_id}")
        return records[-1]

    def commands_for(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """Commands last set for `scope` (None: the default scope) and language."""
        return self.commands.get(scope_key(scope, language_code), [])

    async def wait_for(
        self,
        predicate: Callable[[], object],
        timeout: float = 2.0,  # noqa: ASYNC109 - a deadline is this helper's contract
    ) -> None:
        """Return once `predicate()` is truthy, re-checked after every request; else raise TimeoutError."""
        changed = self._require(self._changed)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0 or not await changed.wait(remaining):
                if predicate():
                    return
                summary = [(record.method, record.chat_id, record.text) for record in self.sent]
                raise TimeoutError(f"condition not met within {timeout}s; sent so far: {summary}")

    async def wait_sent(
        self,
        count: int = 1,
        *,
        chat_id: int | str | None = None,
        timeout: float = 2.0,  # noqa: ASYNC109 - a deadline is this helper's contract
    ) -> list[SentRecord]:
        """Wait until at least `count` messages were sent (to `chat_id` if given) and return them."""

        def records() -> list[SentRecord]:
            return self.sent if chat_id is None else self.sent_to(chat_id)

        await self.wait_for(lambda: len(records()) >= count, timeout)
        return records()

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._download, methods=["GET"]),
            ]
        )

    async def _endpoint(self, request: Request) -> Response:
        method = request.path_params["method"]
        params: JSON = {}
        kind = request.headers.get("content-type", "")
        try:
            if request.path_params["token"] != self.token:
                raise _ApiError(401, "Unauthorized")
            params, files = await _read_params(request)
            result = await self._dispatch(method, params, files)
        except _ApiError as error:
            return self._answer(method, params, _error_body(error), error.status, kind)
        except (KeyError, ValueError, TypeError) as error:
            return self._answer(method, params, _error_body(_ApiError(400, f"Bad Request: {error}")), 400, kind)
        return self._answer(method, params, {"ok": True, "result": result}, 200, kind)

    def _answer(self, method: str, params: JSON, body: JSON, status: int, content_type: str = "") -> Response:
        if status == 429:
            self.count_429 += 1
        self.calls.append(ApiCall(method=method, params=params, status=status, content_type=content_type))
        self._require(self._changed).fire()
        return JSONResponse(body, status_code=status)

    async def _download(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return Response(status_code=401)
        segments = request.path_params["path"].split("/")
        stored = self._files.get(segments[1]) if len(segments) > 2 else None
        if stored is None:
            return Response(status_code=404)
        return Response(stored.content, media_type=stored.mime_type)

    async def _dispatch(self, method: str, params: JSON, files: dict[str, UploadedFile]) -> Any:
        name = method.lower()
        self._inject_failure(name)
        if "chat_id" in params:
            params["chat_id"] = self._normalise_chat(params["chat_id"])
            if params["chat_id"] in self._blocked:
                raise _ApiError(403, _DESCRIPTIONS[403])
        if name in SEND_METHODS:
            self._enforce_rate()
        if name in _HARMLESS:
            return True
        handler = self._handlers().get(name)
        if handler is None:
            raise _ApiError(404, "Not Found")
        return await handler(params, files)

    def _handlers(self) -> dict[str, Callable[[JSON, dict[str, UploadedFile]], Awaitable[Any]]]:
        return {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "sendmessage": self._send_message,
            "senddocument": self._send_document,
            "sendphoto": self._send_photo,
            "editmessagetext": self._edit_message_text,
            "answercallbackquery": self._answer_callback_query,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getfile": self._get_file,
        }

    def _inject_failure(self, name: str) -> None:
        for key in (name, "*"):
            queue = self._failures.get(key)
            if not queue:
                continue
            failure = queue[0]
            failure.remaining -= 1
            if failure.remaining <= 0:
                queue.popleft()
            raise _ApiError(failure.status, failure.description, failure.retry_after)

    def _enforce_rate(self) -> None:
        if self._rate is None:
            return
        capacity, window = self._rate
        now = time.monotonic()
        while self._recent_sends and self._recent_sends[0] <= now - window:
            self._recent_sends.popleft()
        if len(self._recent_sends) >= capacity:
            wait = max(1, math.ceil(self._recent_sends[0] + window - now))
            raise _ApiError(429, _describe(429, wait), wait)
        self._recent_sends.append(now)

    async def _get_me(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _get_updates(self, params: JSON, files: dict[str, UploadedFile]) -> list[JSON]:
        if self.webhook_url:
            raise _ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = float(params.get("timeout") or 0)
        allowed = params.get("allowed_updates") or None
        self._confirm(offset)
        signal = self._require(self._updates_signal)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batch = [update for update in self._updates if allowed is None or any(kind in update for kind in allowed)][
                :limit
            ]
            remaining = deadline - loop.time()
            if batch or self._closing or remaining <= 0:
                return batch
            self.long_polls_waiting += 1
            self._require(self._changed).fire()
            try:
                await signal.wait(remaining)
            finally:
                self.long_polls_waiting -= 1

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._updates = [update for update in self._updates if update["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

    async def _send_message(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        text = str(params["text"])
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if _units(text) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        return self._record_send("sendMessage", params, {"text": text}, text=text)

    async def _send_document(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        upload = self._upload(params, files, "document")
        document = self._store_file(upload, "documents")
        return self._record_send(
            "sendDocument",
            params,
            {"document": document, **self._caption(params)},
            text=params.get("caption"),
            upload=upload,
            file_id=str(document["file_id"]),
        )

    async def _send_photo(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        upload = self._upload(params, files, "photo")
        stored = self._store_file(upload, "photos")
        sizes = [
            {
                "file_id": stored["file_id"],
                "file_unique_id": stored["file_unique_id"],
                "width": 320,
                "height": 240,
                "file_size": len(upload.content),
            }
        ]
        return self._record_send(
            "sendPhoto",
            params,
            {"photo": sizes, **self._caption(params)},
            text=params.get("caption"),
            upload=upload,
            file_id=str(stored["file_id"]),
        )

    async def _edit_message_text(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        chat_id = params["chat_id"]
        message_id = int(params["message_id"])
        message = self._messages.get((self._numeric_chat(chat_id), message_id))
        if message is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        text = str(params["text"])
        markup = params.get("reply_markup")
        if message.get("text") == text and message.get("reply_markup") == markup:
            raise _ApiError(400, "Bad Request: message is not modified")
        message["text"] = text
        message["edit_date"] = int(time.time())
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        self.sent.append(
            SentRecord(
                method="editMessageText",
                chat_id=chat_id,
                message_id=message_id,
                text=text,
                reply_markup=markup,
                params=params,
            )
        )
        return message

    async def _answer_callback_query(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        self.callback_answers.append(params)
        return True

    async def _set_my_commands(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        commands = params.get("commands") or []
        if not isinstance(commands, list):
            raise _ApiError(400, "Bad Request: commands must be a list")
        self.commands[scope_key(params.get("scope"), str(params.get("language_code") or ""))] = commands
        return True

    async def _get_my_commands(self, params: JSON, files: dict[str, UploadedFile]) -> list[JSON]:
        return self.commands_for(params.get("scope"), str(params.get("language_code") or ""))

    async def _delete_my_commands(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        self.commands.pop(scope_key(params.get("scope"), str(params.get("language_code") or "")), None)
        return True

    async def _set_webhook(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        self.webhook_url = str(params.get("url") or "")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _delete_webhook(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        info: JSON = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook_last_error:
            info["last_error_date"] = int(time.time()) - 60
            info["last_error_message"] = self.webhook_last_error
        return info

    async def _get_file(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        file_id = str(params["file_id"])
        stored = self._files.get(file_id)
        if stored is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(stored.content),
            "file_path": f"documents/{file_id}/{stored.filename}",
        }

    def _record_send(
        self,
        method: str,
        params: JSON,
        content: JSON,
        *,
        text: object = None,
        upload: UploadedFile | None = None,
        file_id: str | None = None,
    ) -> JSON:
        chat_id = params["chat_id"]
        message_id = self._next_message_id(chat_id)
        markup = params.get("reply_markup")
        message = {
            "message_id": message_id,
            "from": self._bot_user(),
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            **content,
        }
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        self._messages[(self._numeric_chat(chat_id), message_id)] = message
        self.sent.append(
            SentRecord(
                method=method,
                chat_id=chat_id,
                message_id=message_id,
                text=None if text is None else str(text),
                reply_markup=markup if isinstance(markup, dict) else None,
                filename=upload.filename if upload else None,
                content=upload.content if upload else None,
                mime_type=upload.mime_type if upload else None,
                file_id=file_id,
                params=params,
            )
        )
        return message

    def _upload(self, params: JSON, files: dict[str, UploadedFile], field_name: str) -> UploadedFile:
        if field_name in files:
            return files[field_name]
        reference = str(params.get(field_name) or "")
        if reference.startswith("attach://") and reference[9:] in files:
            return files[reference[9:]]
        if reference in self._files:
            return self._files[reference]
        raise _ApiError(400, f"Bad Request: there is no {field_name} in the request")

    def _caption(self, params: JSON) -> JSON:
        caption = params.get("caption")
        if caption is None:
            return {}
        if _units(str(caption)) > 1024:
            raise _ApiError(400, "Bad Request: message caption is too long")
        return {"caption": str(caption)}

    def _store_file(self, upload: UploadedFile, folder: str) -> JSON:
        file_id = f"{folder[:3]}{next(self._file_ids)}"
        self._files[file_id] = upload
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": upload.filename,
            "mime_type": upload.mime_type,
            "file_size": len(upload.content),
        }

    def _user_message(self, user_id: int, first_name: str, last_name: str | None, username: str | None) -> JSON:
        self._names[user_id] = first_name
        return {
            "message_id": self._next_message_id(user_id),
            "from": self._user(user_id, first_name, last_name, username),
            "chat": self._chat(user_id),
            "date": int(time.time()),
        }

    def _user(self, user_id: int, first_name: str, last_name: str | None, username: str | None) -> JSON:
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "id"}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        return user

    def _bot_user(self) -> JSON:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.first_name, "username": self.username}

    def _chat(self, chat_id: int | str) -> JSON:
        if isinstance(chat_id, str):
            return {
                "id": self._numeric_chat(chat_id),
                "type": "channel",
                "title": chat_id,
                "username": chat_id[1:],
            }
        if chat_id < 0:
            return {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}
        return {"id": chat_id, "type": "private", "first_name": self._names.get(chat_id, "Budi")}

    def _numeric_chat(self, chat_id: int | str) -> int:
        if isinstance(chat_id, int):
            return chat_id
        return self._channel_ids.setdefault(chat_id, -1_000_000_000_000 - len(self._channel_ids) - 1)

    def _normalise_chat(self, value: object) -> int | str:
        key = _chat_key(value)
        if isinstance(key, str) and not key.startswith("@"):
            raise _ApiError(400, "Bad Request: chat not found")
        return key

    def _next_message_id(self, chat_id: int | str) -> int:
        return next(self._message_ids.setdefault(_chat_key(chat_id), itertools.count(1)))

    def _fire_updates(self) -> None:
        if self._updates_signal is not None:
            self._updates_signal.fire()

    @staticmethod
    def _require(signal: _Signal | None) -> _Signal:
        if signal is None:
            raise RuntimeError("FakeBotApi is not running; use `async with FakeBotApi() as api`")
        return signal


def scope_key(scope: object, language_code: str = "") -> str:
    """Key of `FakeBotApi.commands`: "default", "all_private_chats", "chat:42", plus "/id" for a language."""
    if isinstance(scope, str):
        scope = json.loads(scope)
    if not isinstance(scope, dict):
        key = "default"
    else:
        key = str(scope.get("type", "default"))
        for part in ("chat_id", "user_id"):
            if part in scope:
                key += f":{scope[part]}"
    return f"{key}/{language_code}" if language_code else key


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _chat_key(value: object) -> int | str:
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def _describe(status: int, retry_after: int) -> str:
    if status == 429:
        return f"Too Many Requests: retry after {retry_after}"
    return _DESCRIPTIONS.get(status, f"Error {status}")


def _error_body(error: _ApiError) -> JSON:
    body: JSON = {"ok": False, "error_code": error.status, "description": error.description}
    if error.retry_after is not None:
        body["parameters"] = {"retry_after": error.retry_after}
    return body


async def _read_params(request: Request) -> tuple[JSON, dict[str, UploadedFile]]:
    params: JSON = {key: _decode_value(key, value) for key, value in request.query_params.items()}
    files: dict[str, UploadedFile] = {}
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if not body:
        return params, files
    if content_type.startswith("application/json"):
        decoded = json.loads(body)
        if not isinstance(decoded, dict):
            raise _ApiError(400, "Bad Request: JSON body must be an object")
        params.update(decoded)
    elif content_type.startswith("multipart/form-data"):
        for name, filename, mime_type, data in _multipart_parts(body, content_type):
            if filename is None:
                params[name] = _decode_value(name, data.decode("utf-8"))
            else:
                files[name] = UploadedFile(filename, data, mime_type or "application/octet-stream")
    else:
        for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
            params[key] = _decode_value(key, value)
    return params, files


def _decode_value(key: str, value: str) -> object:
    if key in _STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


_PARAM = re.compile(r';\s*([\w*-]+)="((?:[^"\\]|\\.)*)"|;\s*([\w*-]+)=([^;]*)')


def _multipart_parts(body: bytes, content_type: str) -> list[tuple[str, str | None, str | None, bytes]]:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        raise _ApiError(400, "Bad Request: multipart body without boundary")
    delimiter = b"--" + match.group(1).encode("latin-1")
    parts: list[tuple[str, str | None, str | None, bytes]] = []
    for section in body.split(delimiter)[1:]:
        if section.startswith(b"--"):
            break
        section = section.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, _, data = section.partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("utf-8").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition: dict[str, str] = {}
        for quoted_key, quoted, bare_key, bare in _PARAM.findall(headers.get("content-disposition", "")):
            key = (quoted_key or bare_key).lower()
            raw = quoted if quoted_key else bare.strip()
            disposition[key] = raw.replace('\\"', '"').replace("%22", '"').replace("\\\\", "\\")
        if "name" not in disposition:
            continue
        parts.append((disposition["name"], disposition.get("filename"), headers.get("content-type"), data))
    return parts
