"""The dashboard in a real browser: headless Chromium (Debian's package) through Playwright, against the app served
by uvicorn on 127.0.0.1. A verifier signs in with a link from chat, reads the overview, opens a unit, declares one
piece of evidence valid and sees the queue shrink; the overview is photographed at 1366x768 (and at phone width).

With SIGAP_SCREENSHOT_DIR set to a folder, the overview's picture is also written there as dasbor.png (the README's
docs/dasbor.png is made so: `SIGAP_SCREENSHOT_DIR=docs pytest tests/bot/web/test_browser.py`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Response, expect

from models.app import Deps
from models.tables import LetterStatus
from tests.bot.web.conftest import LiveDashboard
from tests.bot.web.page_seed import DODI, EKO, approve, draft, evidence_status, letter_status, send_evidence
from tests.conftest import ADMIN, contact_named
from tests.seed_history import seed_sample_history

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def watch(page: Page) -> list[str]:
    """Console errors of `page` (a CSP violation shows here) and every answer of 400 or more but the favicon's
    (Chromium asks the server's root for one; the dashboard lives under /dasbor)."""
    errors: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if message.type == "error" and "the server responded with a status" not in message.text:
            errors.append(message.text)

    def answered(response: Response) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            errors.append(f"{response.status} {response.url}")

    page.on("console", seen)
    page.on("response", answered)
    return errors


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_a_verifier_signs_in_reads_and_declares_evidence_valid(
    deps: Deps, live_dashboard: LiveDashboard, browser: Browser, tmp_path: Path
) -> None:
    seed_sample_history(deps)
    first = await send_evidence(deps, tmp_path, EKO, "katalog 12")
    second = await send_evidence(deps, tmp_path, EKO, "p3dn 42,5", "p3dn.pdf")
    context = await browser.new_context(viewport=LAPTOP, locale="id-ID")
    page = await context.new_page()
    errors = watch(page)

    await page.goto(live_dashboard.link(contact_named(deps, DODI)))
    await page.get_by_role("button", name="Masuk").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Capaian Kabupaten Sukamakmur")
    await expect(page.locator("#program-katalog .figure")).to_contain_text("dari 500 produk")
    await page.wait_for_load_state("networkidle")
    charts = await page.locator("#program-inovasi img.chart").evaluate("img => img.complete && img.naturalWidth")
    assert charts == 1080
    shot = await page.screenshot()
    (tmp_path / "dasbor.png").write_bytes(shot)
    if folder := os.environ.get("SIGAP_SCREENSHOT_DIR"):
        (Path(folder) / "dasbor.png").write_bytes(shot)

    await page.get_by_role("link", name="Peringkat unit e-Katalog lokal").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Peringkat e-Katalog lokal — Kabupaten Sukamakmur")
    await page.get_by_role("link", name="Dinas Kesehatan", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Dinas Kesehatan")
    await expect(page.get_by_role("link", name="bukti.pdf")).to_be_visible()

    await page.get_by_role("link", name="Verifikasi").click()
    await expect(page.locator(".lead")).to_contain_text("Menunggu keputusan Bapak/Ibu: 2 bukti")
    await page.locator(f"#bukti-{first}").get_by_role("button", name="Sah").click()
    await expect(page.locator(".flash")).to_contain_text(f"Bukti #{first} dinyatakan sah: Dinas Kesehatan")
    await expect(page.locator(".lead")).to_contain_text("Menunggu keputusan Bapak/Ibu: 1 bukti")
    assert await page.locator(".queue-item").count() == 1
    assert evidence_status(deps, first) == "sah" and evidence_status(deps, second) == "menunggu"

    phone = await browser.new_context(viewport=PHONE, locale="id-ID", storage_state=await context.storage_state())
    small = await phone.new_page()
    errors += watch(small)
    await small.goto(live_dashboard.url + "/dasbor/")
    await expect(small.locator("#program-katalog .figure")).to_contain_text("dari 500 produk")
    await small.wait_for_load_state("networkidle")
    width = await small.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the overview scrolls sideways on a phone"
    (tmp_path / "dasbor-ponsel.png").write_bytes(await small.screenshot(full_page=True))
    await phone.close()
    await context.close()
    assert errors == []


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_an_admin_records_a_letter_handed_over_from_the_register(
    deps: Deps, live_dashboard: LiveDashboard, browser: Browser, tmp_path: Path
) -> None:
    letter = draft(deps, "DINKES")
    approve(deps, letter)
    context = await browser.new_context(viewport=LAPTOP, locale="id-ID")
    page = await context.new_page()
    errors = watch(page)
    await page.goto(live_dashboard.link(contact_named(deps, ADMIN)))
    await page.get_by_role("button", name="Masuk").click()
    await page.goto(live_dashboard.url + "/dasbor/surat")
    button = page.get_by_role("button", name=f"Catat surat {letter} sudah diantar langsung hari ini")
    await expect(button).to_be_visible()
    (tmp_path / "surat.png").write_bytes(await page.screenshot(full_page=True))
    if folder := os.environ.get("SIGAP_SCREENSHOT_DIR"):
        (Path(folder) / "surat.png").write_bytes(await page.screenshot(full_page=True))
    await button.click()
    await expect(page.locator(".flash")).to_contain_text("untuk Dinas Kesehatan: sudah diterima.")
    await expect(page.locator("table.letters")).to_contain_text("diantar langsung")
    await expect(button).to_have_count(0)
    assert letter_status(deps, letter) == LetterStatus.RECEIVED.value
    await context.close()
    assert errors == []
