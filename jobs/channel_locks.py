"""One sending dispatcher per channel for the whole deployment, so the platforms' limits hold for all instances.

On PostgreSQL each channel has a session advisory lock, held on a connection of its own. The dispatcher of
every instance tries to take the lock of each of its channels every few seconds; the one that holds it sends
on that channel, the others stand by (they still answer chats). When the holder dies its connection closes
and the lock is free: the next instance to take it first releases the rows the dead one had claimed (they
would otherwise wait for their lease), so nothing waits more than a few seconds after a crash. On SQLite
there is one instance by design: every channel is always ours.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable

from sqlalchemy import Connection, text

from models.db import Database
from models.messages import Channel

log = logging.getLogger(__name__)

LOCK_BASE = 0x51_6A_50_00
"""Advisory lock keys of the channels: this plus a small number per channel (the sweep uses its own key)."""


def lock_key(channel: Channel) -> int:
    """The advisory lock key of `channel` (stable across processes and versions)."""
    return LOCK_BASE + zlib.crc32(channel.value.encode()) % 0xFF


class ChannelLocks:
    """Which channels this process may send on; `refresh` takes free locks and notices lost ones."""

    def __init__(self, db: Database, channels: Iterable[Channel]) -> None:
        self.db = db
        self.channels = tuple(channels)
        self.held: set[Channel] = set(self.channels) if not db.is_postgres else set()
        self._connection: Connection | None = None

    def refresh(self) -> set[Channel]:
        """Try to take the locks not held yet; return the channels newly taken (their rows may be reclaimed)."""
        if not self.db.is_postgres:
            return set()
        try:
            connection = self._connect()
            connection.execute(text("SELECT 1"))  # a dead connection has lost its locks
        except Exception:
            if self.held:
                log.warning("lost the connection holding the send locks; standing by on %s", self._names(self.held))
            self._drop()
            return set()
        taken: set[Channel] = set()
        for channel in self.channels:
            if channel in self.held:
                continue
            got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": lock_key(channel)}).scalar()
            if got:
                self.held.add(channel)
                taken.add(channel)
        if taken:
            log.info("this instance now sends on %s", self._names(taken))
        return taken

    def release(self) -> None:
        """Give the locks back (a clean stop): another instance takes over at once."""
        self._drop()

    def _connect(self) -> Connection:
        if self._connection is None or self._connection.closed:
            self._connection = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._connection

    def _drop(self) -> None:
        self.held.clear()
        if self._connection is not None:
            try:
                # never back to the pool: the server frees session locks only when this connection ends
                self._connection.invalidate()
                self._connection.close()
            except Exception:
                log.debug("closing the lock connection failed", exc_info=True)
            self._connection = None

    @staticmethod
    def _names(channels: Iterable[Channel]) -> str:
        return ", ".join(sorted(c.value for c in channels))
