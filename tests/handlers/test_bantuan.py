"""/bantuan lists each person's commands as far as they may use them: /teguran depends on approval rights."""

from __future__ import annotations

import dataclasses

from handlers.commands import menu_for
from models.app import Deps
from models.tables import Role
from tests.conftest import ADMIN, KEPALA_DINKES, PIMPINAN, console_person

FULL_TEGURAN = (
    "/teguran [id | setujui <id>|semua | batal <id> [alasan] | diantar <id> | ulang <id>] — register surat teguran: "
    "daftar, kirim ulang PDF, setujui, batalkan, catat diantar langsung, mulai ulang tangga"
)
READ_TEGURAN = "/teguran [id] — register surat teguran: daftar dan PDF"


def with_approvers(deps: Deps, *approvers: str) -> Deps:
    """The same deployment with `letters.approvers` set as the Pemda file would."""
    letters = deps.pemda.letters.model_copy(update={"approvers": list(approvers)})
    return dataclasses.replace(deps, pemda=deps.pemda.model_copy(update={"letters": letters}))


def teguran_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("/teguran")]


async def test_admin_sees_the_whole_register(deps: Deps) -> None:
    text = await console_person(deps, ADMIN).text("/bantuan")
    assert text.splitlines()[0] == "Perintah untuk Admin:"
    assert teguran_lines(text) == [FULL_TEGURAN]
    assert "/terima" not in text


async def test_pimpinan_without_approval_rights_sees_only_the_list(deps: Deps) -> None:
    assert deps.pemda.letters.approvers == ["admin"]  # the sample Pemda file: only admins approve
    text = await console_person(deps, PIMPINAN).text("/bantuan")
    assert text.splitlines()[0] == "Perintah untuk Pimpinan:"
    assert teguran_lines(text) == [READ_TEGURAN]
    assert "setujui" not in text and "batal <id>" not in text


async def test_pimpinan_who_approves_sees_approve_and_cancel(deps: Deps) -> None:
    approving = with_approvers(deps, "admin", "pimpinan")
    text = await console_person(approving, PIMPINAN).text("/bantuan")
    assert teguran_lines(text) == [FULL_TEGURAN]
    # the admin keeps the whole register whoever else approves
    assert teguran_lines(await console_person(approving, ADMIN).text("/bantuan")) == [FULL_TEGURAN]


async def test_kepala_has_no_register_but_confirms_receipt(deps: Deps) -> None:
    text = await console_person(deps, KEPALA_DINKES).text("/bantuan")
    assert text.splitlines()[0] == "Perintah untuk Kepala OPD:"
    assert "/teguran" not in text
    assert "/terima <id> — tanda terima surat teguran" in text.splitlines()


def test_command_menu_follows_the_same_rights(deps: Deps) -> None:
    approving = with_approvers(deps, "admin", "pimpinan").pemda
    assert dict(menu_for(Role.PIMPINAN, deps.pemda))["teguran"] == "register surat teguran: daftar dan PDF"
    assert dict(menu_for(Role.PIMPINAN, approving))["teguran"] == FULL_TEGURAN.split(" — ")[1]
    assert "teguran" not in dict(menu_for(Role.KEPALA, deps.pemda))
    # without a Pemda file the menu still lists every command a role may use
    assert [name for name, _ in menu_for(Role.PIMPINAN)] == [name for name, _ in menu_for(Role.PIMPINAN, approving)]
