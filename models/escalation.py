"""What letter stages climb on: the messages before them that reached each unit, and each unit's letters.

Read in bulk for the programs and periods whose letter stage is due (never for a sweep with no letter stage
due), from the ledger (`Notice`), the outbox and the letter register; `models.ladder.climb` decides.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from models.ladder import TEGURAN_KINDS, LetterFact, stage_key_of
from models.pemda import Stage
from models.tables import SENT_STATUSES, Contact, Letter, LetterItem, LetterStatus, Notice, Outbox

LETTER_KIND = "letter"
"""The outbox kind of letter messages (as `jobs.letters.flow` writes them)."""
LETTER_CHANNEL = "surat"
"""The ledger's channel for a stage handed to the letters feature (no chat message)."""


@dataclass
class Escalation:
    """For one program and period: per unit, the ledger keys of the message stages before a letter that were
    written (`queued`) and that the platform accepted (`reached`), and its letters by stage kind."""

    reached: dict[int, set[str]] = field(default_factory=dict)
    queued: dict[int, set[str]] = field(default_factory=dict)
    letters: dict[int, dict[str, LetterFact]] = field(default_factory=dict)


def load_escalation(
    session: Session, ladders: Mapping[tuple[str, str], Sequence[Stage]]
) -> dict[tuple[str, str], Escalation]:
    """The escalation facts of each (program key, period) in `ladders` (its ladder sorted by offset)."""
    found = {key: Escalation() for key in ladders}
    if not ladders:
        return found
    wanted: dict[tuple[str, str, str], Escalation] = {}
    for (key, period), ladder in ladders.items():
        for before, after in itertools.pairwise(ladder):
            if after.kind in TEGURAN_KINDS and before.kind not in TEGURAN_KINDS:
                wanted[(key, period, stage_key_of("stage", before, ""))] = found[(key, period)]
    if wanted:
        rows = session.execute(
            sa_select(
                col(Notice.program_key), col(Notice.period), col(Notice.stage), col(Notice.unit_id), col(Outbox.status)
            )
            .join(Contact, col(Contact.id) == col(Notice.contact_id))
            .outerjoin(Outbox, col(Outbox.id) == col(Notice.outbox_id))
            .where(
                col(Notice.program_key).in_({k for k, _p, _s in wanted}),
                col(Notice.period).in_({p for _k, p, _s in wanted}),
                col(Notice.stage).in_({s for _k, _p, s in wanted}),
                col(Contact.unit_id) == col(Notice.unit_id),
            )
        ).all()
        for key, period, stage, unit_id, status in rows:
            facts = wanted.get((key, period, stage))
            if facts is None:
                continue
            facts.queued.setdefault(unit_id, set()).add(stage)
            if status in SENT_STATUSES:
                facts.reached.setdefault(unit_id, set()).add(stage)
    letter_rows = session.execute(
        sa_select(
            col(LetterItem.unit_id),
            col(LetterItem.program_key),
            col(LetterItem.period),
            col(LetterItem.stage),
            col(Letter.id),
            col(Letter.status),
            col(Letter.new_deadline),
        )
        .join(Letter, col(Letter.id) == col(LetterItem.letter_id))
        .where(
            col(LetterItem.program_key).in_({k for k, _p in ladders}),
            col(LetterItem.period).in_({p for _k, p in ladders}),
            col(Letter.restarted_at).is_(None),
        )
        .order_by(col(Letter.id))
    ).all()
    accepted = _accepted(session, [row[4] for row in letter_rows if row[5] == LetterStatus.SENT.value])
    for unit_id, key, period, stage, letter_id, status, deadline in letter_rows:
        facts = found.get((key, period))
        if facts is None:
            continue
        delivered = status == LetterStatus.RECEIVED.value or letter_id in accepted
        facts.letters.setdefault(unit_id, {})[stage] = LetterFact(letter_id, status, delivered, deadline)
    return found


def _accepted(session: Session, letter_ids: Sequence[int]) -> set[int]:
    """Of these sent letters, those whose delivery message the platform accepted for at least one person."""
    if not letter_ids:
        return set()
    keys = session.exec(
        select(Outbox.idem_key).where(
            Outbox.kind == LETTER_KIND,
            col(Outbox.status).in_(SENT_STATUSES),
            col(Outbox.idem_key).like("letter:%:deliver:%"),
        )
    ).all()
    wanted = set(letter_ids)
    found = set()
    for key in keys:
        parts = key.split(":")
        if len(parts) == 4 and parts[1].isdigit() and int(parts[1]) in wanted:
            found.add(int(parts[1]))
    return found
