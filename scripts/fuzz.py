"""Fuzz the live API against its own OpenAPI schema with schemathesis.

Serves the app with its production server and settings (DEBUG off) on a
scratch database loaded with the demo data, then runs schemathesis as the demo
user alice on every operation, with generated and mutated inputs, a fixed
seed and a bounded number of examples, and every built-in check plus ours
(fuzz/hooks.py: no answer shows another user's thread or message). Exits with
schemathesis' status: non-zero on any server error, schema violation or leak.

    .venv/bin/python scripts/fuzz.py [--max-examples 25] [--seed 20261122]
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from threads.tests.server import uvicorn_server  # noqa: E402

FOREIGN_MARKER = "FOREIGN-SECRET"
# Alice's view of the demo data; threads she is not in get a marked message each.
SEED_SCRIPT = f"""
import json
from django.contrib.auth.models import User
from threads import services
from threads.models import Membership, Message, Thread
alice = User.objects.get(username="alice")
# A group alice is not in, beside the demo's direct threads she is not in.
services.group_create(owner=User.objects.get(username="bob"), title="Without alice",
                      members=list(User.objects.filter(username__in=["carol", "erin"])))
foreign = Thread.objects.exclude(memberships__user=alice)
for thread in foreign:
    sender = thread.memberships.order_by("joined", "id").first().user
    services.message_create(thread=thread, sender=sender, text="{FOREIGN_MARKER} " + str(thread.pk))
# A thread and a group of alice's with ids the fuzzer's boundary values (0, 1,
# ...) never hit, so that its DELETE cases cannot remove them.
peer = User.objects.create_user("fuzzpeer", password="fuzz peer password 1")
thread = Thread.objects.create(pk=900_001, user_low=alice, user_high=peer, member_count=2)
Membership.objects.bulk_create([Membership(thread=thread, user=alice, direct_slot=0),
                                Membership(thread=thread, user=peer, direct_slot=1)])
services.message_create(thread=thread, sender=peer, text="to alice, for the fuzzer")
own = services.message_create(thread=thread, sender=alice, text="alice's own, for the fuzzer")
group = Thread.objects.create(pk=900_002, kind="group", title="Fuzz", member_count=2)
Membership.objects.bulk_create([Membership(thread=group, user=alice, role="owner"),
                                Membership(thread=group, user=peer)])
services.message_create(thread=group, sender=peer, text="to the group, for the fuzzer")
print(json.dumps({{
    "user": alice.pk,
    "peer": peer.pk,
    "thread": thread.pk,
    "group": group.pk,
    "own_message": own.pk,
    "received_message": Message.objects.filter(thread=thread).exclude(sender=alice).latest("pk").pk,
    "threads": list(foreign.values_list("pk", flat=True)),
    "messages": list(Message.objects.filter(thread__in=foreign).values_list("pk", flat=True)),
}}))
"""


CONFIG = """
[[operations]]
include-path-regex = '/messages/[{{]id[}}]/$'
parameters = {{ "path.thread_pk" = {thread}, "path.id" = {own} }}

[[operations]]
include-path-regex = '/messages/[{{]message_pk[}}]/readers/$'
parameters = {{ "path.thread_pk" = {thread}, "path.message_pk" = {own} }}

[[operations]]
include-path-regex = '/members/'
parameters = {{ "path.thread_pk" = {group}, "path.id" = {peer} }}

[[operations]]
include-path-regex = '/messages/[{{]id[}}]/mark_as_read/$'
parameters = {{ "path.thread_pk" = {thread}, "path.id" = {received} }}

[[operations]]
include-path-regex = '/messages/[{{]id[}}]/report/$'
parameters = {{ "path.thread_pk" = {thread}, "path.id" = {received} }}
"""


def manage(*args: str, env: dict) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(args[:1])} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=25, help="test cases per operation and phase")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--database-url", help="default: a scratch SQLite file")
    options = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="chat-fuzz-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CHAT_", "REDIS_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="chat_project.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="0",
        DATABASE_URL=options.database_url or f"sqlite:///{workdir / 'fuzz.sqlite3'}",
        JWT_ACCESS_TOKEN_LIFETIME_MINUTES="120",
        # Fuzzing is thousands of requests from one address and user: let them all through.
        CHAT_THROTTLE_TOKEN="1000000/minute",
        CHAT_THROTTLE_REGISTER="1000000/minute",
        CHAT_THROTTLE_MESSAGE_SEND="1000000/minute",
        CHAT_THROTTLE_MESSAGE_EDIT="1000000/minute",
        CHAT_THROTTLE_DELETE="1000000/minute",
        CHAT_THROTTLE_MARK_READ="1000000/minute",
        CHAT_THROTTLE_THREAD_CREATE="1000000/minute",
        CHAT_THROTTLE_SAFETY="1000000/minute",
    )
    manage("migrate", "--no-input", "-v", "0", env=env)
    manage("loaddata", "fixtures/demo.json", "-v", "0", env=env)
    known = json.loads(manage("shell", "-c", SEED_SCRIPT, env=env).strip().splitlines()[-1])
    # Ids that exist, for the operations on one message: random ids would
    # almost always answer 404 and never reach the code behind it.
    config = workdir / "schemathesis.toml"
    config.write_text(
        CONFIG.format(thread=known["thread"], own=known["own_message"], received=known["received_message"],
                      group=known["group"], peer=known["peer"])
    )

    with uvicorn_server(env, log_path=workdir / "server.log") as base:
        login = json.dumps({"username": "alice", "password": "chat-demo-2026"}).encode()
        request = urllib.request.Request(
            f"{base}/api/token/", data=login, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request) as response:
            token = json.load(response)["access"]
        common = [
            "--header", f"Authorization: Bearer {token}",
            "--checks", "all",
            # Schema-valid input that a business rule refuses with a 400 (a username
            # taken, a password too common, text that is only spaces, a participant
            # who does not exist) is correct behaviour the schema cannot express.
            "--exclude-checks", "positive_data_acceptance",
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", str(options.max_examples),
            "--seed", str(options.seed),
            "--workers", "1",
            "--generation-database", "none",
            "--no-color",
        ]
        schema_url = f"{base}/api/schema/"
        runs = {
            "every operation, generated and mutated (negative) inputs": [
                "run", schema_url, "--url", base, "--mode", "all", *common,
            ],
            # Random ids almost never name a message or group of alice's, so
            # these operations would stop at 404; run them again on real ids
            # (fixed ids cannot be mutated, hence positive inputs only).
            "the operations on one message and on a group's members, on ones that exist": [
                "--config-file", str(config), "run", schema_url, "--url", base, "--mode", "positive",
                "--include-path-regex", "/messages/[{]id[}]/|/readers/|/members/", *common,
            ],
        }
        hooks_env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SCHEMATHESIS_HOOKS": "fuzz.hooks",
            "FUZZ_USER_ID": str(known["user"]),
            "FUZZ_FOREIGN_THREAD_IDS": json.dumps(known["threads"]),
            "FUZZ_FOREIGN_MESSAGE_IDS": json.dumps(known["messages"]),
            "FUZZ_FOREIGN_TEXT_MARKER": FOREIGN_MARKER,
        }
        status = 0
        for title, arguments in runs.items():
            command = [sys.executable, "-m", "schemathesis.cli", *arguments]
            print(f"\n=== schemathesis: {title} ===", flush=True)
            print("$", " ".join(command).replace(token, "<alice's access token>"), flush=True)
            status = status or subprocess.run(command, cwd=ROOT, env=hooks_env, check=False).returncode
    errors = [line for line in (workdir / "server.log").read_text().splitlines() if "Traceback" in line]
    print(f"server log: {workdir / 'server.log'} ({len(errors)} tracebacks)")
    return status or (1 if errors else 0)


if __name__ == "__main__":
    sys.exit(main())
