"""chat_project/sqlite_backend: BEGIN IMMEDIATE waits for SQLite's write
lock in its own short steps, and behaves as SQLite's busy handler did:
it starts as soon as the lock is free, and fails with "database is locked"
once the `timeout` option has passed. Real connections to a real file, on
either test run."""

import os
import sqlite3
import subprocess
import sys
import threading

import pytest
from django.conf import settings
from django.db import OperationalError
from django.db.utils import ConnectionHandler

from chat_project.sqlite_backend.base import DatabaseWrapper


@pytest.fixture
def database(tmp_path, django_db_blocker):
    """A file of its own, not the test database: no test transaction around it."""
    path = tmp_path / "busy.sqlite3"
    sqlite3.connect(path).execute("PRAGMA journal_mode=WAL").close()
    with django_db_blocker.unblock():
        yield path


def connect(path, *, timeout: float):
    handler = ConnectionHandler({"default": {
        "ENGINE": "chat_project.sqlite_backend",
        "NAME": str(path),
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": timeout},
    }})  # fmt: skip
    wrapper = DatabaseWrapper(handler.settings["default"], alias="busy")  # with Django's defaults filled in
    wrapper.ensure_connection()
    return wrapper


def begin(wrapper) -> None:
    """What transaction.atomic does first on SQLite."""
    wrapper.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)


def busy_timeout(wrapper) -> int:
    return wrapper.connection.execute("PRAGMA busy_timeout").fetchone()[0]


def test_the_settings_pick_this_backend_for_a_sqlite_database_url(tmp_path):
    show = (
        "import django; django.setup(); from django.db import connections;"
        " print(type(connections['default']).__module__, connections['default'].vendor)"
    )
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "chat_project.settings", "DJANGO_DEBUG": "1",
                   "DATABASE_URL": f"sqlite:///{tmp_path / 'any.sqlite3'}"}
    result = subprocess.run([sys.executable, "-c", show], cwd=settings.BASE_DIR, env=environment,
                            capture_output=True, text=True, timeout=60)

    assert result.stdout.split() == ["chat_project.sqlite_backend.base", "sqlite"], result.stderr


def test_a_transaction_waiting_for_the_write_lock_starts_once_it_is_free(database):
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    waiter = connect(database, timeout=20)
    waiter.inc_thread_sharing()  # used from the thread below
    started = threading.Event()
    thread = threading.Thread(target=lambda: (begin(waiter), started.set()))
    thread.start()

    assert not started.wait(0.3)  # still waiting: the lock is held
    holder.execute("COMMIT")
    assert started.wait(10)
    thread.join()

    assert waiter.connection.in_transaction
    assert busy_timeout(waiter) == 20_000  # restored for statements outside a transaction
    waiter.connection.execute("COMMIT")
    waiter.dec_thread_sharing()
    waiter.close()
    holder.close()


def test_a_lock_held_past_the_timeout_is_database_is_locked(database):
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    waiter = connect(database, timeout=0.3)

    with pytest.raises(OperationalError, match="database is locked"):
        begin(waiter)

    assert not waiter.connection.in_transaction
    assert busy_timeout(waiter) == 300
    holder.execute("COMMIT")
    begin(waiter)  # free now: starts at once
    assert waiter.connection.in_transaction
    waiter.connection.execute("ROLLBACK")
    waiter.close()
    holder.close()
