"""Signing in to the dashboard from chat: one-time links, sessions and their end, cookies, CSRF, headers, the limit."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import col, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.logs import SecretFilter
from bot.web.auth import require, viewer_of
from bot.web.render import render
from models.app import Deps
from models.clock import FakeClock
from models.state_tables import WebLink, WebSession
from models.tables import AuditLog, Contact, Role, Unit
from tests.bot.web.conftest import PUBLIC_URL, csrf_of, dashboard_app, link_path, signed_in
from tests.conftest import ADMIN, CAMAT_SUKAMAKMUR, KEPALA_DINKES, PIMPINAN, console_person, contact_named

LINK = re.compile(r"https?://\S+/dasbor/masuk/(\S+)")
FORM = re.compile(r'name="csrf" value="([^"]+)"')


def _whoami(request: Request) -> Response:
    viewer = viewer_of(request)
    return render(request, "pesan.html", heading="Uji", lines=[f"{viewer.name} ({viewer.role.value})"])


def _leaders_only(request: Request) -> Response:
    require(request, Role.ADMIN, Role.PIMPINAN)
    return render(request, "pesan.html", heading="Pimpinan", lines=["boleh"])


def _unit(request: Request) -> Response:
    """What a page of one unit does (engineer A2's pages): a unit out of the viewer's reach is a 404."""
    viewer = viewer_of(request)
    deps = request.app.state.deps
    with deps.db.uow() as uow:
        unit = uow.session.exec(select(Unit).where(Unit.code == request.path_params["code"])).first()
        if unit is None or not viewer.sees(uow.session, unit):
            raise HTTPException(404)
    return render(request, "pesan.html", heading=unit.name, lines=[unit.code])


PROBES = [Route("/uji", _whoami), Route("/uji/pimpinan", _leaders_only), Route("/uji/unit/{code}", _unit)]


@pytest.fixture
def client(deps: Deps) -> Iterator[TestClient]:
    """The dashboard with three probe pages standing in for the real ones (who am I, leaders only, a unit)."""
    with TestClient(dashboard_app(deps, extra=PROBES), base_url=PUBLIC_URL, follow_redirects=False) as test_client:
        yield test_client


def _fresh(client: TestClient) -> TestClient:
    """Another browser (no cookies) on the same app."""
    return TestClient(client.app, base_url=str(client.base_url), follow_redirects=False)


def _sessions(deps: Deps) -> list[WebSession]:
    with deps.db.uow() as uow:
        return list(uow.session.exec(select(WebSession)).all())


def _audit(deps: Deps) -> list[AuditLog]:
    with deps.db.uow() as uow:
        return list(uow.session.exec(select(AuditLog).where(col(AuditLog.action).like("dasbor%"))).all())


def test_a_link_signs_in_once_and_a_reused_one_gets_a_clear_page(deps: Deps, client: TestClient) -> None:
    admin = contact_named(deps, ADMIN)
    path = link_path(deps, admin)
    page = client.get(path)
    assert page.status_code == 200
    assert "Masuk ke Dasbor Sigap" in page.text and ADMIN in page.text and "hanya berlaku sekali" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    done = client.post(path, data={"csrf": FORM.findall(page.text)[0]})
    assert done.status_code == 303 and done.headers["location"] == "/dasbor/"
    assert client.get("/dasbor/uji").text.count(f"{ADMIN} (admin)") == 1

    again = _fresh(client)
    reused = again.get(path)
    assert reused.status_code == 410
    assert "Tautan sudah dipakai" in reused.text and "ketik /dasbor" in reused.text.lower()
    assert 'name="csrf"' not in reused.text and "sigap_sesi" not in reused.headers.get("set-cookie", "")
    assert again.get("/dasbor/uji").status_code == 401
    assert len(_sessions(deps)) == 1


def test_a_second_press_of_the_button_opens_no_second_session(deps: Deps, client: TestClient) -> None:
    path = link_path(deps, contact_named(deps, ADMIN))
    token = FORM.findall(client.get(path).text)[0]
    assert client.post(path, data={"csrf": token}).status_code == 303
    second = client.post(path, data={"csrf": token})
    assert second.status_code == 410 and "sudah dipakai" in second.text
    assert "sigap_sesi" not in second.headers.get("set-cookie", "")
    assert len(_sessions(deps)) == 1


def test_an_expired_link_gets_a_clear_page_and_no_session(deps: Deps, client: TestClient) -> None:
    clock = deps.clock
    assert isinstance(clock, FakeClock)
    path = link_path(deps, contact_named(deps, ADMIN))
    token = FORM.findall(client.get(path).text)[0]  # opened in time, the button pressed too late
    clock.advance(timedelta(minutes=10))
    late = client.post(path, data={"csrf": token})
    assert late.status_code == 410
    assert "Tautan sudah kedaluwarsa" in late.text and "10 menit" in late.text
    assert "sigap_sesi" not in late.headers.get("set-cookie", "")
    assert client.get(path).status_code == 410
    assert _sessions(deps) == []


def test_a_made_up_link_is_unknown(client: TestClient) -> None:
    page = client.get("/dasbor/masuk/" + "A" * 43)
    assert page.status_code == 400 and "Tautan tidak dikenal" in page.text


def test_the_session_cookie_is_httponly_lax_on_the_dashboard_path_for_eight_hours(
    deps: Deps, client: TestClient
) -> None:
    path = link_path(deps, contact_named(deps, ADMIN))
    done = client.post(path, data={"csrf": FORM.findall(client.get(path).text)[0]})
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("sigap_sesi="))
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=lax", "path=/dasbor", "max-age=28800"} <= flags
    assert "secure" not in flags  # served over plain http here
    token = cookie.split(";")[0].split("=", 1)[1]
    with deps.db.uow() as uow:
        stored = uow.session.exec(select(WebSession)).one()
        assert token not in (stored.token_hash, stored.csrf_token) and len(stored.token_hash) == 64


def test_behind_https_the_cookie_is_secure(deps: Deps) -> None:
    url = "https://sigap.example.go.id"
    with TestClient(dashboard_app(deps, url), base_url=url, follow_redirects=False) as client:
        path = link_path(deps, contact_named(deps, ADMIN))
        done = client.post(path, data={"csrf": FORM.findall(client.get(path).text)[0]})
        cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("sigap_sesi="))
        assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_logout_ends_the_session_for_good(deps: Deps, client: TestClient) -> None:
    signed_in(client, contact_named(deps, ADMIN))
    cookie = client.cookies["sigap_sesi"]
    out = client.post("/dasbor/keluar", data={"csrf": csrf_of(client)})
    assert out.status_code == 303 and out.headers["location"] == "/dasbor/keluar"
    assert "sudah keluar" in client.get("/dasbor/keluar").text
    assert client.get("/dasbor/uji").status_code == 401
    page = _fresh(client).get("/dasbor/uji", headers={"cookie": f"sigap_sesi={cookie}"})
    assert page.status_code == 401 and "Sesi sudah berakhir" in page.text
    actions = [row.action for row in _audit(deps)]
    assert actions == ["dasbor_masuk", "dasbor_keluar"]
    assert {row.channel for row in _audit(deps)} == {"web"}


def test_a_session_ends_after_eight_hours(deps: Deps, client: TestClient) -> None:
    clock = deps.clock
    assert isinstance(clock, FakeClock)
    signed_in(client, contact_named(deps, ADMIN))
    clock.advance(timedelta(hours=7, minutes=59))
    assert client.get("/dasbor/uji").status_code == 200
    clock.advance(timedelta(minutes=1))
    page = client.get("/dasbor/uji")
    assert page.status_code == 401 and "8 jam" in page.text and "/dasbor" in page.text


def test_deactivating_the_contact_ends_the_session(deps: Deps, client: TestClient) -> None:
    camat = contact_named(deps, CAMAT_SUKAMAKMUR)
    signed_in(client, camat)
    assert client.get("/dasbor/uji").status_code == 200
    _update_contact(deps, camat.id, active=False)
    page = client.get("/dasbor/uji")
    assert page.status_code == 401 and "Akun tidak aktif" in page.text
    _update_contact(deps, camat.id, active=True)
    assert client.get("/dasbor/uji").status_code == 401  # ended, not paused
    assert "dasbor_sesi_diakhiri" in [row.action for row in _audit(deps)]


def test_a_changed_role_ends_the_session(deps: Deps, client: TestClient) -> None:
    pimpinan = contact_named(deps, PIMPINAN)
    signed_in(client, pimpinan)
    assert client.get("/dasbor/uji/pimpinan").status_code == 200
    _update_contact(deps, pimpinan.id, role=Role.KEPALA.value)
    page = client.get("/dasbor/uji/pimpinan")
    assert page.status_code == 401 and "Peran Bapak/Ibu berubah" in page.text and "/dasbor" in page.text


def test_a_moved_contact_ends_the_session(deps: Deps, client: TestClient) -> None:
    camat = contact_named(deps, CAMAT_SUKAMAKMUR)
    signed_in(client, camat)
    with deps.db.uow() as uow:
        other = uow.session.exec(select(Unit).where(Unit.code == "KEC-CIBEUREU")).one()
    _update_contact(deps, camat.id, unit_id=other.id)
    assert client.get("/dasbor/uji").status_code == 401


def test_a_form_without_or_with_a_wrong_csrf_token_is_refused(deps: Deps, client: TestClient) -> None:
    signed_in(client, contact_named(deps, ADMIN))
    missing = client.post("/dasbor/keluar", data={})
    assert missing.status_code == 403 and "Formulir ini sudah tidak berlaku" in missing.text
    wrong = client.post("/dasbor/keluar", data={"csrf": "x" * 43})
    assert wrong.status_code == 403
    foreign = client.post("/dasbor/keluar", data={"csrf": csrf_of(client)}, headers={"origin": "https://evil.test"})
    assert foreign.status_code == 403
    assert client.get("/dasbor/uji").status_code == 200  # still signed in: nothing was done


def test_the_sign_in_button_only_works_from_the_page_it_came_with(deps: Deps, client: TestClient) -> None:
    path = link_path(deps, contact_named(deps, ADMIN))
    forged = client.post(path, data={"csrf": "made-up"})  # another site posting someone's link
    assert forged.status_code == 403 and "Tombol Masuk sudah tidak berlaku" in forged.text
    assert "sigap_sesi" not in forged.headers.get("set-cookie", "")
    signed_in_after = client.post(path, data={"csrf": FORM.findall(client.get(path).text)[0]})
    assert signed_in_after.status_code == 303  # the link was not used up


def test_every_dashboard_response_carries_the_security_headers(deps: Deps, client: TestClient) -> None:
    signed_in(client, contact_named(deps, ADMIN))
    pages = {
        "page": client.get("/dasbor/uji"),
        "not found": client.get("/dasbor/tidak-ada"),
        "link page": client.get("/dasbor/masuk/unknown"),
        "signed out": _fresh(client).get("/dasbor/uji"),
        "stylesheet": client.get("/dasbor/static/sigap.css"),
    }
    for name, response in pages.items():
        headers = response.headers
        assert headers["content-security-policy"].startswith("default-src 'self'"), name
        assert "script-src 'self'" in headers["content-security-policy"], name
        assert "frame-ancestors 'none'" in headers["content-security-policy"], name
        assert headers["x-frame-options"] == "DENY", name
        assert headers["referrer-policy"] == "no-referrer", name
        assert headers["x-content-type-options"] == "nosniff", name
    for name in ("page", "not found", "link page", "signed out"):
        assert pages[name].headers["cache-control"] == "no-store", name
    assert pages["stylesheet"].status_code == 200 and "no-store" not in pages["stylesheet"].headers.get(
        "cache-control", ""
    )
    assert pages["not found"].status_code == 404 and "Halaman tidak ditemukan" in pages["not found"].text
    for response in pages.values():
        assert "<script>" not in response.text and 'style="' not in response.text


def test_the_page_shows_the_person_and_only_what_the_role_may_open(deps: Deps, client: TestClient) -> None:
    signed_in(client, contact_named(deps, CAMAT_SUKAMAKMUR))
    page = client.get("/dasbor/uji").text
    assert CAMAT_SUKAMAKMUR in page and "Camat" in page and 'action="/dasbor/keluar"' in page
    assert 'href="/dasbor/unit/KEC-SUKAMAKM"' in page and 'href="/dasbor/surat"' in page
    assert "/dasbor/ekspor.xlsx" not in page and "/dasbor/verifikasi" not in page
    assert client.get("/dasbor/uji/pimpinan").status_code == 403


def test_redemption_is_limited_per_address(deps: Deps, client: TestClient) -> None:
    clock = deps.clock
    assert isinstance(clock, FakeClock)
    for _ in range(10):
        assert client.get("/dasbor/masuk/" + "B" * 43).status_code == 400
    limited = client.get(link_path(deps, contact_named(deps, ADMIN)))
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert "Terlalu banyak percobaan" in limited.text
    clock.advance(61)
    assert client.get("/dasbor/masuk/" + "B" * 43).status_code == 400


async def test_dasbor_is_not_for_a_kepala_who_verifies_nothing(deps: Deps, client: TestClient) -> None:
    text = await console_person(deps, KEPALA_DINKES).text("/dasbor")
    assert "dasbor web disediakan untuk admin, pimpinan, camat, dan verifikator" in text
    assert "/dasbor/masuk/" not in text
    with deps.db.uow() as uow:
        assert uow.session.exec(select(WebLink)).all() == []


async def test_a_verifier_kepala_gets_a_link(deps: Deps, client: TestClient) -> None:
    text = await console_person(deps, "Putri Lestari").text("/dasbor")  # Kepala Inspektorat: verifies MCP
    token = LINK.findall(text)[0]
    assert "10 menit" in text and "sekali" in text
    signed = client.post(
        f"/dasbor/masuk/{token}", data={"csrf": FORM.findall(client.get(f"/dasbor/masuk/{token}").text)[0]}
    )
    assert signed.status_code == 303
    assert 'href="/dasbor/verifikasi"' in client.get("/dasbor/uji").text


async def test_a_camat_link_opens_a_session_that_sees_only_the_kecamatan(deps: Deps, client: TestClient) -> None:
    text = await console_person(deps, CAMAT_SUKAMAKMUR).text("/dasbor")
    assert text.count(PUBLIC_URL + "/dasbor/masuk/") == 1
    token = LINK.findall(text)[0]
    with deps.db.uow() as uow:
        stored = uow.session.exec(select(WebLink)).one()
        assert stored.token_hash != token and len(token) >= 43
        assert stored.expires_at - stored.created_at == timedelta(minutes=10)
    path = f"/dasbor/masuk/{token}"
    client.post(path, data={"csrf": FORM.findall(client.get(path).text)[0]})
    assert client.get("/dasbor/uji/unit/KEC-SUKAMAKM").status_code == 200
    assert client.get("/dasbor/uji/unit/KEL-SUKAMA1").status_code == 200  # a kelurahan of the kecamatan
    other = client.get("/dasbor/uji/unit/KEC-CIBEUREU")
    assert other.status_code == 404 and "Halaman tidak ditemukan" in other.text
    assert client.get("/dasbor/uji/unit/KEL-CIBEUR1").status_code == 404
    assert client.get("/dasbor/uji/unit/DINKES").status_code == 404


async def test_without_a_public_url_the_admin_is_told_which_setting_to_fill(deps: Deps) -> None:
    deps.public_url = ""
    admin = await console_person(deps, ADMIN).text("/dasbor")
    assert "SIGAP_PUBLIC_URL" in admin and "/dasbor/masuk/" not in admin
    camat = await console_person(deps, CAMAT_SUKAMAKMUR).text("/dasbor")
    assert "hubungi admin" in camat and "SIGAP_PUBLIC_URL" not in camat


async def test_no_token_or_phone_number_reaches_the_logs_or_the_audit(
    deps: Deps, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    camat = contact_named(deps, CAMAT_SUKAMAKMUR)
    text = await console_person(deps, CAMAT_SUKAMAKMUR).text("/dasbor")
    token = LINK.findall(text)[0]
    path = f"/dasbor/masuk/{token}"
    client.post(path, data={"csrf": FORM.findall(client.get(path).text)[0]})
    session_token = client.cookies["sigap_sesi"]
    client.post("/dasbor/keluar", data={"csrf": csrf_of(client)})
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))  # not the test's
    assert token not in logged and session_token not in logged
    assert camat.wa_number and camat.wa_number not in logged and "0812" not in logged
    rows = _audit(deps)
    assert [r.action for r in rows] == ["dasbor_tautan", "dasbor_masuk", "dasbor_keluar"]
    assert all(token not in r.detail + r.target and session_token not in r.detail + r.target for r in rows)
    assert all(r.actor_id == camat.id for r in rows)


def _update_contact(deps: Deps, contact_id: int | None, **values: object) -> None:
    with deps.db.uow() as uow:
        contact = uow.session.get(Contact, contact_id)
        assert contact is not None
        for name, value in values.items():
            setattr(contact, name, value)
        uow.session.add(contact)
        uow.commit()


def test_a_sign_in_link_in_a_log_line_is_masked() -> None:
    line = 'GET /dasbor/masuk/iHboIwMGf0SsBuiquBvX3sdD408BdOLG68_Fj5lGydM HTTP/1.1" 200'
    assert SecretFilter([]).clean(line) == 'GET /dasbor/masuk/*** HTTP/1.1" 200'
