"""LKPP's INAPROC API gateway as a `FiguresFeed` (httpx), and the daily import the scheduler runs.

A request names the dataset's path, `kode_klpd`, `tahun`, `limit` (at most 1000) and, after the first page, the
`cursor` of the previous answer; the answer is `{success, data, meta: {cursor, has_more}}`. The token (role "Data
Integrator", from LKPP) goes as `Authorization: Bearer …` and is never logged. A 429 waits as long as `Retry-After`
says (at most five minutes), a 5xx or a broken connection waits 2, 4, 8 … seconds, both up to `attempts` tries per
page; 401 and 403 raise `FeedRefused` with "token ditolak: minta peran Data Integrator ke LKPP" at once. Waiting
goes through the injected clock, so tests never sleep.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bot.settings import Settings
from jobs.figures_sync import REFUSED, Dataset, FeedFailed, FeedRefused, sync_figures
from models.app import Deps
from models.clock import Clock, SystemClock

log = logging.getLogger(__name__)

PATHS: dict[Dataset, str] = {
    "epurchasing": "/api/v1/ekatalog/paket-e-purchasing",
    "rup": "/api/v1/rup/paket-penyedia-terumumkan",
}
"""Where each dataset is served under INAPROC_BASE_URL."""
MAX_LIMIT = 1000
"""The most rows one page may carry (the gateway's limit)."""
ATTEMPTS = 6
MAX_WAIT = 300.0
"""The longest wait a Retry-After is honoured for; longer ones are cut to it."""
MAX_PAGES = 10_000


class InaprocClient:
    """Reads every page of a dataset from the INAPROC gateway."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        clock: Clock | None = None,
        limit: int = MAX_LIMIT,
        attempts: int = ATTEMPTS,
        timeout: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.clock: Clock = clock or SystemClock()
        self.limit = max(1, min(limit, MAX_LIMIT))
        self.attempts = max(1, attempts)
        self.timeout = timeout

    async def fetch(self, dataset: Dataset, kode_klpd: str, tahun: int) -> list[dict[str, object]]:
        """Every row of `dataset` for the Pemda and year, page after page."""
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        rows: list[dict[str, object]] = []
        cursors: set[str] = set()
        params = {"kode_klpd": kode_klpd, "tahun": str(tahun), "limit": str(self.limit)}
        async with httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=self.timeout) as client:
            for page in range(1, MAX_PAGES + 1):
                data, cursor, more = _page(await self._get(client, PATHS[dataset], params))
                rows.extend(data)
                log.info("INAPROC %s: page %d, %d rows so far", dataset, page, len(rows))
                if not more:
                    return rows
                if not cursor or cursor in cursors:
                    raise FeedFailed(
                        "INAPROC memberi penanda halaman (cursor) yang kosong atau berulang; data tidak lengkap, "
                        "jadi tidak ada yang diubah. Coba lagi nanti."
                    )
                cursors.add(cursor)
                params = {**params, "cursor": cursor}
        raise FeedFailed(f"INAPROC mengirim lebih dari {MAX_PAGES} halaman; tidak ada yang diubah.")

    async def _get(self, client: httpx.AsyncClient, path: str, params: dict[str, str]) -> dict[str, Any]:
        """One page's answer, after waiting out 429s, 5xx and broken connections."""
        problem = ""
        for attempt in range(1, self.attempts + 1):
            try:
                response = await client.get(path, params=params)
            except httpx.TimeoutException:
                wait, problem = _backoff(attempt), "waktu habis"
            except httpx.TransportError as exc:
                wait, problem = _backoff(attempt), f"tidak terjangkau ({type(exc).__name__})"
            else:
                status = response.status_code
                if status in (401, 403):
                    raise FeedRefused(REFUSED)
                if status == 200:
                    return _body(response)
                if status == 429:
                    wait, problem = _retry_after(response, self.clock) or _backoff(attempt), "HTTP 429"
                elif status >= 500:
                    wait, problem = _backoff(attempt), f"HTTP {status}"
                else:
                    raise FeedFailed(f"INAPROC menolak permintaan (HTTP {status}): {_message(response)}")
            if attempt < self.attempts:
                log.warning("INAPROC %s: %s, trying again in %.0f s", path, problem, wait)
                await self.clock.sleep(wait)
        raise FeedFailed(
            f"INAPROC tidak dapat dihubungi setelah {self.attempts} percobaan ({problem}); tidak ada yang diubah. "
            "Coba lagi nanti."
        )


def _backoff(attempt: int) -> float:
    return float(min(2**attempt, 60))


def _retry_after(response: httpx.Response, clock: Clock) -> float | None:
    """Seconds to wait that a 429's Retry-After asks (a number or an HTTP date), at most `MAX_WAIT`."""
    raw = response.headers.get("retry-after", "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - clock.now()).total_seconds()
    return min(max(seconds, 0.0), MAX_WAIT)


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise FeedFailed("Jawaban INAPROC bukan JSON; tidak ada yang diubah. Coba lagi nanti.") from None
    if not isinstance(body, dict):
        raise FeedFailed("Jawaban INAPROC tidak dikenali (bukan {success, data, meta}); tidak ada yang diubah.")
    if body.get("success") is False:
        raise FeedFailed(f"INAPROC menjawab gagal: {_message(response)}; tidak ada yang diubah.")
    return body


def _page(body: dict[str, Any]) -> tuple[list[dict[str, object]], str, bool]:
    """The rows, the next cursor and whether more pages follow, of one `{success, data, meta}` answer."""
    data = body.get("data")
    meta = body.get("meta") or {}
    if not isinstance(data, list) or not isinstance(meta, dict) or not all(isinstance(row, dict) for row in data):
        raise FeedFailed("Jawaban INAPROC tidak dikenali (data bukan daftar paket); tidak ada yang diubah.")
    cursor = meta.get("cursor")
    return data, str(cursor) if cursor not in (None, "") else "", meta.get("has_more") is True


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    text = body.get("message") if isinstance(body, dict) else None
    return " ".join(str(text or response.reason_phrase or "tanpa keterangan").split())[:200]


def feed_from_settings(settings: Settings, clock: Clock | None = None) -> InaprocClient | None:
    """The INAPROC client when INAPROC_TOKEN is set, else None."""
    token = settings.inaproc_token.get_secret_value().strip() if settings.inaproc_token is not None else ""
    if not token:
        return None
    return InaprocClient(settings.inaproc_base_url, token, clock=clock)


def feed_from_env() -> InaprocClient | None:
    """The INAPROC client from the environment and .env (for the scheduler), when INAPROC_TOKEN is set."""
    return feed_from_settings(Settings())


async def run_daily(deps: Deps, feed: InaprocClient) -> None:
    """The scheduler's daily import: apply, tell the admins; never raises into the scheduler."""
    started = time.perf_counter()
    try:
        text = await sync_figures(deps, feed, apply=True, notify=True)
    except FeedRefused:
        log.error("INAPROC refused the token (401/403): %s; nothing was imported", REFUSED)
    except FeedFailed as exc:
        log.warning("INAPROC import failed, nothing was imported: %s", exc)
    except Exception:
        log.exception("INAPROC import failed")
    else:
        log.info("INAPROC import done in %.1f s: %s", time.perf_counter() - started, text[:300])
