"""PostgreSQL connections the server closed while they sat in the pool (a restart, an idle timeout) are replaced
before a unit of work gets them; a connection in steady use costs no extra round trip."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

import models.db
from models.db import Database
from models.tables import Contact
from tests.conftest import PG_ADMIN_URL


def _backend_pid(db: Database) -> int:
    with db.uow() as uow:
        return int(uow.session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _pings(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    pings: list[object] = []
    ping = db.engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return bool(ping(dbapi_connection))

    monkeypatch.setattr(db.engine.dialect, "do_ping", counted)
    return pings


@pytest.mark.postgres
@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_a_connection_closed_by_the_server_while_idle_is_replaced(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend_pid(db)
    admin = create_engine(PG_ADMIN_URL)
    with admin.begin() as conn:  # what a PostgreSQL restart or idle timeout does to the pooled connection
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    admin.dispose()
    monkeypatch.setattr(models.db, "PING_AFTER_IDLE", 0.0)  # it sat idle long enough to be checked
    with db.uow() as uow:
        assert uow.session.get(Contact, 1) is None  # works: no "server closed the connection" error
        again = int(uow.session.execute(text("SELECT pg_backend_pid()")).scalar_one())
    assert again != first


@pytest.mark.postgres
@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_a_connection_in_steady_use_is_not_checked_each_time(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    _backend_pid(db)
    pings = _pings(db, monkeypatch)
    for _ in range(3):
        with db.uow() as uow:
            uow.session.get(Contact, 1)
    assert pings == []
    monkeypatch.setattr(models.db, "PING_AFTER_IDLE", 0.0)
    with db.uow() as uow:
        uow.session.get(Contact, 1)
    assert len(pings) == 1
