"""Server-rendered pages: Jinja2 templates in bot/web/templates, autoescaped, extending base.html.

`render(request, "page.html", title=..., ...)` gives every template `viewer` (the signed-in person, or None),
`csrf_input()` (the hidden input every POST form needs), `nav` (what this person's role may open), `pemda` (the
Pemda's short name) and `static(name)` (a file of bot/web/static). `render` itself never touches the database:
call `viewer_of`/`require` first on pages that need a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bot.web.auth import SignedIn, deps_of
from bot.web.security import CSRF_FIELD
from models.tables import ROLE_LABELS, Role

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class NavItem:
    """One entry of the navigation."""

    label: str
    href: str


def nav_for(person: SignedIn | None) -> list[NavItem]:
    """What the person's role may open, in the order of the bar."""
    if person is None:
        return []
    role = person.viewer.role
    items = [NavItem("Ringkasan", "/dasbor/")]
    if role is not Role.ADMIN and role is not Role.PIMPINAN and person.unit_code:
        items.append(NavItem(person.own_label, f"/dasbor/unit/{person.unit_code}"))
    if role in (Role.ADMIN, Role.PIMPINAN, Role.CAMAT):
        items.append(NavItem("Surat teguran", "/dasbor/surat"))
    if person.may_verify:
        items.append(NavItem("Verifikasi", "/dasbor/verifikasi"))
    if role in (Role.ADMIN, Role.PIMPINAN):
        items.append(NavItem("Ekspor XLSX", "/dasbor/ekspor.xlsx"))
    return items


def static(name: str) -> str:
    """The URL of a file in bot/web/static."""
    return f"/dasbor/static/{name}"


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page `template` with `context`, plus what every page gets (see the module docstring)."""
    known = getattr(request.state, "sigap", None)
    person = known if isinstance(known, SignedIn) else None

    def csrf_input() -> Markup:
        if person is None:
            return Markup("")
        return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, escape(person.csrf))

    deps = getattr(request.app.state, "deps", None)
    values: dict[str, Any] = {
        "request": request,
        "viewer": person.viewer if person is not None else None,
        "role_label": ROLE_LABELS[person.viewer.role] if person is not None else "",
        "nav": nav_for(person),
        "csrf_input": csrf_input,
        "pemda": deps_of(request).pemda.pemda.short_name if deps is not None else "Sigap",
        "static": static,
        "path": request.url.path,
    }
    values.update(context)
    html = _env.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code)
