"""`UnitOfWork.commit_with`: a unit of work's last writes and its commit (one round trip on PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from models.db import Database, core
from models.tables import AuditLog, InboundSeen
from tests.fakes.pg_proxy import round_trip_proxy

WIB = timezone(timedelta(hours=7))
AT = datetime(2026, 11, 23, 9, 0, tzinfo=WIB)
SEEN = insert(InboundSeen)
AUDIT = insert(AuditLog).returning(AuditLog.__table__.c.id)  # type: ignore[attr-defined]


def _audit(action: str) -> dict[str, object]:
    return {"at": AT, "actor_id": None, "channel": "telegram", "action": action, "target": "", "detail": ""}


def test_writes_are_committed_with_what_they_return(db: Database) -> None:
    with db.uow() as uow:
        results = uow.commit_with(
            [(AUDIT, _audit("satu")), (SEEN, {"channel": "telegram", "key": "1", "at": AT}), (AUDIT, _audit("dua"))]
        )
    with db.uow() as uow:
        audits = uow.session.exec(select(AuditLog).order_by(AuditLog.id)).all()  # type: ignore[arg-type]
        seen = uow.session.exec(select(InboundSeen)).one()
    assert results == [audits[0].id, None, audits[1].id]
    assert [a.action for a in audits] == ["satu", "dua"]
    assert seen.at == AT.astimezone(UTC) and seen.at.tzinfo is not None  # the column's own conversion to UTC


def test_a_duplicate_key_commits_nothing_and_the_session_goes_on(db: Database) -> None:
    with db.uow() as uow:
        uow.commit_with([(SEEN, {"channel": "telegram", "key": "1", "at": AT})])
    with db.uow() as uow:
        uow.session.add(AuditLog(at=AT, channel="telegram", action="dari sesi", target="", detail=""))
        with pytest.raises(IntegrityError):
            uow.commit_with([(AUDIT, _audit("ditulis")), (SEEN, {"channel": "telegram", "key": "1", "at": AT})])
        uow.rollback()
        assert uow.session.exec(select(InboundSeen)).one().key == "1"  # usable again after the rollback
    with db.uow() as uow:
        assert uow.session.exec(select(AuditLog)).all() == []  # neither the session's change nor the writes


def test_a_value_its_column_refuses_is_refused_before_anything_is_sent(db: Database) -> None:
    with db.uow() as uow, pytest.raises(Exception, match="naive datetime"):
        uow.commit_with(
            [(AUDIT, _audit("satu")), (SEEN, {"channel": "telegram", "key": "2", "at": datetime(2026, 1, 1)})]
        )
    with db.uow() as uow:
        assert uow.session.exec(select(AuditLog)).all() == []


@pytest.mark.postgres
@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_on_postgresql_the_writes_and_the_commit_take_one_round_trip(db: Database) -> None:
    with round_trip_proxy(db.url) as (proxy, url):
        proxied = Database(url)
        try:
            with proxied.uow() as uow:
                uow.session.exec(select(InboundSeen)).all()  # the transaction is open
                proxy.reset()
                uow.commit_with([(AUDIT, _audit("satu")), (SEEN, {"channel": "telegram", "key": "3", "at": AT})])
                assert proxy.round_trips == 1
                proxy.reset()
                uow.commit()  # nothing left to commit: nothing sent
                assert proxy.round_trips == 0
            with proxied.uow() as uow:
                uow.session.exec(select(InboundSeen)).all()
                proxy.reset()
                for values in (
                    {"channel": "telegram", "key": "4", "at": AT},
                    {"channel": "telegram", "key": "5", "at": AT},
                ):
                    core(uow.session).execute(SEEN, values)
                uow.commit()
                assert proxy.round_trips == 3  # what it saves: a statement at a time, then the COMMIT
        finally:
            proxied.dispose()
    with db.uow() as uow:
        assert len(uow.session.exec(select(AuditLog)).all()) == 1
        assert len(uow.session.exec(select(InboundSeen)).all()) == 3
