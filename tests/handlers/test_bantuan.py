"""/bantuan lists each person's commands as far as they may use them: /teguran depends on approval rights, /verifikasi
and a kepala's or operator's /dasbor on being a program's verifier."""

from __future__ import annotations

import dataclasses

import pytest

from handlers.commands import menu_for
from models.app import Deps
from models.tables import Role
from tests.conftest import ADMIN, CAMAT_SUKAMAKMUR, KEPALA_DINKES, OPERATOR_DINKES, PIMPINAN, console_person

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


async def test_dispensasi_is_summed_up_as_exempting_from_every_stage(deps: Deps) -> None:
    """A dispensation stops reminders, warnings and letters of the program this period, not the reminders alone."""
    lines = (await console_person(deps, ADMIN).text("/bantuan")).splitlines()
    assert (
        "/dispensasi <unit> <program> <alasan> | cabut <unit> <program> — membebaskan unit dari pengingat, peringatan "
        "dan surat teguran suatu program periode ini"
    ) in lines


def test_command_menu_follows_the_same_rights(deps: Deps) -> None:
    approving = with_approvers(deps, "admin", "pimpinan").pemda
    assert dict(menu_for(Role.PIMPINAN, deps.pemda))["teguran"] == "register surat teguran: daftar dan PDF"
    assert dict(menu_for(Role.PIMPINAN, approving))["teguran"] == FULL_TEGURAN.split(" — ")[1]
    assert "teguran" not in dict(menu_for(Role.KEPALA, deps.pemda))
    # without a Pemda file the menu lists every command a role may use; with it, those nobody of the role can use there
    # are left out (the sample names no pimpinan as a verifier)
    without_file = [name for name, _ in menu_for(Role.PIMPINAN)]
    assert "verifikasi" in without_file
    with_file = [name for name, _ in menu_for(Role.PIMPINAN, approving)]
    assert [name for name in without_file if name != "verifikasi"] == with_file


VERIFIKASI = "/verifikasi — verifikator: bukti sah atau tolak"
KEPALA_INSPEKTORAT = "Putri Lestari"  # verifies MCP (the sample Pemda file: kepala of INSPEKTORAT)
OPERATOR_BAPPEDA = "Asep Pratama"  # verifies inovasi (operator of BAPPEDA)


def with_verifier(deps: Deps, program_key: str, role: str, unit: str = "") -> Deps:
    """The same deployment with one program's `verifier` set as the Pemda file would."""
    programs = [
        p.model_copy(update={"verifier": p.verifier.model_copy(update={"role": role, "unit": unit})})
        if p.key == program_key
        else p
        for p in deps.pemda.programs
    ]
    return dataclasses.replace(deps, pemda=deps.pemda.model_copy(update={"programs": programs}))


@pytest.mark.parametrize("name", [KEPALA_DINKES, OPERATOR_DINKES, PIMPINAN, CAMAT_SUKAMAKMUR])
async def test_who_verifies_nothing_is_not_shown_verifikasi(deps: Deps, name: str) -> None:
    text = await console_person(deps, name).text("/bantuan")
    assert "/verifikasi" not in text
    assert "khusus verifikator" not in text


async def test_a_kepala_or_operator_who_verifies_nothing_is_not_shown_the_dashboard(deps: Deps) -> None:
    for name in (KEPALA_DINKES, OPERATOR_DINKES):
        assert "/dasbor" not in await console_person(deps, name).text("/bantuan")
    for name in (PIMPINAN, CAMAT_SUKAMAKMUR, ADMIN):  # they may always sign in
        lines = (await console_person(deps, name).text("/bantuan")).splitlines()
        assert "/dasbor — tautan masuk dasbor web (sekali pakai, 10 menit)" in lines


@pytest.mark.parametrize("name", [KEPALA_INSPEKTORAT, OPERATOR_BAPPEDA, ADMIN])
async def test_verifiers_and_admins_see_verifikasi_and_the_dashboard(deps: Deps, name: str) -> None:
    lines = (await console_person(deps, name).text("/bantuan")).splitlines()
    assert VERIFIKASI in lines
    assert any(line.startswith("/dasbor — tautan masuk dasbor web") for line in lines)


async def test_a_pimpinan_named_as_verifier_sees_verifikasi_in_help_and_menu(deps: Deps) -> None:
    verifying = with_verifier(deps, "katalog", "pimpinan")
    assert VERIFIKASI in (await console_person(verifying, PIMPINAN).text("/bantuan")).splitlines()
    assert "verifikasi" in dict(menu_for(Role.PIMPINAN, verifying.pemda))


def test_the_menu_leaves_out_what_no_one_of_the_role_can_use(deps: Deps) -> None:
    # the sample names a kepala (Inspektorat) and an operator (Bappeda) as verifiers: a per-role menu keeps both
    # commands for those roles (/bantuan is exact per person)
    for role in (Role.KEPALA, Role.OPERATOR):
        assert {"verifikasi", "dasbor"} <= set(dict(menu_for(role, deps.pemda)))
    assert "verifikasi" not in dict(menu_for(Role.PIMPINAN, deps.pemda))
    assert "verifikasi" not in dict(menu_for(Role.CAMAT, deps.pemda))
    assert "dasbor" in dict(menu_for(Role.PIMPINAN, deps.pemda)) and "dasbor" in dict(menu_for(Role.CAMAT, deps.pemda))
    # a Pemda file whose verifiers are all admins: no kepala or operator can verify or sign in
    admins_only = deps
    for key in [p.key for p in deps.pemda.programs]:
        admins_only = with_verifier(admins_only, key, "admin")
    for role in (Role.KEPALA, Role.OPERATOR):
        assert not {"verifikasi", "dasbor"} & set(dict(menu_for(role, admins_only.pemda)))
    assert {"verifikasi", "dasbor"} <= set(dict(menu_for(Role.ADMIN, admins_only.pemda)))
