"""Bulk-load a large, realistic data set for benchmarking (see bench/README.md).

    DJANGO_SETTINGS_MODULE=chat_project.settings DJANGO_DEBUG=1 \
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chat_bench \
    .venv/bin/python bench/seed_large.py --users 2000 --threads 20000 --messages 2000000

The services are bypassed for speed (bulk_create, and COPY on PostgreSQL), so
this script keeps the model invariants itself:

* each thread stores its pair as user_low < user_high, one thread per pair;
* `Thread.participants` needs nothing: it is a database view of the pairs;
* thread.updated is the newest message's `created` (the thread's own
  `created` when it has no messages), and thread.message_count its number of
  messages;
* messages are mostly read: in some threads the last few messages, all from
  one participant, are still unread by the other one.

Messages are inserted in global time order, so ids grow with `created` and a
thread's messages are spread over the table the way they are in production.

Users: `bench_heavy` (the heavy user, --heavy-threads threads), `bench_peer`
(shares the huge thread of --huge-messages messages with bench_heavy, the last
--huge-unread of them unread by bench_heavy), `bench_u00003`... and the staff
superuser `bench_admin`, who has no threads. Every password is `bench-password`.
"""

import argparse
import os
import random
import sys
import time
from datetime import timedelta
from operator import itemgetter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_project.settings")

import django

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from threads.models import Message, Thread  # noqa: E402

PASSWORD = "bench-password"
HEAVY, PEER, ADMIN = "bench_heavy", "bench_peer", "bench_admin"

PHRASES = [
    "Hi!", "Hello there.", "Are we still on for tomorrow?", "Yes, 10:00 works for me.",
    "Sorry, running a bit late.", "Thanks a lot!", "Did you see the latest numbers?",
    "I'll send the file in a minute.", "Can you review my pull request when you have time?",
    "Lunch on Friday?", "Sounds good.", "Let me check and get back to you.",
    "The meeting moved to 3 pm.", "Could you print two copies of the draft?", "Great news, congratulations!",
    "I think we should ship it as is and fix the rest next week.", "OK", "No worries.",
    "Where did we put the deployment notes?", "See you soon.", "Happy birthday! 🎉",
    "Is the staging server down again?", "I pushed a fix, can you try again?", "Good morning ☀️",
    "Call me when you're free.", "The invoice is due at the end of the month.", "👍",
    "Can we move our 1:1 to Thursday?", "I'm out of office until Monday.", "Perfect, thanks.",
]


def log(message: str, started: float) -> None:
    print(f"[{time.perf_counter() - started:7.1f}s] {message}", flush=True)


def build_texts(rng: random.Random, count: int = 2000) -> list[str]:
    """A pool of message bodies, 1 to 4 phrases each, now and then a long one."""
    texts = []
    for _ in range(count):
        text = " ".join(rng.choice(PHRASES) for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])))
        if rng.random() < 0.02:
            text = " ".join([text] * rng.randint(5, 30))
        texts.append(text)
    return texts


def split_counts(rng: random.Random, total: int, slots: int, empty_share: float) -> list[int]:
    """Spread `total` messages over `slots` threads, skewed (log-normal) like real chats."""
    if slots == 0:
        return []
    weights = [0.0 if rng.random() < empty_share else rng.lognormvariate(0, 1.3) for _ in range(slots)]
    weight_sum = sum(weights) or 1.0
    exact = [total * w / weight_sum for w in weights]
    counts = [int(x) for x in exact]
    # Largest remainders get the messages lost to rounding.
    order = sorted(range(slots), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def reset_database(started: float) -> None:
    name = connection.settings_dict["NAME"] or ""
    if "bench" not in str(name):
        sys.exit(f"--reset empties the whole database; refusing on {name!r} (its name must contain 'bench').")
    if connection.vendor == "postgresql":
        models = [Message, Thread.participants.through, Thread, User]
        tables = [model._meta.db_table for model in models if model._meta.managed]
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    else:
        Message.objects.all().delete()
        if Thread.participants.through._meta.managed:
            Thread.participants.through.objects.all().delete()
        Thread.objects.all().delete()
        User.objects.all().delete()
    log(f"emptied {name}", started)


def create_users(count: int, started: float) -> list[int]:
    """Create the users; returns their ids, bench_heavy first and bench_peer second."""
    password = make_password(PASSWORD)
    now = timezone.now()
    names = [HEAVY, PEER] + [f"bench_u{i:05d}" for i in range(3, count + 1)]
    users = [User(username=n, email=f"{n}@example.com", password=password, date_joined=now) for n in names]
    users.append(User(username=ADMIN, email=f"{ADMIN}@example.com", password=password, date_joined=now,
                      is_staff=True, is_superuser=True))
    User.objects.bulk_create(users, batch_size=5000)
    ids = dict(User.objects.filter(username__in=names).values_list("username", "id"))
    log(f"{len(names)} users and the superuser {ADMIN}", started)
    return [ids[n] for n in names]


def choose_pairs(rng: random.Random, user_ids: list[int], threads: int, heavy_threads: int) -> list[tuple[int, int]]:
    """Distinct (low, high) pairs: the heavy user's first (the huge thread's pair first of all)."""
    heavy, others = user_ids[0], user_ids[1:]
    heavy_threads = min(heavy_threads, len(others), threads)
    partners = [others[0], *rng.sample(others[1:], heavy_threads - 1)]
    pairs = [tuple(sorted((heavy, p))) for p in partners]
    possible = len(others) * (len(others) - 1) // 2
    if threads - heavy_threads > possible:
        sys.exit(f"{threads} threads need more users: {len(user_ids)} users allow at most {possible + heavy_threads}.")
    seen = set(pairs)
    while len(pairs) < threads:
        a, b = rng.sample(others, 2)
        pair = (a, b) if a < b else (b, a)
        if pair not in seen:
            seen.add(pair)
            pairs.append(pair)
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=20000)
    parser.add_argument("--messages", type=int, default=2_000_000)
    parser.add_argument("--heavy-threads", type=int, default=2000, help="threads of bench_heavy (at most users-1)")
    parser.add_argument("--huge-messages", type=int, default=200_000, help="messages of the huge thread")
    parser.add_argument("--huge-unread", type=int, default=100, help="unread messages to bench_heavy in it")
    parser.add_argument("--unread-threads", type=float, default=0.3,
                        help="share of threads whose last few messages are unread (default 0.3)")
    parser.add_argument("--empty-threads", type=float, default=0.05, help="share of threads without messages")
    parser.add_argument("--days", type=int, default=365, help="the data set spans this many days up to now")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--reset", action="store_true", help="empty users, threads and messages first")
    args = parser.parse_args()
    if args.users < 3 or args.threads < 1 or args.huge_messages > args.messages:
        parser.error("need at least 3 users, 1 thread, and --huge-messages <= --messages")

    started = time.perf_counter()
    rng = random.Random(args.seed)
    db = connection.settings_dict["NAME"]
    log(f"seeding {connection.vendor} database {db}", started)

    with transaction.atomic():
        if args.reset:
            reset_database(started)
        elif User.objects.exists() or Thread.objects.exists():
            sys.exit(f"{db} already has users or threads; pass --reset to empty it first.")

        user_ids = create_users(args.users, started)
        pairs = choose_pairs(rng, user_ids, args.threads, args.heavy_threads)
        heavy_id = user_ids[0]

        # Per thread: created time, message times (microseconds), and unread tail.
        now = timezone.now().replace(microsecond=0)
        span_us = args.days * 86_400 * 10**6
        base = now - timedelta(microseconds=span_us)
        counts = [args.huge_messages, *split_counts(rng, args.messages - args.huge_messages, len(pairs) - 1,
                                                     args.empty_threads)]
        plans = []  # (created_us, sorted message times, unread tail length, unread sender index 0/1)
        for index, count in enumerate(counts):
            if index == 0:  # the huge thread: the whole period, active up to now
                created_us, end_us = 0, span_us
            else:
                created_us = rng.randrange(0, span_us - 3_600 * 10**6)
                end_us = rng.randrange(created_us, span_us)  # conversations go quiet at some point
            times = sorted(rng.randrange(created_us, end_us + 1) for _ in range(count))
            if index == 0:  # the last ones from bench_peer, unread by bench_heavy
                tail, tail_sender = min(args.huge_unread, count), 0 if pairs[0][0] != heavy_id else 1
            elif count and rng.random() < args.unread_threads:
                tail, tail_sender = min(count, 1 + int(rng.expovariate(1 / 4)), 30), rng.randrange(2)
            else:
                tail, tail_sender = 0, None
            plans.append((created_us, times, tail, tail_sender))
        log(f"planned {len(pairs)} threads, {sum(counts)} messages", started)

        threads = [
            Thread(user_low_id=low, user_high_id=high, created=base + timedelta(microseconds=created_us),
                   updated=base + timedelta(microseconds=times[-1] if times else created_us),
                   message_count=len(times))
            for (low, high), (created_us, times, _, _) in zip(pairs, plans, strict=True)
        ]
        Thread.objects.bulk_create(threads, batch_size=5000)
        stored = Thread.objects.values_list("user_low_id", "user_high_id", "id")
        thread_ids = {(low, high): pk for low, high, pk in stored}
        log(f"{len(pairs)} threads (participants: the view of their pairs)", started)

        texts = build_texts(rng)
        rows = []  # (created_us, thread_id, sender_id, text, is_read)
        for (low, high), (_, times, tail, tail_sender) in zip(pairs, plans, strict=True):
            thread_id = thread_ids[(low, high)]
            pair = (low, high)
            unread_sender = pair[tail_sender] if tail else None
            first_unread = len(times) - tail
            for i, created_us in enumerate(times):
                if i >= first_unread:
                    rows.append((created_us, thread_id, unread_sender, rng.choice(texts), False))
                else:
                    rows.append((created_us, thread_id, pair[rng.getrandbits(1)], rng.choice(texts), True))
        rows.sort(key=itemgetter(0))
        log(f"generated {len(rows)} messages ({sum(1 for r in rows if not r[4])} unread)", started)

        insert_messages(rows, base, started)

    if connection.vendor == "postgresql":
        # A steady-state table has a visibility map (autovacuum); a freshly
        # loaded one has none, which would make index-only scans look worse.
        with connection.cursor() as cursor:
            for model in (User, Thread, Message):
                cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
        log("VACUUM (ANALYZE) done", started)
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        log("ANALYZE done", started)

    verify(started)
    huge = Thread.objects.get(user_low_id=min(user_ids[:2]), user_high_id=max(user_ids[:2]))
    print(f"heavy user: {HEAVY} (id {heavy_id}), {min(args.heavy_threads, args.users - 1)} threads")
    print(f"huge thread: id {huge.pk} ({HEAVY} & {PEER}), {args.huge_messages} messages")
    print(f"staff: {ADMIN}; every password is {PASSWORD!r}")


def verify(started: float) -> None:
    """Check the invariants the services would have kept; exit non-zero if one is broken."""
    through = Thread.participants.through._meta.db_table
    thread, message = Thread._meta.db_table, Message._meta.db_table
    checks = {
        "threads whose updated is not their newest message's created (or their created)": f"""
            SELECT COUNT(*) FROM {thread} t
            LEFT JOIN (SELECT thread_id, MAX(created) AS newest FROM {message} GROUP BY thread_id) m
                   ON m.thread_id = t.id
            WHERE t.updated <> COALESCE(m.newest, t.created)""",
        "threads whose participants rows are not exactly their pair": f"""
            SELECT COUNT(*) FROM {thread} t
            WHERE (SELECT COUNT(*) FROM {through} p WHERE p.thread_id = t.id
                     AND p.user_id IN (t.user_low_id, t.user_high_id)) <> 2
               OR (SELECT COUNT(*) FROM {through} p WHERE p.thread_id = t.id) <> 2""",
        "threads whose message_count is not their number of messages": f"""
            SELECT COUNT(*) FROM {thread} t
            WHERE t.message_count <> (SELECT COUNT(*) FROM {message} m WHERE m.thread_id = t.id)""",
        "messages whose sender is not a participant of their thread": f"""
            SELECT COUNT(*) FROM {message} m JOIN {thread} t ON t.id = m.thread_id
            WHERE m.sender_id NOT IN (t.user_low_id, t.user_high_id)""",
    }
    with connection.cursor() as cursor:
        for label, sql in checks.items():
            cursor.execute(sql)
            (broken,) = cursor.fetchone()
            if broken:
                sys.exit(f"invariant broken: {broken} {label}")
    log("invariants checked", started)


def insert_messages(rows: list[tuple], base, started: float) -> None:
    opts = Message._meta
    columns = [opts.get_field(name).column for name in ("thread", "sender", "text", "created", "is_read")]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor, cursor.copy(
            f"COPY {opts.db_table} ({', '.join(columns)}) FROM STDIN"
        ) as copy:
            for created_us, thread_id, sender_id, text, is_read in rows:
                copy.write_row((thread_id, sender_id, text, base + timedelta(microseconds=created_us), is_read))
    else:
        batch = []
        for created_us, thread_id, sender_id, text, is_read in rows:
            batch.append(Message(thread_id=thread_id, sender_id=sender_id, text=text, is_read=is_read,
                                 created=base + timedelta(microseconds=created_us)))
            if len(batch) == 5000:
                Message.objects.bulk_create(batch)
                batch = []
        Message.objects.bulk_create(batch)
    log(f"inserted {len(rows)} messages", started)


if __name__ == "__main__":
    main()
