"""`sigap doctor` over the channels: the Telegram token (getMe) and webhook (getWebhookInfo), the WhatsApp phone
number id and every template named in the Pemda file (approved in the WABA, Indonesian, category Utility)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError

from bot.doctor_findings import Finding, fail, ok, skip, warn
from bot.settings import Settings
from bot.telegram.logging import install_redaction, uninstall_redaction
from bot.telegram.runtime import file_base_url
from bot.whatsapp.client import WhatsAppClient
from models.outbound import AuthFailed, Permanent, SendError
from models.pemda import PemdaConfig

TEMPLATE_LANGUAGE = "id"
TEMPLATE_CATEGORY = "UTILITY"
STATUS_WORDS = {
    "PENDING": "masih menunggu persetujuan Meta",
    "REJECTED": "ditolak Meta",
    "PAUSED": "dijeda Meta (kualitas rendah)",
    "DISABLED": "dinonaktifkan Meta",
    "IN_APPEAL": "sedang banding",
}
MAX_PAGES = 20
RECENT_ERROR = timedelta(hours=24)


async def check_all(settings: Settings, pemda: PemdaConfig | None) -> list[Finding]:
    """The checks of every configured channel (nothing for a channel that is not configured)."""
    return [*await check_telegram(settings), *await check_whatsapp(settings, pemda)]


# ---------------------------------------------------------------------------------------------------- Telegram


async def check_telegram(settings: Settings) -> list[Finding]:
    """getMe with the token, then the webhook (in webhook mode, or when Telegram still has one)."""
    if not settings.telegram_enabled or settings.telegram_bot_token is None:
        return []
    token = settings.telegram_bot_token.get_secret_value()
    redactor = install_redaction(token)
    base = settings.telegram_api_base_url
    try:
        async with Bot(token, base_url=base, base_file_url=file_base_url(base)) as bot:
            me = ok("Telegram", f"bot @{bot.username} ({bot.first_name}) terhubung dengan token ini.")
            webhook = await _webhook(bot, settings)
    except InvalidToken:  # its text quotes the token
        return [
            fail(
                "Telegram",
                "TELEGRAM_BOT_TOKEN ditolak Telegram (salah ketik, atau sudah diganti di @BotFather).",
                "Ambil token di @BotFather (/mybots → pilih bot → API Token), isi TELEGRAM_BOT_TOKEN di .env.",
            )
        ]
    except NetworkError as exc:
        return [
            fail(
                "Telegram",
                f"Telegram tidak dapat dihubungi ({_scrub(str(exc), token)}).",
                "Periksa koneksi internet server ke api.telegram.org (proxy, firewall), atau TELEGRAM_API_BASE_URL.",
            )
        ]
    except TelegramError as exc:
        return [
            fail("Telegram", f"Telegram menolak: {_scrub(str(exc), token)}.", "Periksa TELEGRAM_BOT_TOKEN di .env.")
        ]
    finally:
        uninstall_redaction(redactor)
    return [me, webhook] if webhook is not None else [me]


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


async def _webhook(bot: Bot, settings: Settings) -> Finding | None:
    """The webhook Telegram has on record against TELEGRAM_WEBHOOK_URL, and its last delivery error."""
    topic = "Webhook Telegram"
    info = await bot.get_webhook_info()
    wanted = settings.telegram_webhook_url.strip()
    if not wanted:
        if info.url:
            return warn(
                topic,
                f"mode long polling, tetapi Telegram masih mencatat webhook {info.url}.",
                "sigap run menghapusnya saat mulai. Bila server lain memakai token yang sama, beri tiap server bot "
                "sendiri: dua server dengan satu token saling merebut pesan.",
            )
        return None
    if not info.url:
        return warn(
            topic,
            "belum terdaftar di Telegram.",
            "Jalankan (atau mulai ulang) sigap run: webhook didaftarkan saat mulai. Lalu jalankan lagi sigap doctor.",
        )
    if info.url != wanted:
        return fail(
            topic,
            f"terdaftar ke alamat lain ({info.url}), bukan TELEGRAM_WEBHOOK_URL ({wanted}).",
            "Mulai ulang sigap run agar webhook didaftarkan ulang; pastikan tidak ada server lain yang memakai token "
            "bot yang sama.",
        )
    pending = info.pending_update_count
    error_at = info.last_error_date
    if info.last_error_message and error_at is not None and _recent(error_at):
        return fail(
            topic,
            f"Telegram gagal mengirim ke {wanted}: {info.last_error_message} ({pending} pesan menunggu).",
            "Periksa reverse proxy HTTPS (sertifikat sah, /telegram diteruskan ke 127.0.0.1:8080) dan bahwa "
            "sigap run berjalan.",
        )
    return ok(topic, f"terdaftar ke {wanted}; {pending} pesan menunggu.")


def _recent(at: datetime) -> bool:
    moment = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return datetime.now(UTC) - moment < RECENT_ERROR


# ---------------------------------------------------------------------------------------------------- WhatsApp


async def check_whatsapp(settings: Settings, pemda: PemdaConfig | None) -> list[Finding]:
    """The phone number id with the token, the display number, then the templates in the WABA."""
    if not settings.whatsapp_enabled or settings.whatsapp_access_token is None:
        return []
    client = WhatsAppClient(
        settings.whatsapp_access_token.get_secret_value(),
        settings.whatsapp_phone_number_id.strip(),
        base_url=settings.whatsapp_api_base_url,
        api_version=settings.whatsapp_api_version,
        timeout=10.0,
    )
    async with client:
        number, token_ok = await _phone_number(client, settings)
        if not token_ok:
            return [number]
        templates = await _templates(client, settings, pemda)
    return [number, templates]


async def _phone_number(client: WhatsAppClient, settings: Settings) -> tuple[Finding, bool]:
    """The phone number's finding, and whether Meta accepted the token (else the templates are not asked for)."""
    topic = "WhatsApp"
    number_id = settings.whatsapp_phone_number_id.strip()
    try:
        data = await client.get_object(f"/{number_id}", fields="display_phone_number,verified_name,quality_rating")
    except AuthFailed:
        return (
            fail(
                topic,
                "WHATSAPP_ACCESS_TOKEN ditolak Meta (kedaluwarsa, dicabut, atau token uji 24 jam).",
                "Buat token permanen system user (Business Settings → System users → Generate token, izin "
                "whatsapp_business_messaging dan whatsapp_business_management), isi di .env, lalu mulai ulang Sigap.",
            ),
            False,
        )
    except Permanent:
        return (
            fail(
                topic,
                f"WHATSAPP_PHONE_NUMBER_ID {number_id} tidak dikenal Meta untuk token ini.",
                "Salin phone number id dari WhatsApp Manager → API Setup (angka id, bukan nomor teleponnya).",
            ),
            True,
        )
    except SendError as exc:
        reason = f"Graph API tidak dapat dihubungi ({exc})."
        return fail(topic, reason, "Periksa koneksi server ke graph.facebook.com."), False
    shown = str(data.get("display_phone_number") or "")
    name = str(data.get("verified_name") or "")
    configured = settings.whatsapp_display_number.strip()
    if configured and shown and _digits(configured) != _digits(shown):
        return (
            fail(
                topic,
                f"WHATSAPP_DISPLAY_NUMBER ({configured}) berbeda dengan nomor bot ({shown}): tautan wa.me menuju "
                "nomor lain.",
                f"Isi WHATSAPP_DISPLAY_NUMBER=+{_digits(shown)} di .env.",
            ),
            True,
        )
    quality = str(data.get("quality_rating") or "-")
    return ok(topic, f"nomor {shown} ({name}) terhubung; kualitas {quality}."), True


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


async def _list_templates(client: WhatsAppClient, waba: str) -> list[dict[str, Any]]:
    """Every template of the WABA, following Graph's paging."""
    listed: list[dict[str, Any]] = []
    path = f"/{waba}/message_templates"
    params = {"fields": "name,status,language,category", "limit": "100"}
    for _page in range(MAX_PAGES):
        data = await client.get_object(path, **params)
        rows = data.get("data")
        listed += [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []
        paging = data.get("paging")
        following = paging.get("next") if isinstance(paging, dict) else None
        if not isinstance(following, str) or not following:
            break
        path, params = following, {}
    return listed


async def _templates(client: WhatsAppClient, settings: Settings, pemda: PemdaConfig | None) -> Finding:
    topic = "Templat WhatsApp"
    waba = settings.whatsapp_business_account_id.strip()
    if pemda is None:
        return skip(topic, "berkas Pemda belum dapat dibaca.", "Perbaiki Berkas Pemda dulu.")
    if not waba:
        return skip(
            topic,
            "tidak diperiksa karena WHATSAPP_BUSINESS_ACCOUNT_ID kosong.",
            "Isi WHATSAPP_BUSINESS_ACCOUNT_ID (id WhatsApp Business Account di WhatsApp Manager atau API Setup) di "
            ".env, lalu jalankan lagi sigap doctor.",
        )
    try:
        listed = await _list_templates(client, waba)
    except AuthFailed:
        return fail(
            topic,
            "token tidak boleh membaca templat WABA ini.",
            "Beri token system user izin whatsapp_business_management untuk WABA ini.",
        )
    except Permanent:
        return fail(
            topic,
            f"WHATSAPP_BUSINESS_ACCOUNT_ID {waba} tidak dikenal Meta untuk token ini.",
            "Salin id WhatsApp Business Account dari WhatsApp Manager (bukan id aplikasi atau id nomor).",
        )
    except SendError as exc:
        return fail(topic, f"Graph API tidak dapat dihubungi ({exc}).", "Periksa koneksi server ke graph.facebook.com.")
    problems: list[str] = []
    names = pemda.whatsapp_templates.model_dump()
    for key, name in names.items():
        same = [t for t in listed if t.get("name") == name]
        local = [t for t in same if t.get("language") == TEMPLATE_LANGUAGE]
        if not same:
            problems.append(f"{name} ({key}): belum terdaftar di WABA.")
            continue
        if not local:
            languages = ", ".join(sorted({str(t.get("language")) for t in same}))
            problems.append(f"{name} ({key}): hanya ada dalam bahasa {languages}, bukan Indonesia (id).")
            continue
        template = local[0]
        status = str(template.get("status") or "").upper()
        if status != "APPROVED":
            problems.append(f"{name} ({key}): {STATUS_WORDS.get(status, status.lower() or 'tanpa status')}.")
        category = str(template.get("category") or "").upper()
        if category != TEMPLATE_CATEGORY:
            problems.append(f"{name} ({key}): kategori {category or '-'}, seharusnya UTILITY.")
    if problems:
        return fail(
            topic,
            "\n".join(problems),
            "Daftarkan atau perbaiki templat sesuai docs/whatsapp-templates.md (kategori Utility, bahasa Indonesia), "
            "atau samakan namanya di [whatsapp_templates] berkas Pemda; tunggu disetujui lalu jalankan lagi sigap "
            "doctor.",
        )
    return ok(topic, f"{len(names)} templat disetujui (bahasa Indonesia, Utility): {', '.join(names.values())}.")
