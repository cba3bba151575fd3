"""Maps a channel-neutral `Outbound` onto WhatsApp Cloud API calls.

A long text was already cut into one outbox row per chunk when it was queued (`models.outbox`: the last chunk of a
message with buttons fits an interactive body); a text that still does not fit is cut here by the same rule.
"""

from __future__ import annotations

from bot.whatsapp.client import (
    MAX_BUTTONS,
    MAX_CAPTION,
    MAX_INTERACTIVE_BODY,
    MAX_LIST_ROWS,
    MAX_TEXT,
    WhatsAppClient,
)
from models.messages import Attachment, Button, Channel
from models.outbound import Outbound, Permanent, Sent, Template
from models.outbox import split_tail, split_text

DEFAULT_PROMPT = "Pilih salah satu:"
MAX_TEMPLATE_PARAM = 1024


def numbered_choices(text: str, buttons: tuple[Button, ...]) -> str:
    """`text` followed by the buttons' labels as a numbered list, for when WhatsApp cannot show them."""
    lines = [f"{i}. {button.label or button.payload}" for i, button in enumerate(buttons, start=1)]
    return f"{text}\n\n" + "\n".join(lines) if text.strip() else "\n".join(lines)


def template_param(text: str) -> str:
    """A template body parameter Graph accepts: no line breaks or tabs, no run of 4+ spaces, not empty."""
    flat = " ".join(text.split())
    if len(flat) > MAX_TEMPLATE_PARAM:
        flat = flat[: MAX_TEMPLATE_PARAM - 1] + "…"
    return flat or "-"


def clean_template(template: Template) -> Template:
    """`template` with every parameter made acceptable to Graph (error 132018 otherwise)."""
    return Template(template.name, tuple(template_param(p) for p in template.params), template.language)


class WhatsAppSender:
    """`Sender` for WhatsApp: templates, media, reply buttons, lists and long text."""

    channel = Channel.WHATSAPP

    def __init__(self, client: WhatsAppClient, *, list_label: str = "Pilih") -> None:
        self.client = client
        self.list_label = list_label

    async def send(self, message: Outbound) -> Sent:
        """Deliver `message`, returning the wamid of the last WhatsApp message it took."""
        try:
            return Sent(await self._send(message))
        except ValueError as exc:  # a shape WhatsApp will never accept: retrying cannot help
            raise Permanent(f"cannot send outbox {message.outbox_id} on WhatsApp: {exc}") from exc

    async def _send(self, message: Outbound) -> str:
        to = message.address
        opaque = str(message.outbox_id) if message.outbox_id > 0 else None  # direct replies carry no outbox id
        if message.template is not None:
            return await self.client.send_template(to, clean_template(message.template), opaque=opaque)
        if message.attachment is not None:
            return await self._send_attachment(to, message.text, message.attachment, opaque)
        buttons = message.buttons
        if buttons and len(buttons) <= MAX_LIST_ROWS:
            *leading, body = self._split_for_body(message.text)
            for chunk in leading:
                await self.client.send_text(to, chunk, opaque=opaque)
            if len(buttons) <= MAX_BUTTONS:
                return await self.client.send_buttons(to, body, buttons, opaque=opaque)
            return await self.client.send_list(to, body, buttons, button_label=self.list_label, opaque=opaque)
        text = numbered_choices(message.text, buttons) if buttons else message.text
        if not text.strip():
            raise ValueError("message has no text, buttons, attachment or template")
        return await self._send_texts(to, text, opaque)

    @staticmethod
    def _split_for_body(text: str) -> list[str]:
        """Text chunks to send ahead of an interactive message, then its body (at most 1024 characters)."""
        if not text.strip():
            return [DEFAULT_PROMPT]
        chunks = split_text(text, MAX_TEXT)
        head, body = split_tail(chunks.pop(), MAX_INTERACTIVE_BODY)
        if head.strip():
            chunks.append(head)
        return [*chunks, body]

    async def _send_attachment(self, to: str, text: str, attachment: Attachment, opaque: str | None) -> str:
        caption: str | None = text if text.strip() else None
        if caption is not None and len(caption) > MAX_CAPTION:
            await self._send_texts(to, caption, opaque)
            caption = None
        media_id = await self.client.upload_media(attachment.content, attachment.mime, attachment.filename)
        if attachment.kind == "photo":
            return await self.client.send_image(to, media_id, caption, opaque=opaque)
        return await self.client.send_document(to, media_id, attachment.filename, caption, opaque=opaque)

    async def _send_texts(self, to: str, text: str, opaque: str | None) -> str:
        wamid = ""
        for chunk in split_text(text, MAX_TEXT):
            wamid = await self.client.send_text(to, chunk, opaque=opaque)
        return wamid
