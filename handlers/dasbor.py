"""/dasbor: a one-time sign-in link to the web dashboard (admin, pimpinan, camat and the programs' verifiers).

The link is `<SIGAP_PUBLIC_URL>/dasbor/masuk/<token>`, valid `LINK_TTL` and once (`models.web_access`, the same code
the web redeems it with); only the token's SHA-256 is stored. The request is audited, never the token.
"""

from __future__ import annotations

from handlers.base import ALL_ROLES, Command, Ctx
from models.app import UserError
from models.evidence import verifier_roles
from models.fmt import waktu
from models.messages import Reply
from models.pemda import PemdaConfig
from models.tables import Role
from models.web_access import LINK_TTL, SIGN_IN_ROLES, create_link, may_sign_in

MINUTES = int(LINK_TTL.total_seconds() // 60)
NOT_FOR_ROLE = (
    "Mohon maaf, dasbor web disediakan untuk admin, pimpinan, camat, dan verifikator program. "
    "Status unit Bapak/Ibu tetap dapat dilihat di sini dengan /status."
)
NOT_SET_ADMIN = (
    "Dasbor web belum dapat dibuka karena alamat publiknya belum diatur. Isi SIGAP_PUBLIC_URL di berkas .env "
    "(mis. https://sigap.pemda.go.id), teruskan /dasbor/ di reverse proxy ke Sigap (lihat README, bagian "
    "Dasbor web), lalu jalankan ulang Sigap."
)
NOT_SET = "Mohon maaf, dasbor web belum disiapkan. Silakan hubungi admin Sigap."
SUMMARY = "tautan masuk dasbor web (sekali pakai, 10 menit)"


async def dasbor(ctx: Ctx) -> list[Reply]:
    """/dasbor: a link that signs the sender in to the dashboard once, within 10 minutes."""
    me = ctx.me
    if not may_sign_in(ctx.session, ctx.pemda, me):
        raise UserError(NOT_FOR_ROLE)
    base = ctx.deps.public_url.rstrip("/")
    if not base:
        raise UserError(NOT_SET_ADMIN if ctx.role is Role.ADMIN else NOT_SET)
    token = create_link(ctx.session, me, ctx.now)
    ctx.audit("dasbor_tautan", berlaku_menit=MINUTES)
    until = waktu(ctx.now + LINK_TTL, ctx.deps.calendar.zone)
    text = (
        f"Tautan masuk Dasbor Sigap untuk Bapak/Ibu {me.name}:\n{base}/dasbor/masuk/{token}\n\n"
        f"Berlaku {MINUTES} menit (sampai {until}) dan hanya untuk sekali masuk; sesi berlaku 8 jam. "
        "Mohon tidak meneruskan tautan ini kepada siapa pun. Bila kedaluwarsa, ketik /dasbor lagi."
    )
    return [Reply(text)]


def dasbor_help(role: Role, pemda: PemdaConfig) -> tuple[str, str]:
    """/dasbor in /bantuan: for a kepala or operator it works only as a program's verifier."""
    if role in SIGN_IN_ROLES:
        return "/dasbor", SUMMARY
    return "/dasbor", SUMMARY + "; khusus verifikator program"


def offered_to(role: Role, pemda: PemdaConfig) -> bool:
    """/dasbor in a role's menu: admin, pimpinan, camat, and a role the Pemda file names as a program's verifier."""
    return role in SIGN_IN_ROLES or role in verifier_roles(pemda)


def offered_to_person(ctx: Ctx) -> bool:
    """/dasbor in /bantuan: only for those it signs in (a kepala or operator who verifies a program)."""
    return may_sign_in(ctx.session, ctx.pemda, ctx.me)


DASBOR = Command(
    "dasbor",
    dasbor,
    SUMMARY,
    "/dasbor",
    ALL_ROLES,
    help_for=dasbor_help,
    offered_to=offered_to,
    offered_to_person=offered_to_person,
)
