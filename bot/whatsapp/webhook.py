"""WhatsApp Cloud API webhooks as pure functions: signature check, subscription handshake, parsing.

Parsing never raises: entries that do not have the shape Meta documents are skipped, unknown fields are
ignored, so one odd message cannot make Meta retry (and re-deliver) a whole batch.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, ParamSpec, TypeVar

from models.messages import Channel, Incoming

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
StatusName = Literal["sent", "delivered", "read", "failed"]
_STATUSES: dict[str, StatusName] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
}
_P = ParamSpec("_P")
_T = TypeVar("_T")
_SKIPPED_TYPES = frozenset({"reaction", "system", "ephemeral"})


@dataclass(frozen=True)
class InboundMessage:
    """One message a person sent to the business number."""

    wamid: str
    from_: str
    profile_name: str
    timestamp: datetime
    incoming: Incoming
    type: str = "text"
    phone_number_id: str | None = None


@dataclass(frozen=True)
class StatusEvent:
    """A delivery report for a message the business sent."""

    wamid: str
    status: StatusName
    timestamp: datetime
    recipient: str
    outbox_id: int | None = None
    error_code: int | None = None
    error_title: str | None = None
    error_detail: str | None = None
    phone_number_id: str | None = None
    """The business number that sent the message (another number of the same account is not ours)."""


@dataclass
class WebhookBatch:
    """Everything one webhook POST carried."""

    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusEvent] = field(default_factory=list)


def verify_signature(app_secret: str, raw_body: bytes, header: str | None) -> Literal["ok", "missing", "bad"]:
    """Check Meta's `X-Hub-Signature-256: sha256=<hex>` HMAC of the raw request body."""
    if header is None or not header.strip():
        return "missing"
    if not app_secret:
        return "bad"  # without a secret anyone could sign; fail closed
    scheme, _, received = header.strip().partition("=")
    if scheme.lower() != "sha256" or not received:
        return "bad"
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return "ok" if hmac.compare_digest(expected.encode(), received.strip().lower().encode()) else "bad"


def verify_subscription(params: Mapping[str, str], verify_token: str) -> str | None:
    """Answer Meta's GET handshake: the `hub.challenge` to echo back, or None to refuse with 403."""
    if not verify_token or params.get("hub.mode") != "subscribe":
        return None
    token = params.get("hub.verify_token") or ""
    if not hmac.compare_digest(token.encode(), verify_token.encode()):
        return None
    challenge = params.get("hub.challenge")
    return challenge if challenge else None


def parse_webhook(payload: object) -> WebhookBatch:
    """Extract inbound messages and delivery statuses from a webhook body; malformed parts are skipped."""
    batch = WebhookBatch()
    for value in _values(payload):
        metadata = _dict(value.get("metadata"))
        phone_number_id = _str(metadata.get("phone_number_id")) or None
        names: dict[str, str] = {}
        for contact in _dicts(value.get("contacts")):
            wa_id = _str(contact.get("wa_id"))
            if wa_id:
                names[wa_id] = _str(_dict(contact.get("profile")).get("name"))
        for raw in _dicts(value.get("messages")):
            message = _guard(_parse_message, raw, names, phone_number_id)
            if message is not None:
                batch.messages.append(message)
        for raw in _dicts(value.get("statuses")):
            status = _guard(_parse_status, raw, phone_number_id)
            if status is not None:
                batch.statuses.append(status)
    return batch


# ------------------------------------------------------------------------------------------- internals


def _guard(parse: Callable[_P, _T | None], *args: _P.args, **kwargs: _P.kwargs) -> _T | None:
    """Run one entry's parser; anything unexpected skips the entry instead of failing the batch."""
    try:
        return parse(*args, **kwargs)
    except Exception:  # a malformed entry must never cost the rest of the batch
        log.warning("skipping malformed WhatsApp webhook entry", exc_info=True)
        return None


def _values(payload: object) -> Iterator[dict[str, Any]]:
    for entry in _dicts(_dict(payload).get("entry")):
        for change in _dicts(entry.get("changes")):
            if change.get("field", "messages") != "messages":
                continue
            value = _dict(change.get("value"))
            if value:
                yield value


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: object) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _str(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _e164(number: str) -> str | None:
    digits = number.strip().removeprefix("+")
    return f"+{digits}" if _digits(digits) else None


def _timestamp(value: object) -> datetime | None:
    raw = _str(value)
    if not _digits(raw):
        return None
    try:
        return datetime.fromtimestamp(int(raw), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _parse_message(raw: dict[str, Any], names: Mapping[str, str], phone_number_id: str | None) -> InboundMessage | None:
    wamid = _str(raw.get("id"))
    sender = _e164(_str(raw.get("from")))
    at = _timestamp(raw.get("timestamp"))
    kind = _str(raw.get("type")) or "unknown"
    if not wamid or sender is None or at is None or kind in _SKIPPED_TYPES:
        return None
    name = names.get(sender[1:], "")
    text = ""
    payload: str | None = None
    document_name: str | None = None
    document_ref: str | None = None
    extra: dict[str, str] = {"type": kind}

    if kind == "text":
        text = _str(_dict(raw.get("text")).get("body"))
    elif kind == "interactive":
        interactive = _dict(raw.get("interactive"))
        reply = _dict(interactive.get("button_reply")) or _dict(interactive.get("list_reply"))
        payload = _str(reply.get("id")) or None
        text = _str(reply.get("title"))
        if payload is None:
            return None  # nfm_reply (flows) and other interactive answers are not handled
    elif kind == "button":  # quick-reply button of a template
        button = _dict(raw.get("button"))
        text = _str(button.get("text"))
        payload = _str(button.get("payload")) or text or None
        if payload is None:
            return None
    elif kind in ("document", "image", "video", "audio", "sticker"):
        media = _dict(raw.get(kind))
        document_ref = _str(media.get("id")) or None
        text = _str(media.get("caption"))
        if kind == "document":
            document_name = _str(media.get("filename")) or None
        mime = _str(media.get("mime_type"))
        if mime:
            extra["mime_type"] = mime
    context_id = _str(_dict(raw.get("context")).get("id"))
    if context_id:
        extra["context_id"] = context_id

    incoming = Incoming(
        channel=Channel.WHATSAPP,
        address=sender,
        text=text,
        payload=payload,
        display_name=name,
        message_id=wamid,
        at=at,
        document_name=document_name,
        document_ref=document_ref,
        extra=extra,
    )
    return InboundMessage(
        wamid=wamid,
        from_=sender,
        profile_name=name,
        timestamp=at,
        incoming=incoming,
        type=kind,
        phone_number_id=phone_number_id,
    )


def _parse_status(raw: dict[str, Any], phone_number_id: str | None = None) -> StatusEvent | None:
    wamid = _str(raw.get("id"))
    status = _STATUSES.get(_str(raw.get("status")))
    at = _timestamp(raw.get("timestamp"))
    if not wamid or status is None or at is None:
        return None
    recipient = _e164(_str(raw.get("recipient_id"))) or _str(raw.get("recipient_id"))
    opaque = _str(raw.get("biz_opaque_callback_data")).strip()
    outbox_id = int(opaque) if _digits(opaque) and len(opaque) <= 18 else None
    error_code: int | None = None
    error_title: str | None = None
    error_detail: str | None = None
    errors = _dicts(raw.get("errors"))
    if errors:
        first = errors[0]
        code = _str(first.get("code"))
        error_code = int(code) if _digits(code) else None
        error_title = _str(first.get("title")) or _str(first.get("message")) or None
        error_detail = _str(_dict(first.get("error_data")).get("details")) or None
    return StatusEvent(
        wamid=wamid,
        status=status,
        timestamp=at,
        recipient=recipient,
        outbox_id=outbox_id,
        error_code=error_code,
        error_title=error_title,
        error_detail=error_detail,
        phone_number_id=phone_number_id,
    )
