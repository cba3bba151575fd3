"""/verifikasi: the verifier's queue of evidence (bukti dukung), oldest first, each file followed by "Sah" / "Tolak".

`/verifikasi` shows the oldest waiting items the sender may decide on (`models.evidence.Verifiers`: the program's
verifiers outside the item's unit, or the admins standing in; never the person who sent the file), each as the file
with a caption and a question with the two buttons. "Sah" accepts (`/verifikasi sah <id>`); "Tolak" asks for the
reason in the chat (flow "verifikasi"), or takes it at once (`/verifikasi tolak <id> <alasan>`). The decision is one
conditional update (a second tap or a second verifier finds it decided), the report's verification follows it, and
the sender of the file hears the outcome through the outbox; on "Tolak" with the reason and what to send. After a
decision the next waiting item follows. `/verifikasi <id>` shows one item again (also to its sender and to admins).
The decision itself is `decide`, with plain arguments: the web dashboard's queue takes the same one.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import update
from sqlmodel import Session, col, select

from handlers.base import Ctx, load_state_data
from models.app import UserError
from models.evidence import (
    Verifiers,
    caption_for,
    describe,
    load_verifiers,
    status_word,
    verifier_label,
    verifier_roles,
    waiting_queue,
)
from models.filecheck import KINDS, kind_label, size_text
from models.fmt import tanggal_pendek, waktu
from models.messages import CHAT_CHANNELS, Attachment, Button, Channel, Reply, full_stop
from models.outbound import Template
from models.outbox import OutMessage, enqueue
from models.pemda import PemdaConfig
from models.tables import (
    UNIT_ROLES,
    Contact,
    Evidence,
    EvidenceStatus,
    Outbox,
    Report,
    Role,
    StoredFile,
    Unit,
    Verification,
)

FLOW = "verifikasi"
ROLES = frozenset({Role.ADMIN, Role.PIMPINAN, Role.KEPALA, Role.OPERATOR})
"""The roles a Pemda file may name as a program's verifier (`models.pemda.Verifier`)."""
PAGE = 3
"""Items shown per /verifikasi (each is a file and a question)."""
MIN_REASON = 5
CANCEL_WORDS = frozenset({"batal", "batalkan", "cancel"})
USAGE = "Cara pakai: /verifikasi (antrean), /verifikasi sah <id>, /verifikasi tolak <id> <alasan>, /verifikasi <id>."


def offered_to(role: Role, pemda: PemdaConfig) -> bool:
    """/verifikasi in a role's menu: admins, and the roles the Pemda file names as a program's verifier."""
    return role in verifier_roles(pemda)


def offered_to_person(ctx: Ctx) -> bool:
    """/verifikasi in /bantuan: admins and the people who verify a program. Anyone else of an allowed role may still
    look at evidence they sent with /verifikasi <id>, but the entry ("verifikator: bukti sah atau tolak") is not for
    them."""
    return load_verifiers(ctx.session, ctx.pemda).is_verifier(ctx.me)


async def verifikasi(ctx: Ctx) -> list[Reply]:
    """/verifikasi [sah <id> | tolak <id> [alasan] | <id>]."""
    args = ctx.incoming.args
    action = args[0].lower() if args else ""
    verifiers = load_verifiers(ctx.session, ctx.pemda)
    if action in ("sah", "terima"):
        return _decide(ctx, verifiers, _known_id(ctx, _evidence_id(args[1:]), "sah"), accepted=True)
    if action == "tolak":
        return _reject(ctx, verifiers, _known_id(ctx, _evidence_id(args[1:]), "tolak"), " ".join(args[2:]))
    if action.lstrip("#").isdigit():
        return _show(ctx, verifiers, _evidence_id(args))
    if action:
        raise UserError(USAGE)
    return _queue(ctx, verifiers)


async def continue_flow(ctx: Ctx) -> list[Reply]:
    """The reason typed after "Tolak"."""
    state = ctx.get_state()
    data = load_state_data(state) if state is not None else {}
    evidence_id = data.get("evidence_id")
    if not isinstance(evidence_id, int):
        ctx.clear_state()
        return [Reply("Pertanyaan sebelumnya sudah tidak berlaku. Ketik /verifikasi untuk melihat antrean.")]
    text = ctx.incoming.body
    if text.lower().strip(".! ") in CANCEL_WORDS:
        ctx.clear_state()
        return [Reply(f"Baik, bukti #{evidence_id} tidak ditolak dan masih menunggu verifikasi.")]
    return _reject(ctx, load_verifiers(ctx.session, ctx.pemda), evidence_id, text)


def _evidence_id(words: list[str]) -> int:
    word = words[0].lstrip("#") if words else ""
    if not (word.isascii() and word.isdigit()) or len(word) > 9:
        raise UserError(f"Nomor bukti belum ada atau keliru. {USAGE}")
    return int(word)


def _known_id(ctx: Ctx, number: int, action: str) -> int:
    """`number` when it is an evidence id. When it is not, but it is the id of a report (as /riwayat lists them) with
    exactly one piece of evidence, the verifier is told which evidence id to use; nothing is decided on a guess."""
    if ctx.session.get(Evidence, number) is not None:
        return number
    attached = ctx.session.exec(select(Evidence).where(Evidence.report_id == number).limit(2)).all()
    report = ctx.session.get(Report, number)
    if len(attached) != 1 or report is None:
        return number  # _load says it was not found
    evidence = attached[0]
    unit = ctx.session.get(Unit, evidence.unit_id)
    what = describe(ctx.session, ctx.pemda, evidence, report)
    command = f"/verifikasi {action} {evidence.id}" + (" <alasan>" if action == "tolak" else "")
    raise UserError(
        f"Bukti #{number} tidak ditemukan. Nomor {number} adalah nomor laporan: {unit.name if unit else '-'} – "
        f"{what}. Bukti dukung laporan itu bernomor #{evidence.id}; bila itu yang dimaksud, ketik {command}."
    )


def _mine(ctx: Ctx, verifiers: Verifiers) -> list[tuple[Evidence, Report]]:
    return [(e, r) for e, r in waiting_queue(ctx.session) if verifiers.may_decide(ctx.me, e)]


def _queue(ctx: Ctx, verifiers: Verifiers) -> list[Reply]:
    mine = _mine(ctx, verifiers)
    if not mine:
        if not verifiers.is_verifier(ctx.me):
            raise UserError(
                "Bapak/Ibu tidak ditunjuk sebagai verifikator bukti dukung. Verifikator setiap program diatur dalam "
                "berkas Pemda; bila perlu, hubungi admin Sigap."
            )
        return [Reply("Tidak ada bukti dukung yang menunggu verifikasi Bapak/Ibu. Terima kasih.")]
    oldest = ctx.deps.calendar.local_date(mine[0][0].uploaded_at)
    shown = min(PAGE, len(mine))
    replies = [
        Reply(
            f"Bukti dukung menunggu verifikasi Bapak/Ibu: {len(mine)} (terlama dikirim {tanggal_pendek(oldest)}). "
            f"Berikut {shown} yang terlama; setelah setiap berkas ada tombol Sah dan Tolak."
        )
    ]
    for evidence, report in mine[:PAGE]:
        replies.extend(_item(ctx, evidence, report, ask=True))
    if len(mine) > PAGE:
        replies.append(Reply(f"Masih ada {len(mine) - PAGE} lagi. Ketik /verifikasi setelah memutuskan yang di atas."))
    return replies


def _item(ctx: Ctx, evidence: Evidence, report: Report, *, ask: bool) -> list[Reply]:
    """The file with its caption, and (when `ask`) the question with Sah / Tolak."""
    unit = ctx.session.get(Unit, evidence.unit_id)
    sender = ctx.session.get(Contact, evidence.uploaded_by_id) if evidence.uploaded_by_id else None
    stored = ctx.session.get(StoredFile, evidence.file_id)
    kind = next((k for k in KINDS if evidence.filename.endswith("." + k)), "pdf")
    caption = "\n".join(
        [
            f"Bukti #{evidence.id} · {unit.name if unit else '-'} ({unit.code if unit else '-'})",
            describe(ctx.session, ctx.pemda, evidence, report),
            f"Dikirim {sender.name if sender else '-'}, {waktu(evidence.uploaded_at, ctx.deps.calendar.zone)}",
            f"Berkas: {evidence.filename} ({kind_label(kind)}, {size_text(evidence.size)})",
            f"Status: {status_word(evidence, report)}"
            + (f" (alasan: {evidence.reason})" if evidence.status == EvidenceStatus.REJECTED.value else ""),
        ]
    )
    attachment = None
    if stored is not None:
        attachment = Attachment(evidence.filename, stored.content, "document", evidence.mime, stored_id=stored.id)
    replies = [Reply(caption, attachment=attachment)]
    if ask:
        buttons = (
            Button("Sah", f"/verifikasi sah {evidence.id}"),
            Button("Tolak", f"/verifikasi tolak {evidence.id}"),
        )
        replies.append(Reply(f"Bukti #{evidence.id} sah? Bila ditolak, Sigap menanyakan alasannya.", buttons))
    return replies


def _show(ctx: Ctx, verifiers: Verifiers, evidence_id: int) -> list[Reply]:
    """One item again: to those who may decide on it (with the buttons while it waits), its sender and admins."""
    evidence, report = _load(ctx.session, evidence_id)
    deciding = verifiers.may_decide(ctx.me, evidence)
    if not (deciding or ctx.role is Role.ADMIN or evidence.uploaded_by_id == ctx.me.id):
        raise UserError(f"Bukti #{evidence_id} hanya dapat dilihat verifikatornya, pengirimnya, dan admin.")
    waiting = evidence.status == EvidenceStatus.WAITING.value and report.withdrawn_at is None
    return _item(ctx, evidence, report, ask=deciding and waiting)


class Audit(Protocol):
    """Where a decision is written to the audit log: the chat's `Ctx.audit`, the dashboard's."""

    def __call__(self, action: str, target: str = "", **detail: Any) -> None: ...


@dataclass(frozen=True)
class Decision:
    """What a verdict did: its words for the verifier, and whether it was taken now (False: already decided)."""

    text: str
    taken: bool


def _load(session: Session, evidence_id: int) -> tuple[Evidence, Report]:
    evidence = session.get(Evidence, evidence_id)
    report = session.get(Report, evidence.report_id) if evidence is not None else None
    if evidence is None or report is None:
        raise UserError(f"Bukti #{evidence_id} tidak ditemukan. Ketik /verifikasi untuk melihat antrean.")
    return evidence, report


def _check_decidable(
    session: Session, pemda: PemdaConfig, verifiers: Verifiers, me: Contact, evidence: Evidence, report: Report
) -> str | None:
    """Why a decision cannot be taken (already decided, withdrawn), or None; not a verifier of it: an error."""
    if not verifiers.may_decide(me, evidence):
        if evidence.uploaded_by_id == me.id:
            raise UserError("Bukti yang Bapak/Ibu kirim sendiri diverifikasi oleh verifikator lain.")
        raise UserError(
            f"Bukti #{evidence.id} diverifikasi oleh {_label(session, pemda, evidence)}, bukan Bapak/Ibu. "
            "Ketik /verifikasi untuk antrean Bapak/Ibu."
        )
    if report.withdrawn_at is not None:
        return f"Bukti #{evidence.id} sudah ditarik atau diganti berkas yang lebih baru oleh pengirimnya."
    if evidence.status != EvidenceStatus.WAITING.value:
        decider = session.get(Contact, evidence.verifier_id) if evidence.verifier_id else None
        who = f" oleh {decider.name}" if decider is not None else ""
        return full_stop(f"Bukti #{evidence.id} sudah dinyatakan {status_word(evidence, report)}{who}")
    return None


def _label(session: Session, pemda: PemdaConfig, evidence: Evidence) -> str:
    program = pemda.program(evidence.program_key)
    return verifier_label(session, program, evidence.unit_id) if program is not None else "verifikator programnya"


def _reject(ctx: Ctx, verifiers: Verifiers, evidence_id: int, reason: str) -> list[Reply]:
    evidence, report = _load(ctx.session, evidence_id)
    settled = _check_decidable(ctx.session, ctx.pemda, verifiers, ctx.me, evidence, report)
    if settled is not None:
        ctx.clear_state()
        return [Reply(settled + _next(ctx, verifiers))]
    reason = " ".join(reason.split())
    if len(reason) < MIN_REASON:
        ctx.set_state(FLOW, evidence_id=evidence_id)
        return [
            Reply(
                f"Mohon tulis alasan penolakan bukti #{evidence_id} dan apa yang perlu dikirim ulang, misalnya: "
                "“Dokumen belum ditandatangani; kirim versi yang sudah ditandatangani.”\n"
                "Ketik /batal bila tidak jadi menolak."
            )
        ]
    return _decide(ctx, verifiers, evidence_id, accepted=False, reason=reason[:480])


def _decide(ctx: Ctx, verifiers: Verifiers, evidence_id: int, *, accepted: bool, reason: str = "") -> list[Reply]:
    decision = decide(
        ctx.session, ctx.pemda, verifiers, ctx.me, evidence_id, accepted=accepted, reason=reason, now=ctx.now,
        audit=ctx.audit, on=ctx.deps.sends_on,
    )  # fmt: skip
    ctx.clear_state()
    if not decision.taken:
        return [Reply(decision.text + _next(ctx, verifiers))]
    replies = [Reply(decision.text)]
    upcoming = _mine(ctx, verifiers)
    if upcoming:
        replies.append(Reply(f"Berikutnya (masih {len(upcoming)} menunggu):"))
        replies.extend(_item(ctx, *upcoming[0], ask=True))
    else:
        replies.append(Reply("Tidak ada lagi bukti yang menunggu verifikasi Bapak/Ibu. Terima kasih."))
    return replies


def decide(
    session: Session,
    pemda: PemdaConfig,
    verifiers: Verifiers,
    me: Contact,
    evidence_id: int,
    *,
    accepted: bool,
    reason: str,
    now: datetime,
    audit: Audit,
    on: Collection[Channel] = CHAT_CHANNELS,
) -> Decision:
    """Accept or reject one piece of evidence as `me` (chat and dashboard alike): one conditional update (a second
    tap, or a second verifier, finds it decided), the report's verification follows, the sender hears the outcome
    through the outbox on a channel of `on` (`Deps.sends_on`), and the verdict is audited. Not a verifier of it: a
    `UserError`."""
    evidence, report = _load(session, evidence_id)
    settled = _check_decidable(session, pemda, verifiers, me, evidence, report)
    if settled is not None:
        return Decision(settled, taken=False)
    status = EvidenceStatus.ACCEPTED if accepted else EvidenceStatus.REJECTED
    claimed = session.execute(
        update(Evidence)
        .where(col(Evidence.id) == evidence_id, col(Evidence.status) == EvidenceStatus.WAITING.value)
        .values(status=status.value, verifier_id=me.id, verified_at=now, reason=reason)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        return Decision(f"Bukti #{evidence_id} baru saja diputuskan oleh verifikator lain.", taken=False)
    session.refresh(evidence)
    report.verification = (Verification.VERIFIED if accepted else Verification.REJECTED).value
    session.add(report)
    session.flush()
    told = _tell_sender(session, pemda, me, evidence, report, now, on)
    audit(
        "evidence." + ("accepted" if accepted else "rejected"),
        str(evidence.id),
        program=evidence.program_key,
        item=evidence.item_code,
        report=report.id,
        reason=reason,
    )
    word = "dinyatakan sah" if accepted else "ditolak"
    unit = session.get(Unit, evidence.unit_id)
    what = describe(session, pemda, evidence, report)
    text = f"Bukti #{evidence_id} {word}: {unit.name if unit else ''} – {what}."
    if told:
        text += f" {told} diberi tahu."
    return Decision(text, taken=True)


def _next(ctx: Ctx, verifiers: Verifiers) -> str:
    count = len(_mine(ctx, verifiers))
    return f" Masih {count} menunggu: ketik /verifikasi." if count else ""


def _tell_sender(
    session: Session,
    pemda: PemdaConfig,
    me: Contact,
    evidence: Evidence,
    report: Report,
    now: datetime,
    on: Collection[Channel],
) -> str:
    """Queue the outcome for the file's sender (or, when they cannot be reached, the unit's people); who was told."""
    unit = session.get(Unit, evidence.unit_id)
    what = describe(session, pemda, evidence, report)
    where = unit.name if unit is not None else ""
    decider = f"{me.name}" + (f" ({_label(session, pemda, evidence)})" if me.role != Role.ADMIN.value else "")
    if evidence.status == EvidenceStatus.ACCEPTED.value:
        text = (
            f"✅ Bukti dukung dinyatakan sah: {where} – {what}.\n"
            f"Berkas: {evidence.filename}; diperiksa {decider}. Terima kasih.\n"
            "Ketik /status untuk melihat capaian."
        )
        summary = f"bukti dukung {where} – {what} dinyatakan sah"
        buttons: tuple[Button, ...] = (Button("Lihat status", "/status"),)
    else:
        again = caption_for(evidence, report)
        text = (
            f"❌ Bukti dukung ditolak: {where} – {what}.\n"
            f"Berkas: {evidence.filename}; diperiksa {full_stop(decider)}\n"
            f"Alasan: {evidence.reason}\n"
            f"Mohon kirim berkas yang sudah diperbaiki: lampirkan berkasnya di sini dengan keterangan “{again}”. "
            "Sampai bukti dinyatakan sah, target ini belum terpenuhi."
        )
        summary = f"bukti dukung {where} – {what} ditolak verifikator: {evidence.reason}. Mohon kirim perbaikannya"
        buttons = (Button("Lihat status", "/status"),)
    people: list[Contact] = []
    sender = session.get(Contact, evidence.uploaded_by_id) if evidence.uploaded_by_id else None
    if sender is not None and sender.active:
        people = [sender]
    if not people or enqueue_for(session, pemda, people, evidence, text, summary, buttons, now, on) == 0:
        people = list(
            session.exec(
                select(Contact).where(
                    Contact.unit_id == evidence.unit_id,
                    col(Contact.active).is_(True),
                    col(Contact.role).in_(UNIT_ROLES),
                )
            ).all()
        )
        if enqueue_for(session, pemda, people, evidence, text, summary, buttons, now, on) == 0:
            return ""
    return people[0].name if len(people) == 1 else f"{where}"


def enqueue_for(
    session: Session,
    pemda: PemdaConfig,
    people: list[Contact],
    evidence: Evidence,
    text: str,
    summary: str,
    buttons: tuple[Button, ...],
    now: datetime,
    on: Collection[Channel] = CHAT_CHANNELS,
) -> int:
    """Queue the outcome for each of `people` reachable on `on` (with the WhatsApp template for a closed window); how
    many rows."""
    queued = 0
    for person in people:
        template = Template(pemda.whatsapp_templates.reminder, (person.name[:60], summary[:900]))
        message = OutMessage(text=text, kind="evidence", buttons=buttons, template=template)
        if enqueue(session, _outcome_key(evidence, person.id), person, message, now, on=on) is not None:
            queued += 1
    return queued


def _outcome_key(evidence: Evidence, person_id: int | None) -> str:
    return f"bukti:{evidence.id}:{evidence.status}:{'' if person_id is None else person_id}"


def told(session: Session, evidence: Evidence) -> list[str]:
    """The names of the people the verdict on `evidence` was queued for (its sender, or the unit's people)."""
    prefix = _outcome_key(evidence, None)
    rows = session.exec(
        select(Contact.name)
        .join(Outbox, col(Outbox.contact_id) == col(Contact.id))
        .where(col(Outbox.idem_key).startswith(prefix, autoescape=True))
        .order_by(col(Outbox.id))
    ).all()
    return list(rows)
