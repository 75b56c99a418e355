"""The worker command as a real process: killed mid-send and restarted, with
two of them running at once, nothing is lost."""

import os
import subprocess
import sys
import threading
import time

import pytest
from django.core.management import get_commands

from threads import services
from threads.tests import server
from webhooks.models import WebhookDelivery, WebhookEndpoint

LEASE_SECONDS = 3


def test_manage_py_help_lists_the_worker():
    assert get_commands()["webhooks_worker"] == "webhooks"


def start_worker(log_path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chat_project.settings_test",
        "DATABASE_URL": server.test_database_url(),
        "CHAT_WEBHOOK_ALLOW_INSECURE": "1",
        "CHAT_WEBHOOK_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    log = open(log_path, "a")  # noqa: SIM115 (closed with the process below)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "webhooks_worker", "--interval", "0.2"],
        cwd=server.PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    process.log = log
    return process


def stop(process: subprocess.Popen, *, kill: bool = False) -> None:
    if kill:
        process.kill()
    else:
        process.terminate()
    process.wait(timeout=30)
    process.log.close()


def wait_until(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_loses_nothing(alice, bob, receiver, settings, tmp_path):
    settings.CHAT_WEBHOOK_ALLOW_INSECURE = True
    WebhookEndpoint.objects.create(url=receiver.url, event_types=["message.created"])
    thread, _ = services.thread_get_or_create(user=alice, other=bob)
    for number in range(6):
        services.message_create(thread=thread, sender=alice if number % 2 else bob, text=f"m{number}")
    webhook_ids = set(WebhookDelivery.objects.values_list("webhook_id", flat=True))
    assert len(webhook_ids) == 6

    # The receiver holds its answer to the first request: the worker is
    # killed (SIGKILL, no clean-up) while it waits.
    release = threading.Event()
    receiver.hold = release
    log = tmp_path / "worker.log"
    worker = start_worker(log)
    try:
        receiver.wait_for(1)
    finally:
        stop(worker, kill=True)
    release.set()
    interrupted = receiver.requests[0]["headers"]["webhook-id"]
    assert not WebhookDelivery.objects.filter(status="delivered").exists()

    # Two workers now, at once: each delivery is taken by one of them, the
    # interrupted one again once its lease is over.
    workers = [start_worker(log), start_worker(log)]
    try:
        wait_until(lambda: WebhookDelivery.objects.filter(status="delivered").count() == 6)
    finally:
        for process in workers:
            stop(process)

    received = [request["headers"]["webhook-id"] for request in receiver.requests]
    assert set(received) == webhook_ids
    assert received.count(interrupted) == 2
    assert all(received.count(webhook_id) == 1 for webhook_id in webhook_ids - {interrupted}), log.read_text()
    texts = [p["data"]["message"]["text"] for p in receiver.payloads()]
    assert sorted(texts) == sorted([f"m{n}" for n in range(6)] + [texts[0]])
