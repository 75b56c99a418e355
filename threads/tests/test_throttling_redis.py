"""Rate limits on Redis: the sliding window of threads/throttling.py (the
tests of test_throttling.py run on it too, and on the in-memory cache)."""

from concurrent.futures import ThreadPoolExecutor

from django.core.cache import caches
from rest_framework.test import APIRequestFactory

from threads.throttling import MarkReadThrottle


def test_the_window_is_one_sorted_set_per_user_and_scope(redis_cache, settings, client_for, alice, thread):
    settings.CHAT_THROTTLE_RATES = {**settings.CHAT_THROTTLE_RATES, "message_send": "5/minute"}
    client = client_for(alice)
    for text in "ab":
        client.post(f"/api/threads/{thread.pk}/messages/", {"text": text}, format="json")
    redis = caches["default"]._cache.get_client()
    keys = [key.decode() for key in redis.keys("*message_send*")]
    assert len(keys) == 1
    assert keys[0].endswith(f"throttle_message_send_{alice.pk}:window")
    assert redis.type(keys[0]) == b"zset"
    assert redis.zcard(keys[0]) == 2
    assert 0 < redis.ttl(keys[0]) <= 60


def test_concurrent_requests_are_each_counted_once(redis_cache, settings, alice):
    """DRF's get-then-set lets two racing requests count from the same history;
    the script checks and adds in one step: exactly the rate gets through."""
    settings.CHAT_THROTTLE_RATES = {**settings.CHAT_THROTTLE_RATES, "mark_read": "25/minute"}
    request = APIRequestFactory().post("/")
    request.user = alice

    def attempt(_):
        return MarkReadThrottle().allow_request(request, None)

    with ThreadPoolExecutor(max_workers=8) as pool:
        allowed = list(pool.map(attempt, range(80)))
    assert allowed.count(True) == 25
