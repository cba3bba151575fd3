"""Shared fixtures: a database on SQLite and on PostgreSQL, the sample Pemda, a fake clock, a chat helper."""

from __future__ import annotations

import os

os.environ.setdefault("PTB_TIMEDELTA", "true")  # python-telegram-bot 22: retry_after as timedelta, no warning
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import select

from bot.settings import EXAMPLE_PEMDA, SAMPLE_ROSTER
from bot.wiring import build_calendar
from handlers.core import handle
from models.app import Deps
from models.clock import FakeClock
from models.db import Database
from models.messages import Channel, Incoming, Reply
from models.pemda import load_pemda
from models.program_sync import sync_programs
from models.roster import import_roster
from models.tables import Contact, Unit

PG_ADMIN_URL = os.environ.get("SIGAP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("SIGAP_REQUIRE_POSTGRES") == "1"
# Monday 23 November 2026, 09:00 WIB
MONDAY_0900 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _pg_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


def make_database(kind: str, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database of `kind` that disappears after the test."""
    if kind == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'sigap.db'}")
        db.upgrade()
        yield db
        db.dispose()
        return
    if not _pg_available():
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required but not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL is not reachable")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_ADMIN_URL else "?"
    db = Database(f"{PG_ADMIN_URL}{sep}options=-csearch_path%3D{schema}")
    db.upgrade()
    try:
        yield db
    finally:
        db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh database, once on SQLite and once on PostgreSQL."""
    yield from make_database(request.param, tmp_path)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A fresh SQLite database (for tests where the backend does not matter)."""
    yield from make_database("sqlite", tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    """Monday 23 November 2026, 09:00 WIB."""
    return FakeClock(MONDAY_0900)


def build_test_deps(db: Database, clock: FakeClock, roster: Path = SAMPLE_ROSTER) -> Deps:
    """Deps over `db` with the example Pemda file and the sample roster loaded."""
    pemda = load_pemda(EXAMPLE_PEMDA)
    with db.uow() as uow:
        import_roster(uow.session, roster)
        uow.commit()
    calendar = build_calendar(pemda, db)
    with db.uow() as uow:
        sync_programs(uow.session, pemda, calendar.local_date(clock.now()))
        uow.commit()
    return Deps(db=db, pemda=pemda, clock=clock, calendar=calendar, telegram_username="sigap_test_bot")


@pytest.fixture
def deps(db: Database, clock: FakeClock) -> Deps:
    """The sample kabupaten on both databases."""
    return build_test_deps(db, clock)


@pytest.fixture
def sdeps(sqlite_db: Database, clock: FakeClock) -> Deps:
    """The sample kabupaten on SQLite only."""
    return build_test_deps(sqlite_db, clock)


@dataclass
class Person:
    """Someone chatting with the bot through the core, as a channel adapter would."""

    deps: Deps
    channel: Channel
    address: str
    name: str = ""

    async def say(self, text: str, *, payload: str | None = None) -> list[Reply]:
        """Send one message; return the replies."""
        return await handle(
            self.deps, Incoming(self.channel, self.address, text=text, payload=payload, display_name=self.name)
        )

    async def text(self, text: str) -> str:
        """Send one message; return all reply texts joined."""
        return "\n".join(r.text for r in await self.say(text))


def set_contact(deps: Deps, name: str, **values: Any) -> None:
    """Change columns of the roster contact called `name` (a Telegram id, a role, active) and commit."""
    with deps.db.uow() as uow:
        contact = uow.session.exec(select(Contact).where(Contact.name == name)).one()
        for key, value in values.items():
            setattr(contact, key, value)
        uow.session.add(contact)
        uow.commit()


def contact_named(deps: Deps, name: str) -> Contact:
    """The roster contact called `name`."""
    with deps.db.uow() as uow:
        contact = uow.session.exec(select(Contact).where(Contact.name == name)).one()
    return contact


def unit_coded(deps: Deps, code: str) -> Unit:
    """The unit with `code`."""
    with deps.db.uow() as uow:
        return uow.session.exec(select(Unit).where(Unit.code == code)).one()


def console_person(deps: Deps, name: str) -> Person:
    """A roster contact on the console channel."""
    return Person(deps, Channel.CONSOLE, str(contact_named(deps, name).id), name)


# Names in the sample roster
ADMIN = "Rina Marlina"
PIMPINAN = "H. Drs. Asep Mulyana, M.Si."
KEPALA_DINKES = "Slamet Santoso"
OPERATOR_DINKES = "Eko Hidayat"
CAMAT_SUKAMAKMUR = "Sri Firmansyah"
