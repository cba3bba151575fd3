"""The database engine and the unit of work every handler and job runs in."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session

if TYPE_CHECKING:
    import psycopg

MIGRATIONS = Path(__file__).with_name("migrations")
T = TypeVar("T")


def normalize_url(url: str) -> str:
    """Use the psycopg 3 driver for plain 'postgresql://' addresses."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


PING_AFTER_IDLE = 10.0
"""Seconds a pooled PostgreSQL connection may sit unused before its next use checks it first (one round trip): a
connection the server closed meanwhile (a restart, an idle timeout) is replaced before a unit of work gets it. A
connection in steady use is not checked each time (that round trip was about one in ten of a chat message's)."""


def _stamp_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _check_if_idle(engine: Engine) -> Callable[[Any, Any, Any], None]:
    def check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool drops this connection and hands out a fresh one
            raise DisconnectionError("connection lost while idle") from exc

    return check


def insert_skipping_duplicates(session: Session, table: Table, *conflict: str) -> Insert:
    """INSERT ... ON CONFLICT (conflict) DO NOTHING for the two databases Sigap runs on (PostgreSQL, SQLite)."""
    return skipping_duplicates(session.get_bind().dialect.name, table, *conflict)


def skipping_duplicates(dialect: str, table: Table, *conflict: str) -> Insert:
    """`insert_skipping_duplicates` for a dialect by name (a statement built once and kept per dialect)."""
    maker = pg_insert if dialect == "postgresql" else sqlite_insert
    return maker(table).on_conflict_do_nothing(index_elements=list(conflict) or None)


def bulk_insert(
    session: Session,
    table: Any,
    names: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    conflict: str = "",
    *,
    fixed: Mapping[str, Any] | None = None,
) -> None:
    """INSERT ... ON CONFLICT `conflict` DO NOTHING of many rows, without per-row SQLAlchemy overhead.

    `rows` hold the values of `names` in order; `fixed` the values every row shares. Values go through each
    column's own bind processing (UTC datetimes, booleans) exactly as the ORM would; shared ones once.
    PostgreSQL: COPY into a temporary table, then one INSERT ... SELECT (`copy_insert`); SQLite: the driver's
    executemany (`executemany_insert`). Either way a row whose key is already there is skipped, and rows get
    their ids in the order given.
    """
    bulk_insert_while(session, table, names, rows, _nothing, conflict, fixed=fixed)


def _nothing() -> None:
    return None


def bulk_insert_while(
    session: Session,
    table: Any,
    names: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    meanwhile: Callable[[], T],
    conflict: str = "",
    *,
    fixed: Mapping[str, Any] | None = None,
) -> T:
    """`bulk_insert`, running `meanwhile()` while PostgreSQL inserts the rows (after the insert on SQLite); its result.

    For a caller that has the next batch to build: the server's work and the client's overlap. `meanwhile` must
    not use the database (on PostgreSQL the connection is busy until it returns; a query there fails).
    """
    if not rows:
        return meanwhile()
    connection = session.connection()
    dialect = connection.dialect

    def processor(name: str) -> Any:
        return table.c[name].type._cached_bind_processor(dialect)

    shared = {
        name: proc(value) if (proc := processor(name)) is not None else value for name, value in (fixed or {}).items()
    }
    procs = [(i, proc) for i, name in enumerate(names) if (proc := processor(name)) is not None]
    if procs:  # a varying column with a bind processor: the slow path, value by value
        converted = []
        for row in rows:
            values = list(row)
            for i, proc in procs:
                values[i] = proc(values[i])
            converted.append(tuple(values))
        rows = converted
    write = copy_insert if dialect.name == "postgresql" else executemany_insert
    return write(connection, table.name, names, rows, conflict, shared, meanwhile)


def executemany_insert(
    connection: Connection,
    table: str,
    names: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    conflict: str,
    shared: Mapping[str, Any],
    meanwhile: Callable[[], T],
) -> T:
    """`bulk_insert`'s write through the driver's executemany (rows and `shared` values already bind-processed).

    On PostgreSQL this is one statement per row (psycopg pipelines them); kept for SQLite and as the reference
    the COPY path is tested against.
    """
    tail = tuple(shared.values())
    params = [row + tail for row in rows] if tail else list(rows)
    columns = [*names, *shared]
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))}) "
        f"ON CONFLICT {conflict} DO NOTHING"
    )
    for start in range(0, len(params), 10_000):
        connection.exec_driver_sql(sql, params[start : start + 10_000])
    return meanwhile()


def copy_insert(
    connection: Connection,
    table: str,
    names: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    conflict: str,
    shared: Mapping[str, Any],
    meanwhile: Callable[[], T],
) -> T:
    """`bulk_insert`'s write on PostgreSQL: COPY the rows into a temporary table with `table`'s column types, then
    INSERT ... SELECT them with the `shared` values, skipping conflicts (COPY alone cannot), sent in pipeline mode
    so that `meanwhile()` runs while the server inserts.

    About half the server time and a quarter of the client time of a statement per row (most of what is left is
    the server's foreign-key checks and index entries). The temporary table lives only inside this call; it is
    read in the order written (no parallel or synchronised scans of temporary tables), so ids follow `rows`.
    """
    varying = ", ".join(names)
    staging = f"bulk_{table}"
    columns = ", ".join([*names, *shared])
    values = ", ".join([*names, *(["%s"] * len(shared))])
    sql = f"INSERT INTO {table} ({columns}) SELECT {values} FROM {staging} ON CONFLICT {conflict} DO NOTHING"
    driver = cast("psycopg.Connection[Any]", connection.connection.driver_connection)
    try:
        with driver.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS SELECT {varying} FROM {table} WITH NO DATA"
            )
            with cursor.copy(f"COPY {staging} ({varying}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            with driver.pipeline():  # the statements go out now; their results are waited for at the block's end
                cursor.execute(sql, tuple(shared.values()))
                cursor.execute(f"DROP TABLE {staging}")
                return meanwhile()
    except connection.dialect.loaded_dbapi.Error as exc:  # as SQLAlchemy raises it (IntegrityError, ...)
        raise DBAPIError.instance(sql, None, exc, connection.dialect.loaded_dbapi.Error) from exc


def core(session: Session) -> Connection:
    """The session's connection, for a Core statement built once (`select(...)` of columns, `insert`, `update`):
    what `session.execute` would run, after the same autoflush (a read sees the session's pending changes), without
    the ORM's per-statement layer (about half the cost of a small indexed query)."""
    if session.autoflush:
        session.flush()
    return session.connection()


def _first(result: Any) -> Any:
    """The first column of a result's first row; None without rows (or for a statement that returns none)."""
    if not result.returns_rows:
        return None
    row = result.first()
    return None if row is None else row[0]


def _driver_first(cursor: Any) -> Any:
    """`_first` of a driver's cursor."""
    row = cursor.fetchone() if cursor.description is not None else None
    return None if row is None else row[0]


def _driver_sql(compiled: Any, values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A statement compiled by `_compiled`, with `values`, as the driver takes it: the SQL text (with a list for `IN`,
    rendered once per number of values) and its parameters, each through its type's bind processor as SQLAlchemy
    would send it."""
    expanding = _expanding(compiled)
    if not expanding:
        return compiled.string, _processed_values(compiled, compiled.construct_params(dict(values)), ())
    parameters = compiled.construct_params(dict(values))
    shape = (compiled, *(len(parameters[name]) for name in expanding))
    sql = _EXPANDED.get(shape)
    if sql is None:  # the first time for this shape: SQLAlchemy renders it (and names its parameters)
        expanded = compiled.construct_expanded_state(dict(values))
        if _expand(parameters, expanding) != expanded.parameters:  # named otherwise: SQLAlchemy renders each time
            return _render(compiled, values)
        if len(_EXPANDED) > EXPANDED_KEPT:
            _EXPANDED.clear()
        sql = _EXPANDED[shape] = expanded.statement
    return sql, _expand(_processed_values(compiled, parameters, expanding), expanding)


EXPANDED_KEPT = 4096
"""Shapes of statements with lists kept rendered (a few statements, each with lists of up to `FEW_UNITS` units)."""
_EXPANDED: dict[tuple[Any, ...], str] = {}
"""The SQL text of a compiled statement (`_compiled` keeps it) for a number of values in each of its `IN` lists."""


def _processed_values(compiled: Any, parameters: dict[str, Any], expanding: tuple[str, ...]) -> dict[str, Any]:
    """`parameters` through their types' bind processors (a UTC time), each value of a list for `IN` alike."""
    for name, process in compiled._bind_processors.items():
        value = parameters.get(name)
        if value is None:
            continue
        parameters[name] = [process(v) for v in value] if name in expanding else process(value)
    return parameters


def _expand(parameters: dict[str, Any], expanding: tuple[str, ...]) -> dict[str, Any]:
    """`parameters` with each list for `IN` as one parameter per value, named as SQLAlchemy names them."""
    expanded = {name: value for name, value in parameters.items() if name not in expanding}
    for name in expanding:
        expanded |= {f"{name}_{i}": value for i, value in enumerate(parameters[name], 1)}
    return expanded


def _render(compiled: Any, values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """`_driver_sql` through SQLAlchemy's own expansion."""
    expanded = compiled.construct_expanded_state(dict(values))
    parameters = dict(expanded.parameters)
    for name, process in {**compiled._bind_processors, **expanded.processors}.items():
        if name in parameters and parameters[name] is not None:
            parameters[name] = process(parameters[name])
    return expanded.statement, parameters


@functools.lru_cache(maxsize=256)
def _expanding(compiled: Any) -> tuple[str, ...]:
    """The names of a compiled statement's parameters that take a list (`IN`)."""
    return tuple(compiled.bind_names[bind] for bind in compiled.binds.values() if bind.expanding)


@functools.lru_cache(maxsize=256)
def _compiled(dialect: Any, statement: Any, columns: tuple[str, ...]) -> Any:
    return statement.compile(dialect=dialect, column_keys=list(columns))


_READ_AHEAD = "sigap_read_ahead"
"""`Session.info`'s key for the rows `read_ahead` kept, by `_read_key`."""


def read_ahead(
    session: Session,
    reads: Sequence[tuple[Any, Mapping[str, Any]]],
    *,
    writes: Sequence[tuple[Any, Mapping[str, Any]]] = (),
) -> list[Any]:
    """Run `reads` (Core selects built once, each with its values) now, together: on PostgreSQL in one round trip
    (psycopg's pipeline) instead of one each; `rows` then hands each read's rows to the code that asks for exactly
    it. For a command that knows its next reads (/status: a unit's figures, checklist and pauses). Nothing may be
    written between this and those reads. On SQLite (no round trips) the reads wait: `rows` reads when asked.

    `writes` (Core statements) go first, in the same round trip, and the reads see them; returned: per write, the
    first column of the first row it returned (`RETURNING`), or None.
    """
    connection = core(session)
    if connection.dialect.name != "postgresql" or len(reads) + len(writes) < 2:
        return [_first(connection.execute(statement, values)) for statement, values in writes]
    dialect = connection.dialect
    compiled = [_compiled(dialect, statement, tuple(values)) for statement, values in [*writes, *reads]]
    types = [[column.type for column in c._result_columns] for c in compiled[len(writes) :]]

    def keep(cursors: list[Any]) -> list[Any]:
        kept = session.info.setdefault(_READ_AHEAD, {})
        for (statement, values), cursor, kinds in zip(reads, cursors[len(writes) :], types, strict=True):
            kept[_read_key(statement, values)] = _processed(dialect, cursor, kinds)
        return [_driver_first(cursor) for cursor in cursors[: len(writes)]]

    sent = [_driver_sql(c, values) for c, (_statement, values) in zip(compiled, [*writes, *reads], strict=True)]
    return _pipelined(connection, sent, commit=False, then=keep)


def _pipelined(
    connection: Connection,
    statements: Sequence[tuple[str, dict[str, Any]]],
    *,
    commit: bool,
    then: Callable[[list[Any]], T],
) -> T:
    """`statements` (driver SQL with its parameters, `_driver_sql`) sent at once, then a COMMIT when `commit`: one round
    trip on PostgreSQL (psycopg's pipeline; the block's end waits for every result). `then` reads the cursors, one
    per statement, before they are closed. A failure raises as SQLAlchemy raises it (IntegrityError, ...)."""
    driver = cast("psycopg.Connection[Any]", connection.connection.driver_connection)
    error = connection.dialect.loaded_dbapi.Error
    cursors = []
    sql = ""
    try:
        with driver.pipeline():
            for sql, parameters in statements:
                cursor = driver.cursor()
                cursor.execute(sql, parameters)
                cursors.append(cursor)
            if commit:
                driver.execute(b"COMMIT")  # a statement, not commit(): that would wait for its own sync
        return then(cursors)
    except error as exc:
        raise DBAPIError.instance(sql, None, exc, error) from exc
    finally:
        for cursor in cursors:
            cursor.close()


def rows(session: Session, statement: Any, values: Mapping[str, Any]) -> Sequence[Any]:
    """The rows of `statement` with `values`: those `read_ahead` kept (once), else read now."""
    kept = session.info.get(_READ_AHEAD)
    if kept:
        found: Sequence[Any] | None = kept.pop(_read_key(statement, values), None)
        if found is not None and not (session.new or session.dirty or session.deleted):
            return found
    read: Sequence[Any] = core(session).execute(statement, values).all()
    return read


def _read_key(statement: Any, values: Mapping[str, Any]) -> tuple[Any, ...]:
    return (id(statement), *sorted((name, tuple(v) if isinstance(v, list) else v) for name, v in values.items()))


def _processed(dialect: Any, cursor: Any, types: list[Any]) -> list[tuple[Any, ...]]:
    """The rows of a driver's cursor, each value through its column type's result processor as SQLAlchemy does it
    (a UTC time, a number by the type the server sent)."""
    processors = [
        kind._cached_result_processor(dialect, column.type_code)
        for kind, column in zip(types, cursor.description or (), strict=False)
    ]
    if not any(processors):
        return [tuple(row) for row in cursor.fetchall()]
    return [
        tuple(
            value if process is None or value is None else process(value)
            for process, value in zip(processors, row, strict=True)
        )
        for row in cursor.fetchall()
    ]


def plain_rows(session: Session, stmt: Any) -> list[Any]:
    """Rows of a statement without parameters, as the driver returns them (no per-value result processing).

    For integer and text columns only, plus booleans (0/1 on SQLite): about three times faster than a Result.
    """
    compiled = stmt.compile(dialect=session.get_bind().dialect)
    if compiled.params:
        raise ValueError("plain_rows takes a statement without parameters")
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(str(compiled))
        return list(cursor.fetchall())
    finally:
        cursor.close()


POOL_SIZE, POOL_OVERFLOW = 5, 10
"""PostgreSQL connections a process keeps open, and how many more it may open at a peak (SQLAlchemy's defaults)."""
CONNECTIONS_PER_PROCESS = POOL_SIZE + POOL_OVERFLOW
"""The most PostgreSQL connections one process (`sigap run`, each of its workers) opens."""


class Database:
    """One engine per process; hands out units of work."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalize_url(url)
        backend = make_url(self.url).get_backend_name()
        self.is_postgres = backend == "postgresql"
        self.is_sqlite = backend == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        elif self.is_postgres:
            kwargs |= {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            event.listen(self.engine, "checkin", _stamp_idle)
            event.listen(self.engine, "checkout", _check_if_idle(self.engine))

    def uow(self) -> UnitOfWork:
        """A new unit of work: commit on purpose, roll back otherwise."""
        return UnitOfWork(self.engine)

    def upgrade(self) -> str:
        """Bring the schema to the newest migration; what happened: 'dibuat' (an empty database), 'diperbarui' or
        'terbaru' (nothing to do)."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            before = set(MigrationContext.configure(connection).get_current_heads())
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")
            after = set(MigrationContext.configure(connection).get_current_heads())
        return "dibuat" if not before else "terbaru" if before == after else "diperbarui"

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


class UnitOfWork:
    """A session that rolls back unless `commit()` was called."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._session: Session | None = None
        self._later: list[tuple[Any, Mapping[str, Any]]] = []

    @property
    def session(self) -> Session:
        """The open session."""
        if self._session is None:
            raise RuntimeError("unit of work is not open")
        return self._session

    def __enter__(self) -> UnitOfWork:
        self._session = Session(self._engine, expire_on_commit=False)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        self._session = None
        self._later.clear()
        session.close()  # rolls back what was not committed; loaded objects stay readable

    def later(self, statement: Any, values: Mapping[str, Any]) -> None:
        """A write made at the commit, with the unit's last writes (on PostgreSQL in their one round trip), and
        forgotten at a rollback: for rows nothing reads back before the commit (the audit log)."""
        self._later.append((statement, values))

    def commit(self) -> None:
        """Make everything done in this unit of work permanent."""
        self.commit_with([])

    def commit_with(self, writes: Sequence[tuple[Any, Mapping[str, Any]]]) -> list[Any]:
        """Run `writes` (Core statements built once, each with its values), then commit: what `commit` does after
        `core(session).execute` of each, on PostgreSQL in one round trip (the statements and the COMMIT go out
        together, psycopg's pipeline) instead of one per statement and one for the COMMIT. The last writes of a
        chat message (its replies, its seen-mark) cost it two round trips fewer.

        The writes kept for the commit (`later`) go first. Returns, per write of `writes`, the first column of the
        first row it returned (`RETURNING`), or None. A write that fails (a duplicate key) raises as SQLAlchemy
        raises it, and nothing is committed: the caller rolls back.
        """
        session = self.session
        session.info.pop(_READ_AHEAD, None)  # rows read ahead and not asked for are not kept past the transaction
        later = len(self._later)
        writes, self._later = [*self._later, *writes], []
        if not writes:
            session.commit()
            return []
        connection = core(session)
        if connection.dialect.name != "postgresql":
            results = [_first(connection.execute(statement, values)) for statement, values in writes]
            session.commit()
            return results[later:]
        dialect = connection.dialect
        sent = [_driver_sql(_compiled(dialect, statement, tuple(values)), values) for statement, values in writes]
        results = _pipelined(connection, sent, commit=True, then=lambda cursors: [_driver_first(c) for c in cursors])
        session.commit()  # the driver's transaction is over: this ends the session's (psycopg sends nothing)
        return results[later:]

    def rollback(self) -> None:
        """Forget everything not yet committed."""
        self._later.clear()
        self.session.info.pop(_READ_AHEAD, None)
        self.session.rollback()
