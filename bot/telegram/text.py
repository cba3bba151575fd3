"""Cutting long texts into pieces Telegram accepts.

Telegram counts message length in UTF-16 code units, so an emoji counts twice.
"""

from __future__ import annotations

import re

_WHITESPACE = re.compile(r"(\s+)")


def units(text: str) -> int:
    """Length of `text` as Telegram counts it (UTF-16 code units)."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def split_text(text: str, limit: int = 4096) -> list[str]:
    """Split `text` into chunks of at most `limit` units, at line breaks, else between words.

    Line breaks and spaces at a cut are dropped; whitespace-only chunks are left out.
    A single word longer than `limit` (a long URL) is the only thing ever cut inside.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    if units(text) <= limit:
        return [text]
    chunks: list[str] = []
    current: list[str] = []
    size = -1
    for line in text.split("\n"):
        for piece in _split_line(line, limit):
            piece_size = units(piece)
            if current and size + 1 + piece_size > limit:
                chunks.append("\n".join(current))
                current, size = [], -1
            current.append(piece)
            size += 1 + piece_size
    if current:
        chunks.append("\n".join(current))
    return [chunk.strip("\r\n") for chunk in chunks if chunk.strip()]


def _split_line(line: str, limit: int) -> list[str]:
    if units(line) <= limit:
        return [line]
    parts = _WHITESPACE.split(line)
    pieces: list[str] = []
    buffer = ""
    size = 0
    for index in range(0, len(parts), 2):
        word = parts[index]
        separator = parts[index - 1] if index else ""
        grown = size + units(separator) + units(word)
        if grown <= limit:
            buffer += separator + word
            size = grown
            continue
        if buffer.strip():
            pieces.append(buffer)
        if units(word) <= limit:
            buffer, size = word, units(word)
        else:
            *head, buffer = _hard_cut(word, limit)
            pieces.extend(head)
            size = units(buffer)
    if buffer.strip():
        pieces.append(buffer)
    return pieces


def _hard_cut(word: str, limit: int) -> list[str]:
    slices: list[str] = []
    start = 0
    size = 0
    for position, char in enumerate(word):
        width = 2 if ord(char) > 0xFFFF else 1
        if size and size + width > limit:
            slices.append(word[start:position])
            start, size = position, 0
        size += width
    slices.append(word[start:])
    return slices
