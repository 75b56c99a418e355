"""Schemathesis hooks for `make fuzz` (scripts/fuzz.py): one check of our own,
on top of schemathesis' built-in ones."""

import json
import os

import schemathesis

# Set by scripts/fuzz.py: the fuzzing user, and the threads and messages of
# other users that it must never see.
FUZZ_USER_ID = int(os.environ["FUZZ_USER_ID"])
FOREIGN_THREAD_IDS = set(json.loads(os.environ["FUZZ_FOREIGN_THREAD_IDS"]))
FOREIGN_MESSAGE_IDS = set(json.loads(os.environ["FUZZ_FOREIGN_MESSAGE_IDS"]))
SECRET_TEXT = os.environ["FUZZ_FOREIGN_TEXT_MARKER"]


def _objects(value):
    """Every JSON object in a response body, however deeply nested."""
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from _objects(item)


@schemathesis.check
def no_foreign_data(ctx, response, case):
    """No answer to the fuzzing user shows another user's thread or message."""
    assert SECRET_TEXT not in response.text, "the answer contains another user's message text"
    try:
        body = json.loads(response.text)
    except ValueError:
        return None
    for obj in _objects(body):
        if not isinstance(obj.get("id"), int):
            continue  # not a thread or message (an error body, a user, a page)
        if isinstance(obj.get("participants"), list) and "last_message" in obj:  # a thread
            assert obj["id"] not in FOREIGN_THREAD_IDS, f"another user's thread {obj['id']} was shown"
            participant_ids = {p.get("id") for p in obj["participants"] if isinstance(p, dict)}
            # A group's participants are a preview of five: the caller may be beyond it.
            if obj.get("kind") != "group":
                assert FUZZ_USER_ID in participant_ids, f"thread {obj['id']} without the caller was shown"
        if "text" in obj and "sender" in obj:  # a message
            assert obj["id"] not in FOREIGN_MESSAGE_IDS, f"another user's message {obj['id']} was shown"
            assert obj.get("thread") not in FOREIGN_THREAD_IDS, f"a message of another user's thread {obj['thread']}"
    return None
