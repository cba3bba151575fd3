"""Figures read the Indonesian way: "." groups thousands, "," marks decimals; what could be read two ways is asked.

`read_figure("1.250", "count")` is 1250, `read_figure("42,5", "percent")` is 42.5, `read_figure("40 %", "percent")`
is 40. Input an English writer would read differently (`"1,000"` for a count), a dot that cannot group thousands
(`"1.5"`), or digits grouped by spaces (`"1 000"`) give an `Unclear` with the plausible readings, never a guess.
Input that is no figure, or a figure that cannot be right (negative, a count with decimals, a percent above 100),
raises `FigureError` whose message, in Indonesian, names what was typed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

FigureKind = Literal["count", "percent"]
"""A count (products, submissions: whole numbers) or a percent (0-100, decimals allowed)."""

MAX_VALUE = Decimal(1_000_000_000)
"""The largest figure accepted: far above any real count, and small enough to show and store everywhere."""

_SHOWN_MAX = 24
"""How much of an over-long input an error message repeats."""

_ID = re.compile(r"(?:[1-9][0-9]{0,2}(?:\.[0-9]{3})+|[0-9]+)(?:,[0-9]+)?|,[0-9]+")
"""Indonesian: thousands grouped by dots (three digits each), decimals after one comma."""
_EN = re.compile(r"(?:[1-9][0-9]{0,2}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?|\.[0-9]+")
"""English: thousands grouped by commas, decimals after one dot."""
_SHORT_GROUP = re.compile(r"([1-9][0-9]{0,2})\.([0-9]{1,2})")
"""'1.5', '12.25': a dot followed by too few digits for a thousands group (a dropped zero, or a decimal point)."""
_SPACE_GROUPS = re.compile(r"[1-9][0-9]{0,2}(?: [0-9]{3})+(?:,[0-9]+)?")
"""'1 000', '12 500 000': thousands grouped by spaces."""
_NEXT_GROUP = re.compile(r"[0-9]{3}(?:,[0-9]+)?")
_MINUS = ("-", "\u2212", "\u2013")
_PERCENT_WORDS = ("%", "persen")
_MAGNITUDES = {
    "ribu": Decimal(1_000),
    "rb": Decimal(1_000),
    "juta": Decimal(1_000_000),
    "jt": Decimal(1_000_000),
    "miliar": Decimal(1_000_000_000),
    "milyar": Decimal(1_000_000_000),
    "m": Decimal(1_000_000_000),
}
"""Words of size after a number ('2 juta', '1,5 M'): read, then asked about, never dropped as a note."""
_WITH_MAGNITUDE = re.compile(r"([0-9][0-9.,]*)\s*(" + "|".join(_MAGNITUDES) + r")\.?", re.IGNORECASE)
_NUMERIC = re.compile(r"[0-9][0-9.,]*")
_DECIMAL = re.compile(r"[0-9]+[.,][0-9]{1,2}")
"""'1.5', '1,5', '2,25' before a word of size: only a decimal makes sense there ('1,5 juta')."""


class FigureError(ValueError):
    """Not a figure, or a figure that cannot be right; the message (Indonesian) names what was typed."""


@dataclass(frozen=True)
class Unclear:
    """Input with more than one plausible reading, or one the writer should confirm: ask, never guess.

    `readings` are the plausible values, largest first, each valid for the kind asked; never empty.
    """

    text: str
    readings: tuple[float, ...]


def read_figure(text: str, kind: FigureKind) -> float | Unclear:
    """The value written in `text` as a `kind`, an `Unclear` to ask about, or a `FigureError`."""
    raw = " ".join(unicodedata.normalize("NFKC", text).split())
    if not raw.isascii():  # digits of other scripts ('٣', '३'), which NFKC leaves as they are
        raw = "".join(
            c if c.isascii() or unicodedata.decimal(c, None) is None else str(unicodedata.decimal(c)) for c in raw
        )
    shown = _shown(raw or text)
    if not raw:
        raise FigureError("Angkanya belum diisi.")
    body, percent = _without_percent(raw)
    if percent and kind == "count":
        raise FigureError(f"“{shown}” memakai tanda %, padahal yang diminta jumlah. Mohon kirim angkanya saja.")
    if body.startswith(_MINUS) and body[1:2].isdigit():
        raise FigureError(f"Angka tidak boleh negatif: “{shown}”.")
    sized = _WITH_MAGNITUDE.fullmatch(body)
    if sized:
        return _sized(sized.group(1), sized.group(2), shown, kind, percent)
    if " " in body:
        return _space_grouped(body, shown, kind)
    if not body or not re.fullmatch(r"[0-9.,]+", body) or not any(c.isdigit() for c in body):
        raise FigureError(f"“{shown}” bukan angka.")
    return _read(body, shown, kind)


def figure_words(words: list[str]) -> tuple[str, list[str]]:
    """Of the words after '/lapor katalog', those that make up the figure ('1 000', '42,5 %') and the rest (a note).

    Non-empty `words` only; digits grouped by spaces stay together so that `read_figure` can ask about them.
    """
    end = 1
    if re.fullmatch(r"[1-9][0-9]{0,2}", words[0]):
        while end < len(words) and _NEXT_GROUP.fullmatch(words[end]):
            end += 1
            if "," in words[end - 1]:
                break
    text = " ".join(words[:end])
    if end < len(words) and words[end].lower().rstrip(".") in _MAGNITUDES:
        text, end = f"{text} {words[end]}", end + 1  # '2 juta': the size belongs to the figure
    elif end < len(words) and _NUMERIC.fullmatch(words[end]):
        text, end = f"{text} {words[end]}", end + 1  # '5 6': two figures, refused rather than 6 kept as a note
    if end < len(words) and words[end].lower() in _PERCENT_WORDS:
        text, end = f"{text} %", end + 1
    return text, words[end:]


def _read(body: str, shown: str, kind: FigureKind) -> float | Unclear:
    indonesian = Decimal(body.replace(".", "").replace(",", ".")) if _ID.fullmatch(body) else None
    english = Decimal(body.replace(",", "")) if _EN.fullmatch(body) else None
    if indonesian is not None and _problem(indonesian, kind, shown) is None:
        if "," in body and english is not None and english != indonesian and _problem(english, kind, shown) is None:
            return _unclear(shown, [indonesian, english])  # '1,000' for a count: 1 to us, 1000 to an English reader
        return float(indonesian)
    others: list[Decimal] = []
    if english is not None:
        others.append(english)
    if body.count(".") == 1 and "," not in body:
        others.append(Decimal(body.replace(".", "")))  # a stray dot: '1.5' for 15
        short = _SHORT_GROUP.fullmatch(body)
        if short:
            others.append(Decimal(short.group(1) + short.group(2).ljust(3, "0")))  # a dropped zero: '1.5' for 1.500
    valid = [value for value in others if _problem(value, kind, shown) is None]
    if valid:
        return _unclear(shown, valid)
    for value in (indonesian, english):
        if value is not None:
            raise FigureError(_problem(value, kind, shown) or f"“{shown}” bukan angka.")
    raise FigureError(f"“{shown}” bukan angka. Titik memisahkan ribuan (1.250), koma menandai desimal (42,5).")


def _ascii_digit(c: str) -> str:
    """`c`, or the ASCII digit of a decimal digit of another script."""
    if c.isascii():
        return c
    digit = unicodedata.decimal(c, None)
    return c if digit is None else str(digit)


def _sized(number: str, word: str, shown: str, kind: FigureKind, percent: bool) -> Unclear:
    """'2 juta', '1,5 M', '250 ribu': the value, to be confirmed by the writer (never taken without asking)."""
    if percent or kind == "percent":
        raise FigureError(f"“{shown}” bukan persentase. Mohon kirim persentasenya saja, misalnya 42,5.")
    if number.isdigit():
        base = Decimal(number)
    elif _DECIMAL.fullmatch(number):
        base = Decimal(number.replace(",", "."))
    elif _ID.fullmatch(number):
        base = Decimal(number.replace(".", "").replace(",", "."))
    else:
        raise FigureError(f"“{shown}” bukan angka. Mohon tulis angkanya lengkap, misalnya 2.000.000.")
    value = base * _MAGNITUDES[word.lower()]
    problem = _problem(value, kind, shown)
    if problem is not None:
        raise FigureError(problem)
    return _unclear(shown, [value])


def _space_grouped(body: str, shown: str, kind: FigureKind) -> Unclear:
    """'1 000': one thousand with spaces between the groups, or 1 followed by something else? Ask."""
    if not _SPACE_GROUPS.fullmatch(body):
        raise FigureError(f"“{shown}” bukan angka. Mohon tulis angkanya tanpa spasi, misalnya 1.250.")
    first = body.split(" ", 1)[0]
    readings = [Decimal(body.replace(" ", "").replace(",", ".")), Decimal(first)]
    valid = [value for value in readings if _problem(value, kind, shown) is None]
    if not valid:
        raise FigureError(_problem(readings[0], kind, shown) or f"“{shown}” bukan angka.")
    return _unclear(shown, valid)


def _without_percent(raw: str) -> tuple[str, bool]:
    lowered = raw.lower()
    for word in _PERCENT_WORDS:
        if lowered.endswith(word):
            return raw[: -len(word)].rstrip(), True
    return raw, False


def _problem(value: Decimal, kind: FigureKind, shown: str) -> str | None:
    """Why `value` cannot be the figure, or None when it can."""
    if value > MAX_VALUE:
        return f"Angka “{shown}” terlalu besar. Mohon periksa kembali."
    if kind == "count" and value != value.to_integral_value():
        return f"“{shown}” harus bilangan bulat: jumlah tidak memakai desimal."
    if kind == "percent" and value > 100:
        return f"Persentase “{shown}” tidak boleh lebih dari 100 %."
    return None


def _unclear(shown: str, values: list[Decimal]) -> Unclear:
    return Unclear(shown, tuple(float(v) for v in sorted(set(values), reverse=True)))


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 1] + "…"


def indonesian(value: float) -> str:
    """`value` written the Indonesian way, exactly and unambiguously: '1.250', '42,5', '0,125'.

    `read_figure(indonesian(v), kind) == v` for every value valid for `kind`: buttons re-submit this form.
    """
    exact = Decimal(repr(float(value)))
    whole, _, fraction = f"{abs(exact):f}".partition(".")
    fraction = fraction.rstrip("0")
    grouped = f"{int(whole):,}".replace(",", ".")
    sign = "-" if exact < 0 else ""
    return f"{sign}{grouped},{fraction}" if fraction else f"{sign}{grouped}"
