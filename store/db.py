"""Engines, the database clock and migrations.

SQLite runs in WAL mode with a busy timeout and foreign keys, and every write
transaction starts with ``BEGIN IMMEDIATE`` so two processes sharing one file queue
for the write lock instead of failing on a read-to-write upgrade.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from store.errors import SchemaOutOfDate, StoreUnavailable
from store.tables import UTCDateTime

WRITE_OPTION = "signoff_write"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: PostgreSQL connections an engine keeps open, and how many more it may open for a peak.
PG_POOL_SIZE = 20
PG_POOL_OVERFLOW = 10
#: A pooled PostgreSQL connection is checked with a round trip before use only when it sat
#: idle this long: a server restart or a dropped connection is noticed then. Pinging every
#: checkout cost one round trip per transaction, about 19 per approval.
PG_PING_AFTER_IDLE_S = 0.25


class db_now(FunctionElement[Any]):
    """The database's clock: deadlines are judged by it, never by a worker's clock."""

    type = UTCDateTime()
    inherit_cache = True


@compiles(db_now)
def _db_now_default(element: db_now, compiler: SQLCompiler, **kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(db_now, "postgresql")
def _db_now_pg(element: db_now, compiler: SQLCompiler, **kw: Any) -> str:
    # clock_timestamp(), not now(): a long transaction must not freeze the deadline.
    return "clock_timestamp()"


@compiles(db_now, "sqlite")
def _db_now_sqlite(element: db_now, compiler: SQLCompiler, **kw: Any) -> str:
    # Same text layout as stored datetimes, so comparisons are plain string order.
    return "strftime('%Y-%m-%d %H:%M:%f', 'now')"


_NOW = select(db_now())


def now_of(session: Session) -> datetime:
    """The database's clock, read in ``session``'s transaction."""
    now = session.execute(_NOW).scalar_one()
    assert isinstance(now, datetime)
    return now


class Transactions:
    """Transactions on one engine: ``with tx() as session`` (writes take the write lock
    first, see :data:`WRITE_OPTION`); driver errors become :class:`StoreUnavailable`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._write_engine = engine.execution_options(**{WRITE_OPTION: True})
        self._single_reads = engine.execution_options(isolation_level="AUTOCOMMIT") \
            if engine.dialect.name == "postgresql" else engine
        self._writer = sqlite_writer(engine)

    @contextmanager
    def __call__(self, *, write: bool = True, urgent: bool = False) -> Iterator[Session]:
        """``urgent``: a write someone is waiting on now (a reviewer's decision); on SQLite
        it takes its turn before waiting writes that are not."""
        with writer_turn(self._writer if write else None, SQLITE_BUSY_TIMEOUT_MS / 1000,
                         priority=URGENT if urgent else ORDINARY), \
                self._session(write) as session:
            yield session

    @contextmanager
    def read(self, *, one_statement: bool = False) -> Iterator[Connection]:
        """A read-only transaction on a plain connection, for Core reads on hot paths (a
        click's authority, the ticket it decides, an agent's token): no ORM session to build
        and tear down. ``one_statement``: the caller runs a single statement, which needs no
        transaction around it; on PostgreSQL it then runs in autocommit, which saves the
        round trip of the ROLLBACK that would end the read."""
        if one_statement:
            with _translated(), self._single_reads.connect() as conn:
                yield conn
            return
        with _translated(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction on a plain connection (its turn at SQLite's lock first), for
        Core writes that change no ticket's status (no change notices to send at commit)."""
        with writer_turn(self._writer, SQLITE_BUSY_TIMEOUT_MS / 1000), _translated(), \
                self._write_engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _session(self, write: bool) -> Iterator[Session]:
        with _translated(), Session(self._write_engine if write else self.engine,
                                    expire_on_commit=False) as session, session.begin():
            yield session


@contextmanager
def _translated() -> Iterator[None]:
    """Driver errors as :class:`StoreUnavailable` (an IntegrityError is the caller's)."""
    try:
        yield
    except IntegrityError:
        raise
    except DBAPIError as exc:
        raise StoreUnavailable(f"database error: {exc.orig}") from exc
    except SQLAlchemyError as exc:
        raise StoreUnavailable(f"database error: {exc}") from exc


#: Priorities of SQLite writers (:class:`WriterTurns`): a click being written before its
#: ack goes first, then decisions and card records, then the rest.
ORDINARY, URGENT, CLICK = 0, 1, 2


class WriterTurns:
    """Turns at one SQLite file's write lock among this process's threads: handed over at
    once on release, re-entrant, and urgent writers (a reviewer's click and decision, which
    a person and an agent are waiting on, and the record of a card just posted, which may
    be clicked any moment) go before the others still waiting (new tickets, the sweep, card
    refreshes). A click being written before its ack goes before everything: the reviewer is
    waiting for the button to respond. Urgent writes come from cards and their clicks, and
    every card follows a new ticket, so they cannot keep the others out for long."""

    def __init__(self) -> None:
        self._cv = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._waiting_at = [0] * (CLICK + 1)  # threads waiting, by priority
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """Threads waiting for a turn now."""
        return self._waiting

    def acquire(self, blocking: bool = True, timeout: float = -1, *,
                priority: int = ORDINARY) -> bool:
        me = threading.get_ident()
        with self._cv:
            if self._owner == me:
                self._depth += 1
                return True
            deadline = None if timeout < 0 else time.monotonic() + timeout
            self._waiting_at[priority] += 1
            self._waiting += 1
            try:
                while self._owner is not None or any(self._waiting_at[priority + 1:]):
                    left = None if deadline is None else deadline - time.monotonic()
                    if not blocking or (left is not None and left <= 0):
                        return False
                    self._cv.wait(left)
                self._owner, self._depth = me, 1
                return True
            finally:
                self._waiting_at[priority] -= 1
                self._waiting -= 1

    def release(self) -> None:
        with self._cv:
            if self._owner != threading.get_ident():
                raise RuntimeError("release of a write turn this thread does not hold")
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cv.notify_all()


_writers: dict[str, WriterTurns] = {}
_writers_guard = threading.Lock()


def sqlite_writer(engine: Engine) -> WriterTurns | None:
    """This process's turns for writes to ``engine``'s SQLite file (None for other
    databases, which take writers in parallel).

    SQLite lets one writer in at a time, and a writer that finds the lock taken sleeps in
    SQLite's busy handler (1, 2, 5, 10 … 100 ms) and retries, so under load the lock sits
    free between a commit and the next sleeper's wake-up while writers queue. Writers of one
    process (every engine on the same file: the ledger's and the click inbox's) take turns
    here instead (:class:`WriterTurns`); other processes still meet at SQLite's own lock.
    Re-entrant, so a nested write fails as it did before, not hangs."""
    if engine.dialect.name != "sqlite":
        return None
    path = engine.url.database or ""
    if path in ("", ":memory:") or path.startswith("file:"):
        return None
    with _writers_guard:
        return _writers.setdefault(os.path.realpath(path), WriterTurns())


@contextmanager
def writer_turn(lock: WriterTurns | None, timeout: float, *,
                priority: int = ORDINARY) -> Iterator[None]:
    """Hold ``lock`` (from :func:`sqlite_writer`) for a write; give up after ``timeout``."""
    if lock is None:
        yield
        return
    if not lock.acquire(timeout=timeout, priority=priority):
        raise StoreUnavailable(f"database is locked: no turn to write within {timeout:g} s")
    try:
        yield
    finally:
        lock.release()


def normalise_url(url: str) -> str:
    """Accept the usual spellings; PostgreSQL always goes through psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
                **kwargs: Any) -> Engine:
    """An engine for ``url``. On SQLite, writers queue for the lock up to ``busy_timeout_ms``."""
    url = normalise_url(url)
    try:
        if url.startswith("sqlite"):
            engine = create_engine(
                url, connect_args={"timeout": busy_timeout_ms / 1000}, **kwargs
            )
            _tune_sqlite(engine, busy_timeout_ms)
            return engine
        # Keep as many connections open as the process's threads use at once under load
        # (decision and refresh workers, the agent API's threads, the sweep): with the
        # default 5, every connection beyond it was closed on return and opened again by
        # the next checkout, a new PostgreSQL backend per transaction under load.
        kwargs.setdefault("pool_size", PG_POOL_SIZE)
        kwargs.setdefault("max_overflow", PG_POOL_OVERFLOW)
        # LIFO: under load the same few connections stay warm (and skip the ping); the
        # rest idle long enough to be checked before they are used again.
        engine = create_engine(url, pool_use_lifo=True, **kwargs)
        _ping_when_idle(engine, PG_PING_AFTER_IDLE_S)
        return engine
    except (SQLAlchemyError, ImportError) as exc:
        raise StoreUnavailable(f"cannot use database URL {url!r}: {exc}; write "
                               "sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB") from exc


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    """SQLAlchemy's pessimistic disconnect handling, for connections idle ``idle_s`` or
    more: a failed ping raises ``DisconnectionError``, and the pool replaces the connection
    before anyone uses it. A connection dropped within ``idle_s`` of its last use fails its
    next transaction instead (the pool is then renewed); every caller treats that as the
    database being away (a click is told to retry or is replayed from the inbox)."""

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < idle_s:
            return
        try:
            with dbapi_conn.cursor() as cur:
                cur.execute("SELECT 1")
            if not dbapi_conn.autocommit:
                dbapi_conn.rollback()  # the ping's own transaction, not the caller's
        except Exception as exc:
            raise DisconnectionError(f"stale pooled connection: {exc}") from exc


def _tune_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN is ours to choose.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Apply the Alembic migrations: the only way signoff creates its schema."""
    from alembic import command

    try:
        command.upgrade(_alembic_config(engine), revision)
    except SQLAlchemyError as exc:
        raise StoreUnavailable(f"migration failed: {exc}") from exc


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise StoreUnavailable(f"cannot reach the database: {exc}") from exc


def check_schema(engine: Engine) -> None:
    """Fail early, with the fix, when the schema is missing or behind."""
    current = current_revision(engine)
    if current != head_revision():
        where = "has no signoff schema" if current is None else f"is at revision {current}"
        raise SchemaOutOfDate(
            f"the database {engine.url.render_as_string(hide_password=True)} {where}; "
            f"run `signoff migrate` (needs revision {head_revision()})"
        )


def migrate_url(url: str) -> None:
    """``migrate`` for a URL (opens and disposes its own engine)."""
    engine = make_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()


@contextmanager
def scratch_schema(base_url: str, prefix: str = "scratch") -> Iterator[str]:
    """A throw-away PostgreSQL schema (tests, benchmarks): every connection of the URL it
    yields lands in the schema, which is dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(base_url))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = make_url(normalise_url(base_url)).update_query_dict(
        {"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


#: The time budget of a write made before an ack (Slack waits 3 s for the whole answer).
QUICK_WRITE_MS = 1500


def quick_engine(engine: Engine) -> Engine:
    """Connections for writes made before an ack, bounded to :data:`QUICK_WRITE_MS`."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite":
        return make_engine(url, busy_timeout_ms=QUICK_WRITE_MS)
    options = engine.url.query.get("options", "")
    options = " ".join(options) if isinstance(options, tuple) else options
    return make_engine(url, isolation_level="AUTOCOMMIT", pool_size=4, connect_args={
        "options": f"{options} -c statement_timeout={QUICK_WRITE_MS}".strip()})
