"""What every handler receives: the dependencies, the unit of work, the sender; and the shared checks."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from rapidfuzz import fuzz, process, utils
from rapidfuzz.distance import OSA
from sqlalchemy import func, insert, or_
from sqlmodel import Session, col, select

from models.app import Deps, UserError
from models.db import UnitOfWork
from models.files import FileTooLarge, FileUnavailable
from models.messages import Channel, Incoming, Reply
from models.pemda import PemdaConfig, ProgramConfig
from models.tables import AuditLog, ChatState, Contact, Role, Unit

_AUDIT = insert(AuditLog)
"""`Ctx.audit`'s statement, built once."""


@dataclass
class Ctx:
    """One incoming message being handled inside one unit of work."""

    deps: Deps
    uow: UnitOfWork
    incoming: Incoming
    contact: Contact | None
    now: datetime
    _no_state: bool = field(default=False, init=False, repr=False)
    """`get_state` found no conversation in this message (asked again by several steps of one /lapor)."""

    @property
    def session(self) -> Session:
        """The unit of work's session."""
        return self.uow.session

    @property
    def pemda(self) -> PemdaConfig:
        """The Pemda file."""
        return self.deps.pemda

    @property
    def today(self) -> date:
        """Today's date in the Pemda's zone."""
        return self.deps.calendar.local_date(self.now)

    @property
    def me(self) -> Contact:
        """The registered sender (the core only calls role-checked handlers for registered people)."""
        if self.contact is None:
            raise UserError(not_registered(self.session, self.incoming))
        return self.contact

    @property
    def role(self) -> Role:
        """The sender's role."""
        return Role(self.me.role)

    def my_unit(self) -> Unit:
        """The sender's unit."""
        unit = self.session.get(Unit, self.me.unit_id) if self.me.unit_id is not None else None
        if unit is None:
            raise UserError("Akun Bapak/Ibu belum terhubung ke unit mana pun. Mohon hubungi admin.")
        return unit

    def audit(self, action: str, target: str = "", **detail: Any) -> None:
        """Record who did what, from where: written with the message's commit (its last round trip), gone with a
        rollback."""
        self.uow.later(
            _AUDIT,
            {
                "at": self.now,
                "actor_id": self.contact.id if self.contact else None,
                "channel": self.incoming.channel.value,
                "action": action,
                "target": target,
                "detail": json.dumps(detail, ensure_ascii=False, default=str) if detail else "",
            },
        )

    def get_state(self) -> ChatState | None:
        """The sender's guided conversation, if one is open (that there is none is read once per message)."""
        if self.contact is None or self.contact.id is None or self._no_state:
            return None
        state = self.session.get(ChatState, self.contact.id)
        self._no_state = state is None
        return state

    def known_state(self, state: ChatState | None, *, read: bool) -> None:
        """The sender's conversation as read with the sender (`read`): `get_state` then reads nothing when there is
        none (when there is one, the caller holds it and the session finds it without a query)."""
        if read and state is None:
            self._no_state = True

    def set_state(self, flow: str, **data: Any) -> None:
        """Open or move a guided conversation."""
        self._no_state = False
        contact_id = self.me.id
        assert contact_id is not None
        state = self.session.get(ChatState, contact_id) or ChatState(
            contact_id=contact_id, flow=flow, updated_at=self.now
        )
        state.flow = flow
        state.data = json.dumps(data, ensure_ascii=False)
        state.updated_at = self.now
        self.session.add(state)

    def clear_state(self) -> None:
        """Close the guided conversation."""
        state = self.get_state()
        if state is not None:
            self.session.delete(state)
            self._no_state = False  # read again if asked (a rollback would bring it back)


Handler = Callable[[Ctx], Awaitable[list[Reply]]]
HelpFor = Callable[[Role, PemdaConfig], tuple[str, str]]
"""(usage, summary) of a command for a role under a Pemda file."""
OfferedTo = Callable[[Role, PemdaConfig], bool]
"""Whether anyone of a role can use a command under a Pemda file (e.g. the Pemda file names a verifier of that role)."""
OfferedToPerson = Callable[["Ctx"], bool]
"""Whether the sender can use a command (e.g. is a program's verifier)."""

NOT_REGISTERED = (
    "Mohon maaf, akun Bapak/Ibu belum terdaftar di Sigap.\n"
    "Silakan minta kode undangan kepada admin Sigap di Pemda, lalu kirim: /start KODE"
)
NO_LONGER_ACTIVE = (
    "Mohon maaf, akun Bapak/Ibu sudah tidak aktif (nonaktif) di Sigap.\n"
    "Bila ini keliru, mohon hubungi admin Sigap di Pemda."
)


def deactivated(session: Session, incoming: Incoming) -> bool:
    """Whether the sender of `incoming`, not recognised as an active contact, is a contact who was deactivated
    (replaced as head, left out of a roster import): one lookup by their address, asked only when refusing."""
    if incoming.channel is Channel.TELEGRAM:
        field = col(Contact.telegram_user_id)
    elif incoming.channel is Channel.WHATSAPP:
        field = col(Contact.wa_number)
    else:
        if not incoming.address.isdigit():
            return False
        contact = session.get(Contact, int(incoming.address))
        return contact is not None and not contact.active
    found = session.exec(select(Contact.id).where(field == incoming.address, col(Contact.active).is_(False))).first()
    return found is not None


def not_registered(session: Session, incoming: Incoming) -> str:
    """The refusal for a sender who is not an active contact: no longer active, or never registered."""
    return NO_LONGER_ACTIVE if deactivated(session, incoming) else NOT_REGISTERED


ALL_ROLES = frozenset(Role)
REPORTERS = frozenset({Role.KEPALA, Role.OPERATOR, Role.CAMAT, Role.ADMIN})


@dataclass(frozen=True)
class Command:
    """One chat command: who may use it, what it does, how it is written."""

    name: str
    handler: Handler
    summary: str
    usage: str
    roles: frozenset[Role] = ALL_ROLES
    aliases: tuple[str, ...] = ()
    public: bool = False
    help_for: HelpFor | None = None
    """Set when what a role may do with the command depends on the Pemda file (e.g. who may approve letters)."""
    offered_to: OfferedTo | None = None
    """Set when only some of the allowed roles can use the command under a Pemda file: the command menus and /bantuan
    leave it out for the others (it stays allowed: the handler explains)."""
    offered_to_person: OfferedToPerson | None = None
    """Set when whether someone can use the command depends on the person: /bantuan lists it only for those (a
    channel's per-role menu cannot tell, and follows `offered_to`)."""

    def allowed(self, role: Role | None) -> bool:
        """Whether a person with `role` may use this command."""
        return self.public or (role is not None and role in self.roles)

    def offered(self, role: Role | None, pemda: PemdaConfig | None = None) -> bool:
        """Whether the command is shown to `role` (menus, /bantuan): allowed, and usable by that role under `pemda`."""
        if not self.allowed(role):
            return False
        return self.offered_to is None or role is None or pemda is None or self.offered_to(role, pemda)

    def offered_for(self, ctx: Ctx) -> bool:
        """Whether /bantuan lists the command for the sender: offered to their role, and usable by them."""
        if not self.offered(ctx.role, ctx.pemda):
            return False
        return self.offered_to_person is None or self.offered_to_person(ctx)

    def describe(self, role: Role | None, pemda: PemdaConfig | None = None) -> tuple[str, str]:
        """(usage, summary) as a person with `role` may use the command; `usage`/`summary` without a Pemda file."""
        if self.help_for is None or role is None or pemda is None:
            return self.usage, self.summary
        return self.help_for(role, pemda)


class NotFound(UserError):
    """A unit or program name that matched nothing. `word` is what was typed; `suggestion` the name to type instead
    when the closest match is confident enough to offer as a button (a handler may re-submit the corrected command)."""

    def __init__(self, message: str, word: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.word = word
        self.suggestion = suggestion


SUGGEST_SCORE = 70.0
"""The least similarity (rapidfuzz WRatio, 0-100) for "Maksud Anda: …?"."""
CONFIDENT_SCORE = 85.0
"""The least similarity for offering the match as a button, when no other name comes within `CLEAR_LEAD`."""
CLEAR_LEAD = 5.0
TYPO_SCORE = 90.0
"""The similarity given to a name one slip away from a known one (confident, unless another is as close)."""


@dataclass(frozen=True)
class Suggestion:
    """The known names closest to a mistyped one, best first: `keys` to type, `shown` to print."""

    keys: tuple[str, ...] = ()
    shown: tuple[str, ...] = ()
    confident: bool = False

    @property
    def key(self) -> str | None:
        """The one name to offer as a button, when the match is confident."""
        return self.keys[0] if self.confident else None

    def question(self) -> str:
        """' Maksud Anda: katalog?', ' Maksud Anda: dinkes (Dinas Kesehatan) atau disdik (...)?' or ''."""
        return f" Maksud Anda: {' atau '.join(self.shown)}?" if self.shown else ""


def _similarity(query: str, choice: str, **_: Any) -> float:
    """rapidfuzz's WRatio, except that one slip (a letter wrong, missing, extra, or two swapped: 'p3nd', 'mpc')
    in a short name counts as a close match (WRatio gives those only 67-75)."""
    score = float(fuzz.WRatio(query, choice))
    if min(len(query), len(choice)) >= 3 and OSA.distance(query, choice) == 1:
        return max(score, TYPO_SCORE)
    return score


def closest(text: str, choices: dict[str, str], shown: Callable[[str], str] = str) -> Suggestion:
    """The keys in `choices` (a name people type -> the key it stands for) closest to `text`, best first."""
    query = utils.default_process(text)
    if len(query) < 3 or query.isdigit() or not choices:
        return Suggestion()
    best: dict[str, float] = {}
    for name, score, _index in process.extract(
        text, list(choices), scorer=_similarity, processor=utils.default_process, score_cutoff=SUGGEST_SCORE, limit=10
    ):
        key = choices[name]
        best[key] = max(best.get(key, 0.0), score)
    ranked = sorted(best.items(), key=lambda item: -item[1])[:2]
    if not ranked:
        return Suggestion()
    top = ranked[0][1]
    keys = tuple(key for key, score in ranked if top - score < CLEAR_LEAD)
    return Suggestion(keys, tuple(shown(key) for key in keys), top >= CONFIDENT_SCORE and len(keys) == 1)


def _exact(units: Sequence[Unit], text: str) -> Unit | None:
    wanted = text.strip().lower()
    for unit in units:
        if unit.code.lower() == wanted or wanted in unit.alias_list() or unit.name.lower() == wanted:
            return unit
    return None


def _candidates(session: Session, text: str) -> list[Unit]:
    """The few active units that may be named exactly by `text`, found by the database: the code first, by its index
    (the usual case, as fast in a Pemda of 30,000 units as of 50), else a short name or the full name."""
    by_code = session.exec(
        select(Unit).where(col(Unit.code) == text.strip().upper(), col(Unit.active).is_(True))
    ).first()
    if by_code is not None:
        return [by_code]
    wanted = text.strip().lower()
    return list(
        session.exec(
            select(Unit)
            .where(col(Unit.active).is_(True))
            .where(
                or_(
                    col(Unit.code) == text.strip().upper(),
                    col(Unit.aliases).contains(wanted, autoescape=True),
                    func.lower(col(Unit.name)) == wanted,
                )
            )
        ).all()
    )


def unit_named(session: Session, text: str) -> Unit | None:
    """The active unit whose code, alias or full name is exactly `text` (any case), if any."""
    if not text.strip():
        return None
    return _exact(_candidates(session, text), text)


def short_name(unit: Unit) -> str:
    """What people type for `unit`: its first alias, or its code in lower case."""
    aliases = unit.alias_list()
    return aliases[0] if aliases else unit.code.lower()


def find_unit(session: Session, text: str) -> Unit:
    """The unit named by code, alias, or (part of) its name; a UserError explains a miss or an ambiguity, and the
    `NotFound` of a miss names the closest units ("Maksud Anda: dinkes (Dinas Kesehatan)?")."""
    wanted = text.strip().lower()
    if not wanted:
        raise UserError("Nama unit belum diisi. Ketik /unit untuk melihat daftar kode unit.")
    exact = _exact(_candidates(session, text), text)  # the usual case: one small query, whatever the Pemda's size
    if exact is not None:
        return exact
    units = session.exec(select(Unit).where(col(Unit.active).is_(True))).all()
    partial = [u for u in units if wanted in u.name.lower()]
    if len(partial) == 1:
        return partial[0]
    if partial:
        names = ", ".join(f"{u.code} ({u.name})" for u in partial[:6])
        raise UserError(f"“{text}” cocok dengan beberapa unit: {names}. Mohon tulis kodenya.")
    names_of = {short_name(u): u.name for u in units}
    choices: dict[str, str] = {}
    for unit in units:
        for name in (unit.name, unit.code.lower(), *unit.alias_list()):
            choices.setdefault(name, short_name(unit))
    hint = closest(text, choices, lambda key: f"{key} ({names_of[key]})")
    raise NotFound(
        f"Unit “{text}” tidak ditemukan.{hint.question()} Ketik /unit untuk melihat daftar kode unit.", text, hint.key
    )


def program_hint(programs: Sequence[ProgramConfig], text: str) -> Suggestion:
    """The programs closest to a mistyped name, over their keys, aliases and labels."""
    choices: dict[str, str] = {}
    for program in programs:
        for name in (program.key, *program.aliases, program.label, program.title):
            choices.setdefault(name, program.key)
    return closest(text, choices)


def find_program(pemda: PemdaConfig, text: str, example: str = "/lapor katalog 120") -> ProgramConfig:
    """The program named by key or alias; a `NotFound` names the closest program, lists the right names and shows
    `example`."""
    if not text.strip():
        raise UserError(f"Nama program belum diisi. Pilihan: {program_names(pemda.programs)}. Contoh: {example}")
    program = pemda.program(text)
    if program is None:
        hint = program_hint(pemda.programs, text)
        raise NotFound(
            f"Program “{text}” tidak dikenal.{hint.question()} Pilihan: {program_names(pemda.programs)}. "
            f"Contoh: {example}",
            text,
            hint.key,
        )
    return program


def program_names(programs: Sequence[ProgramConfig]) -> str:
    """'katalog, p3dn, inovasi, mcp'."""
    return ", ".join(p.key for p in programs)


def page_number(word: str) -> int | None:
    """The page a word asks for ('2' in /rekap 2): ASCII digits, 1 to 99999; None for any other word."""
    return int(word) if word.isascii() and word.isdigit() and 0 < len(word) < 6 and int(word) > 0 else None


def indicator_key(code: str) -> str:
    """An indicator code as compared: '2,1' (the Indonesian decimal comma) is '2.1', any case."""
    return code.strip().lower().replace(",", ".")


def sub_units(session: Session, unit: Unit) -> list[Unit]:
    """The active units directly under `unit` (kelurahan/desa under a kecamatan)."""
    return list(
        session.exec(
            select(Unit).where(Unit.parent_id == unit.id, col(Unit.active).is_(True)).order_by(col(Unit.code))
        ).all()
    )


def load_state_data(state: ChatState) -> dict[str, Any]:
    """The stored data of a guided conversation."""
    data = json.loads(state.data or "{}")
    return data if isinstance(data, dict) else {}


NO_FILES = "Mohon maaf, Sigap belum dapat menerima berkas lewat kanal ini. Silakan hubungi pengelola Sigap."
UNAVAILABLE = "Mohon maaf, berkas tidak dapat diunduh. Silakan kirim ulang berkasnya."


async def fetch_file(
    ctx: Ctx,
    ref: str | None,
    max_bytes: int,
    *,
    too_large: str,
    unavailable: str = UNAVAILABLE,
    channel: Channel | None = None,
) -> bytes:
    """The bytes of a file the sender sent (on `channel`, default this message's); each problem is a `UserError`."""
    source = ctx.deps.files.get(channel or ctx.incoming.channel)
    if source is None or not ref:
        raise UserError(NO_FILES)
    try:
        content, _mime = await source.fetch(ref, max_bytes=max_bytes)
    except FileTooLarge:
        raise UserError(too_large) from None
    except FileUnavailable:
        raise UserError(unavailable) from None
    return content
