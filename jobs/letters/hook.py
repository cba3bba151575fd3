"""The sweep's hook for teguran stages: draft the unit's letter, then ask the approvers (or deliver at once).

The letters' life after drafting is `jobs.letters.flow`; approvers and units are reached on the channels the
deployment sends on only (`Deps.sends_on`), as everything the bot queues.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlmodel import Session

from jobs.letters.flow import request_approval, request_approval_digest, submit
from jobs.letters.register import draft_letters
from models.calendar import WorkingCalendar
from models.ladder import TEGURAN_KINDS
from models.messages import CHAT_CHANNELS, Channel
from models.pemda import PemdaConfig, Stage
from models.standing import Standing
from models.tables import Letter, Unit

DIGEST_FROM = 4
"""From this many new drafts in one sweep, approvers get one message listing them instead of one PDF each."""


class SweepLetterHook:
    """The sweep's hook for teguran stages: draft the letter, then ask for approval (or deliver at once)."""

    def __init__(self, pemda: PemdaConfig, calendar: WorkingCalendar, on: Collection[Channel] = CHAT_CHANNELS) -> None:
        self.pemda = pemda
        self.calendar = calendar
        self.on = frozenset(on)
        """The channels the deployment sends on (`Deps.sends_on`): approvers and units are reached on these only."""
        self._drafted: dict[int, list[Letter]] = {}
        """Drafts awaiting an approval request, per sweep transaction (by session), so a rolled-back sweep's
        drafts are never announced."""

    def __call__(self, session: Session, unit: Unit, standings: Sequence[Standing], stage: Stage, at: datetime) -> bool:
        """Handle a teguran stage of `unit` on `standings` (the programs it is behind on); True when a letter
        (drafted now or already in the register, cancelled included) takes the place of a chat warning."""
        behind = [s for s in standings if not s.compliant]
        if stage.kind not in TEGURAN_KINDS or not behind or unit.id is None:
            return False
        letters = draft_letters(session, self.pemda, self.calendar, unit, behind, stage, at)
        for letter in letters:
            if not self.pemda.letters.require_approval:
                submit(session, self.pemda, self.calendar, letter, at, self.on)
            elif all(letter.id != other.id for other in self._drafted.get(id(session), [])):
                self._drafted.setdefault(id(session), []).append(letter)
        return True

    def after_sweep(self, session: Session, at: datetime) -> None:
        """Ask for approval of this sweep's drafts: one message each, or one list when there are many."""
        drafted = self._drafted.pop(id(session), [])
        self._drafted.clear()
        if len(drafted) < DIGEST_FROM:
            for letter in drafted:
                request_approval(session, self.pemda, self.calendar, letter, at, self.on)
        elif drafted:
            request_approval_digest(session, self.pemda, self.calendar, drafted, at, self.on)


def make_letter_hook(
    pemda: PemdaConfig, calendar: WorkingCalendar, on: Collection[Channel] = CHAT_CHANNELS
) -> SweepLetterHook:
    """The sweep's hook for teguran stages, reaching people on `on` (`Deps.sends_on`)."""
    return SweepLetterHook(pemda, calendar, on)
