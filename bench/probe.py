"""Print, as JSON, the ids bench/run_bench.py needs from a database that
`manage.py seed_scale` filled: the hot user, the hot thread, the id of a
message far back in it (for `?before=`), the hot user's direct threads and
groups, and the hot group (scale_hot's group with the most messages).

    DATABASE_URL=... .venv/bin/python bench/probe.py [--back 40000]

Run by run_bench.py with the benchmark's environment; not part of the app.
"""

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_project.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402

from threads.management.commands.seed_scale import HOT_USER, PEER_USER  # noqa: E402
from threads.models import Membership, Message, Thread  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--back", type=int, default=40_000, help="how many messages back the ?before= id lies")
    args = parser.parse_args()
    User = get_user_model()
    hot = User.objects.get(username=HOT_USER)
    peer = User.objects.get(username=PEER_USER)
    hot_thread = Thread.objects.get(user_low_id=min(hot.pk, peer.pk), user_high_id=max(hot.pk, peer.pk))
    newest_first = Message.objects.filter(thread=hot_thread).order_by("-created", "-id").values_list("id", flat=True)
    back = min(args.back, max(hot_thread.message_count - 1, 0))
    before_id = newest_first[back] if hot_thread.message_count else None
    mine = Thread.objects.filter(pk__in=Membership.objects.filter(user=hot).values("thread_id"))
    threads = list(mine.order_by("-updated", "-id").values_list("id", "kind"))
    groups = mine.filter(kind=Thread.Kind.GROUP)
    hot_group = groups.order_by("-message_count", "id").values("id", "message_count", "member_count").first()
    json.dump(
        {
            "hot_user_id": hot.pk,
            "peer_user_id": peer.pk,
            "hot_thread_id": hot_thread.pk,
            "hot_thread_messages": hot_thread.message_count,
            "before_id": before_id,
            "before_back": back,
            "hot_user_thread_ids": [pk for pk, _ in threads],
            "hot_user_direct_ids": [pk for pk, kind in threads if kind == Thread.Kind.DIRECT],
            "hot_user_group_ids": [pk for pk, kind in threads if kind == Thread.Kind.GROUP],
            "hot_group_id": hot_group["id"] if hot_group else None,
            "hot_group_messages": hot_group["message_count"] if hot_group else None,
            "hot_group_members": hot_group["member_count"] if hot_group else None,
            "messages": Message.objects.count(),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
