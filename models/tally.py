"""Where a broadcast stands: its rows counted (sent, failed, unreachable, open) and the progress line shown."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from models.tables import OPEN_STATUSES, SENT_STATUSES, Failure, Outbox


@dataclass(frozen=True)
class Tally:
    """Where a broadcast's outbox rows stand."""

    total: int
    sent: int
    failed: int
    unreachable: int

    @property
    def open(self) -> int:
        """Rows not yet finished (waiting or being sent)."""
        return max(self.total - self.sent - self.failed - self.unreachable, 0)


def tally(session: Session, broadcast_id: int) -> Tally:
    """Count the broadcast's rows: sent, failed, unreachable (the person blocked the bot) and the rest."""
    rows = session.exec(select(Outbox.status, Outbox.failure).where(Outbox.broadcast_id == broadcast_id)).all()
    sent = failed = unreachable = 0
    for status, failure in rows:
        if status in SENT_STATUSES:
            sent += 1
        elif status in OPEN_STATUSES:
            continue
        elif failure == Failure.UNREACHABLE.value:
            unreachable += 1
        else:
            failed += 1
    return Tally(total=len(rows), sent=sent, failed=failed, unreachable=unreachable)


def open_rows(session: Session, broadcast_id: int) -> int:
    """Rows of the broadcast still waiting or being sent."""
    stmt = (
        select(func.count())
        .select_from(Outbox)
        .where(Outbox.broadcast_id == broadcast_id, col(Outbox.status).in_(OPEN_STATUSES))
    )
    return int(session.exec(stmt).one())


def progress_text(broadcast_id: int, tally: Tally, *, finished: bool = False) -> str:
    """The confirmation that later becomes the progress message: 'Kemajuan: Terkirim 120/560'."""
    text = f"Siaran #{broadcast_id} dikirim ke {tally.total} penerima.\nKemajuan: Terkirim {tally.sent}/{tally.total}"
    problems = tally.failed + tally.unreachable
    if problems:
        text += f" (belum berhasil {problems})"
    if finished:
        text += "\nSelesai."
    return text
