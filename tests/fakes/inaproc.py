"""A fake INAPROC API gateway for tests (real HTTP on 127.0.0.1, Starlette under uvicorn), and the invented
e-purchasing export of Kabupaten Sukamakmur it serves.

The gateway answers `GET /api/v1/ekatalog/paket-e-purchasing` and `GET /api/v1/rup/paket-penyedia-terumumkan` with
`{success, data, meta: {cursor, has_more}}`, a page of at most `page_size` rows (and at most `limit`); it wants
`Authorization: Bearer <token>` (401 otherwise, or 403 for `forbidden_token`), `kode_klpd` and `tahun` (400
without). `rate_limit_once(after_pages)` answers one request 429 with `Retry-After`; `fail_next(status)` answers
the next requests with that status.

`epurchasing_rows()` is the export: 291 rows, made so that the figures per unit can be worked out by hand (see
`SATKERS`): each satker buys packages of a few products, small businesses (UKM) or not, at a fixed price per row;
product codes cycle through a pool, so the distinct products of a satker are its pool size.
"""

from __future__ import annotations

import asyncio
import csv
import io
import socket
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

KLPD = "D412"
"""Kabupaten Sukamakmur's (invented) code at LKPP."""
TOKEN = "inaproc-test-token-0001"
EPURCHASING = "/api/v1/ekatalog/paket-e-purchasing"
RUP = "/api/v1/rup/paket-penyedia-terumumkan"


@dataclass(frozen=True)
class Group:
    """`packages` packages of `per_package` product rows each, bought from a UKM or not, at `price` per row."""

    packages: int
    per_package: int
    ukm: bool
    price: int


@dataclass(frozen=True)
class Satker:
    """A satker of the export, its product pool and what it bought."""

    satker_id: int
    name: str
    pool: int
    groups: tuple[Group, ...]


SATKERS = (
    # 20x3 UKM rows at 2 jt + 10x2 rows at 5 jt: UKM 120 jt of 220 jt = 54,55 %; 80 rows, 25 products
    Satker(
        10001,
        "DINAS KESEHATAN KABUPATEN SUKAMAKMUR",
        25,
        (Group(20, 3, True, 2_000_000), Group(10, 2, False, 5_000_000)),
    ),
    # 60 UKM rows at 1,5 jt (90 jt) + 30 rows at 4 jt (120 jt): 90/210 = 42,86 %; 90 rows, 40 products
    Satker(
        10002, "DINAS PENDIDIKAN DAN KEBUDAYAAN", 40, (Group(15, 4, True, 1_500_000), Group(10, 3, False, 4_000_000))
    ),
    # 16 UKM rows and 24 other rows, all at 3 jt: 48/120 = 40 % exactly; 40 rows, 12 products
    Satker(
        10003, "SEKRETARIAT DAERAH KAB. SUKAMAKMUR", 12, (Group(8, 2, True, 3_000_000), Group(12, 2, False, 3_000_000))
    ),
    # 10 UKM rows at 1 jt: 100 %; 6 products
    Satker(10004, "KECAMATAN SUKAMAKMUR", 6, (Group(5, 2, True, 1_000_000),)),
    # 30 rows at 2 jt (60 jt) + 2 UKM rows at 3 jt (6 jt): 6/66 = 9,09 %; 32 rows, 30 products
    Satker(
        10005,
        "BADAN PENGELOLAAN KEUANGAN DAN ASET DAERAH",
        30,
        (Group(10, 3, False, 2_000_000), Group(2, 1, True, 3_000_000)),
    ),
    # nobody has mapped it: 20 rows left out
    Satker(10006, "RSUD SUKAMAKMUR", 20, (Group(20, 1, True, 1_000_000),)),
    # not a unit of the Pemda's roster (the DPRD): 10 rows, ignored once an admin says so
    Satker(10007, "DPRD KABUPATEN SUKAMAKMUR", 10, (Group(5, 2, False, 1_000_000),)),
)

EXPECTED = {
    "DINKES": (25.0, 54.55),
    "DISDIK": (40.0, 42.86),
    "SETDA": (12.0, 40.0),
    "KEC-SUKAMAKM": (6.0, 100.0),
    "BPKAD": (30.0, 9.09),
}
"""(katalog, P3DN %) per unit, worked out by hand from `SATKERS` (DISDIK once its satker is mapped)."""


def epurchasing_rows(*, products: bool = True) -> list[dict[str, Any]]:
    """The export: 282 rows of `SATKERS`, plus 5 cancelled rows, 1 row twice and 3 rows of another Pemda.

    Without `products` the kd_produk column is left out (katalog is then the sum of jml_jenis_produk per package).
    """
    rows: list[dict[str, Any]] = []
    package = 5000
    for satker in SATKERS:
        index = 0
        for group in satker.groups:
            for _ in range(group.packages):
                package += 1
                for _ in range(group.per_package):
                    product = 700000 + satker.satker_id % 100 * 1000 + index % satker.pool
                    index += 1
                    rows.append(_row(satker.satker_id, satker.name, package, product, group.per_package, group))
    dinkes = SATKERS[0]
    for n in range(5):  # cancelled: 50 jt non-UKM each, which would pull DINKES' share down
        cancelled = _row(dinkes.satker_id, dinkes.name, 9000 + n, 799000 + n, 1, Group(1, 1, False, 50_000_000))
        rows.append({**cancelled, "status_paket": "Paket Dibatalkan"})
    rows.append(dict(rows[3]))  # the same package and product twice: counted once
    for n in range(3):  # another Pemda's packages
        other = _row(20001, "DINAS KESEHATAN KABUPATEN LAIN", 9100 + n, 798000 + n, 1, Group(1, 1, False, 9_000_000))
        rows.append({**other, "kd_klpd": "D999"})
    if not products:
        for row in rows:
            del row["kd_produk"]
    return rows


def export_csv(rows: list[dict[str, Any]], delimiter: str = ",") -> bytes:
    """`rows` as a CSV file (UTF-8), columns in the order they first appear."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, delimiter=delimiter, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _row(satker_id: int, name: str, package: int, product: int, count: int, group: Group) -> dict[str, Any]:
    return {
        "tahun_anggaran": 2026,
        "kd_klpd": KLPD,
        "satker_id": satker_id,
        "nama_satker": name,
        "kd_paket": package,
        "kd_rup": 40000000 + package,
        "kd_produk": product,
        "kd_penyedia": 300 + package % 17,
        "penyedia_ukm": "Y" if group.ukm else "N",
        "status_paket": "Paket Selesai",
        "jml_jenis_produk": count,
        "total_harga": group.price,
    }


# ------------------------------------------------------------------------------------------------- server


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


@dataclass
class Call:
    """One request the fake answered."""

    path: str
    params: dict[str, str]
    status: int


@dataclass
class FakeInaproc:
    """The INAPROC gateway look-alike, served by uvicorn inside the running event loop."""

    datasets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    token: str = TOKEN
    forbidden_token: str = ""
    page_size: int = 100
    retry_after: int = 2
    calls: list[Call] = field(default_factory=list)
    _failures: deque[int] = field(default_factory=deque)
    _rate_limit_after: int | None = None
    _server: _Server | None = None
    _task: asyncio.Task[None] | None = None
    _socket: socket.socket | None = None
    port: int = 0

    @property
    def url(self) -> str:
        """Root URL of the running server (INAPROC_BASE_URL)."""
        return f"http://127.0.0.1:{self.port}"

    def rate_limit_once(self, after_pages: int = 0) -> None:
        """Answer one request 429 with Retry-After: the first one after `after_pages` pages were served."""
        self._rate_limit_after = after_pages

    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next `times` requests with `status`."""
        self._failures.extend([status] * times)

    @property
    def pages_served(self) -> int:
        """Requests answered 200."""
        return sum(1 for call in self.calls if call.status == 200)

    async def __aenter__(self) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._socket = sock
        self.port = sock.getsockname()[1]
        routes = [Route(path, self._page, methods=["GET"]) for path in (EPURCHASING, RUP)]
        config = uvicorn.Config(
            Starlette(routes=routes), lifespan="off", log_config=None, log_level="warning", access_log=False
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="fake-inaproc")
        await self._server.ready.wait()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        if self._socket is not None:
            self._socket.close()

    async def _page(self, request: Request) -> Response:
        params = dict(request.query_params)
        status, response = self._answer(request, params)
        self.calls.append(Call(request.url.path, params, status))
        return response

    def _answer(self, request: Request, params: dict[str, str]) -> tuple[int, Response]:
        auth = request.headers.get("authorization", "")
        if self.forbidden_token and auth == f"Bearer {self.forbidden_token}":
            return 403, _error(403, "Forbidden: role tidak memiliki akses ke dataset ini")
        if auth != f"Bearer {self.token}":
            return 401, _error(401, "Unauthorized: token tidak valid")
        if self._rate_limit_after is not None and self.pages_served >= self._rate_limit_after:
            self._rate_limit_after = None
            self._failures.appendleft(429)
        if self._failures:
            status = self._failures.popleft()
            headers = {"Retry-After": str(self.retry_after)} if status == 429 else {}
            return status, _error(status, "Too Many Requests" if status == 429 else "Service Unavailable", headers)
        if not params.get("kode_klpd") or not params.get("tahun", "").isdigit():
            return 400, _error(400, "Bad Request: kode_klpd dan tahun wajib diisi")
        rows = [
            row
            for row in self.datasets.get(request.url.path, [])
            if str(row.get("kd_klpd", params["kode_klpd"])) == params["kode_klpd"]
            and str(row.get("tahun_anggaran", params["tahun"])) == params["tahun"]
        ]
        start = int(params.get("cursor") or 0)
        size = min(int(params.get("limit") or 100), self.page_size, 1000)
        page = rows[start : start + size]
        more = start + size < len(rows)
        meta = {"cursor": str(start + size) if more else None, "has_more": more, "limit": size, "total": len(rows)}
        return 200, JSONResponse({"success": True, "data": page, "meta": meta})


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"success": False, "message": message, "data": None}, status_code=status, headers=headers)
