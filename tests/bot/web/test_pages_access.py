"""Who may open what on the dashboard's pages: the chat's roles and scopes, rule by rule.

A unit outside a person's reach is a 404 like a unit that does not exist (its files too); a page outside the role
is a 403; a verdict or an approval by the wrong person changes nothing.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from models.app import Deps
from models.tables import AuditLog, LetterStatus, Unit
from tests.bot.web.conftest import PUBLIC_URL, csrf_of, signed_in
from tests.bot.web.page_seed import (
    CAMAT_CIBEUREUM,
    DODI,
    EKO,
    INDAH,
    PUTRI,
    approve,
    draft,
    evidence_status,
    letter_status,
    send_evidence,
)
from tests.conftest import ADMIN, CAMAT_SUKAMAKMUR, PIMPINAN, contact_named

NOT_FOUND = "Halaman tidak ditemukan"


@pytest.fixture
def people(web_app: Starlette, deps: Deps) -> Iterator[dict[str, TestClient]]:
    """A signed-in browser per person, made on first use."""
    made: dict[str, TestClient] = {}

    class Browsers(dict[str, TestClient]):
        def __missing__(self, name: str) -> TestClient:
            client = TestClient(web_app, base_url=PUBLIC_URL, follow_redirects=False)
            made[name] = signed_in(client, contact_named(deps, name))
            self[name] = made[name]
            return made[name]

    yield Browsers()
    for client in made.values():
        client.close()


def test_a_camat_opens_the_kecamatan_and_its_kelurahan_and_nothing_else(people: dict[str, TestClient]) -> None:
    camat = people[CAMAT_SUKAMAKMUR]
    assert camat.get("/dasbor/unit/KEC-SUKAMAKM").status_code == 200
    own_kelurahan = camat.get("/dasbor/unit/KEL-SUKAMA1")
    assert own_kelurahan.status_code == 200 and "Kelurahan Sukamakmur" in own_kelurahan.text
    for elsewhere in ("KEL-CIBEUR1", "KEC-CIBEUREU", "DINKES", "TIDAK-ADA"):
        page = camat.get(f"/dasbor/unit/{elsewhere}")
        assert page.status_code == 404 and NOT_FOUND in page.text
        assert "Cibeureum" not in page.text and "Kesehatan" not in page.text


def test_a_kepala_who_verifies_sees_only_the_own_unit(people: dict[str, TestClient]) -> None:
    putri = people[PUTRI]  # kepala of the Inspektorat, signs in as MCP's verifier
    assert putri.get("/dasbor/unit/INSPEKTORAT").status_code == 200
    assert putri.get("/dasbor/unit/DINKES").status_code == 404
    overview = putri.get("/dasbor/")
    assert "Capaian Inspektorat Daerah" in overview.text and "dari 1 unit" in overview.text
    table = putri.get("/dasbor/program/katalog").text
    assert "/dasbor/unit/INSPEKTORAT" in table and "/dasbor/unit/DINKES" not in table
    for closed in ("/dasbor/surat", "/dasbor/ekspor.xlsx"):
        assert putri.get(closed).status_code == 403


async def test_verdicts_are_refused_to_those_who_do_not_verify_the_item(
    deps: Deps, people: dict[str, TestClient], tmp_path: Path
) -> None:
    katalog = await send_evidence(deps, tmp_path, EKO, "katalog 12")  # verified by Bagian Pengadaan (Dodi)
    for name in (CAMAT_SUKAMAKMUR, PIMPINAN):
        browser = people[name]
        assert browser.get("/dasbor/verifikasi").status_code == 403
        answer = browser.post(f"/dasbor/verifikasi/{katalog}", data={"csrf": csrf_of(browser), "keputusan": "sah"})
        assert answer.status_code == 403
    admin = people[ADMIN]  # an admin stands in only where nobody is named; katalog has its verifier
    assert f"Bukti #{katalog}" not in admin.get("/dasbor/verifikasi").text
    answer = admin.post(f"/dasbor/verifikasi/{katalog}", data={"csrf": csrf_of(admin), "keputusan": "sah"})
    assert answer.status_code == 403 and "bukan Bapak/Ibu" in answer.text
    no_token = people[DODI].post(f"/dasbor/verifikasi/{katalog}", data={"keputusan": "sah"})
    assert no_token.status_code == 403
    assert evidence_status(deps, katalog) == "menunggu"


async def test_files_of_units_out_of_reach_are_not_found(
    deps: Deps, people: dict[str, TestClient], tmp_path: Path
) -> None:
    mcp = await send_evidence(deps, tmp_path, INDAH, "mcp 2.1")  # Bagian Pengadaan; verified by the Inspektorat
    katalog = await send_evidence(deps, tmp_path, EKO, "katalog 12", "katalog.pdf")
    dinkes_letter = draft(deps, "DINKES")
    approve(deps, dinkes_letter)
    camat = people[CAMAT_SUKAMAKMUR]
    for path in (f"/dasbor/bukti/{mcp}", f"/dasbor/bukti/{katalog}", f"/dasbor/surat/{dinkes_letter}.pdf"):
        assert camat.get(path).status_code == 404
    putri = people[PUTRI]
    mine = putri.get(f"/dasbor/bukti/{mcp}")  # not her unit, but hers to verify
    assert mine.status_code == 200 and mine.content.startswith(b"%PDF")
    assert putri.get(f"/dasbor/bukti/{katalog}").status_code == 404
    assert putri.get(f"/dasbor/surat/{dinkes_letter}.docx").status_code == 404
    admin = people[ADMIN]
    pdf = admin.get(f"/dasbor/surat/{dinkes_letter}.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert admin.get(f"/dasbor/surat/{dinkes_letter}.docx").content.startswith(b"PK")


def test_the_export_is_for_leaders_and_holds_every_unit(deps: Deps, people: dict[str, TestClient]) -> None:
    assert people[CAMAT_SUKAMAKMUR].get("/dasbor/ekspor.xlsx").status_code == 403
    answer = people[PIMPINAN].get("/dasbor/ekspor.xlsx")
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    book = load_workbook(io.BytesIO(answer.content), read_only=True)
    codes = {row[0] for row in book["e-Katalog lokal"].iter_rows(min_row=2, values_only=True)}
    with deps.db.uow() as uow:
        owing = {u.code for u in uow.session.exec(select(Unit)).all() if u.kind not in ("kelurahan", "desa")}
    assert codes == owing
    with deps.db.uow() as uow:
        logged = uow.session.exec(select(AuditLog).where(AuditLog.action == "status.export")).one()
    assert logged.channel == "web" and logged.actor_id == contact_named(deps, PIMPINAN).id


def test_the_letter_register_shows_a_camat_only_the_kecamatan_and_no_drafts(
    deps: Deps, people: dict[str, TestClient]
) -> None:
    own, other, drafted = draft(deps, "KEC-SUKAMAKM"), draft(deps, "KEC-CIBEUREU"), draft(deps, "DINKES")
    approve(deps, own)
    approve(deps, other)
    camat = people[CAMAT_SUKAMAKMUR]
    register = camat.get("/dasbor/surat").text
    assert "Kecamatan Sukamakmur" in register and "Kecamatan Cibeureum" not in register
    assert "Dinas Kesehatan" not in register and "Setujui" not in register
    assert camat.get(f"/dasbor/surat/{other}.pdf").status_code == 404
    assert people[CAMAT_CIBEUREUM].get(f"/dasbor/surat/{other}.pdf").status_code == 200
    refused = camat.post(f"/dasbor/surat/{drafted}/setujui", data={"csrf": csrf_of(camat)})
    assert refused.status_code == 403
    assert letter_status(deps, drafted) == LetterStatus.DRAFT.value
    assert (
        people[PIMPINAN].post(f"/dasbor/surat/{drafted}/setujui", data={"csrf": csrf_of(people[PIMPINAN])}).status_code
        == 403
    )


def test_an_admin_approves_and_cancels_drafts_as_in_chat(deps: Deps, people: dict[str, TestClient]) -> None:
    letter, other = draft(deps, "DINKES"), draft(deps, "DISDIK")
    admin = people[ADMIN]
    register = admin.get("/dasbor/surat?status=draft").text
    assert f"rancangan #{letter}" in register and f'action="/dasbor/surat/{letter}/setujui"' in register
    done = admin.post(f"/dasbor/surat/{letter}/setujui", data={"csrf": csrf_of(admin)})
    assert done.status_code == 303 and done.headers["location"] == f"/dasbor/surat?surat={letter}"
    assert letter_status(deps, letter) == LetterStatus.SENT.value  # Dinas Kesehatan is reachable on WhatsApp
    shown = admin.get(done.headers["location"]).text
    assert "Surat Teguran I 000.8.3.3/1/ORG/2026 untuk Dinas Kesehatan: terkirim, menunggu tanda terima." in shown
    cancelled = admin.post(f"/dasbor/surat/{other}/batal", data={"csrf": csrf_of(admin), "alasan": "data sudah masuk"})
    assert cancelled.status_code == 303 and letter_status(deps, other) == LetterStatus.CANCELLED.value
    too_late = admin.post(f"/dasbor/surat/{letter}/batal", data={"csrf": csrf_of(admin)})
    assert too_late.status_code == 409 and "sudah dikirim ke unitnya, jadi tidak dapat dibatalkan lagi" in too_late.text
    assert letter_status(deps, letter) == LetterStatus.SENT.value
    with deps.db.uow() as uow:
        rows = uow.session.exec(select(AuditLog.action, AuditLog.channel, AuditLog.target)).all()
    assert {("letter.approved", "web", str(letter)), ("letter.cancelled", "web", str(other))} <= set(rows)
    assert ("letter.cancelled", "web", str(letter)) not in rows
    with deps.db.uow() as uow:  # each names its letter's unit, so /jejak <unit> finds it
        units = dict(uow.session.exec(select(AuditLog.action, AuditLog.detail).where(AuditLog.channel == "web")).all())
    assert '"unit": "DINKES"' in units["letter.approved"] and '"unit": "DISDIK"' in units["letter.cancelled"]


def test_an_admin_records_a_hand_delivery_from_the_register_as_in_chat(
    deps: Deps, people: dict[str, TestClient]
) -> None:
    letter, drafted = draft(deps, "DINKES"), draft(deps, "DISDIK")
    approve(deps, letter)
    admin = people[ADMIN]
    register = admin.get("/dasbor/surat").text
    assert f'action="/dasbor/surat/{letter}/diantar"' in register  # approved and owed: it may be handed over
    assert f'action="/dasbor/surat/{drafted}/diantar"' not in register  # a draft has no number yet
    not_yet = admin.post(f"/dasbor/surat/{drafted}/diantar", data={"csrf": csrf_of(admin)})
    assert not_yet.status_code == 409 and "belum disetujui, jadi belum bernomor" in not_yet.text
    assert letter_status(deps, drafted) == LetterStatus.DRAFT.value

    refused = people[CAMAT_SUKAMAKMUR].post(
        f"/dasbor/surat/{letter}/diantar", data={"csrf": csrf_of(people[CAMAT_SUKAMAKMUR])}
    )
    assert refused.status_code == 403 and letter_status(deps, letter) == LetterStatus.SENT.value
    done = admin.post(f"/dasbor/surat/{letter}/diantar", data={"csrf": csrf_of(admin)})
    assert done.status_code == 303 and done.headers["location"] == f"/dasbor/surat?surat={letter}"
    assert letter_status(deps, letter) == LetterStatus.RECEIVED.value
    shown = admin.get(done.headers["location"]).text
    assert "untuk Dinas Kesehatan: sudah diterima." in shown and "diantar langsung" in shown
    assert f'action="/dasbor/surat/{letter}/diantar"' not in shown  # received: nothing more to record
    again = admin.post(f"/dasbor/surat/{letter}/diantar", data={"csrf": csrf_of(admin)})
    assert again.status_code == 303  # a repeat changes nothing
    with deps.db.uow() as uow:
        rows = uow.session.exec(
            select(AuditLog.channel, AuditLog.detail).where(AuditLog.action == "letter.hand_delivered")
        ).all()
    assert len(rows) == 1 and rows[0][0] == "web" and '"unit": "DINKES"' in rows[0][1]
