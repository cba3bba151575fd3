"""Housekeeping keeps the inbox and the processed-id table from growing forever, and keeps what is recent or pending."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from handlers.inbox import mark_done, prune, store
from models.app import Deps
from models.tables import InboundMessage, InboundSeen


def test_old_handled_rows_go_recent_and_pending_stay(deps: Deps) -> None:
    now = deps.clock.now()
    old = now - timedelta(days=40)
    with deps.db.uow() as uow:
        for key in ("old-done", "old-pending", "new-done"):
            store(uow.session, "whatsapp", key, "{}", old if key.startswith("old") else now)
        uow.session.add(InboundSeen(channel="telegram", key="1:1", at=old))
        uow.session.add(InboundSeen(channel="telegram", key="1:2", at=now))
        uow.commit()
    with deps.db.uow() as uow:
        rows = {r.key: r for r in uow.session.exec(select(InboundMessage)).all()}
        mark_done(uow.session, rows["old-done"].id or 0, old)
        mark_done(uow.session, rows["new-done"].id or 0, now)
        uow.commit()
    with deps.db.uow() as uow:
        assert prune(uow.session, now) == 2
        uow.commit()
    with deps.db.uow() as uow:
        assert sorted(r.key for r in uow.session.exec(select(InboundMessage)).all()) == ["new-done", "old-pending"]
        assert [r.key for r in uow.session.exec(select(InboundSeen)).all()] == ["1:2"]
