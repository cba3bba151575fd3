"""The sweep's write: one transaction (a crash writes nothing), and a message already in the outbox is never
queued twice, on SQLite and on PostgreSQL (where the rows go in through COPY)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from sqlalchemy import delete
from sqlmodel import Session, col, select

from jobs.sweep import plan, sweep
from models.app import Deps
from models.db import bulk_insert_while
from models.tables import Notice, Outbox, Report

TUESDAY = date(2026, 12, 8)  # H-7 of the 15 December deadline: a pengingat is due
TUESDAY_0100 = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)


def at_0800(deps: Deps) -> datetime:
    return deps.calendar.at_local(TUESDAY, time(8, 0))


def counts(deps: Deps) -> tuple[int, int]:
    with deps.db.uow() as uow:
        return len(uow.session.exec(select(Outbox)).all()), len(uow.session.exec(select(Notice)).all())


def test_a_crash_while_writing_leaves_nothing_and_the_next_sweep_queues_everything(
    deps: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crashing(session: Session, table: Any, names: Sequence[str], rows: Sequence[Any], *a: Any, **k: Any) -> None:
        bulk_insert_while(session, table, names, rows, *a, **k)  # the ledger is written, then the process dies
        raise RuntimeError("listrik padam")

    with monkeypatch.context() as patch:
        patch.setattr("jobs.sweep.bulk_insert_while", crashing)
        with pytest.raises(RuntimeError):
            sweep(deps.db, deps.pemda, deps.calendar, at_0800(deps))
    assert counts(deps) == (0, 0)
    result = sweep(deps.db, deps.pemda, deps.calendar, at_0800(deps))
    assert result.queued > 0 and result.already == 0
    assert counts(deps) == (result.queued, result.notices)


def test_a_forgotten_ledger_does_not_queue_a_message_twice(deps: Deps) -> None:
    first = sweep(deps.db, deps.pemda, deps.calendar, at_0800(deps))
    assert first.queued > 0
    with deps.db.uow() as uow:
        texts = {r.idem_key: r.text for r in uow.session.exec(select(Outbox)).all()}
        uow.session.execute(delete(Notice))  # as a restarted letter ladder forgets its stage
        uow.commit()
    again = sweep(deps.db, deps.pemda, deps.calendar, at_0800(deps).replace(hour=6))  # 13:00 WIB
    assert again.already == 0 and again.queued == 0 and again.notices == first.notices
    with deps.db.uow() as uow:
        rows = uow.session.exec(select(Outbox)).all()
        linked = uow.session.exec(select(Notice).where(col(Notice.outbox_id).is_not(None))).all()
    assert {r.idem_key: r.text for r in rows} == texts
    assert linked == []  # the new ledger rows point at no second message


def written(deps: Deps) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    """The outbox rows in id order and the ledger, without ids (a ledger row names its message by key)."""
    with deps.db.uow() as uow:
        rows = uow.session.exec(select(Outbox).order_by(col(Outbox.id))).all()
        keys = {r.id: r.idem_key for r in rows}
        ledger = uow.session.exec(select(Notice)).all()
    return (
        [r.model_dump(exclude={"id"}) for r in rows],
        sorted((n.program_key, n.unit_id, n.period, n.stage, n.contact_id, keys.get(n.outbox_id or 0)) for n in ledger),
    )


def test_written_in_batches_as_in_one(deps: Deps, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each person's message its own batch (its ledger inserted while the next is put together, on PostgreSQL):
    the same messages, with each unit's pace, in the same order, and the same ledger as one batch."""
    with deps.db.uow() as uow:  # the first person's unit has met the count program: its pace is read for others
        first = plan(uow.session, deps.pemda, deps.calendar, at_0800(deps))[0].unit.id
        uow.session.add(
            Report(
                unit_id=first,
                program_key="katalog",
                period="2026",
                value=12,
                channel="console",
                created_at=TUESDAY_0100,
            )
        )
        uow.commit()
    whole = sweep(deps.db, deps.pemda, deps.calendar, at_0800(deps))
    once = written(deps)
    assert whole.queued > 3 and any("laju Anda" in row["text"] for row in once[0])
    with deps.db.uow() as uow:
        uow.session.execute(delete(Notice))
        uow.session.execute(delete(Outbox))
        uow.commit()
    with monkeypatch.context() as patch:
        patch.setattr("jobs.sweep.WRITE_BATCH", 1)
        parts = sweep(deps.db, deps.pemda, deps.calendar, at_0800(deps))
    assert (parts.queued, parts.notices) == (whole.queued, whole.notices)
    assert written(deps) == once
