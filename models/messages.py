"""Channel-neutral message vocabulary: what a person sent and what the bot answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

MAX_TEXT = 4096
"""Longest message text kept (Telegram's own limit; WhatsApp's is the same)."""
MAX_NAME = 120
"""Longest display or file name kept (the contact name column)."""
_CONTROL = {c: None for c in range(32) if c not in (9, 10)} | {0x7F: None} | {c: None for c in range(0x80, 0xA0)}
_CONTROL[13] = None


def clean_text(text: str, limit: int, *, single_line: bool = False) -> str:
    """`text` without control characters (NUL, escape, C1; tab and newline kept unless `single_line`), cut to `limit`.

    Unpaired surrogates (which no database stores) are dropped too.
    """
    cleaned = text.translate(_CONTROL)
    if single_line:
        cleaned = " ".join(cleaned.split())
    if any("\ud800" <= ch <= "\udfff" for ch in cleaned):
        cleaned = cleaned.encode("utf-8", "ignore").decode("utf-8")
    return cleaned[:limit]


def full_stop(text: str) -> str:
    """`text` ending a sentence: 'Slamet Santoso.', but 'dr. Stella Paat, M.Kes.' as it is (a name ending in a
    degree's dot gets no second one)."""
    return text if text.endswith((".", "!", "?")) else text + "."


class Channel(StrEnum):
    """Where a message came from or goes to."""

    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    CONSOLE = "console"


CHAT_CHANNELS = frozenset({Channel.TELEGRAM, Channel.WHATSAPP})
"""The channels the bot sends on by itself (the outbox); the console only answers the person typing. A deployment
configures some of them (`models.app.Deps.sends_on`)."""


@dataclass(frozen=True)
class Button:
    """A tappable choice; `payload` is the text fed back to the bot when it is chosen."""

    label: str
    payload: str


@dataclass(frozen=True)
class Attachment:
    """A file sent with a reply: a document (PDF, DOCX) or a picture."""

    filename: str
    content: bytes
    kind: Literal["document", "photo"] = "document"
    mime: str = "application/pdf"
    stored_id: int | None = None
    """The archived file it comes from (a letter's PDF), so a durable reply does not store it twice."""


@dataclass(frozen=True)
class Reply:
    """One message the bot sends back."""

    text: str
    buttons: tuple[Button, ...] = ()
    attachment: Attachment | None = None
    broadcast_id: int | None = None
    """Set on the confirmation of a broadcast: the adapter remembers where it was shown, to edit in progress."""
    outbox_id: int | None = None
    """Set by the core when the reply was written to the outbox with the message's handling (a durable reply):
    the adapter marks it sent, or leaves it to the dispatcher when sending fails."""


@dataclass(frozen=True)
class Incoming:
    """One message a person sent, already translated out of the channel's own format.

    `address` is the channel identity: Telegram user id, WhatsApp E.164 number, or the
    contact id on the console. `payload` is set when the person tapped a button.
    """

    channel: Channel
    address: str
    text: str = ""
    payload: str | None = None
    display_name: str = ""
    message_id: str | None = None
    at: datetime | None = None
    document_name: str | None = None
    document_ref: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    text_cut: int = 0
    """How many characters of what was typed were cut off at `MAX_TEXT`: the length sent is len(text) + text_cut
    (a handler that refuses a long text names the length the person sent, not the length left)."""

    def __post_init__(self) -> None:
        """Clean what people typed at the boundary: control characters (NUL included) go, lengths fit the columns."""
        typed = clean_text(self.text, len(self.text))  # cleaning never makes a text longer: nothing is cut here
        object.__setattr__(self, "text", typed[:MAX_TEXT])
        object.__setattr__(self, "text_cut", self.text_cut + max(len(typed) - MAX_TEXT, 0))
        if self.payload is not None:
            object.__setattr__(self, "payload", clean_text(self.payload, MAX_TEXT))
        object.__setattr__(self, "display_name", clean_text(self.display_name, MAX_NAME, single_line=True))
        if self.document_name is not None:
            object.__setattr__(self, "document_name", clean_text(self.document_name, MAX_NAME, single_line=True))

    @property
    def body(self) -> str:
        """The text to interpret: the button payload when a button was tapped."""
        return (self.payload if self.payload is not None else self.text).strip()

    @property
    def command(self) -> str | None:
        """The command word without the slash and any `@botname`, lower-case; None for plain text."""
        body = self.body
        if not body.startswith("/"):
            return None
        word = body.split(maxsplit=1)[0][1:]
        return word.split("@", 1)[0].lower() or None

    @property
    def args(self) -> list[str]:
        """The words after the command (or all words of plain text)."""
        words = self.body.split()
        return words[1:] if self.command is not None else words
