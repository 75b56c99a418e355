"""Fill the current database with a large, realistic data set, fast.

    .venv/bin/python manage.py seed_scale --users 10000 --messages 2000000

For benchmarks (`bench/run_bench.py`) and for trying the app at scale. It
writes around the services, in bulk (PostgreSQL: `COPY`; SQLite: `executemany`
in batches, all in one transaction), so it keeps the model's invariants itself
and checks them with SQL before it commits:

* a thread's pair is stored once, as `user_low` < `user_high`;
* `Thread.message_count` is its number of messages, `Thread.updated` the
  `created` of its newest message (its own `created` when it has none),
  `Thread.last_message` that message, and `unread_low` / `unread_high` its
  unread messages to each participant;
* every sender is a participant of the message's thread, and every text is
  non-empty;
* unread messages are the newest few of a thread, all from one participant
  (the other one has not read them yet); everything older is read.

The data: users `scale_hot` (the hot user, `--hot-threads` threads),
`scale_peer` (shares the hot thread of `--hot-thread-messages` messages with
`scale_hot`; its newest `--hot-unread` messages are from `scale_peer`, unread),
and `scale_u00003`...; every password is `bench-password` (hashed once).
The other threads join random pairs of the other users; their messages follow
a log-normal distribution (many short threads, a few long ones, some empty).
Messages are inserted in global time order, so ids grow with `created` and a
long thread's rows are spread over the whole table, as in production.

Ids are chosen here (from 1 on an empty table) and the id sequences are moved
past them at the end, so a thread's last message id, for example, is known
before anything is written.

New model fields: see `THREAD_VALUES` and `MESSAGE_VALUES` below. A field
seed_scale does not know is filled with its default (or NULL), except a field
whose name says it holds derived state (`unread`, `last_message`, `count`):
then the command stops and asks to be taught it, rather than write wrong data.
"""

import json
import random
import re
import time
from array import array
from datetime import UTC, timedelta
from itertools import islice
from operator import itemgetter

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from threads.models import Message, Thread

PASSWORD = "bench-password"
HOT_USER, PEER_USER, USER_PREFIX = "scale_hot", "scale_peer", "scale_u"

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
TEXT_POOL_BITS = 11  # 2,048 different message texts

# Thread fields -> the attribute of `ThreadPlan` that holds the value. The
# entries below the first block are for denormalised fields the model may get
# (a last-message pointer, per-participant unread counters); add the model's
# exact field name here when it gets one.
THREAD_VALUES = {
    "id": "id",
    "user_low": "user_low_id",
    "user_high": "user_high_id",
    "created": "created",
    "updated": "updated",
    "message_count": "message_count",
    # Possible denormalised fields.
    "last_message": "last_message_id",
    "last_message_created": "updated",
    "last_message_at": "updated",
    "unread_low": "unread_low",
    "unread_high": "unread_high",
    "unread_count_low": "unread_low",
    "unread_count_high": "unread_high",
    "low_unread_count": "unread_low",
    "high_unread_count": "unread_high",
    "user_low_unread": "unread_low",
    "user_high_unread": "unread_high",
    "user_low_unread_count": "unread_low",
    "user_high_unread_count": "unread_high",
}

# Message fields -> index in the row tuples the generator makes:
# (id, thread_id, sender_id, text, created, is_read).
MESSAGE_VALUES = {"id": 0, "thread": 1, "sender": 2, "text": 3, "created": 4, "is_read": 5}

# An unknown field whose name matches this holds state derived from other
# rows: filling it with its default would silently break an invariant.
DERIVED_FIELD = re.compile(r"unread|last_message|count|newest|latest")


class ThreadPlan:
    __slots__ = (
        "created", "created_us", "end_us", "id", "last_message_id", "message_count", "unread_high",
        "unread_low", "unread_sender_id", "unread_tail", "updated", "user_high_id", "user_low_id",
    )

    def __init__(self, low: int, high: int, created_us: int, end_us: int):
        self.user_low_id, self.user_high_id = low, high
        self.created_us, self.end_us = created_us, end_us
        self.id = self.last_message_id = self.unread_sender_id = None
        self.message_count = self.unread_tail = self.unread_low = self.unread_high = 0
        self.created = self.updated = None


class Command(BaseCommand):
    help = (
        "Fill the database with a large data set for benchmarks, fast (bulk inserts around the services, "
        "invariants kept and checked). Refuses a database that has users unless --flush."
    )

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=10_000, help="users, scale_hot and scale_peer included")
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--threads-per-user", type=float, default=10.0,
            help="average threads per user: threads = users x this / 2 (default 10)",
        )
        group.add_argument("--threads", type=int, help="total threads (instead of --threads-per-user)")
        parser.add_argument("--messages", type=int, default=2_000_000, help="total messages")
        parser.add_argument(
            "--unread-share", type=float, default=0.02, help="share of all messages that are unread (default 0.02)"
        )
        parser.add_argument("--hot-threads", type=int, default=500, help="threads of scale_hot")
        parser.add_argument(
            "--hot-thread-messages", type=int, default=50_000, help="messages of the scale_hot & scale_peer thread"
        )
        parser.add_argument(
            "--hot-unread", type=int, default=100,
            help="newest messages of the hot thread unread by scale_hot (taken from the unread share)",
        )
        parser.add_argument("--empty-share", type=float, default=0.05, help="share of threads without messages")
        parser.add_argument("--days", type=int, default=365, help="the data spans this many days up to now")
        parser.add_argument("--seed", type=int, default=20261122, help="random seed: same seed, same data")
        parser.add_argument("--batch-size", type=int, default=50_000, help="rows per insert batch")
        parser.add_argument(
            "--flush", action="store_true",
            help="first delete every user, thread and message (and the rows referencing them)",
        )
        parser.add_argument("--no-verify", action="store_true", help="skip the SQL check of the invariants")
        parser.add_argument("--summary-json", help="write the ids of the hot user, hot thread etc. to this file")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    # ------------------------------------------------------------------ helpers

    def log(self, text: str) -> None:
        self.stdout.write(f"[{time.perf_counter() - self.started:7.1f}s] {text}")
        self.stdout.flush()

    def handle(self, *args, **options):
        self.started = time.perf_counter()
        self.verbosity = options["verbosity"]
        self.connection = connections[options["database"]]
        self.options = options
        self.check_options()
        User = get_user_model()
        self.log(f"seeding {self.connection.vendor} database {self.connection.settings_dict['NAME']}")

        self.speed_up_sqlite()
        with transaction.atomic(using=self.connection.alias):
            if options["flush"]:
                self.flush(User)
            elif User._default_manager.using(self.connection.alias).exists():
                raise CommandError(
                    "The database already has users; seed_scale fills an empty one. "
                    "Pass --flush to delete every user, thread and message first."
                )
            summary = self.seed(User)
            if not options["no_verify"]:
                self.verify()
        self.analyze()
        summary["seconds"] = round(time.perf_counter() - self.started, 1)
        self.log(
            f"done: {summary['users']} users, {summary['threads']} threads, {summary['messages']} messages "
            f"({summary['unread']} unread); {HOT_USER} (id {summary['hot_user_id']}) has "
            f"{summary['hot_user_threads']} threads; hot thread {summary['hot_thread_id']} has "
            f"{summary['hot_thread_messages']} messages; password {PASSWORD!r}"
        )
        if options["summary_json"]:
            with open(options["summary_json"], "w") as out:
                json.dump(summary, out, indent=2)

    def check_options(self):
        o = self.options
        if o["users"] < 2:
            raise CommandError("--users must be at least 2 (scale_hot and scale_peer).")
        if o["messages"] < 0 or o["hot_thread_messages"] < 0 or o["hot_unread"] < 0:
            raise CommandError("Message numbers cannot be negative.")
        if o["hot_threads"] < 1:
            raise CommandError("--hot-threads must be at least 1 (the hot thread).")
        if not 0 <= o["unread_share"] <= 1 or not 0 <= o["empty_share"] < 1:
            raise CommandError("--unread-share must be within 0..1 and --empty-share within 0..1 (not 1).")
        if o["days"] < 1 or o["batch_size"] < 1:
            raise CommandError("--days and --batch-size must be positive.")
        if o["threads"] is not None and o["threads"] < 1:
            raise CommandError("--threads must be at least 1.")

    def speed_up_sqlite(self):
        """SQLite: no fsync while seeding and a big page cache (this connection only)."""
        if self.connection.vendor != "sqlite" or self.connection.in_atomic_block:
            return
        with self.connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-524288")  # 512 MiB
            cursor.execute("PRAGMA temp_store=MEMORY")

    def flush(self, User):
        if self.connection.vendor == "postgresql":
            # Rows written earlier in an enclosing transaction (a test) have deferred foreign key
            # checks pending, and TRUNCATE refuses to run past them: run them now.
            self.connection.check_constraints()
        ops = self.connection.ops
        tables = [User._meta.db_table, Thread._meta.db_table, Message._meta.db_table]
        statements = ops.sql_flush(no_style(), tables, reset_sequences=True, allow_cascade=True)
        ops.execute_sql_flush(statements)
        self.log("emptied users, threads and messages (--flush)")

    # --------------------------------------------------------------- the plan

    def seed(self, User) -> dict:
        o = self.options
        rng = random.Random(o["seed"])
        now = timezone.now().astimezone(UTC).replace(microsecond=0)
        span_us = o["days"] * 86_400 * 10**6
        base = now - timedelta(microseconds=span_us)

        # Users: ids 1..n (the table is empty), scale_hot first, scale_peer second.
        user_ids = list(range(1, o["users"] + 1))
        hot_id, peer_id = user_ids[0], user_ids[1]
        names = [HOT_USER, PEER_USER] + [f"{USER_PREFIX}{i:05d}" for i in range(3, o["users"] + 1)]
        password = make_password(PASSWORD)
        joined = base - timedelta(days=1)
        User._default_manager.using(self.connection.alias).bulk_create(
            [
                User(id=uid, username=name, email=f"{name}@example.com", password=password, date_joined=joined)
                for uid, name in zip(user_ids, names, strict=True)
            ],
            batch_size=2000,
        )
        self.log(f"{len(user_ids)} users")

        threads = self.plan_threads(rng, user_ids, span_us)
        hot_thread = threads[0]
        self.plan_message_counts(rng, threads)
        unread = self.plan_unread(rng, threads, peer_id)
        hot_user_threads = sum(1 for t in threads if hot_id in (t.user_low_id, t.user_high_id))

        # Thread ids in order of creation, as a live database would have them.
        threads.sort(key=lambda t: t.created_us)
        for index, thread in enumerate(threads, start=1):
            thread.id = index
        total = sum(t.message_count for t in threads)
        self.log(f"planned {len(threads)} threads, {total} messages ({unread} unread)")

        # Every message as one int: time (microseconds since `base`) x threads + thread index,
        # sorted, so ids follow time. A thread's messages lie between its creation and
        # the time it went quiet.
        n_threads = len(threads)
        keys = array("q")
        rand = rng.random
        for index, thread in enumerate(threads):
            start, length = thread.created_us, thread.end_us - thread.created_us
            keys.extend(int(start + rand() * length) * n_threads + index for _ in range(thread.message_count))
        keys = sorted(keys)
        self.log("message times drawn and sorted")

        # The newest message of each thread: the last one in time order.
        last_position = [-1] * n_threads
        for position, key in enumerate(keys):
            last_position[key % n_threads] = position
        for index, thread in enumerate(threads):
            thread.created = base + timedelta(microseconds=thread.created_us)
            if last_position[index] >= 0:
                thread.last_message_id = last_position[index] + 1
                thread.updated = base + timedelta(microseconds=keys[last_position[index]] // n_threads)
            else:
                thread.updated = thread.created

        self.insert_threads(threads)
        self.insert_messages(rng, threads, keys, base)
        self.reset_sequences(User)

        return {
            "database": self.connection.vendor,
            "users": len(user_ids),
            "threads": n_threads,
            "messages": total,
            "unread": unread,
            "hot_user": HOT_USER,
            "hot_user_id": hot_id,
            "peer_user": PEER_USER,
            "peer_user_id": peer_id,
            "hot_user_threads": hot_user_threads,
            "hot_thread_id": hot_thread.id,
            "hot_thread_messages": hot_thread.message_count,
            "password": PASSWORD,
        }

    def plan_threads(self, rng: random.Random, user_ids: list[int], span_us: int) -> list[ThreadPlan]:
        """The pairs: the hot thread first, then scale_hot's other threads, then random pairs of the others."""
        o = self.options
        hot_id, peer_id, rest = user_ids[0], user_ids[1], user_ids[2:]
        hot_threads = min(o["hot_threads"], len(user_ids) - 1)
        if hot_threads < o["hot_threads"]:
            self.log(f"--hot-threads capped at {hot_threads}: only {len(user_ids)} users")
        per_user = round(len(user_ids) * o["threads_per_user"] / 2)
        wanted = max(o["threads"] if o["threads"] is not None else per_user, hot_threads)
        others = user_ids[1:]  # scale_hot's threads are exactly the hot ones
        possible = len(others) * (len(others) - 1) // 2
        if wanted - hot_threads > possible:
            raise CommandError(
                f"{wanted} threads need more users: {len(user_ids)} users allow at most {possible + hot_threads}."
            )

        partners = [peer_id, *rng.sample(rest, hot_threads - 1)]
        pairs = [(min(hot_id, p), max(hot_id, p)) for p in partners]
        seen = set(pairs)
        missing = wanted - len(pairs)
        if missing > possible // 2:  # dense: draw from every possible pair
            candidates = [(a, b) for i, a in enumerate(others) for b in others[i + 1 :]]
            pairs.extend(rng.sample(candidates, missing))
        else:
            sample = rng.sample
            while len(pairs) < wanted:
                a, b = sample(others, 2)
                pair = (a, b) if a < b else (b, a)
                if pair not in seen:
                    seen.add(pair)
                    pairs.append(pair)

        threads = []
        for index, (low, high) in enumerate(pairs):
            if index == 0:  # the hot thread: the whole period, active up to now
                created_us, end_us = 0, span_us
            else:  # started some time in the period, went quiet some time after
                created_us = int(rng.random() * span_us * 0.95)
                end_us = created_us + int(rng.random() * (span_us - created_us))
            threads.append(ThreadPlan(low, high, created_us, end_us))
        return threads

    def plan_message_counts(self, rng: random.Random, threads: list[ThreadPlan]) -> None:
        """The hot thread gets --hot-thread-messages; the rest a log-normal share each."""
        o = self.options
        hot, others = threads[0], threads[1:]
        hot.message_count = min(o["hot_thread_messages"], o["messages"])
        remaining = o["messages"] - hot.message_count
        if not others:
            hot.message_count += remaining
            return
        weights = [0.0 if rng.random() < o["empty_share"] else rng.lognormvariate(0, 1.3) for _ in others]
        if not any(weights):
            weights[0] = 1.0
        scale = remaining / sum(weights)
        for thread, weight in zip(others, weights, strict=True):
            thread.message_count = int(weight * scale)
        short = remaining - sum(t.message_count for t in others)
        for index in rng.choices(range(len(others)), weights=weights, k=short):
            others[index].message_count += 1

    def plan_unread(self, rng: random.Random, threads: list[ThreadPlan], peer_id: int) -> int:
        """Mark the newest messages of some threads unread, --unread-share of all messages in
        total: a few (about 5 on average) in a random thread, all from one participant."""
        o = self.options
        total = sum(t.message_count for t in threads)
        budget = round(o["unread_share"] * total)
        unread = 0

        def add(thread: ThreadPlan, count: int, sender_id: int | None = None) -> int:
            count = min(count, thread.message_count - thread.unread_tail, budget - unread)
            if count <= 0:
                return 0
            if thread.unread_sender_id is None:
                thread.unread_sender_id = sender_id or rng.choice((thread.user_low_id, thread.user_high_id))
            thread.unread_tail += count
            return count

        hot = threads[0]
        unread += add(hot, o["hot_unread"], peer_id)
        order = [t for t in threads[1:] if t.message_count]
        rng.shuffle(order)
        while unread < budget:
            before = unread
            for thread in order:
                unread += add(thread, max(1, int(rng.expovariate(1 / 5))))
                if unread >= budget:
                    break
            if unread == before:  # every other thread is unread through: the hot one takes the rest
                unread += add(hot, budget - unread, peer_id)
                break
        for thread in threads:
            if thread.unread_sender_id == thread.user_high_id:
                thread.unread_low = thread.unread_tail
            elif thread.unread_sender_id == thread.user_low_id:
                thread.unread_high = thread.unread_tail
        return unread

    # ------------------------------------------------------------- the writes

    def insert_threads(self, threads: list[ThreadPlan]) -> None:
        values = {}
        for field in Thread._meta.concrete_fields:
            if field.name in THREAD_VALUES:
                values[field.attname] = THREAD_VALUES[field.name]
            elif DERIVED_FIELD.search(field.name):
                raise CommandError(
                    f"seed_scale does not know how to fill Thread.{field.name}; add it to THREAD_VALUES "
                    f"in {__name__} (a ThreadPlan attribute)."
                )
            elif self.verbosity > 1:
                self.log(f"Thread.{field.name}: its default")
        getters = {attname: self.plan_getter(attr) for attname, attr in values.items()}
        objects = [Thread(**{attname: get(t) for attname, get in getters.items()}) for t in threads]
        Thread._default_manager.using(self.connection.alias).bulk_create(objects, batch_size=2000)
        self.log(f"{len(threads)} threads")

    @staticmethod
    def plan_getter(attr: str):
        return lambda plan: getattr(plan, attr)

    def message_columns(self):
        """The columns to write, and how to make each from a generated row: an index into the
        row, or a function giving the value of a field seed_scale does not know."""
        connection = self.connection
        columns, sources = [], []
        for field in Message._meta.concrete_fields:
            columns.append(connection.ops.quote_name(field.column))
            if field.name in MESSAGE_VALUES:
                sources.append(MESSAGE_VALUES[field.name])
            elif DERIVED_FIELD.search(field.name):
                raise CommandError(
                    f"seed_scale does not know how to fill Message.{field.name}; add it to MESSAGE_VALUES "
                    f"in {__name__}."
                )
            elif field.has_default() or field.null:
                if self.verbosity > 1:
                    self.log(f"Message.{field.name}: {'its default' if field.has_default() else 'NULL'}")
                sources.append(self.default_maker(field))
            else:
                raise CommandError(
                    f"Message.{field.name} has no default and is not nullable; add it to MESSAGE_VALUES "
                    f"in {__name__}."
                )
        return columns, sources

    def default_maker(self, field):
        connection = self.connection
        if not field.has_default():
            return lambda: None
        if callable(field.default):
            return lambda: field.get_db_prep_save(field.default(), connection)
        value = field.get_db_prep_save(field.get_default(), connection)
        return lambda: value

    def datetime_maker(self, base):
        """Microseconds since `base` -> the value the driver writes for a DateTimeField."""
        connection = self.connection
        if connection.vendor == "sqlite" and settings.USE_TZ:
            # What connection.ops.adapt_datetimefield_value gives, without its checks per row.
            naive_base = timezone.make_naive(base, connection.timezone)
            return lambda us: str(naive_base + timedelta(microseconds=us))
        if connection.vendor == "postgresql":
            return lambda us: base + timedelta(microseconds=us)
        adapt = connection.ops.adapt_datetimefield_value
        return lambda us: adapt(base + timedelta(microseconds=us))

    def generate_messages(self, rng: random.Random, threads: list[ThreadPlan], keys, base):
        """Yield the message rows (id, thread_id, sender_id, text, created, is_read) in id order."""
        texts = build_texts(rng, 1 << TEXT_POOL_BITS)
        to_db = self.datetime_maker(base)
        getrandbits = rng.getrandbits
        n_threads = len(threads)
        thread_ids = [t.id for t in threads]
        pairs = [(t.user_low_id, t.user_high_id) for t in threads]
        first_unread = [t.message_count - t.unread_tail for t in threads]
        unread_sender = [t.unread_sender_id for t in threads]
        seen = [0] * n_threads
        for message_id, key in enumerate(keys, start=1):
            us, index = divmod(key, n_threads)
            position = seen[index]
            seen[index] = position + 1
            if position >= first_unread[index]:
                yield (message_id, thread_ids[index], unread_sender[index], texts[getrandbits(TEXT_POOL_BITS)],
                       to_db(us), False)
            else:
                yield (message_id, thread_ids[index], pairs[index][getrandbits(1)],
                       texts[getrandbits(TEXT_POOL_BITS)], to_db(us), True)

    def insert_messages(self, rng: random.Random, threads: list[ThreadPlan], keys, base) -> None:
        columns, sources = self.message_columns()
        rows = self.generate_messages(rng, threads, keys, base)
        if all(isinstance(s, int) for s in sources):
            if sources != list(range(len(MESSAGE_VALUES))):
                pick = itemgetter(*sources)
                rows = map(pick, rows)
        else:
            rows = (tuple(row[s] if isinstance(s, int) else s() for s in sources) for row in rows)

        total, done, step = len(keys), 0, max(1, len(keys) // 10)
        next_report = step
        table = self.connection.ops.quote_name(Message._meta.db_table)
        if self.connection.vendor == "postgresql":
            with self.connection.cursor() as cursor, cursor.copy(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            ) as copy:
                write = copy.write_row
                for row in rows:
                    write(row)
                    done += 1
                    if done >= next_report:
                        self.log(f"messages: {done:,} of {total:,}")
                        next_report += step
        else:
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
            batch_size = self.options["batch_size"]
            with self.connection.cursor() as cursor:
                while True:
                    batch = list(islice(rows, batch_size))
                    if not batch:
                        break
                    cursor.executemany(sql, batch)
                    done += len(batch)
                    if done >= next_report:
                        self.log(f"messages: {done:,} of {total:,}")
                        next_report += step
        self.log(f"{done:,} messages written")

    def reset_sequences(self, User) -> None:
        statements = self.connection.ops.sequence_reset_sql(no_style(), [User, Thread, Message])
        with self.connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)

    # ---------------------------------------------------------- after writing

    def verify(self) -> None:
        """Check the invariants with SQL; a broken one rolls everything back."""
        thread, message = Thread._meta.db_table, Message._meta.db_table
        checks = {
            "threads whose message_count or updated disagrees with their messages": f"""
                SELECT COUNT(*) FROM {thread} t
                LEFT JOIN (SELECT thread_id, COUNT(*) AS n, MAX(created) AS newest
                           FROM {message} GROUP BY thread_id) m ON m.thread_id = t.id
                WHERE t.message_count <> COALESCE(m.n, 0) OR t.updated <> COALESCE(m.newest, t.created)""",
            "threads whose last_message is not their newest message": f"""
                SELECT COUNT(*) FROM {thread} t
                WHERE COALESCE(t.last_message_id, 0) <> COALESCE(
                    (SELECT m.id FROM {message} m WHERE m.thread_id = t.id
                     ORDER BY m.created DESC, m.id DESC LIMIT 1), 0)""",
            "threads whose unread_low or unread_high disagrees with their unread messages": f"""
                SELECT COUNT(*) FROM {thread} t
                LEFT JOIN (SELECT m.thread_id,
                                  SUM(CASE WHEN m.sender_id = p.user_high_id THEN 1 ELSE 0 END) AS to_low,
                                  SUM(CASE WHEN m.sender_id = p.user_low_id THEN 1 ELSE 0 END) AS to_high
                           FROM {message} m JOIN {thread} p ON p.id = m.thread_id
                           WHERE NOT m.is_read GROUP BY m.thread_id) u ON u.thread_id = t.id
                WHERE t.unread_low <> COALESCE(u.to_low, 0) OR t.unread_high <> COALESCE(u.to_high, 0)""",
            "threads whose pair is not ordered": f"SELECT COUNT(*) FROM {thread} WHERE user_low_id >= user_high_id",
            "messages whose sender is not a participant of their thread": f"""
                SELECT COUNT(*) FROM {message} m JOIN {thread} t ON t.id = m.thread_id
                WHERE m.sender_id <> t.user_low_id AND m.sender_id <> t.user_high_id""",
            "messages with an empty text": f"SELECT COUNT(*) FROM {message} WHERE text = ''",
        }
        with self.connection.cursor() as cursor:
            for label, sql in checks.items():
                cursor.execute(sql)
                (broken,) = cursor.fetchone()
                if broken:
                    raise CommandError(f"Invariant broken, nothing was written: {broken} {label}.")
        self.log("invariants checked")

    def analyze(self) -> None:
        """Fresh statistics (and on PostgreSQL a visibility map, as autovacuum would leave)."""
        User = get_user_model()
        tables = [User._meta.db_table, Thread._meta.db_table, Message._meta.db_table]
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                if self.connection.in_atomic_block:  # VACUUM cannot run in a transaction
                    cursor.execute(f"ANALYZE {', '.join(tables)}")
                else:
                    cursor.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
            elif self.connection.vendor == "sqlite":
                cursor.execute("ANALYZE")
                if not self.connection.in_atomic_block:
                    cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.log("statistics updated")


def build_texts(rng: random.Random, count: int) -> list[str]:
    """A pool of message bodies: 1 to 4 phrases each, now and then a long one."""
    texts = []
    for _ in range(count):
        text = " ".join(rng.choice(PHRASES) for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])))
        if rng.random() < 0.02:
            text = " ".join([text] * rng.randint(5, 30))
        texts.append(text)
    return texts
