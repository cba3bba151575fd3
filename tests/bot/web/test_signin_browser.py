"""Signing in as a person does, in a real browser: the link from chat, the "Masuk" button, the page, "Keluar"."""

from __future__ import annotations

from playwright.async_api import Browser

from bot.http import HttpServer
from models.app import Deps
from tests.bot.web.conftest import dashboard_app, link_path
from tests.bot.web.test_auth import PROBES
from tests.conftest import CAMAT_SUKAMAKMUR, contact_named


async def test_sign_in_and_out_in_chromium(sdeps: Deps, browser: Browser) -> None:
    deps = sdeps  # the rules are tested on both databases with TestClient; the browser once
    server = HttpServer(dashboard_app(deps, "http://127.0.0.1", extra=PROBES), "127.0.0.1", 0, grace=1)
    await server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        camat = contact_named(deps, CAMAT_SUKAMAKMUR)
        page = await browser.new_page(viewport={"width": 1366, "height": 768})
        link = base + link_path(deps, camat)
        await page.goto(link)
        assert "Masuk ke Dasbor Sigap" in await page.inner_text("main")
        await page.click("button[type=submit]")
        await page.wait_for_url(base + "/dasbor/")  # the overview's address (engineer A2's page)
        cookies = {c["name"]: c for c in await page.context.cookies()}
        assert cookies["sigap_sesi"]["httpOnly"] and cookies["sigap_sesi"]["sameSite"] == "Lax"
        await page.goto(base + "/dasbor/uji/unit/KEL-SUKAMA1")
        assert "Kelurahan Sukamakmur" in await page.inner_text("main")
        assert CAMAT_SUKAMAKMUR in await page.inner_text("header")
        await page.goto(base + "/dasbor/uji/unit/KEC-CIBEUREU")
        assert "Halaman tidak ditemukan" in await page.inner_text("main")
        await page.goto(base + "/dasbor/uji")
        await page.click("form.logout button")
        await page.wait_for_url(base + "/dasbor/keluar")
        assert "sudah keluar" in await page.inner_text("main")
        await page.goto(base + "/dasbor/uji")
        assert "Silakan masuk lewat chat" in await page.inner_text("main")
        await page.goto(link)  # the link again: used up
        assert "Tautan sudah dipakai" in await page.inner_text("main")
        await page.close()
    finally:
        await server.stop()
