"""Indonesian phone numbers in one form: E.164 with a leading '+'."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-().]")


class PhoneError(ValueError):
    """The text is not a phone number we can use."""


def normalize_phone(raw: str, default_country: str = "62") -> str:
    """Turn '0812-3456-7890', '62812...', '+62 812 ...' into '+628123456789'."""
    text = _SEPARATORS.sub("", raw.strip())
    if text.startswith("+"):
        digits = text[1:]
    elif text.startswith("00"):
        digits = text[2:]
    elif text.startswith("0"):
        digits = default_country + text[1:]
    else:
        digits = text
    if not digits.isdigit():
        raise PhoneError("nomor hanya boleh berisi angka, spasi, tanda -, dan + di depan")
    if digits.startswith(default_country + "0"):
        digits = default_country + digits[len(default_country) + 1 :]
    if not 9 <= len(digits) <= 15:
        raise PhoneError("panjang nomor tidak wajar (contoh yang benar: 0812-3456-7890)")
    return "+" + digits


def mask_phone(number: str) -> str:
    """A number safe to print in logs: '+62812****7890'."""
    if len(number) <= 8:
        return "****"
    return number[:6] + "****" + number[-4:]


MOBILE_EXAMPLE = "contoh yang benar: 0812-3456-7890"


def normalize_mobile(raw: str) -> str:
    """An Indonesian mobile number as '+628…': '0812…', '62812…', '+62 812…', or '812…' (a spreadsheet that
    read the number as a figure dropped the leading 0). 10 to 13 digits counting the 0, like 0812-3456-7890."""
    text = _SEPARATORS.sub("", raw.strip())
    if text.startswith("8"):
        text = "0" + text
    number = normalize_phone(text)
    if not number.startswith("+628"):
        raise PhoneError(f"bukan nomor HP Indonesia (diawali 08 atau +628; {MOBILE_EXAMPLE})")
    digits = len(number) - 2  # '+62' becomes the leading 0
    if not 10 <= digits <= 13:
        raise PhoneError(f"nomor HP harus 10 sampai 13 angka termasuk 0 di depan, tertulis {digits} ({MOBILE_EXAMPLE})")
    return number
