"""Thin async client for the WhatsApp Cloud API (Graph API `/{phone_number_id}/messages` and `/media`).

Every failure is raised as a `models.outbound.SendError` subclass so the dispatcher can decide what to do
without knowing anything about Graph. The access token is only ever sent in the Authorization header and is
scrubbed from every exception message this module builds.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from models.files import FileTooLarge
from models.messages import Button
from models.outbound import (
    AuthFailed,
    Permanent,
    RateLimited,
    SendError,
    Template,
    Transient,
    Unreachable,
    WindowClosed,
)

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_INTERACTIVE_BODY = 1024
MAX_CAPTION = 1024
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_ID = 256
MAX_LIST_ROWS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_ROW_ID = 200
MAX_LIST_BUTTON = 20
MAX_OPAQUE = 512

# Graph error codes (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
CODE_THROUGHPUT = 130429  # Cloud API throughput of the business number reached
CODE_PAIR_RATE = 131056  # too many messages to the same recipient
CODE_REENGAGEMENT = 131047  # more than 24 h since the customer last wrote
CODE_UNDELIVERABLE = 131026  # not a WhatsApp number, old client, ToS not accepted
CODE_TOKEN = 190  # access token expired or invalid
_GLOBAL_RATE_CODES = frozenset({CODE_THROUGHPUT, 4, 80007})  # + app-level and WABA-level call limits
_AUTH_CODES = frozenset({CODE_TOKEN, 0, 10})  # + AuthException, permission denied
_TRANSIENT_CODES = frozenset({1, 2, 131000})  # API unknown, API service, "something went wrong"


def _e164_digits(number: str) -> str:
    """The recipient as Graph wants it: country code and digits, no '+' or separators."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if not digits:
        raise ValueError(f"not a phone number: {number!r}")
    return digits


def _truncate(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


MAX_RETRY_AFTER = 3600.0
"""A Retry-After header never holds sends back longer than an hour."""


class WhatsAppClient:
    """Sends messages and media through the WhatsApp Cloud API and maps Graph errors to `SendError`s."""

    def __init__(
        self,
        access_token: str,
        phone_number_id: str,
        *,
        base_url: str = "https://graph.facebook.com",
        api_version: str = "v21.0",
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
        global_retry_after: float = 5.0,
        recipient_retry_after: float = 6.0,
    ) -> None:
        if not access_token:
            raise ValueError("access_token is empty")
        if not phone_number_id:
            raise ValueError("phone_number_id is empty")
        self._token = access_token
        self.phone_number_id = phone_number_id
        self.api_version = api_version
        self.global_retry_after = global_retry_after
        self.recipient_retry_after = recipient_retry_after
        self._http = httpx.AsyncClient(
            base_url=f"{base_url.rstrip('/')}/{api_version}",
            headers={"Authorization": f"Bearer {access_token}"},
            transport=transport,
            timeout=timeout,
        )

    def __repr__(self) -> str:
        return f"WhatsAppClient(phone_number_id={self.phone_number_id!r}, api_version={self.api_version!r})"

    async def __aenter__(self) -> WhatsAppClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying HTTP connection pool."""
        await self._http.aclose()

    # ----------------------------------------------------------------------------------------- sending

    async def send_text(self, to: str, text: str, *, opaque: str | None = None) -> str:
        """Send a plain text message (at most 4096 characters); return its wamid."""
        if not text.strip():
            raise ValueError("text is empty")
        if len(text) > MAX_TEXT:
            raise ValueError(f"text is {len(text)} characters, WhatsApp allows {MAX_TEXT}")
        return await self._send(to, "text", {"preview_url": False, "body": text}, opaque)

    async def send_buttons(self, to: str, text: str, buttons: Sequence[Button], *, opaque: str | None = None) -> str:
        """Send up to three interactive reply buttons under `text`; return the wamid."""
        if not 1 <= len(buttons) <= MAX_BUTTONS:
            raise ValueError(f"reply buttons take 1 to {MAX_BUTTONS} buttons, got {len(buttons)}")
        self._check_body(text)
        action_buttons = []
        for button in buttons:
            self._check_id(button.payload, MAX_BUTTON_ID)
            title = _truncate(button.label.strip() or button.payload, MAX_BUTTON_TITLE)
            action_buttons.append({"type": "reply", "reply": {"id": button.payload, "title": title}})
        interactive = {"type": "button", "body": {"text": text}, "action": {"buttons": action_buttons}}
        return await self._send(to, "interactive", interactive, opaque)

    async def send_list(
        self,
        to: str,
        text: str,
        buttons: Sequence[Button],
        *,
        button_label: str = "Pilih",
        opaque: str | None = None,
    ) -> str:
        """Send an interactive list of up to ten rows opened by `button_label`; return the wamid."""
        if not 1 <= len(buttons) <= MAX_LIST_ROWS:
            raise ValueError(f"a list takes 1 to {MAX_LIST_ROWS} rows, got {len(buttons)}")
        self._check_body(text)
        label = _truncate(button_label.strip() or "Pilih", MAX_LIST_BUTTON)
        rows: list[dict[str, str]] = []
        for button in buttons:
            self._check_id(button.payload, MAX_ROW_ID)
            full = button.label.strip() or button.payload
            row = {"id": button.payload, "title": _truncate(full, MAX_ROW_TITLE)}
            if len(full) > MAX_ROW_TITLE:
                row["description"] = _truncate(full, MAX_ROW_DESCRIPTION)
            rows.append(row)
        interactive = {
            "type": "list",
            "body": {"text": text},
            "action": {
                "button": label,
                "sections": [{"title": _truncate(label, MAX_ROW_TITLE), "rows": rows}],
            },
        }
        return await self._send(to, "interactive", interactive, opaque)

    async def send_template(self, to: str, template: Template, *, opaque: str | None = None) -> str:
        """Send an approved template with its body parameters as text; return the wamid."""
        body: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
        if template.params:
            body["components"] = [
                {"type": "body", "parameters": [{"type": "text", "text": p} for p in template.params]}
            ]
        return await self._send(to, "template", body, opaque)

    async def send_document(
        self,
        to: str,
        media_id: str,
        filename: str,
        caption: str | None = None,
        *,
        opaque: str | None = None,
    ) -> str:
        """Send an uploaded document by media id, shown with `filename`; return the wamid."""
        document: dict[str, str] = {"id": media_id, "filename": filename}
        if caption:
            self._check_caption(caption)
            document["caption"] = caption
        return await self._send(to, "document", document, opaque)

    async def send_image(self, to: str, media_id: str, caption: str | None = None, *, opaque: str | None = None) -> str:
        """Send an uploaded image by media id; return the wamid."""
        image: dict[str, str] = {"id": media_id}
        if caption:
            self._check_caption(caption)
            image["caption"] = caption
        return await self._send(to, "image", image, opaque)

    async def mark_read(self, message_id: str) -> None:
        """Mark an inbound message (and the ones before it) as read: blue ticks for the person."""
        await self._post_json(
            f"/{self.phone_number_id}/messages",
            {"messaging_product": "whatsapp", "status": "read", "message_id": message_id},
        )

    async def get_object(self, path: str, **params: str) -> dict[str, Any]:
        """GET a Graph object or edge as JSON, e.g. the phone number or a WABA's message templates (`sigap doctor`).

        `path` may also be a full URL (a `paging.next` link). Errors raise the same `SendError`s as sending."""
        return await self._request("GET", path, params=params or None)

    # ------------------------------------------------------------------------------------------- media

    async def upload_media(self, content: bytes, mime: str, filename: str) -> str:
        """Upload a file to WhatsApp's media store; return the media id to send it with."""
        if not content:
            raise ValueError("media content is empty")
        data = await self._request(
            "POST",
            f"/{self.phone_number_id}/media",
            data={"messaging_product": "whatsapp", "type": mime},
            files={"file": (filename, content, mime)},
        )
        media_id = data.get("id")
        if not isinstance(media_id, str | int) or not str(media_id):
            raise Permanent("media upload answered without an id")
        return str(media_id)

    async def download_media(self, media_id: str, max_bytes: int | None = None) -> tuple[bytes, str]:
        """Fetch a media file a person sent (e.g. a document's id); return its bytes and MIME type. `FileTooLarge`
        before downloading when Graph reports a size above `max_bytes`."""
        meta = await self._request("GET", f"/{media_id}")
        size = meta.get("file_size")
        if max_bytes is not None and isinstance(size, int) and size > max_bytes:
            raise FileTooLarge(max_bytes, size)
        url = meta.get("url")
        if not isinstance(url, str) or not url:
            raise Permanent(f"media {media_id} has no download url")
        response = await self._send_raw("GET", url)
        self._raise_for_error(response)
        mime = meta.get("mime_type")
        return response.content, mime if isinstance(mime, str) else response.headers.get("content-type", "")

    # ---------------------------------------------------------------------------------------- plumbing

    @staticmethod
    def _check_body(text: str) -> None:
        if not text.strip():
            raise ValueError("interactive body text is empty")
        if len(text) > MAX_INTERACTIVE_BODY:
            raise ValueError(f"interactive body is {len(text)} characters, limit {MAX_INTERACTIVE_BODY}")

    @staticmethod
    def _check_caption(caption: str) -> None:
        if len(caption) > MAX_CAPTION:
            raise ValueError(f"caption is {len(caption)} characters, WhatsApp allows {MAX_CAPTION}")

    @staticmethod
    def _check_id(payload: str, limit: int) -> None:
        if not payload:
            raise ValueError("button payload is empty")
        if len(payload) > limit:
            raise ValueError(f"button payload is {len(payload)} characters, WhatsApp allows {limit}")

    async def _send(self, to: str, kind: str, content: Mapping[str, Any], opaque: str | None) -> str:
        """POST one message of type `kind` and return the wamid Graph assigned to it."""
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": _e164_digits(to),
            "type": kind,
            kind: content,
        }
        if opaque is not None:
            if len(opaque) > MAX_OPAQUE:
                raise ValueError(f"opaque callback data is {len(opaque)} characters, limit {MAX_OPAQUE}")
            body["biz_opaque_callback_data"] = opaque
        data = await self._post_json(f"/{self.phone_number_id}/messages", body)
        messages = data.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            wamid = messages[0].get("id")
            if isinstance(wamid, str) and wamid:
                return wamid
        raise Permanent("Graph accepted the message but returned no message id")

    async def _post_json(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._request("POST", path, json=body)

    async def _request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """Send one request, raise the matching `SendError` on failure, return the JSON object."""
        response = await self._send_raw(method, url, **kwargs)
        self._raise_for_error(response)
        try:
            data = response.json()
        except ValueError:
            raise Transient(f"Graph answered HTTP {response.status_code} with a non-JSON body") from None
        if not isinstance(data, dict):
            raise Transient(f"Graph answered HTTP {response.status_code} with unexpected JSON")
        return data

    async def _send_raw(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise Transient(self._scrub(f"WhatsApp request timed out ({type(exc).__name__})")) from None
        except httpx.TransportError as exc:
            detail = self._scrub(f"WhatsApp connection failed ({type(exc).__name__}: {exc})")
            raise Transient(detail) from None

    def _raise_for_error(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        raise self._error_for(response)

    def _error_for(self, response: httpx.Response) -> SendError:
        """Translate a failed Graph response into the `SendError` the dispatcher understands."""
        status = response.status_code
        code: int | None = None
        message = ""
        details = ""
        try:
            payload = response.json()
        except ValueError:
            payload = None
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict):
            raw_code = error.get("code")
            if isinstance(raw_code, int) or (isinstance(raw_code, str) and raw_code.isdigit()):
                code = int(raw_code)
            message = str(error.get("message") or "")
            error_data = error.get("error_data")
            if isinstance(error_data, dict):
                details = str(error_data.get("details") or "")
        text = f"WhatsApp HTTP {status}"
        if code is not None:
            text += f" error {code}"
        if message:
            text += f": {message}"
        if details and details not in message:
            text += f" ({details})"
        text = self._scrub(text)
        log.warning("WhatsApp send failed: %s", text)

        retry_after = self._retry_after_header(response)
        if code in _GLOBAL_RATE_CODES or (code is None and status == 429):
            return RateLimited(retry_after or self.global_retry_after, "global", text)
        if code == CODE_PAIR_RATE:
            return RateLimited(retry_after or self.recipient_retry_after, "recipient", text)
        if code == CODE_REENGAGEMENT:
            return WindowClosed(text)
        if code == CODE_UNDELIVERABLE:
            return Unreachable(text)
        if code in _AUTH_CODES or (code is None and status == 401):
            return AuthFailed(text)
        if status >= 500 or code in _TRANSIENT_CODES:
            return Transient(text)
        return Permanent(text)

    @staticmethod
    def _retry_after_header(response: httpx.Response) -> float | None:
        value = response.headers.get("retry-after", "")
        try:
            seconds = float(value)
        except ValueError:
            return None
        if not math.isfinite(seconds) or seconds <= 0:
            return None
        return min(seconds, MAX_RETRY_AFTER)

    def _scrub(self, text: str) -> str:
        """Remove the access token from text that may end up in an exception or a log line."""
        return text.replace(self._token, "***") if self._token else text
