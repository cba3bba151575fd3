"""Files people send to the bot: one seam every channel implements, so handlers only ever see bytes.

A channel adapter turns what it received into `Incoming.document_ref` (a Telegram file_id, a WhatsApp media id,
a local path on the console); the channel's `FileSource` in `Deps.files` turns that reference back into bytes.
"""

from __future__ import annotations

from typing import Protocol


class FileError(Exception):
    """A file a person sent could not be handed over; the subclass says why."""


class FileTooLarge(FileError):
    """The file is bigger than the caller accepts."""

    def __init__(self, limit: int, size: int | None = None) -> None:
        super().__init__(f"file of {size if size is not None else 'unknown'} bytes is over the {limit}-byte limit")
        self.limit = limit
        self.size = size


class FileUnavailable(FileError):
    """The file cannot be fetched (expired, unknown reference, the provider refused, no such path)."""


class FileSource(Protocol):
    """Where one channel's incoming files are fetched from."""

    async def fetch(self, ref: str, *, max_bytes: int) -> tuple[bytes, str]:
        """The file's content and MIME type ("" when unknown); `FileTooLarge` above `max_bytes`,
        `FileUnavailable` when it cannot be had."""
        ...
