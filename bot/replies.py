"""After an adapter sent (or failed to send) a durable reply at once: settle its outbox row off the event loop; and
the small writes of many chats (an update stored, a reply settled) committed together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar, cast

from sqlmodel import Session

from models.app import Deps
from models.db import Database
from models.messages import Reply
from models.outbox import mark_reply_sent, release_reply

log = logging.getLogger(__name__)

T = TypeVar("T")
Write = Callable[[Session], Any]


class Statement(NamedTuple):
    """One Core statement built once and its values: the same statement of many callers goes as one executemany."""

    statement: Any
    params: dict[str, Any]
    returns: tuple[str, ...] = ()
    """For an INSERT ... ON CONFLICT DO NOTHING RETURNING these columns (named as in `params`): the rows of many
    callers go in one multi-row INSERT, and each learns whether its row was inserted (`GroupCommit.insert`)."""
    many: Any = None
    """On PostgreSQL, the same write for the values of many callers at once: a statement taking each parameter of
    `params` as an array (one value per caller), run once instead of once per caller (the server's work and the
    driver's per row)."""


Work = Write | tuple[Statement, ...]
"""A write: a function of the session, or statements with their values."""


class GroupCommit:
    """Small writes of many chats in one transaction, off the event loop.

    `write(fn)` runs `fn(session)` together with the writes that came in while the previous transaction was being
    committed: one thread hop and one commit (one disk flush on PostgreSQL) for a burst of a hundred people instead
    of a hundred. `execute(statements)` does the same for statements given with their values, and the same
    statement of many callers is sent once with all their values (one round trip on PostgreSQL). When one write
    fails the transaction is rolled back and each write is done on its own, so a bad one never fails the others.
    Nothing waits when it is idle: a lone write starts at once.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._waiting: list[tuple[Work, asyncio.Future[Any]]] = []
        self._worker: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    async def write(self, fn: Callable[[Session], T]) -> T:
        """`fn(session)` committed (with others'); its result, or its exception."""
        return cast(T, await self._submit(fn))

    async def execute(self, statements: Sequence[Statement], *, linger: float = 0.0) -> None:
        """`statements` committed (with others', each statement of the batch sent once with every caller's values).

        `linger` > 0: a write nobody waits for at once (a reply already sent, marked sent) starts no transaction
        of its own for that many seconds; it goes with the next one that starts (a webhook body stored, or the
        transaction running now), so a steady stream of chats costs a commit per batch, not per reply."""
        if statements:
            await self._submit(tuple(statements), linger)

    async def insert(self, statement: Statement) -> bool:
        """`statement` (with `returns`) committed with others' (one INSERT of every caller's row); whether its row
        was inserted (False: the row was there already, a duplicate skipped)."""
        return bool(await self._submit((statement,)))

    async def _submit(self, work: Work, linger: float = 0.0) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._waiting.append((work, future))
        if self._worker is None or self._worker.done():
            if linger <= 0:
                self._start()
            elif self._timer is None:
                self._timer = loop.call_later(linger, self._start)
        return await future

    def _start(self) -> None:
        """Commit what waits now (unless a transaction runs: it takes what waits when it is done)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._waiting and (self._worker is None or self._worker.done()):
            self._worker = asyncio.create_task(self._commit_all(), name="group-commit")

    async def _commit_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                outcomes = await asyncio.to_thread(self._run, [work for work, _ in batch])
            except asyncio.CancelledError:  # stopping: whoever still waits stops waiting
                for _work, future in [*batch, *self._waiting]:
                    future.cancel()
                self._waiting = []
                raise
            except Exception as exc:  # the database is gone: every caller of this batch hears it
                outcomes = [(False, exc)] * len(batch)
            for (_work, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def _run(self, batch: list[Work]) -> list[tuple[bool, Any]]:
        try:
            with self.db.uow() as uow:
                results = [(True, _apply(uow.session, work)) for work in batch if callable(work)]
                returned = _execute(uow.session, [work for work in batch if not callable(work)])
                uow.commit()
                found = iter(results)
                return [next(found) if callable(work) else (True, _inserted(work, returned)) for work in batch]
        except Exception:
            if len(batch) == 1:
                raise
        outcomes: list[tuple[bool, Any]] = []
        for work in batch:  # one failed: each on its own, so the others still land
            try:
                with self.db.uow() as uow:
                    value = _apply(uow.session, work)
                    uow.commit()
                outcomes.append((True, value))
            except Exception as exc:
                outcomes.append((False, exc))
        return outcomes


def _apply(session: Session, work: Work) -> Any:
    """Run one function (its result), or one work's statements (for an insert: whether its row was inserted)."""
    if callable(work):
        return work(session)
    return _inserted(work, _execute(session, [work]))


Returned = dict[int, set[tuple[Any, ...]]]
"""By statement (its id): the `returns` values of the rows an INSERT ... RETURNING inserted."""


def _execute(session: Session, works: list[Work]) -> Returned:
    """Statements grouped by statement, each group one executemany (an insert with `returns`: one multi-row
    INSERT ... RETURNING); what the inserts returned."""
    grouped: dict[int, tuple[Statement, list[dict[str, Any]]]] = {}
    for work in works:
        assert not callable(work)
        for statement in work:
            grouped.setdefault(id(statement.statement), (statement, []))[1].append(statement.params)
    returned: Returned = {}
    if grouped:
        connection = session.connection()
        arrays = connection.dialect.name == "postgresql"
        for first, values in grouped.values():
            if arrays and first.many is not None and len(values) > 1:
                connection.execute(first.many, {name: [value[name] for value in values] for name in first.params})
                continue
            result = connection.execute(first.statement, values)
            if first.returns:
                returned[id(first.statement)] = {tuple(row) for row in result}
    return returned


def _inserted(work: Work, returned: Returned) -> bool | None:
    """For a work of inserts with `returns`: whether all its rows were inserted; None for other statements.

    A returned row is claimed by the first work that asks for it: of two callers with the same row in one batch
    (a body delivered twice at once), only the first hears it was inserted."""
    assert not callable(work)
    inserts = [statement for statement in work if statement.returns]
    if not inserts:
        return None
    fresh = True
    for statement in inserts:
        rows = returned.get(id(statement.statement), set())
        row = tuple(statement.params[name] for name in statement.returns)
        fresh = fresh and row in rows
        rows.discard(row)
    return fresh


async def settle_reply(deps: Deps, reply: Reply, *, provider_id: str | None = None, error: str = "") -> None:
    """Mark `reply`'s row sent (`provider_id`), or hand it to the dispatcher (`error`); no row: nothing to do."""
    outbox_id = reply.outbox_id
    if outbox_id is None:
        return

    def write() -> None:
        with deps.db.uow() as uow:
            now = deps.clock.now()
            if provider_id is not None:
                mark_reply_sent(uow.session, outbox_id, provider_id, now)
            else:
                release_reply(uow.session, outbox_id, error or "gagal terkirim langsung", now)
            uow.commit()

    try:
        await asyncio.to_thread(write)
    except Exception as exc:  # the row stays pending: the dispatcher sends it after the grace period
        log.error("reply row %s not settled: %s", outbox_id, type(exc).__name__)
