"""`sigap doctor` against the fake Bot API and the fake Graph API: the token, the webhook, the WhatsApp number and
every template of the Pemda file, each failing and then passing once fixed."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.doctor_channels import check_telegram, check_whatsapp
from bot.doctor_findings import Finding, Status
from bot.settings import EXAMPLE_PEMDA, Settings
from models.pemda import load_pemda
from tests.fakes.graph_api import WABA_ID, FakeGraphApi
from tests.fakes.telegram_api import FakeBotApi

TOKEN = "777001:AAE-doctor-Token"
WEBHOOK = "https://sigap.example.go.id/telegram"
PEMDA = load_pemda(EXAMPLE_PEMDA)
TEMPLATES = ("sigap_pengingat", "sigap_peringatan", "sigap_surat_teguran", "sigap_minta_data", "sigap_pengumuman")


def telegram(api: FakeBotApi, **values: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=api.base_url, **values
    )


def whatsapp(graph: FakeGraphApi, **values: Any) -> Settings:
    base = {
        "WHATSAPP_ACCESS_TOKEN": "tok",
        "WHATSAPP_PHONE_NUMBER_ID": "1055",
        "WHATSAPP_API_BASE_URL": graph.base_url,
        "WHATSAPP_DISPLAY_NUMBER": "+6281100000000",
    }
    return Settings(_env_file=None, **(base | values))  # type: ignore[call-arg]


async def test_a_rejected_telegram_token_fails_and_the_right_one_passes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeBotApi(token=TOKEN) as api:
        wrong = await check_telegram(
            Settings(_env_file=None, TELEGRAM_BOT_TOKEN="777001:SALAH", TELEGRAM_API_BASE_URL=api.base_url)  # type: ignore[call-arg]
        )
        assert [f.status for f in wrong] == [Status.FAIL]
        assert "ditolak Telegram" in wrong[0].message and "@BotFather" in wrong[0].fix
        right = await check_telegram(telegram(api))
    assert right == [Finding("Telegram", Status.OK, "bot @sigap_test_bot (Sigap Test) terhubung dengan token ini.")]
    assert "777001:SALAH" not in caplog.text and TOKEN not in caplog.text


async def test_telegram_out_of_reach_fails_with_what_to_check() -> None:
    async with FakeBotApi(token=TOKEN) as api:
        base = api.base_url
    found = await check_telegram(Settings(_env_file=None, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=base))  # type: ignore[call-arg]
    assert [f.status for f in found] == [Status.FAIL]
    assert found[0].message.startswith("Telegram tidak dapat dihubungi") and TOKEN not in found[0].message
    assert "api.telegram.org" in found[0].fix


async def test_the_webhook_must_be_registered_to_the_configured_url() -> None:
    async with FakeBotApi(token=TOKEN) as api:
        configured = telegram(api, TELEGRAM_WEBHOOK_URL=WEBHOOK, TELEGRAM_WEBHOOK_SECRET="rahasia_1")
        unregistered = (await check_telegram(configured))[1]
        assert (unregistered.status, unregistered.message) == (Status.WARN, "belum terdaftar di Telegram.")
        api.webhook_url = "https://server-lama.example.go.id/telegram"
        elsewhere = (await check_telegram(configured))[1]
        assert elsewhere.status is Status.FAIL and "terdaftar ke alamat lain (https://server-lama" in elsewhere.message
        api.webhook_url = WEBHOOK
        api.webhook_last_error = "SSL error {error:0A000086:SSL routines::certificate verify failed}"
        broken = (await check_telegram(configured))[1]
        assert broken.status is Status.FAIL and "certificate verify failed" in broken.message
        assert "reverse proxy HTTPS" in broken.fix
        api.webhook_last_error = ""
        good = (await check_telegram(configured))[1]
        assert good == Finding("Webhook Telegram", Status.OK, f"terdaftar ke {WEBHOOK}; 0 pesan menunggu.")
        polling = await check_telegram(telegram(api))
        assert polling[1].status is Status.WARN and "mode long polling" in polling[1].message
        api.webhook_url = ""
        assert len(await check_telegram(telegram(api))) == 1  # long polling, nothing registered: nothing to say


async def test_the_whatsapp_number_id_and_token_are_checked() -> None:
    async with FakeGraphApi(token="tok", phone_number_id="1055") as graph:
        for name in TEMPLATES:
            graph.add_template(name)
        bad_token = await check_whatsapp(whatsapp(graph, WHATSAPP_ACCESS_TOKEN="lama"), PEMDA)
        assert [f.status for f in bad_token] == [Status.FAIL]  # the templates are not asked with a rejected token
        assert "WHATSAPP_ACCESS_TOKEN ditolak Meta" in bad_token[0].message and "token permanen" in bad_token[0].fix
        bad_id = await check_whatsapp(whatsapp(graph, WHATSAPP_PHONE_NUMBER_ID="1056"), PEMDA)
        assert bad_id[0].status is Status.FAIL and "WHATSAPP_PHONE_NUMBER_ID 1056 tidak dikenal" in bad_id[0].message
        other = await check_whatsapp(whatsapp(graph, WHATSAPP_DISPLAY_NUMBER="+6281199999999"), PEMDA)
        assert other[0].status is Status.FAIL and other[0].fix == "Isi WHATSAPP_DISPLAY_NUMBER=+6281100000000 di .env."
        good = await check_whatsapp(whatsapp(graph), PEMDA)
    assert good[0] == Finding(
        "WhatsApp", Status.OK, "nomor +62 811-0000-0000 (Sigap Pemkab Sukamakmur) terhubung; kualitas GREEN."
    )


async def test_templates_are_skipped_without_the_waba_id_and_how_to_enable_it() -> None:
    async with FakeGraphApi() as graph:
        found = await check_whatsapp(whatsapp(graph), PEMDA)
    assert found[1].status is Status.SKIP and "WHATSAPP_BUSINESS_ACCOUNT_ID kosong" in found[1].message
    assert "WHATSAPP_BUSINESS_ACCOUNT_ID" in found[1].fix and "sigap doctor" in found[1].fix


async def test_each_template_must_be_approved_in_indonesian_as_utility() -> None:
    async with FakeGraphApi() as graph:
        config = whatsapp(graph, WHATSAPP_BUSINESS_ACCOUNT_ID=WABA_ID)
        graph.add_template("sigap_pengingat")
        graph.add_template("sigap_peringatan", status="PENDING")
        graph.add_template("sigap_surat_teguran", language="en_US")
        graph.add_template("sigap_minta_data", category="MARKETING")
        for filler in range(120):  # more than one page of templates
            graph.add_template(f"lain_{filler}")
        bad = (await check_whatsapp(config, PEMDA))[1]
        assert bad.status is Status.FAIL
        assert bad.message.splitlines() == [
            "sigap_peringatan (warning): masih menunggu persetujuan Meta.",
            "sigap_surat_teguran (letter): hanya ada dalam bahasa en_US, bukan Indonesia (id).",
            "sigap_minta_data (checkin): kategori MARKETING, seharusnya UTILITY.",
            "sigap_pengumuman (broadcast): belum terdaftar di WABA.",
        ]
        assert "docs/whatsapp-templates.md" in bad.fix
        graph.templates.clear()
        for filler in range(120):
            graph.add_template(f"lain_{filler}")
        for name in TEMPLATES:
            graph.add_template(name)
        good = (await check_whatsapp(config, PEMDA))[1]
        wrong_waba = (await check_whatsapp(whatsapp(graph, WHATSAPP_BUSINESS_ACCOUNT_ID="1"), PEMDA))[1]
    assert good.status is Status.OK and good.message.startswith("5 templat disetujui (bahasa Indonesia, Utility)")
    assert wrong_waba.status is Status.FAIL and "WHATSAPP_BUSINESS_ACCOUNT_ID 1 tidak dikenal" in wrong_waba.message
