"""`read_ahead` and `rows`: reads a command knows in advance go out together (one round trip on PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, insert
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from models.db import Database, core, read_ahead, rows
from models.tables import AuditLog, InboundSeen
from tests.fakes.pg_proxy import round_trip_proxy

WIB = timezone(timedelta(hours=7))
AT = datetime(2026, 11, 23, 9, 0, tzinfo=WIB)
BY_KEYS = (
    sa_select(col(InboundSeen.key), col(InboundSeen.at))
    .where(col(InboundSeen.key).in_(bindparam("keys", expanding=True)))
    .order_by(col(InboundSeen.key))
)
SINCE = sa_select(col(InboundSeen.key)).where(col(InboundSeen.at) >= bindparam("since")).order_by(col(InboundSeen.key))


def _seed(db: Database) -> None:
    with db.uow() as uow:
        for key in ("a", "b", "c"):
            core(uow.session).execute(insert(InboundSeen), {"channel": "telegram", "key": key, "at": AT})
        uow.commit()


def test_rows_read_ahead_are_those_a_read_now_gives(db: Database) -> None:
    _seed(db)
    with db.uow() as uow:
        direct = [tuple(r) for r in core(uow.session).execute(BY_KEYS, {"keys": ["a", "c"]})]
        read_ahead(uow.session, [(BY_KEYS, {"keys": ["a", "c"]}), (SINCE, {"since": AT - timedelta(hours=1)})])
        ahead = [tuple(r) for r in rows(uow.session, BY_KEYS, {"keys": ["a", "c"]})]
        since = [tuple(r) for r in rows(uow.session, SINCE, {"since": AT - timedelta(hours=1)})]
    assert ahead == direct == [("a", AT.astimezone(UTC)), ("c", AT.astimezone(UTC))]
    assert all(at.tzinfo is not None for _key, at in ahead)  # the column's own conversion, as SQLAlchemy does it
    assert since == [("a",), ("b",), ("c",)]


def test_a_read_not_read_ahead_or_asked_again_is_read_when_asked(db: Database) -> None:
    _seed(db)
    with db.uow() as uow:
        read_ahead(uow.session, [(BY_KEYS, {"keys": ["a"]}), (SINCE, {"since": AT})])
        assert [r[0] for r in rows(uow.session, BY_KEYS, {"keys": ["b"]})] == ["b"]  # other values: read now
        assert [r[0] for r in rows(uow.session, BY_KEYS, {"keys": ["a"]})] == ["a"]
        assert [r[0] for r in rows(uow.session, SINCE, {"since": AT})] == ["a", "b", "c"]
        core(uow.session).execute(insert(InboundSeen), {"channel": "telegram", "key": "d", "at": AT})
        assert [r[0] for r in rows(uow.session, SINCE, {"since": AT})] == ["a", "b", "c", "d"]  # asked again: read now


def test_a_pending_change_in_the_session_is_never_hidden_by_rows_read_before_it(db: Database) -> None:
    _seed(db)
    with db.uow() as uow:
        read_ahead(uow.session, [(SINCE, {"since": AT}), (BY_KEYS, {"keys": ["a"]})])
        uow.session.add(InboundSeen(channel="telegram", key="0", at=AT))
        assert [r[0] for r in rows(uow.session, SINCE, {"since": AT})] == ["0", "a", "b", "c"]


@pytest.mark.postgres
@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_on_postgresql_reads_ahead_take_one_round_trip_and_rows_none(db: Database) -> None:
    _seed(db)
    with round_trip_proxy(db.url) as (proxy, url):
        proxied = Database(url)
        try:
            with proxied.uow() as uow:
                core(uow.session).execute(BY_KEYS, {"keys": ["b"]}).all()  # the transaction is open
                proxy.reset()
                read_ahead(uow.session, [(BY_KEYS, {"keys": ["a", "b"]}), (SINCE, {"since": AT})])
                assert proxy.round_trips == 1
                assert len(rows(uow.session, BY_KEYS, {"keys": ["a", "b"]})) == 2
                assert len(rows(uow.session, SINCE, {"since": AT})) == 3
                assert proxy.round_trips == 1
        finally:
            proxied.dispose()


def test_writes_go_first_and_the_reads_see_them(db: Database) -> None:
    _seed(db)
    audit = insert(AuditLog).returning(AuditLog.__table__.c.id)  # type: ignore[attr-defined]
    row = {"at": AT, "actor_id": None, "channel": "telegram", "action": "x", "target": "", "detail": ""}
    seen = {"channel": "telegram", "key": "d", "at": AT}
    with db.uow() as uow:
        ids = read_ahead(uow.session, [(SINCE, {"since": AT})], writes=[(audit, row), (insert(InboundSeen), seen)])
        assert [r[0] for r in rows(uow.session, SINCE, {"since": AT})] == ["a", "b", "c", "d"]
        uow.commit()
    with db.uow() as uow:
        assert ids == [uow.session.exec(select(AuditLog)).one().id, None]


def test_lists_for_in_of_every_length_are_sent_as_sqlalchemy_renders_them(db: Database) -> None:
    _seed(db)
    by = (
        sa_select(col(InboundSeen.key))
        .where(
            col(InboundSeen.channel).in_(("telegram", "whatsapp")),
            col(InboundSeen.key).in_(bindparam("keys", expanding=True)),
            col(InboundSeen.at) >= bindparam("since"),
        )
        .order_by(col(InboundSeen.key))
    )
    with db.uow() as uow:
        for keys in (["a"], ["a", "c"], [], ["c"], ["a", "b", "c"], ["a", "c"]):  # shapes seen again, and none
            values = {"keys": keys, "since": AT}
            read_ahead(uow.session, [(by, values), (SINCE, {"since": AT})])
            assert [r[0] for r in rows(uow.session, by, values)] == sorted(keys)


def test_rows_read_ahead_do_not_outlive_their_transaction(db: Database) -> None:
    _seed(db)
    with db.uow() as uow:
        read_ahead(uow.session, [(SINCE, {"since": AT}), (BY_KEYS, {"keys": ["a"]})])
        core(uow.session).execute(insert(InboundSeen), {"channel": "telegram", "key": "d", "at": AT})
        uow.commit()
        assert [r[0] for r in rows(uow.session, SINCE, {"since": AT})] == ["a", "b", "c", "d"]
        read_ahead(uow.session, [(SINCE, {"since": AT}), (BY_KEYS, {"keys": ["a"]})])
        uow.rollback()
        core(uow.session).execute(insert(InboundSeen), {"channel": "telegram", "key": "e", "at": AT})
        assert [r[0] for r in rows(uow.session, SINCE, {"since": AT})] == ["a", "b", "c", "d", "e"]
