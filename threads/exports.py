"""A user's own data as one JSON document (GET /api/users/me/export/),
produced piece by piece: the account, every thread they are a member of with
its participants and their read state there, and every message they sent.

Nothing is loaded whole: memberships and messages are read with database
iterators (`.iterator(chunk_size=...)`), the participants of a batch of threads at a time,
and the text goes out in chunks of about CHUNK_BYTES, so the memory an export
takes does not grow with the number of messages.
"""

import json
from collections.abc import AsyncIterator, Iterator
from itertools import islice

from asgiref.sync import sync_to_async
from django.utils import timezone

from .models import Membership, Message
from .rendering import render_datetime, render_user_summary
from .selectors import user_summary_fields

CHUNK_BYTES = 64 * 1024
ROWS_PER_FETCH = 2000
# Threads whose participants are read in one query (up to CHAT_GROUP_MAX_MEMBERS rows each).
THREADS_PER_BATCH = 100

MESSAGE_FIELDS = ["id", "thread", "text", "created", "is_read", "client_id"]


def batched(items: Iterator, size: int) -> Iterator[list]:
    """itertools.batched (Python 3.12) as lists."""
    items = iter(items)
    while batch := list(islice(items, size)):
        yield batch


def render_account(user) -> dict:
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "display_name": render_user_summary(user)["display_name"],
        "date_joined": render_datetime(user.date_joined),
    }


def thread_entries(user) -> Iterator[dict]:
    """The user's threads by id, each with all its members and the user's read state."""
    memberships = (
        Membership.objects.filter(user=user)
        .select_related("thread")
        .only("role", "joined", "unread_count", "last_read_message_id", "thread__kind", "thread__title",
              "thread__created")
        .order_by("thread_id")
        .iterator(chunk_size=ROWS_PER_FETCH)
    )
    for batch in batched(memberships, THREADS_PER_BATCH):
        participants = {membership.thread_id: [] for membership in batch}
        members = (
            Membership.objects.filter(thread_id__in=participants)
            .select_related("user")
            .only("thread_id", *user_summary_fields("user"))
            .order_by("thread_id", "joined", "id")
        )
        for member in members:
            participants[member.thread_id].append(render_user_summary(member.user))
        for membership in batch:
            thread = membership.thread
            yield {
                "id": thread.pk,
                "kind": thread.kind,
                "title": thread.title if thread.is_group else None,
                "created": render_datetime(thread.created),
                "role": membership.role,
                "joined": render_datetime(membership.joined),
                "participants": participants[thread.pk],
                "unread_count": membership.unread_count,
                "last_read_message": membership.last_read_message_id or None,
            }


def message_entries(user) -> Iterator[dict]:
    """Every message the user sent, in any thread, oldest first."""
    rows = (
        Message.objects.filter(sender=user)
        .order_by("id")
        .values_list("id", "thread_id", "text", "created", "is_read", "client_id")
        .iterator(chunk_size=ROWS_PER_FETCH)
    )
    for message_id, thread_id, text, created, is_read, client_id in rows:
        yield {
            "id": message_id,
            "thread": thread_id,
            "text": text,
            "created": render_datetime(created),
            "is_read": is_read,
            "client_id": None if client_id is None else str(client_id),
        }


def json_array(entries: Iterator[dict]) -> Iterator[str]:
    yield "["
    for index, entry in enumerate(entries):
        yield ("," if index else "") + json.dumps(entry, ensure_ascii=False)
    yield "]"


def document_parts(user) -> Iterator[str]:
    yield '{"exported": ' + json.dumps(render_datetime(timezone.now()))
    yield ', "account": ' + json.dumps(render_account(user), ensure_ascii=False)
    yield ', "threads": '
    yield from json_array(thread_entries(user))
    yield ', "messages": '
    yield from json_array(message_entries(user))
    yield "}"


def export_chunks(user) -> Iterator[bytes]:
    """The document as UTF-8 chunks of about CHUNK_BYTES (the last may be shorter)."""
    buffered, size = [], 0
    for part in document_parts(user):
        buffered.append(part)
        size += len(part)
        if size >= CHUNK_BYTES:
            yield "".join(buffered).encode()
            buffered, size = [], 0
    yield "".join(buffered).encode()


async def export_chunks_async(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """`chunks` for an ASGI server: Django serves a synchronous iterator
    there by reading it whole into a list first. Each chunk is made in the
    request's thread (thread_sensitive), where its database connection is."""
    take = sync_to_async(next, thread_sensitive=True)
    try:
        while (chunk := await take(chunks, None)) is not None:
            yield chunk
    finally:
        # A client gone mid-download: its database cursor closes in its own thread too.
        await sync_to_async(chunks.close, thread_sensitive=True)()
