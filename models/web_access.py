"""Signing in to the web dashboard from chat: one-time links (/dasbor) and the sessions they open.

`create_link` makes a random token that works once within `LINK_TTL`; `redeem_link` turns it into a session of
`SESSION_TTL` that carries the person's role and unit as they were; `check_session` finds the session of a cookie
and ends it when the person was deactivated, or their role or unit changed since. Only the SHA-256 of every token is
stored (`models.state_tables`), so a copy of the database opens nothing. The chat handler and the web use these same
functions; neither logs a token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import Session, col, select

from models.evidence import load_verifiers
from models.pemda import PemdaConfig
from models.state_tables import WebLink, WebSession
from models.tables import Contact, Role

LINK_TTL = timedelta(minutes=10)
SESSION_TTL = timedelta(hours=8)
TOKEN_BYTES = 32
"""Random bytes of a link's or session's token (urlsafe base64: 43 characters)."""
SEEN_EVERY = timedelta(minutes=1)
"""A session's `last_seen_at` is written at most this often (not on every page)."""
SIGN_IN_ROLES = frozenset({Role.ADMIN, Role.PIMPINAN, Role.CAMAT})
"""Roles that may always use the dashboard; a kepala or operator only as a program's verifier."""


def token_hash(token: str) -> str:
    """The SHA-256 (hex) stored for `token`."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def may_sign_in(session: Session, pemda: PemdaConfig, contact: Contact) -> bool:
    """Whether `contact` may use the dashboard: an active admin, pimpinan, camat, or a program's verifier."""
    if not contact.active:
        return False
    if contact.role in SIGN_IN_ROLES:
        return True
    return load_verifiers(session, pemda).is_verifier(contact)


def create_link(session: Session, contact: Contact, now: datetime) -> str:
    """A new one-time link token for `contact`, valid `LINK_TTL` from `now` (only its hash is stored)."""
    if contact.id is None:
        raise ValueError("create_link needs a saved contact")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(WebLink(token_hash=token_hash(token), contact_id=contact.id, created_at=now, expires_at=now + LINK_TTL))
    session.flush()
    return token


class LinkProblem(StrEnum):
    """Why a link opened no session."""

    UNKNOWN = "unknown"
    """No such link (mistyped, cut off, or made up)."""
    USED = "used"
    EXPIRED = "expired"
    REFUSED = "refused"
    """The person was deactivated, or no longer has a role that may use the dashboard."""


@dataclass(frozen=True)
class Opened:
    """A session opened by a link: the cookie's token (never stored), the session row and its person."""

    token: str
    web_session: WebSession
    contact: Contact


@dataclass(frozen=True)
class Refused:
    """A link that opened nothing, and whose it was (None when unknown), for the audit."""

    problem: LinkProblem
    contact_id: int | None = None


@dataclass(frozen=True)
class Usable:
    """A link that would open a session now, and its person."""

    link: WebLink
    contact: Contact


def check_link(session: Session, pemda: PemdaConfig, token: str, now: datetime) -> Usable | Refused:
    """Whether the link `token` would open a session now (nothing is written)."""
    if not token or len(token) > 200:
        return Refused(LinkProblem.UNKNOWN)
    link = session.exec(select(WebLink).where(WebLink.token_hash == token_hash(token))).first()
    if link is None or link.id is None:
        return Refused(LinkProblem.UNKNOWN)
    if link.used_at is not None:
        return Refused(LinkProblem.USED, link.contact_id)
    if link.expires_at <= now:
        return Refused(LinkProblem.EXPIRED, link.contact_id)
    contact = session.get(Contact, link.contact_id)
    if contact is None or contact.id is None or not may_sign_in(session, pemda, contact):
        return Refused(LinkProblem.REFUSED, link.contact_id)
    return Usable(link, contact)


def redeem_link(session: Session, pemda: PemdaConfig, token: str, now: datetime) -> Opened | Refused:
    """Use the link `token` once: a new session, or why not. Two concurrent redemptions: one wins, one is USED."""
    usable = check_link(session, pemda, token, now)
    if isinstance(usable, Refused):
        return usable
    link, contact = usable.link, usable.contact
    assert contact.id is not None
    claimed = session.execute(
        update(WebLink).where(col(WebLink.id) == link.id, col(WebLink.used_at).is_(None)).values(used_at=now)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        return Refused(LinkProblem.USED, link.contact_id)
    cookie = secrets.token_urlsafe(TOKEN_BYTES)
    row = WebSession(
        token_hash=token_hash(cookie),
        csrf_token=secrets.token_urlsafe(TOKEN_BYTES),
        contact_id=contact.id,
        role=contact.role,
        unit_id=contact.unit_id,
        link_id=link.id,
        created_at=now,
        expires_at=now + SESSION_TTL,
        last_seen_at=now,
    )
    session.add(row)
    session.flush()
    return Opened(cookie, row, contact)


class SessionEnd(StrEnum):
    """Why a session cookie no longer signs anyone in."""

    UNKNOWN = "unknown"
    ENDED = "ended"
    """Signed out, or ended earlier for one of the reasons below."""
    EXPIRED = "expired"
    DEACTIVATED = "deactivated"
    CHANGED = "changed"
    """The person's role or unit is not the one the session was opened with."""


@dataclass(frozen=True)
class Ended:
    """No live session for a cookie: why, and whose session it was (None when unknown)."""

    reason: SessionEnd
    contact_id: int | None = None
    just_now: bool = False
    """Ended by this check (the person changed): commit the unit of work, and audit it."""


@dataclass(frozen=True)
class Current:
    """A live session and its person."""

    web_session: WebSession
    contact: Contact
    changed: bool
    """Whether the row was written (seen-time) and wants a commit."""


def check_session(session: Session, token: str, now: datetime) -> Current | Ended:
    """The live session of cookie `token`, or why there is none. A session whose person was deactivated or moved
    to another role or unit is ended here and then (commit the unit of work to make that permanent)."""
    if not token or len(token) > 200:
        return Ended(SessionEnd.UNKNOWN)
    row = session.exec(select(WebSession).where(WebSession.token_hash == token_hash(token))).first()
    if row is None:
        return Ended(SessionEnd.UNKNOWN)
    if row.ended_at is not None:
        return Ended(SessionEnd.ENDED, row.contact_id)
    if row.expires_at <= now:
        return Ended(SessionEnd.EXPIRED, row.contact_id)
    contact = session.get(Contact, row.contact_id)
    if contact is None or not contact.active:
        end_session(session, row, now)
        return Ended(SessionEnd.DEACTIVATED, row.contact_id, just_now=True)
    if contact.role != row.role or contact.unit_id != row.unit_id:
        end_session(session, row, now)
        return Ended(SessionEnd.CHANGED, row.contact_id, just_now=True)
    changed = row.last_seen_at is None or now - row.last_seen_at >= SEEN_EVERY
    if changed:
        row.last_seen_at = now
        session.add(row)
    return Current(row, contact, changed)


def end_session(session: Session, row: WebSession, now: datetime) -> None:
    """End `row` (logout, or its person changed); an ended session never signs in again."""
    if row.ended_at is None:
        row.ended_at = now
        session.add(row)


def csrf_matches(row: WebSession, given: str) -> bool:
    """Whether `given` is the session's CSRF token (compared in constant time)."""
    return bool(given) and hmac.compare_digest(row.csrf_token.encode("utf-8"), given.encode("utf-8"))
