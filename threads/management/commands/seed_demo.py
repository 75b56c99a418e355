"""Create the demo data set that `fixtures/demo.json` is dumped from.

Run it on an empty database only (`make fixture` does, on a temporary one).
Threads, groups, messages and read state go through the same services as the API; their times are then
moved onto a fixed timeline so that the fixture reads the same every time it
is remade.
"""

from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from threads import services
from threads.models import Message, Thread

DEMO_PASSWORD = "chat-demo-2026"
TIMELINE_START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

USERS = ["alice", "bob", "carol", "dave", "erin"]

# (first user, second user, [(sender, text, read?)]) in the order they were said.
CONVERSATIONS = [
    ("alice", "bob", [
        ("alice", "Hi Bob! Are we still on for the design review tomorrow?", True),
        ("bob", "Yes, 10:00 in the small meeting room.", True),
        ("alice", "Great. I'll bring the new mock-ups.", True),
        ("bob", "Could you also print the API sketch?", True),
        ("alice", "Sure, two copies.", True),
        ("bob", "Running five minutes late, sorry!", False),
        ("bob", "Start without me if you like.", False),
    ]),
    ("alice", "carol", [
        ("carol", "Lunch on Friday?", True),
        ("alice", "Friday works. The usual place?", True),
        ("carol", "Perfect, see you at noon.", True),
    ]),
    ("bob", "carol", [
        ("carol", "Did you get the invoice I sent?", False),
        ("carol", "It's due at the end of the month.", False),
    ]),
    ("carol", "erin", [
        ("erin", "Welcome to the team, Carol!", True),
        ("carol", "Thanks Erin, happy to be here.", True),
        ("erin", "Ping me if you need access to anything.", False),
    ]),
    # A thread nobody has written in yet.
    ("alice", "dave", []),
]

# (owner, title, members, [(sender, text)], {member: how many of the messages they have read}).
GROUPS = [
    ("alice", "Design review", ["bob", "carol", "dave"], [
        ("alice", "Agenda for Thursday: mock-ups, then the API."),
        ("carol", "Can we add ten minutes for accessibility?"),
        ("bob", "Good idea. I'll bring the screen reader notes."),
        ("dave", "I'll be remote, send me the link please."),
    ], {"bob": 4, "carol": 3, "dave": 1}),
]


class Command(BaseCommand):
    help = "Create demo users, threads and messages (for remaking fixtures/demo.json)."

    @transaction.atomic
    def handle(self, *args, **options):
        if User.objects.exists() or Thread.objects.exists():
            raise CommandError("seed_demo fills an empty database only; this one already has data.")

        joined = {"date_joined": TIMELINE_START - timedelta(days=1)}
        User.objects.create_superuser("admin", "admin@example.com", DEMO_PASSWORD, **joined)
        users = {
            name: User.objects.create_user(name, f"{name}@example.com", DEMO_PASSWORD, **joined) for name in USERS
        }

        moment = TIMELINE_START
        for first, second, lines in CONVERSATIONS:
            thread, _ = services.thread_get_or_create(user=users[first], other=users[second])
            Thread.objects.filter(pk=thread.pk).update(created=moment, updated=moment)
            thread.memberships.update(joined=moment)
            for sender, text, read in lines:
                moment += timedelta(minutes=7)
                message = services.message_create(thread=thread, sender=users[sender], text=text)
                recipient = users[second] if sender == first else users[first]
                if read:
                    services.message_mark_read(message=message, reader=recipient)
                Message.objects.filter(pk=message.pk).update(created=moment)
                Thread.objects.filter(pk=thread.pk).update(updated=moment)
            thread.memberships.update(thread_updated=moment)
            moment += timedelta(hours=3)

        for owner, title, members, lines, read_upto in GROUPS:
            thread = services.group_create(owner=users[owner], title=title, members=[users[m] for m in members])
            Thread.objects.filter(pk=thread.pk).update(created=moment, updated=moment)
            thread.memberships.update(joined=moment)
            sent = []
            for sender, text in lines:
                moment += timedelta(minutes=7)
                sent.append(services.message_create(thread=thread, sender=users[sender], text=text))
                Message.objects.filter(pk=sent[-1].pk).update(created=moment)
                Thread.objects.filter(pk=thread.pk).update(updated=moment)
            thread.memberships.update(thread_updated=moment)
            for reader, count in read_upto.items():
                services.message_mark_read(message=sent[count - 1], reader=users[reader])

        self.stdout.write(
            f"Created {len(users) + 1} users, {Thread.objects.count()} threads and "
            f"{Message.objects.count()} messages. Password for every demo user: {DEMO_PASSWORD}"
        )
