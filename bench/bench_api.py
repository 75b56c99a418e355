"""Time the hot API endpoints (and the admin changelists) in-process on a
database filled by bench/seed_large.py; see bench/README.md.

    DJANGO_SETTINGS_MODULE=chat_project.settings DJANGO_DEBUG=1 \
    DJANGO_ALLOWED_HOSTS=testserver,localhost \
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chat_bench \
    .venv/bin/python bench/bench_api.py --reps 30 --explain /tmp/chat_bench_plans.txt

Requests go through DRF's APIClient with a real JWT (and Django's test Client,
logged in as bench_admin, for the admin pages), so every layer runs:
authentication, routing, permissions, selectors, serializers, rendering.
Each case runs --warmup untimed requests, then --reps timed ones; the table
shows the median and 90th percentile wall time of a request, how many SQL
queries it ran, and the median time spent in SQL.

Writes leave the database as they found it: before each mark_as_read the
messages it marks are made unread again (untimed), and the messages sent by
the "send message" case are deleted afterwards, restoring the thread's
`updated`.

With --explain FILE every statement of every case's last request is run
again under EXPLAIN (ANALYZE, BUFFERS) inside a transaction that is rolled
back (PostgreSQL only), and the plans are written to FILE.
"""

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_project.settings")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402
from rest_framework_simplejwt.tokens import AccessToken  # noqa: E402

from threads.models import Message, Thread  # noqa: E402

HEAVY, PEER, TYPICAL, ADMIN = "bench_heavy", "bench_peer", "bench_u00003", "bench_admin"
SKIPPED_SQL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK", "BEGIN", "COMMIT")


@dataclass
class Case:
    name: str
    client: object
    method: str
    path: str
    data: dict | None = None
    status: int = 200
    before: Callable[[], None] | None = None  # untimed, before every request
    after_response: Callable[[object], None] | None = None
    timings: list[float] = field(default_factory=list)
    sql_timings: list[float] = field(default_factory=list)
    query_counts: set[int] = field(default_factory=set)
    last_queries: list[dict] = field(default_factory=list)

    def request(self):
        call = getattr(self.client, self.method)
        if self.data is None:
            return call(self.path)
        return call(self.path, self.data, format="json")


def api_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def run(case: Case, reps: int, warmup: int) -> None:
    for i in range(warmup + reps):
        if case.before:
            case.before()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = case.request()
            elapsed = time.perf_counter() - started
        if response.status_code != case.status:
            body = getattr(response, "content", b"")[:500]
            sys.exit(f"{case.name}: expected {case.status}, got {response.status_code}: {body!r}")
        if case.after_response:
            case.after_response(response)
        if i < warmup:
            continue
        queries = [q for q in captured.captured_queries if not q["sql"].startswith(SKIPPED_SQL)]
        case.timings.append(elapsed * 1000)
        case.sql_timings.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
        case.query_counts.add(len(queries))
        case.last_queries = queries


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else values[0]


def print_table(cases: list[Case]) -> None:
    header = f"| {'case':<52} | {'median ms':>9} | {'p90 ms':>8} | {'queries':>7} | {'SQL ms (median)':>15} |"
    print(header)
    print(f"|{'-' * 54}|{'-' * 10}:|{'-' * 9}:|{'-' * 8}:|{'-' * 16}:|")
    for case in cases:
        counts = "/".join(str(n) for n in sorted(case.query_counts))
        print(
            f"| {case.name:<52} | {statistics.median(case.timings):>9.1f} | {p90(case.timings):>8.1f} "
            f"| {counts:>7} | {statistics.median(case.sql_timings):>15.1f} |"
        )


def explain(cases: list[Case], path: str) -> None:
    if connection.vendor != "postgresql":
        sys.exit("--explain needs PostgreSQL")
    with open(path, "w") as out:
        for case in cases:
            out.write(f"{'#' * 100}\n# {case.name}: {case.method.upper()} {case.path}\n{'#' * 100}\n\n")
            for number, query in enumerate(case.last_queries, 1):
                sql = query["sql"]
                with transaction.atomic():
                    if case.before:
                        case.before()  # e.g. the messages mark_as_read marks are unread again
                    with connection.cursor() as cursor:
                        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                        plan = "\n".join(row[0] for row in cursor.fetchall())
                    transaction.set_rollback(True)
                out.write(f"-- query {number} ({float(query['time']) * 1000:.2f} ms in the request)\n{sql}\n\n")
                out.write(plan + "\n\n")
    print(f"plans written to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--only", help="run only the cases whose name contains this text")
    parser.add_argument("--no-admin", action="store_true", help="skip the admin pages")
    parser.add_argument("--explain", metavar="FILE", help="write EXPLAIN (ANALYZE, BUFFERS) of every query here")
    args = parser.parse_args()
    if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
        sys.exit("DJANGO_ALLOWED_HOSTS must include testserver (e.g. DJANGO_ALLOWED_HOSTS=testserver,localhost).")

    users = {u.username: u for u in User.objects.filter(username__in=[HEAVY, PEER, TYPICAL, ADMIN])}
    if len(users) != 4:
        sys.exit("The bench users are missing: seed the database with bench/seed_large.py first.")
    heavy, peer, typical = users[HEAVY], users[PEER], users[TYPICAL]
    low, high = sorted([heavy.pk, peer.pk])
    huge = Thread.objects.get(user_low_id=low, user_high_id=high)
    huge_updated = huge.updated
    huge_count = Message.objects.filter(thread=huge).count()
    unread_ids = list(
        Message.objects.filter(thread=huge, is_read=False).exclude(sender=heavy).values_list("id", flat=True)
    )
    print(
        f"{connection.vendor} database {connection.settings_dict['NAME']}: "
        f"{Message.objects.count()} messages, {Thread.objects.count()} threads; {HEAVY} has "
        f"{heavy.threads.count()} threads, {TYPICAL} {typical.threads.count()}; huge thread {huge.pk} has "
        f"{huge_count} messages, {len(unread_ids)} unread by {HEAVY}"
    )

    def make_unread_again():
        Message.objects.filter(id__in=unread_ids).update(is_read=False)

    last_page = max(heavy.threads.count() - 20, 0)
    deep = min(100_000, huge_count // 2)  # 100000 on the default data set
    sent_ids: list[int] = []
    heavy_api, typical_api = api_client(heavy), api_client(typical)
    base = f"/api/threads/{huge.pk}"
    cases = [
        Case("GET threads/ (heavy user, 1st page)", heavy_api, "get", "/api/threads/"),
        Case(f"GET threads/?offset={last_page} (heavy user, last page)", heavy_api, "get",
             f"/api/threads/?offset={last_page}"),
        Case("GET threads/ (typical user, 1st page)", typical_api, "get", "/api/threads/"),
        Case("GET threads/<huge>/messages/ (1st page)", heavy_api, "get", f"{base}/messages/"),
        Case(f"GET threads/<huge>/messages/?offset={deep}", heavy_api, "get", f"{base}/messages/?offset={deep}"),
        Case("GET threads/unread_count/ (heavy user)", heavy_api, "get", "/api/threads/unread_count/"),
        Case("GET threads/<huge>/ (detail)", heavy_api, "get", f"{base}/"),
        Case(f"POST threads/<huge>/mark_as_read/ ({len(unread_ids)} unread)", heavy_api, "post",
             f"{base}/mark_as_read/", before=make_unread_again),
        Case("POST threads/<huge>/messages/ (send)", heavy_api, "post", f"{base}/messages/",
             data={"text": "benchmark message"}, status=201,
             after_response=lambda response: sent_ids.append(response.data["id"])),
    ]
    admin_client = None
    if not args.no_admin:
        admin_client = Client()
        admin_client.force_login(users[ADMIN])
        cases += [
            Case("admin thread changelist", admin_client, "get", "/admin/threads/thread/"),
            # Column 3 with the action checkbox first: "Messages" (message_count).
            Case("admin thread changelist, sorted by Messages", admin_client, "get", "/admin/threads/thread/?o=-3"),
            Case("admin thread change page (huge thread)", admin_client, "get",
                 f"/admin/threads/thread/{huge.pk}/change/"),
            Case("admin message changelist", admin_client, "get", "/admin/threads/message/"),
        ]
    if args.only:
        cases = [c for c in cases if args.only.lower() in c.name.lower()]

    try:
        for case in cases:
            run(case, args.reps, args.warmup)
            print(f"  {case.name}: done", file=sys.stderr, flush=True)
    finally:
        # Leave the database as seeded.
        make_unread_again()
        Message.objects.filter(id__in=sent_ids).delete()
        Thread.objects.filter(pk=huge.pk).update(updated=huge_updated)
        if admin_client is not None:
            admin_client.logout()

    print(f"\n{args.reps} timed requests per case after {args.warmup} warm-up requests\n")
    print_table(cases)
    if args.explain:
        explain(cases, args.explain)


if __name__ == "__main__":
    main()
