"""Reading the Pemda file kindly: clock times as admins write them, and every problem said in Bahasa Indonesia.

The Pemda file is kept by an admin who is not a programmer, so each problem names the key, says what is wrong
and shows the right form (`pemda.work_start: "7.3" bukan jam yang sah; tulis jam seperti "07:30"`), never
pydantic's own English.
"""

from __future__ import annotations

import re
import types
from datetime import date, time
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, BeforeValidator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticCustomError, PydanticUndefined
from rapidfuzz import fuzz, process

_CLOCK = re.compile(r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?", re.ASCII)
SUGGEST_SCORE = 75
"""The least similarity (rapidfuzz ratio, 0-100) for suggesting a known key in place of an unknown one."""


def _clock(value: object) -> object:
    """'7:30', '07.30', '07:30' and '07:30:00' are 07:30; anything else is refused with the form to write."""
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        match = _CLOCK.fullmatch(value.strip())
        if match:
            hour, minute, second = (int(part or 0) for part in match.groups())
            if hour < 24 and minute < 60 and second < 60:
                return time(hour, minute, second)
    quoted = "" if isinstance(value, str) else "dalam tanda kutip "
    raise PydanticCustomError(
        "clock", f'{{written}} bukan jam yang sah; tulis jam {quoted}seperti "07:30"', {"written": written(value)}
    )


Clock = Annotated[time, BeforeValidator(_clock)]
"""A time of day in the Pemda file: "H:MM", "HH:MM" or "HH.MM" (seconds allowed), normalised to a `time`."""


def location(loc: tuple[int | str, ...]) -> str:
    """'programs[3].target' for ('programs', 2, 'target'): the key as the admin sees it."""
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part + 1}]")
        else:
            parts.append(("." if parts else "") + part)
    return "".join(parts) or "(berkas)"


def written(value: object) -> str:
    """What the admin wrote, in the file's own notation and short."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | date | time):
        return str(value)
    if isinstance(value, str):
        return '"' + (value if len(value) <= 40 else value[:37] + "...") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(written(item) for item in value[:4]) + (", ...]" if len(value) > 4 else "]")
    if isinstance(value, dict):
        return "{ ... }"
    return repr(value)


# ------------------------------------------------------------------------------------------ what a key holds


def _unwrap(kind: Any) -> Any:
    """The type under Annotated[...] and `X | None`."""
    while True:
        origin = get_origin(kind)
        if origin is Annotated:
            kind = get_args(kind)[0]
        elif origin in (Union, types.UnionType):
            rest = [arg for arg in get_args(kind) if arg is not type(None)]
            if len(rest) != 1:
                return kind
            kind = rest[0]
        else:
            return kind


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _resolve(root: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[Any, FieldInfo | None]:
    """The type found at `loc`, and the model field when `loc` ends at one (None for unknown places)."""
    kind: Any = root
    field: FieldInfo | None = None
    for part in loc:
        kind = _unwrap(kind)
        origin = get_origin(kind)
        if isinstance(part, str) and _is_model(kind):
            field = kind.model_fields.get(part)
            if field is None:
                return None, None
            kind = field.annotation
            continue
        field = None
        if isinstance(part, int) and origin is list:
            kind = get_args(kind)[0]
        elif isinstance(part, str) and origin is dict:
            kind = get_args(kind)[1]
        else:
            return None, None
    return _unwrap(kind), field


def _sample(kind: Any) -> str:
    """A value of this type as it is written in the file."""
    kind = _unwrap(kind)
    origin = get_origin(kind)
    if origin is Literal:
        return f'"{get_args(kind)[0]}"'
    if origin is list:
        return f"[{_sample(get_args(kind)[0])}]"
    if origin is dict:
        value = _unwrap(get_args(kind)[1])
        key = '"2026"' if value is date else "nama"
        return "{ " + f"{key} = {_sample(value)}" + " }"
    samples: dict[Any, str] = {time: '"07:30"', date: '"2026-12-24"', bool: "true", int: "1", float: "10", str: '"..."'}
    return samples.get(kind, "...")


def _toml(value: object) -> str:
    if isinstance(value, time):
        return f'"{value:%H:%M}"'
    if isinstance(value, date):
        return f'"{value:%Y-%m-%d}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return written(value)


def _form(loc: tuple[int | str, ...], kind: Any, field: FieldInfo | None) -> str:
    """The right way to write the key at `loc`: `target = 10`, `[letterhead]`, `[[programs]]`."""
    names = [part for part in loc if isinstance(part, str)]
    name = names[-1] if names else ""
    if _is_model(kind):
        return f"[[{'.'.join(names)}]]" if loc and isinstance(loc[-1], int) else f"[{'.'.join(names)}]"
    if get_origin(kind) is list and _is_model(_unwrap(get_args(kind)[0])):
        return f"[[{'.'.join(names)}]]"
    if loc and isinstance(loc[-1], int):
        return _sample(kind)
    default = field.default if field is not None else PydanticUndefined
    if default is not PydanticUndefined and default not in ("", [], {}) and _is_plain(default):
        return f"{name} = {_toml(default)}"
    return f"{name} = {_sample(kind)}"


def _inline(loc: tuple[int | str, ...], model: type[BaseModel]) -> str:
    """`verifier = { role = "admin", unit = "..." }`: a small table written on one line."""
    fields = [_form((name,), _unwrap(field.annotation), field) for name, field in model.model_fields.items()]
    return f"{loc[-1]} = {{ {', '.join(fields[:3])}{', ...' if len(fields) > 3 else ''} }}"


def _is_plain(value: object) -> bool:
    return not isinstance(value, BaseModel) and not (
        isinstance(value, list) and value and isinstance(value[0], BaseModel)
    )


def _choices(kind: Any) -> list[str]:
    kind = _unwrap(kind)
    if get_origin(kind) is list:
        kind = _unwrap(get_args(kind)[0])
    return [str(choice) for choice in get_args(kind)] if get_origin(kind) is Literal else []


def _homes(kind: Any, name: str, path: tuple[str, ...] = (), listed: bool = False) -> list[str]:
    """Where in the file a key called `name` belongs: '[pemda]', '[[programs]]', ..."""
    kind = _unwrap(kind)
    if get_origin(kind) is list:
        return _homes(get_args(kind)[0], name, path, listed=True)
    if not _is_model(kind):
        return []
    found = (
        [(f"[[{'.'.join(path)}]]" if listed else f"[{'.'.join(path)}]")] if path and name in kind.model_fields else []
    )
    for key, field in kind.model_fields.items():
        found += _homes(field.annotation, name, (*path, key))
    return found


def _quoted(choices: list[str]) -> str:
    return ", ".join('"' + choice + '"' for choice in choices)


def _closest(wanted: str, known: list[str]) -> str | None:
    tidy = re.sub(r"[\s\-]+", "_", wanted.strip().lower())
    if tidy in known:
        return tidy
    found = process.extractOne(tidy, known, scorer=fuzz.ratio, score_cutoff=SUGGEST_SCORE)
    return found[0] if found else None


# ------------------------------------------------------------------------------------------------ the messages


def _unknown_key(root: type[BaseModel], loc: tuple[int | str, ...], value: object) -> str:
    parent, _field = _resolve(root, loc[:-1])
    section = isinstance(value, dict) or (isinstance(value, list) and value and isinstance(value[0], dict))
    what = "bagian" if section else "kunci"
    if not _is_model(parent):
        return f"{what} ini tidak dikenal"
    known = list(parent.model_fields)
    guess = _closest(str(loc[-1]), known)
    if guess is not None:
        return f"{what} ini tidak dikenal; mungkin maksudnya {guess}?"
    names = [part for part in loc[:-1] if isinstance(part, str)]
    place = ""
    if names:
        place = f" di [[{'.'.join(names)}]]" if isinstance(loc[-2], int) else f" di [{'.'.join(names)}]"
    name = re.sub(r"[\s\-]+", "_", str(loc[-1]).strip().lower())
    top = root.model_fields.get(name) if len(loc) > 1 else None
    homes = [_form((name,), _unwrap(top.annotation), top)] if top is not None else []
    homes += _homes(root, name)
    if homes:
        return f"{what} ini tidak dikenal{place}; tempatnya di bagian {' atau '.join(homes)}"
    return f"{what} ini tidak dikenal; yang dikenal{place}: {', '.join(known)}"


def _bounds(field: FieldInfo | None, ctx: dict[str, Any]) -> str:
    low = high = None
    for rule in field.metadata if field is not None else ():
        if isinstance(rule, Ge | Gt):
            low = rule.ge if isinstance(rule, Ge) else rule.gt
        if isinstance(rule, Le | Lt):
            high = rule.le if isinstance(rule, Le) else rule.lt
    if low is not None and high is not None and "gt" not in ctx and "lt" not in ctx:
        return f"harus antara {written(low)} dan {written(high)}"
    if "ge" in ctx:
        return f"tidak boleh kurang dari {written(ctx['ge'])}"
    if "gt" in ctx:
        return f"harus lebih dari {written(ctx['gt'])}"
    if "le" in ctx:
        return f"tidak boleh lebih dari {written(ctx['le'])}"
    return f"harus kurang dari {written(ctx.get('lt'))}"


PATTERNS = {
    "key": 'pakai huruf kecil, angka atau garis bawah, diawali huruf, 2-32 karakter, misalnya key = "katalog"',
    "deadline": 'tulis "BB-HH" (bulan-tanggal) seperti deadline = "12-15", atau "+N" (N hari setelah periode '
    'berakhir) seperti deadline = "+10"',
}
"""How to write the keys checked by a pattern (the pattern itself means nothing to an admin)."""


def message(root: type[BaseModel], error: ErrorDetails) -> str:
    """One validation error in Bahasa Indonesia: what is wrong at the key, and the right form."""
    loc = tuple(part for part in error["loc"] if not str(part).startswith("function-"))
    kind, field = _resolve(root, loc)
    kind_name, value, ctx = error["type"], error["input"], error.get("ctx", {})
    form = _form(loc, kind, field) if kind is not None else ""
    seen = f" (tertulis {written(value)})"
    choices = _choices(kind)
    if kind_name in ("value_error", "assertion_error", "clock"):
        return error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind_name == "missing":
        if _is_model(kind):
            return f"bagian ini wajib ada; tambahkan {form} beserta isinya (lihat sigap.example.toml)"
        if form.startswith("[["):
            return f"wajib ada; tambahkan minimal satu {form}"
        pick = f"; pilih salah satu: {_quoted(choices)}" if choices else ""
        return f"wajib diisi; tambahkan baris seperti {form}{pick}"
    if kind_name == "extra_forbidden":
        return _unknown_key(root, loc, value)
    if kind_name == "literal_error":
        expected = choices or re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        text = f"{written(value)} bukan pilihan yang dikenal; pilih salah satu: {_quoted(expected)}"
        guess = _closest(str(value), expected) if isinstance(value, str) else None
        return text + (f' (mungkin maksudnya "{guess}"?)' if guess else "")
    if kind_name == "string_type":
        example = _with_value(form, _toml(str(value))) if _scalar(value) else form
        return f"harus berupa teks dalam tanda kutip{seen}, misalnya {example}"
    if kind_name.startswith(("int_", "float_")) or kind_name == "finite_number":
        number = "bilangan bulat" if kind_name.startswith("int_") else "angka"
        return f"harus {number} tanpa tanda kutip{seen}, misalnya {form}"
    if kind_name.startswith("bool_"):
        return f"harus true atau false tanpa tanda kutip{seen}, misalnya {form}"
    if kind_name in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"{_bounds(field, ctx)}{seen}" + (f"; misalnya {form}" if " = " in form else "")
    if kind_name == "string_too_short":
        return f"terlalu pendek{seen}; isi paling sedikit {ctx.get('min_length')} karakter"
    if kind_name == "string_too_long":
        return f"terlalu panjang{seen}; paling banyak {ctx.get('max_length')} karakter"
    if kind_name == "too_short":
        some = form if form.startswith("[[") else "isinya"
        return f"tidak boleh kosong; tulis paling sedikit {ctx.get('min_length')} {some}"
    if kind_name == "too_long":
        return f"isinya terlalu banyak; paling banyak {ctx.get('max_length')}"
    if kind_name == "string_pattern_mismatch":
        name = next((part for part in reversed(loc) if isinstance(part, str)), "")
        return f"bentuknya tidak sesuai{seen}; {PATTERNS.get(name, 'lihat contoh di sigap.example.toml')}"
    if kind_name == "list_type":
        example = _with_value(form, f"[{written(value)}]") if _scalar(value) else form
        return f"harus berupa daftar dalam kurung siku{seen}, misalnya {example}"
    if kind_name == "dict_type":
        return f"harus berupa tabel{seen}, misalnya {form}"
    if kind_name in ("model_type", "model_attributes_type"):
        if _is_model(kind) and len(loc) > 1 and isinstance(loc[-2], int):
            return f"harus berupa tabel berisi kunci-kunci, bukan satu nilai{seen}, misalnya {_inline(loc, kind)}"
        return f"harus berupa bagian berisi kunci-kunci, bukan satu nilai{seen}; tulis {form}, kuncinya di bawahnya"
    if kind_name.startswith("time_"):
        return f'bukan jam yang sah{seen}; tulis jam seperti "07:30"'
    if kind_name.startswith(("date_", "datetime_")):
        return f'bukan tanggal yang sah{seen}; tulis tahun-bulan-tanggal seperti "2026-12-24"'
    return f"nilai ini tidak dapat diterima{seen}; bandingkan dengan contoh di sigap.example.toml (kode: {kind_name})"


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool)


def _with_value(form: str, value: str) -> str:
    """The form `key = ...` with the admin's own value put right: `name = "5"`."""
    return f"{form.split(' = ')[0]} = {value}" if " = " in form else value
