"""Who is signed in to the dashboard: the session cookie, checked against the database on every request.

`viewer_of(request)` gives the signed-in person as a `models.scope.Viewer` or raises `NotSignedIn` (rendered as the
"masuk lewat chat: ketik /dasbor" page, 401); `require(request, *roles)` also checks the role (`Forbidden`, 403).
Both touch the database, so call them from the route's plain function (run in the threadpool), not from the event
loop. `audit` records what a person did on the web (channel "web").
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session
from starlette.requests import Request

from models.app import Deps
from models.evidence import load_verifiers
from models.onboarding import is_distrik
from models.scope import Viewer, viewer_for
from models.tables import AuditLog, Role, Unit
from models.web_access import Current, SessionEnd, check_session

COOKIE = "sigap_sesi"
"""The session cookie (HttpOnly, SameSite=Lax, Path=/dasbor; Secure behind HTTPS)."""
WEB = "web"
"""The audit log's channel for what is done on the dashboard."""

current_deps: ContextVar[Deps | None] = ContextVar("sigap_web_deps", default=None)
"""The dashboard's dependencies during a request (set by the dashboard's middleware); `audit` takes its clock."""


class NotSignedIn(Exception):
    """No live session: no cookie, an unknown one, or a session that ended (and why)."""

    def __init__(self, reason: SessionEnd = SessionEnd.UNKNOWN) -> None:
        super().__init__(reason.value)
        self.reason = reason


class Forbidden(Exception):
    """Signed in, but not allowed here (the role, or a form without the right CSRF token): the 403 page."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SignedIn:
    """What one request knows about its person, read once (`request.state.sigap`)."""

    viewer: Viewer
    session_id: int
    csrf: str
    may_verify: bool
    """An admin, or a person the Pemda file names as some program's verifier."""
    unit_code: str | None
    """The person's own unit (for the navigation), if any."""
    own_label: str = "Unit saya"
    """The navigation's link to that unit: 'Unit saya', 'Kecamatan saya', 'Distrik saya' (a distrik in Papua)."""


def deps_of(request: Request) -> Deps:
    """The application's `Deps` (`request.app.state.deps`)."""
    deps = getattr(request.app.state, "deps", None)
    if not isinstance(deps, Deps):
        raise RuntimeError("the dashboard needs app.state.deps (bot.web.dashboard.dashboard_routes sets it)")
    return deps


def signed_in(request: Request) -> SignedIn:
    """The signed-in person of `request` with the session's CSRF token; `NotSignedIn` otherwise. Database work."""
    known = getattr(request.state, "sigap", None)
    if isinstance(known, SignedIn):
        return known
    token = request.cookies.get(COOKIE, "")
    if not token:
        raise NotSignedIn(SessionEnd.UNKNOWN)
    deps = deps_of(request)
    now = deps.clock.now()
    with deps.db.uow() as uow:
        found = check_session(uow.session, token, now)
        if not isinstance(found, Current):
            if found.just_now:
                audit(uow.session, None, "dasbor_sesi_diakhiri", at=now, actor_id=found.contact_id, alasan=found.reason)
                uow.commit()
            raise NotSignedIn(found.reason)
        contact = found.contact
        viewer = viewer_for(contact)
        if viewer.role is Role.ADMIN:
            may_verify = True
        elif viewer.role is Role.CAMAT:
            may_verify = False  # a camat is never a program's verifier (models.pemda.Verifier)
        else:
            may_verify = load_verifiers(uow.session, deps.pemda).is_verifier(contact)
        unit = uow.session.get(Unit, contact.unit_id) if contact.unit_id is not None else None
        if found.changed:
            uow.commit()
        assert found.web_session.id is not None
        code = unit.code if unit is not None else None
        known = SignedIn(
            viewer, found.web_session.id, found.web_session.csrf_token, may_verify, code, _own_label(viewer, unit)
        )
    request.state.sigap = known
    return known


def _own_label(viewer: Viewer, unit: Unit | None) -> str:
    if viewer.role is not Role.CAMAT:
        return "Unit saya"
    return "Distrik saya" if is_distrik(unit) else "Kecamatan saya"


def viewer_of(request: Request) -> Viewer:
    """The signed-in person (the session re-checked against the database); `NotSignedIn` otherwise."""
    return signed_in(request).viewer


def require(request: Request, *roles: Role) -> Viewer:
    """The signed-in person when their role is one of `roles`; `NotSignedIn` or `Forbidden` otherwise."""
    viewer = viewer_of(request)
    if viewer.role not in roles:
        raise Forbidden()
    return viewer


def audit(
    session: Session, viewer: Viewer | None, action: str, target: str = "", *, at: datetime | None = None, **detail: Any
) -> None:
    """Record what a person did on the dashboard (channel "web"); the time is the app's clock's (`at` to override)."""
    if at is None:
        deps = current_deps.get()
        at = deps.clock.now() if deps is not None else datetime.now(UTC)
    session.add(
        AuditLog(
            at=at,
            actor_id=viewer.contact_id if viewer is not None else detail.pop("actor_id", None),
            channel=WEB,
            action=action[:40],
            target=target[:200],
            detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else "",
        )
    )
