"""Tables of sign-in and channel state: the dashboard's one-time links and sessions, the Telegram menus set.

Tokens are never stored: only their SHA-256 (a copy of the database opens no session). Every datetime is UTC.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.tables import utc_column


class WebLink(SQLModel, table=True):
    """A one-time sign-in link sent by chat (/dasbor): valid a few minutes, works once."""

    __tablename__ = "web_link"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    expires_at: datetime = Field(sa_column=utc_column(nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=utc_column())


class WebSession(SQLModel, table=True):
    """A dashboard session opened by a link; carries the role and unit it was opened with (a change ends it)."""

    __tablename__ = "web_session"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64)
    csrf_token: str = Field(max_length=64)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    role: str = Field(max_length=16)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    link_id: int | None = Field(default=None, foreign_key="web_link.id")
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    expires_at: datetime = Field(sa_column=utc_column(nullable=False))
    last_seen_at: datetime | None = Field(default=None, sa_column=utc_column())
    ended_at: datetime | None = Field(default=None, sa_column=utc_column())


class MenuState(SQLModel, table=True):
    """The command menu last set on a channel for one scope ('default', 'chat:<id>'), by its fingerprint."""

    __tablename__ = "menu_state"

    channel: str = Field(primary_key=True, max_length=16)
    scope: str = Field(primary_key=True, max_length=64)
    fingerprint: str = Field(max_length=64)
    set_at: datetime = Field(sa_column=utc_column(nullable=False))
