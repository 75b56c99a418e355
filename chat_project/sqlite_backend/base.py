"""Django's SQLite backend, waiting for the write lock in short steps.

Every write transaction here starts with BEGIN IMMEDIATE (settings.py), so
two server processes that write at once queue for SQLite's write lock. The
loser waits in SQLite's busy handler, which sleeps 1 ms, then 2, 5, 10...
between tries (when built with usleep, as Debian's is), while a send
holds the lock for well under a millisecond: a collision cost more than
the work it waited for (docs/benchmarks.md). Here BEGIN IMMEDIATE is retried after sleeps that
start at 50 µs and double up to 1 ms, for as long as the `timeout` option
allows, then fails with SQLite's own "database is locked" as before.
Statements outside a transaction keep SQLite's busy handler.
"""

import sqlite3
import time

from django.db.backends.sqlite3 import base
from django.db.backends.utils import debug_transaction

FIRST_SLEEP = 50e-6
LONGEST_SLEEP = 1e-3


class DatabaseWrapper(base.DatabaseWrapper):
    def _start_transaction_under_autocommit(self):
        if self.transaction_mode != "IMMEDIATE":
            return super()._start_transaction_under_autocommit()
        # Logged as Django logs a BEGIN; errors wrapped as Django wraps them.
        with debug_transaction(self, "BEGIN IMMEDIATE"), self.wrap_database_errors:
            self._begin_immediate()

    def _begin_immediate(self) -> None:
        timeout = float(self.settings_dict["OPTIONS"].get("timeout", 5))
        raw = self.connection
        raw.execute("PRAGMA busy_timeout = 0")  # a busy lock fails at once, and is retried here
        try:
            deadline = time.monotonic() + timeout
            sleep = FIRST_SLEEP
            while True:
                try:
                    raw.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as error:
                    if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() + sleep > deadline:
                        raise
                time.sleep(sleep)
                sleep = min(sleep * 2, LONGEST_SLEEP)
        finally:
            raw.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
