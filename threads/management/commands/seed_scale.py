"""Fill the current database with a large, realistic data set, fast.

    .venv/bin/python manage.py seed_scale --users 10000 --messages 2000000
    .venv/bin/python manage.py seed_scale ... --groups 1000 --hot-groups 200 --group-messages 200000

For benchmarks (`bench/run_bench.py`) and for trying the app at scale. It
writes around the services, in bulk (PostgreSQL: `COPY`; SQLite: `executemany`
in batches, all in one transaction), so it keeps the model's invariants itself
and checks them with SQL before it commits:

* a direct thread's pair is stored once, as `user_low` < `user_high`, and its
  two `Membership` rows are that pair (`direct_slot` 0 and 1, role member);
* `Thread.message_count` is its number of messages, `Thread.member_count` its
  number of memberships, `Thread.updated` the `created` of its newest message
  (its own `created` when it has none), `Thread.last_message` that message;
* every member's `unread_count` is exact: in a direct thread the messages
  from the other participant with `is_read` False, in a group the messages
  from others newer than the member's read position (`last_read_message_id`);
* read positions lie between 0 and the thread's last message; in a group
  none of the member's own messages lies past it (a send moves it there);
* a group has exactly one owner and 1 to CHAT_GROUP_MAX_MEMBERS members; its
  messages' `is_read` is NULL (a direct message's never is);
* every sender is a member of the message's thread, every text non-empty.

The data: users `scale_hot` (the hot user, `--hot-threads` direct threads),
`scale_peer` (shares the hot thread of `--hot-thread-messages` messages with
`scale_hot`; its newest `--hot-unread` messages are from `scale_peer`, unread),
and `scale_u00003`...; every password is `bench-password` (hashed once).
The other direct threads join random pairs of the other users; their messages
follow a log-normal distribution (many short threads, a few long ones, some
empty). In a direct thread the unread messages are the newest few, all from
one participant; everything older is read. A member's read position is the
newest message they sent or, sent to them, have read (as migration 0006 set it).

Groups (`--groups`, none by default): `scale_hot` is a member of the first
`--hot-groups`; the first of those is the hot group (`--hot-group-members`
members, `scale_hot` its owner and `scale_peer` one of them, and
`--hot-group-messages` messages over the whole period, of which `scale_hot`
has not read the newest `--hot-unread`). The others have `--group-members`
members drawn at random and share `--group-messages` messages log-normally.
Each member's read position is the group's newest message or a few messages
before it (never before their own newest message): their unread count.
Group messages, like the hot thread's, are taken from `--messages`, the total.

Messages are inserted in global time order, so ids grow with `created` and a
long thread's rows are spread over the whole table, as in production.
Ids are chosen here (from 1 on an empty table) and the id sequences are moved
past them at the end, so a thread's last message id, for example, is known
before anything is written.

New model fields: see `THREAD_VALUES`, `MEMBERSHIP_VALUES` and
`MESSAGE_VALUES` below. A field seed_scale does not know is filled with its
default (or NULL), except a field whose name says it holds derived state
(`unread`, `last_message`, `last_read`, `count`): then the command stops and
asks to be taught it, rather than write wrong data.
"""

import json
import random
import re
import time
from array import array
from datetime import UTC, timedelta
from itertools import islice
from operator import attrgetter, itemgetter

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from threads.models import Membership, Message, Thread

PASSWORD = "bench-password"
HOT_USER, PEER_USER, USER_PREFIX = "scale_hot", "scale_peer", "scale_u"
DIRECT, GROUP = Thread.Kind.DIRECT.value, Thread.Kind.GROUP.value
OWNER, ADMIN, MEMBER = Membership.Role.OWNER.value, Membership.Role.ADMIN.value, Membership.Role.MEMBER.value

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
GROUP_TOPICS = ["Team", "Project", "Book club", "Family", "Weekend", "Release", "Ops", "Lunch", "Football", "Design"]

# Thread fields -> the attribute of `ThreadPlan` that holds the value. The
# last block are names a denormalised field the model may get could have;
# add the model's exact field name here when it gets one.
THREAD_VALUES = {
    "id": "id",
    "kind": "kind",
    "title": "title",
    "user_low": "user_low_id",
    "user_high": "user_high_id",
    "created": "created",
    "updated": "updated",
    "message_count": "message_count",
    "member_count": "member_count",
    "last_message": "last_message_id",
    # Possible denormalised fields.
    "last_message_created": "updated",
    "last_message_at": "updated",
}

# Membership fields -> index in the row tuples `membership_rows` makes: (id,
# thread_id, user_id, role, joined, direct_slot, last_read_message_id,
# unread_count, thread_updated).
MEMBERSHIP_VALUES = {
    "id": 0, "thread": 1, "user": 2, "role": 3, "joined": 4, "direct_slot": 5, "last_read_message_id": 6,
    "unread_count": 7, "thread_updated": 8,
}

# Message fields -> index in the row tuples the generator makes:
# (id, thread_id, sender_id, text, created, is_read).
MESSAGE_VALUES = {"id": 0, "thread": 1, "sender": 2, "text": 3, "created": 4, "is_read": 5}

# An unknown field whose name matches this holds state derived from other
# rows: filling it with its default would silently break an invariant.
DERIVED_FIELD = re.compile(r"unread|last_message|last_read|count|newest|latest|updated")


class Constant:
    """A column's value that is the same in every row."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class ThreadPlan:
    """One thread to write. Direct threads: the pair, and the unread tail of
    the newest `unread_tail` messages from `unread_sender_id`. Groups: the
    members (owner first), their roles, each one's `lags` (the newest messages
    they have not read), the sender of every message, and the ids of its
    messages as they are generated."""

    __slots__ = (
        "created", "created_us", "end_us", "id", "kind", "lags", "last_message_id", "member_count", "members",
        "message_count", "message_ids", "newest_read_id", "roles", "senders", "title", "unread_high",
        "unread_low", "unread_sender_id", "unread_tail", "updated", "user_high_id", "user_low_id",
    )

    def __init__(self, low: int | None, high: int | None, created_us: int, end_us: int, *, members=None):
        self.user_low_id, self.user_high_id = low, high
        self.created_us, self.end_us = created_us, end_us
        self.id = self.last_message_id = self.unread_sender_id = self.title = None
        self.message_count = self.unread_tail = self.unread_low = self.unread_high = self.newest_read_id = 0
        self.created = self.updated = self.senders = self.message_ids = None
        if members is None:
            self.kind, self.members, self.roles, self.lags = DIRECT, [low, high], [MEMBER, MEMBER], None
        else:
            self.kind, self.members, self.roles, self.lags = GROUP, members, [], []
        self.member_count = len(self.members)


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
            help="average direct threads per user: threads = users x this / 2 (default 10)",
        )
        group.add_argument("--threads", type=int, help="total direct threads (instead of --threads-per-user)")
        parser.add_argument("--messages", type=int, default=2_000_000, help="total messages, groups' included")
        parser.add_argument(
            "--unread-share", type=float, default=0.02,
            help="share of the direct threads' messages that are unread (default 0.02)",
        )
        parser.add_argument("--hot-threads", type=int, default=500, help="direct threads of scale_hot")
        parser.add_argument(
            "--hot-thread-messages", type=int, default=50_000, help="messages of the scale_hot & scale_peer thread"
        )
        parser.add_argument(
            "--hot-unread", type=int, default=100,
            help="newest messages of the hot thread (taken from the unread share) and of the hot group "
            "unread by scale_hot",
        )
        parser.add_argument("--empty-share", type=float, default=0.05, help="share of threads without messages")
        parser.add_argument("--groups", type=int, default=0, help="group threads, the hot ones included (default 0)")
        parser.add_argument("--group-members", type=int, default=10, help="members of each group but the hot one")
        parser.add_argument(
            "--group-messages", type=int, default=0,
            help="messages of the groups other than the hot one, all together (taken from --messages)",
        )
        parser.add_argument(
            "--hot-groups", type=int, default=0,
            help="groups scale_hot is a member of, the hot group first (default 0: no hot group)",
        )
        parser.add_argument("--hot-group-members", type=int, default=100, help="members of the hot group")
        parser.add_argument(
            "--hot-group-messages", type=int, default=50_000, help="messages of the hot group (taken from --messages)"
        )
        parser.add_argument("--days", type=int, default=365, help="the data spans this many days up to now")
        parser.add_argument("--seed", type=int, default=20261122, help="random seed: same seed, same data")
        parser.add_argument("--batch-size", type=int, default=50_000, help="rows per insert batch")
        parser.add_argument(
            "--flush", action="store_true",
            help="first delete every user, thread, membership and message (and the rows referencing them)",
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
        groups = ""
        if summary["groups"]:
            groups = (
                f"; {summary['groups']} groups ({summary['group_messages']} messages), {HOT_USER} in "
                f"{summary['hot_user_groups']}; hot group {summary['hot_group_id']} has "
                f"{summary['hot_group_members']} members and {summary['hot_group_messages']} messages"
            )
        self.log(
            f"done: {summary['users']} users, {summary['threads']} threads, {summary['messages']} messages "
            f"({summary['unread']} unread direct messages); {HOT_USER} (id {summary['hot_user_id']}) has "
            f"{summary['hot_user_threads']} direct threads; hot thread {summary['hot_thread_id']} has "
            f"{summary['hot_thread_messages']} messages{groups}; password {PASSWORD!r}"
        )
        if options["summary_json"]:
            with open(options["summary_json"], "w") as out:
                json.dump(summary, out, indent=2)

    def check_options(self):
        o = self.options
        if o["users"] < 2:
            raise CommandError("--users must be at least 2 (scale_hot and scale_peer).")
        numbers = ("messages", "hot_thread_messages", "hot_unread", "group_messages", "hot_group_messages", "groups",
                   "hot_groups")  # fmt: skip
        if any(o[name] < 0 for name in numbers):
            raise CommandError("Message and group numbers cannot be negative.")
        if o["hot_threads"] < 1:
            raise CommandError("--hot-threads must be at least 1 (the hot thread).")
        if not 0 <= o["unread_share"] <= 1 or not 0 <= o["empty_share"] < 1:
            raise CommandError("--unread-share must be within 0..1 and --empty-share within 0..1 (not 1).")
        if o["days"] < 1 or o["batch_size"] < 1:
            raise CommandError("--days and --batch-size must be positive.")
        if o["threads"] is not None and o["threads"] < 1:
            raise CommandError("--threads must be at least 1.")
        limit = settings.CHAT_GROUP_MAX_MEMBERS
        if not 1 <= o["group_members"] <= limit or (o["hot_groups"] and not 2 <= o["hot_group_members"] <= limit):
            raise CommandError(
                f"A group has 1 to {limit} members (CHAT_GROUP_MAX_MEMBERS); the hot group at least 2 "
                f"({HOT_USER} and {PEER_USER})."
            )
        sizes = ([o["group_members"]] if o["groups"] > o["hot_groups"] else []) + (
            [o["group_members"] if o["hot_groups"] > 1 else 1, o["hot_group_members"]] if o["hot_groups"] else []
        )
        if max(sizes, default=0) > o["users"]:
            raise CommandError("A group cannot have more members than there are --users.")

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
        tables = [User._meta.db_table, Thread._meta.db_table, Membership._meta.db_table, Message._meta.db_table]
        statements = ops.sql_flush(no_style(), tables, reset_sequences=True, allow_cascade=True)
        ops.execute_sql_flush(statements)
        self.log("emptied users, threads, memberships and messages (--flush)")

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

        directs = self.plan_threads(rng, user_ids, span_us)
        groups = self.plan_groups(rng, user_ids, span_us)
        hot_thread = directs[0]
        hot_group = groups[0] if o["hot_groups"] else None
        self.plan_message_counts(rng, directs, groups, hot_group)
        unread = self.plan_unread(rng, directs, peer_id)
        self.plan_group_reads(rng, groups, hot_group, hot_id, peer_id)
        hot_user_threads = sum(1 for t in directs if hot_id in (t.user_low_id, t.user_high_id))
        hot_user_groups = sum(1 for g in groups if hot_id in g.members)

        # Thread ids in order of creation, as a live database would have them.
        threads = sorted(directs + groups, key=lambda t: t.created_us)
        for index, thread in enumerate(threads, start=1):
            thread.id = index
        total = sum(t.message_count for t in threads)
        group_total = sum(g.message_count for g in groups)
        self.log(
            f"planned {len(directs)} direct threads, {len(groups)} groups, {total} messages "
            f"({group_total} in groups, {unread} unread direct messages)"
        )

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
        del keys
        memberships = self.insert_memberships(threads, base)
        self.reset_sequences(User)

        return {
            "database": self.connection.vendor,
            "users": len(user_ids),
            "threads": n_threads,
            "direct_threads": len(directs),
            "groups": len(groups),
            "memberships": memberships,
            "messages": total,
            "group_messages": group_total,
            "unread": unread,
            "group_unread": sum(sum(g.lags) for g in groups),
            "hot_user": HOT_USER,
            "hot_user_id": hot_id,
            "peer_user": PEER_USER,
            "peer_user_id": peer_id,
            "hot_user_threads": hot_user_threads,
            "hot_user_groups": hot_user_groups,
            "hot_thread_id": hot_thread.id,
            "hot_thread_messages": hot_thread.message_count,
            "hot_group_id": hot_group.id if hot_group else None,
            "hot_group_members": hot_group.member_count if hot_group else None,
            "hot_group_messages": hot_group.message_count if hot_group else None,
            "hot_group_unread": hot_group.lags[0] if hot_group else None,
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

    def plan_groups(self, rng: random.Random, user_ids: list[int], span_us: int) -> list[ThreadPlan]:
        """The groups: the hot group first (scale_hot owns it, scale_peer is in it), then
        scale_hot's other groups (scale_hot at a random rank), then groups of the other users."""
        o = self.options
        count = max(o["groups"], o["hot_groups"])
        hot_id, peer_id = user_ids[0], user_ids[1]
        others = user_ids[1:]
        size = o["group_members"]
        groups = []
        for index in range(count):
            if index == 0 and o["hot_groups"]:  # active over the whole period, up to now
                members = [hot_id, peer_id, *rng.sample(user_ids[2:], o["hot_group_members"] - 2)]
                created_us, end_us = 0, span_us
                title = "Hot group"
            else:
                if index < o["hot_groups"]:
                    members = [hot_id, *rng.sample(others, size - 1)]
                    rng.shuffle(members)
                else:
                    members = rng.sample(others, min(size, len(others)))
                created_us = int(rng.random() * span_us * 0.95)
                end_us = created_us + int(rng.random() * (span_us - created_us))
                title = f"{rng.choice(GROUP_TOPICS)} {index}"
            group = ThreadPlan(None, None, created_us, end_us, members=members)
            group.title = title
            # members[0] owns the group; in a group of five or more, members[1] is an admin.
            group.roles = [OWNER] + [ADMIN if rank == 1 and len(members) >= 5 else MEMBER
                                     for rank in range(1, len(members))]  # fmt: skip
            groups.append(group)
        return groups

    def plan_message_counts(
        self, rng: random.Random, directs: list[ThreadPlan], groups: list[ThreadPlan], hot_group: ThreadPlan | None
    ) -> None:
        """The hot thread gets --hot-thread-messages, the hot group --hot-group-messages, the other
        groups --group-messages between them, the other direct threads the rest of --messages
        (each as far as --messages goes, in that order); shared out log-normally."""
        o = self.options
        hot, others = directs[0], directs[1:]
        remaining = o["messages"]
        hot.message_count = min(o["hot_thread_messages"], remaining)
        remaining -= hot.message_count
        if hot_group is not None:
            hot_group.message_count = min(o["hot_group_messages"], remaining)
            remaining -= hot_group.message_count
        other_groups = [g for g in groups if g is not hot_group]
        if other_groups:
            in_groups = min(o["group_messages"], remaining)
            self.spread(rng, other_groups, in_groups)
            remaining -= in_groups
        if not others:
            hot.message_count += remaining
            return
        self.spread(rng, others, remaining)

    def spread(self, rng: random.Random, threads: list[ThreadPlan], total: int) -> None:
        """Share `total` messages out among `threads`, log-normally, some threads empty."""
        weights = [0.0 if rng.random() < self.options["empty_share"] else rng.lognormvariate(0, 1.3) for _ in threads]
        if not any(weights):
            weights[0] = 1.0
        scale = total / sum(weights)
        for thread, weight in zip(threads, weights, strict=True):
            thread.message_count = int(weight * scale)
        short = total - sum(t.message_count for t in threads)
        for index in rng.choices(range(len(threads)), weights=weights, k=short):
            threads[index].message_count += 1

    def plan_unread(self, rng: random.Random, threads: list[ThreadPlan], peer_id: int) -> int:
        """Mark the newest messages of some direct threads unread, --unread-share of their messages in
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

    def plan_group_reads(
        self, rng: random.Random, groups: list[ThreadPlan], hot_group: ThreadPlan | None, hot_id: int, peer_id: int
    ) -> None:
        """Who sends each group message (a few members talk most), and how far behind each member
        reads: most are up to date, some a few messages behind, a few never opened the group. A
        member never lags past their own newest message (a send moves the sender's position)."""
        hot_unread = self.options["hot_unread"]
        for group in groups:
            count, members = group.message_count, group.members
            weights = [rng.lognormvariate(0, 1) for _ in members]
            senders = rng.choices(members, weights=weights, k=count)
            if group is hot_group:  # scale_hot has not read the newest --hot-unread: others sent them
                for position in range(max(0, count - hot_unread), count):
                    if senders[position] == hot_id:
                        senders[position] = peer_id
            newest_own = {}
            for position, sender in enumerate(senders):
                newest_own[sender] = position
            for member in members:
                behind_own = count - 1 - newest_own.get(member, -1)  # messages after their own newest
                if group is hot_group and member == hot_id:
                    wanted = hot_unread
                else:
                    draw = rng.random()
                    wanted = 0 if draw < 0.6 else count if draw > 0.97 else 1 + int(rng.expovariate(1 / 5))
                group.lags.append(min(wanted, behind_own))
            group.senders = array("q", senders)
            group.message_ids = array("q")

    # ------------------------------------------------------------- the writes

    def insert_threads(self, threads: list[ThreadPlan]) -> None:
        connection = self.connection
        columns, getters = [], []
        for field in Thread._meta.concrete_fields:
            columns.append(connection.ops.quote_name(field.column))
            if field.name in THREAD_VALUES:
                get = attrgetter(THREAD_VALUES[field.name])
                if field.get_internal_type() == "DateTimeField" and connection.vendor != "postgresql":
                    get = compose(connection.ops.adapt_datetimefield_value, get)
                getters.append(get)
            elif DERIVED_FIELD.search(field.name):
                raise CommandError(
                    f"seed_scale does not know how to fill Thread.{field.name}; add it to THREAD_VALUES "
                    f"in {__name__} (a ThreadPlan attribute)."
                )
            elif field.has_default() or field.null:
                if self.verbosity > 1:
                    self.log(f"Thread.{field.name}: {'its default' if field.has_default() else 'NULL'}")
                make = self.default_maker(field)
                getters.append(ignoring_plan(lambda value=make.value: value) if isinstance(make, Constant)
                               else ignoring_plan(make))  # fmt: skip
            else:
                raise CommandError(
                    f"Thread.{field.name} has no default and is not nullable; add it to THREAD_VALUES in {__name__}."
                )
        rows = (tuple(get(plan) for get in getters) for plan in threads)
        self.write_rows(Thread, columns, rows, len(threads), "threads")

    def row_columns(self, model, known: dict):
        """The columns of `model` to write, and how to make each from a generated row: an index
        into the row (`known`), or a function giving the value of a field seed_scale does not know."""
        connection = self.connection
        columns, sources = [], []
        name = model.__name__
        for field in model._meta.concrete_fields:
            columns.append(connection.ops.quote_name(field.column))
            if field.name in known:
                sources.append(known[field.name])
            elif DERIVED_FIELD.search(field.name):
                raise CommandError(
                    f"seed_scale does not know how to fill {name}.{field.name}; add it to "
                    f"{name.upper()}_VALUES in {__name__}."
                )
            elif field.has_default() or field.null:
                if self.verbosity > 1:
                    self.log(f"{name}.{field.name}: {'its default' if field.has_default() else 'NULL'}")
                sources.append(self.default_maker(field))
            else:
                raise CommandError(
                    f"{name}.{field.name} has no default and is not nullable; add it to "
                    f"{name.upper()}_VALUES in {__name__}."
                )
        return columns, sources

    def default_maker(self, field):
        """A function making the field's default for each row, or a `Constant` when it never changes."""
        connection = self.connection
        if not field.has_default():
            return Constant(None)
        if callable(field.default):
            return lambda: field.get_db_prep_save(field.default(), connection)
        return Constant(field.get_db_prep_save(field.get_default(), connection))

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
        """Yield the message rows (id, thread_id, sender_id, text, created, is_read) in id order;
        note each direct thread's newest read message and each group's message ids on the way."""
        texts = build_texts(rng, 1 << TEXT_POOL_BITS)
        to_db = self.datetime_maker(base)
        getrandbits = rng.getrandbits
        n_threads = len(threads)
        thread_ids = [t.id for t in threads]
        pairs = [(t.user_low_id, t.user_high_id) for t in threads]
        first_unread = [t.message_count - t.unread_tail for t in threads]
        unread_sender = [t.unread_sender_id for t in threads]
        group_senders = [t.senders for t in threads]  # None for a direct thread
        group_ids = [t.message_ids for t in threads]
        newest_read = [0] * n_threads
        seen = [0] * n_threads
        for message_id, key in enumerate(keys, start=1):
            us, index = divmod(key, n_threads)
            position = seen[index]
            seen[index] = position + 1
            senders = group_senders[index]
            if senders is not None:
                group_ids[index].append(message_id)
                yield (message_id, thread_ids[index], senders[position], texts[getrandbits(TEXT_POOL_BITS)],
                       to_db(us), None)
            elif position >= first_unread[index]:
                yield (message_id, thread_ids[index], unread_sender[index], texts[getrandbits(TEXT_POOL_BITS)],
                       to_db(us), False)
            else:
                newest_read[index] = message_id
                yield (message_id, thread_ids[index], pairs[index][getrandbits(1)],
                       texts[getrandbits(TEXT_POOL_BITS)], to_db(us), True)
        for thread, newest in zip(threads, newest_read, strict=True):
            thread.newest_read_id = newest

    def write_rows(self, model, columns: list[str], rows, total: int, label: str) -> int:
        """Write `rows` (tuples in `columns` order) into the model's table: COPY on PostgreSQL,
        executemany in batches elsewhere; log progress every tenth of `total`."""
        done, step = 0, max(1, total // 10)
        next_report = step
        table = self.connection.ops.quote_name(model._meta.db_table)
        if self.connection.vendor == "postgresql":
            with self.connection.cursor() as cursor, cursor.copy(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            ) as copy:
                write = copy.write_row
                for row in rows:
                    write(row)
                    done += 1
                    if done >= next_report:
                        self.log(f"{label}: {done:,} of {total:,}")
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
                        self.log(f"{label}: {done:,} of {total:,}")
                        next_report += step
        self.log(f"{done:,} {label} written")
        return done

    @staticmethod
    def arrange(rows, sources: list, width: int):
        """`rows` with their fields in column order (`sources` from row_columns)."""
        if all(isinstance(s, int) for s in sources):
            if sources == list(range(width)):
                return rows
            return map(itemgetter(*sources), rows)
        known = len(sources) - sum(1 for s in sources if isinstance(s, Constant))
        if sources[:known] == list(range(width)) and all(isinstance(s, Constant) for s in sources[known:]):
            # The usual case (a new nullable field, such as Message.client_id): a constant tail.
            tail = tuple(s.value for s in sources[known:])
            return (row + tail for row in rows)
        return (
            tuple(row[s] if isinstance(s, int) else s.value if isinstance(s, Constant) else s() for s in sources)
            for row in rows
        )

    def insert_messages(self, rng: random.Random, threads: list[ThreadPlan], keys, base) -> None:
        columns, sources = self.row_columns(Message, MESSAGE_VALUES)
        rows = self.arrange(self.generate_messages(rng, threads, keys, base), sources, len(MESSAGE_VALUES))
        self.write_rows(Message, columns, rows, len(keys), "messages")

    def membership_rows(self, threads: list[ThreadPlan], base):
        """(id, thread_id, user_id, role, joined, direct_slot, last_read_message_id, unread_count,
        thread_updated), by thread id, a group's owner first. Every member joined when the thread
        was created."""
        to_db = self.datetime_maker(base)
        membership_id = 0
        for thread in sorted(threads, key=lambda t: t.id):
            joined = to_db(thread.created_us)
            updated = to_db((thread.updated - base) // timedelta(microseconds=1))
            if thread.kind == DIRECT:
                # What each has seen: everything they sent, and what was sent to them and is read.
                # With an unread tail, its sender sent the newest message; the other has seen up
                # to the newest read one. Without one, both have seen everything.
                newest = thread.last_message_id or 0
                low_read = high_read = thread.newest_read_id
                if thread.unread_sender_id == thread.user_low_id:
                    low_read = newest
                elif thread.unread_sender_id == thread.user_high_id:
                    high_read = newest
                membership_id += 2
                yield (membership_id - 1, thread.id, thread.user_low_id, MEMBER, joined, 0, low_read, thread.unread_low,
                       updated)
                yield (membership_id, thread.id, thread.user_high_id, MEMBER, joined, 1, high_read, thread.unread_high,
                       updated)
            else:
                ids, count = thread.message_ids, thread.message_count
                for user_id, role, lag in zip(thread.members, thread.roles, thread.lags, strict=True):
                    membership_id += 1
                    position = ids[count - 1 - lag] if lag < count else 0
                    yield (membership_id, thread.id, user_id, role, joined, None, position, lag, updated)

    def insert_memberships(self, threads: list[ThreadPlan], base) -> int:
        columns, sources = self.row_columns(Membership, MEMBERSHIP_VALUES)
        rows = self.arrange(self.membership_rows(threads, base), sources, len(MEMBERSHIP_VALUES))
        return self.write_rows(Membership, columns, rows, sum(t.member_count for t in threads), "memberships")

    def reset_sequences(self, User) -> None:
        statements = self.connection.ops.sequence_reset_sql(no_style(), [User, Thread, Membership, Message])
        with self.connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)

    # ---------------------------------------------------------- after writing

    def verify(self) -> None:
        """Check the invariants with SQL; a broken one rolls everything back."""
        thread, message, member = Thread._meta.db_table, Message._meta.db_table, Membership._meta.db_table
        limit = settings.CHAT_GROUP_MAX_MEMBERS
        timed = getattr(self, "verbosity", 1) > 1
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
            "threads whose member_count disagrees with their memberships": f"""
                SELECT COUNT(*) FROM {thread} t
                LEFT JOIN (SELECT thread_id, COUNT(*) AS n FROM {member} GROUP BY thread_id) mb
                    ON mb.thread_id = t.id
                WHERE t.member_count <> COALESCE(mb.n, 0)""",
            "direct threads whose pair is not ordered or not their two members": f"""
                SELECT COUNT(*) FROM {thread} t
                WHERE t.kind = '{DIRECT}' AND (t.user_low_id >= t.user_high_id OR t.member_count <> 2
                    OR NOT EXISTS (SELECT 1 FROM {member} mb WHERE mb.thread_id = t.id AND mb.direct_slot = 0
                                   AND mb.user_id = t.user_low_id)
                    OR NOT EXISTS (SELECT 1 FROM {member} mb WHERE mb.thread_id = t.id AND mb.direct_slot = 1
                                   AND mb.user_id = t.user_high_id))""",
            f"groups without exactly one owner or with other than 1 to {limit} members": f"""
                SELECT COUNT(*) FROM {thread} t
                WHERE t.kind = '{GROUP}' AND (t.member_count < 1 OR t.member_count > {limit}
                    OR (SELECT COUNT(*) FROM {member} mb WHERE mb.thread_id = t.id AND mb.role = '{OWNER}') <> 1
                    OR EXISTS (SELECT 1 FROM {member} mb WHERE mb.thread_id = t.id AND mb.direct_slot IS NOT NULL))""",
            "memberships whose thread_updated is not their thread's updated": f"""
                SELECT COUNT(*) FROM {member} mb JOIN {thread} t ON t.id = mb.thread_id
                WHERE mb.thread_updated <> t.updated""",
            "direct memberships whose unread_count disagrees with the unread messages to them": f"""
                SELECT COUNT(*) FROM {member} mb JOIN {thread} t ON t.id = mb.thread_id
                LEFT JOIN (SELECT u.thread_id, u.sender_id, COUNT(*) AS n FROM {message} u
                           WHERE NOT u.is_read GROUP BY u.thread_id, u.sender_id) u
                    ON u.thread_id = mb.thread_id AND u.sender_id <> mb.user_id
                WHERE t.kind = '{DIRECT}' AND mb.unread_count <> COALESCE(u.n, 0)""",
            "group memberships whose unread_count disagrees with the messages past their read position": f"""
                SELECT COUNT(*) FROM (
                    SELECT mb.unread_count, COUNT(m.id) AS n FROM {member} mb
                    JOIN {thread} t ON t.id = mb.thread_id
                    LEFT JOIN {message} m ON m.thread_id = mb.thread_id AND m.id > mb.last_read_message_id
                        AND m.sender_id <> mb.user_id
                    WHERE t.kind = '{GROUP}'
                    GROUP BY mb.id, mb.unread_count) x
                WHERE x.unread_count <> x.n""",
            "memberships whose read position is past their thread's last message": f"""
                SELECT COUNT(*) FROM {member} mb JOIN {thread} t ON t.id = mb.thread_id
                WHERE mb.last_read_message_id < 0 OR mb.last_read_message_id > COALESCE(t.last_message_id, 0)""",
            "group memberships with a message of their own past their read position": f"""
                SELECT COUNT(*) FROM {member} mb
                JOIN (SELECT m.thread_id, m.sender_id, MAX(m.id) AS newest FROM {message} m
                      JOIN {thread} t ON t.id = m.thread_id WHERE t.kind = '{GROUP}'
                      GROUP BY m.thread_id, m.sender_id) s ON s.thread_id = mb.thread_id AND s.sender_id = mb.user_id
                WHERE s.newest > mb.last_read_message_id""",
            "messages whose sender is not a member of their thread": f"""
                SELECT COUNT(*) FROM {message} m
                WHERE NOT EXISTS (SELECT 1 FROM {member} mb WHERE mb.thread_id = m.thread_id
                                  AND mb.user_id = m.sender_id)""",
            "messages whose is_read is not NULL in a group, or NULL in a direct thread": f"""
                SELECT (SELECT COUNT(*) FROM {message} m WHERE m.is_read IS NULL
                        AND m.thread_id NOT IN (SELECT id FROM {thread} WHERE kind = '{GROUP}'))
                     + (SELECT COUNT(*) FROM {message} m WHERE m.is_read IS NOT NULL
                        AND m.thread_id IN (SELECT id FROM {thread} WHERE kind = '{GROUP}'))""",
            "messages with an empty text": f"SELECT COUNT(*) FROM {message} WHERE text = ''",
        }
        with self.connection.cursor() as cursor:
            for label, sql in checks.items():
                started = time.perf_counter()
                cursor.execute(sql)
                (broken,) = cursor.fetchone()
                if timed:
                    self.log(f"checked in {time.perf_counter() - started:.2f} s: {label}")
                if broken:
                    raise CommandError(f"Invariant broken, nothing was written: {broken} {label}.")
        self.log("invariants checked")

    def analyze(self) -> None:
        """Fresh statistics (and on PostgreSQL a visibility map, as autovacuum would leave)."""
        User = get_user_model()
        tables = [User._meta.db_table, Thread._meta.db_table, Membership._meta.db_table, Message._meta.db_table]
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


def compose(outer, inner):
    return lambda value: outer(inner(value))


def ignoring_plan(make):
    return lambda plan: make()


def build_texts(rng: random.Random, count: int) -> list[str]:
    """A pool of message bodies: 1 to 4 phrases each, now and then a long one."""
    texts = []
    for _ in range(count):
        text = " ".join(rng.choice(PHRASES) for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])))
        if rng.random() < 0.02:
            text = " ".join([text] * rng.randint(5, 30))
        texts.append(text)
    return texts
