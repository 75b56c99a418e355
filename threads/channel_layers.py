"""The channel layers, each able to say who is listening.

`listening_groups(groups)`, called from the synchronous thread of a write
after it commits (events.py), names the groups that have an open channel:
a write whose recipients have no open socket (most of a group, often the
other side of a direct thread) then builds and sends nothing more, with no
hop into an event loop. The in-memory layer (one process, the default)
answers from its own dict; the Redis layer in one pipelined round trip.

The Redis layer also sends to many users at once.

A group's message reaches every member's group (`events.user_group`). With
channels-redis, `group_send` costs two round trips to Redis per group even
when the group is empty (its user has no open socket), so a message to a
100-member group cost 200 round trips, one after the other: a group send
measured 3.4 times a direct send. `group_send_many` asks how many channels
every group has in one pipelined round trip per Redis connection, and sends
only to the groups that have some, through the layer's own `group_send` (its
two round trips and a script each): members without an open socket, usually
most of a group, cost nothing more.
"""

import threading
import time
from collections import defaultdict

import redis
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer


class ChatInMemoryChannelLayer(InMemoryChannelLayer):
    def listening_groups(self, groups, *, rider=None) -> set[str]:
        """Of `groups`, those with a channel that joined within the group
        expiry (what group_send would deliver to). Safe from another thread
        than the layer's loop: each group's channels are copied in one step
        under the GIL before they are read. (`rider`: see the Redis layer's;
        there is no round trip here to ride on.)"""
        expired_before = int(time.time()) - self.group_expiry  # as the layer's own _clean_expired
        return {
            group
            for group in groups
            if any(joined >= expired_before for joined in list(self.groups.get(group, {}).values()))
        }


class ChatRedisChannelLayer(RedisChannelLayer):
    def listening_groups(self, groups, *, rider=None) -> set[str] | None:
        """Of `groups`, those with an open channel, from synchronous code:
        one pipelined round trip per Redis connection with redis-py, so that
        a write whose recipients have no open socket (most of a group, often
        the other side of a direct thread) never waits for an event loop.
        None when a host is configured in a way this does not read (sentinels).

        `rider` (presence.Rider): more commands for the same round trip, when
        one of the connections is to the Redis they are for."""
        clients = self._sync_clients()
        if clients is None:
            return None
        listening = set()
        for index, members in self._by_connection(groups).items():
            pipe = clients[index].pipeline(transaction=False)
            self._count_channels(pipe, members)
            riding = rider is not None and _same_redis(clients[index], rider.client)
            if riding:
                rider.queue(pipe)
            answers = pipe.execute()
            listening.update(self._with_channels(members, answers[: len(members)]))
            if riding:
                rider.read(answers[len(members) :])
                rider = None
        return listening

    def _sync_clients(self) -> list[redis.Redis] | None:
        # redis-py clients are thread-safe: one per host for the process.
        clients = getattr(self, "_sync_client_list", None)
        if clients is None:
            with _sync_lock:
                clients = getattr(self, "_sync_client_list", None)
                if clients is None:
                    clients = self._sync_client_list = [_sync_client(host) for host in self.hosts]
        return None if any(client is None for client in clients) else clients

    async def group_send_many(self, messages: dict[str, dict]) -> None:
        """`group_send(group, message)` for each item, skipping empty groups
        after one pipelined lookup (channels-redis 4.3's keys and expiry)."""
        for index, groups in self._by_connection(messages).items():
            pipe = self.connection(index).pipeline()
            self._count_channels(pipe, groups)
            for group in self._with_channels(groups, await pipe.execute()):
                await self.group_send(group, messages[group])

    # The lookup both use, on a redis-py pipeline or an asyncio one.

    def _by_connection(self, groups) -> dict[int, list[str]]:
        by_connection = defaultdict(list)
        for group in groups:
            assert self.require_valid_group_name(group), "Group name not valid"
            by_connection[self.consistent_hash(group)].append(group)
        return by_connection

    def _count_channels(self, pipe, groups: list[str]) -> None:
        """Queue, per group, counting its channels that have not expired.

        One ZCOUNT per group, not the layer's ZREMRANGEBYSCORE then ZCARD:
        the same count (a channel expires at score <= now - group_expiry, as
        there) in half the commands. Expired entries stay until the layer's
        own group_send or group_discard drops them, or the key expires."""
        expired = int(time.time()) - self.group_expiry
        for group in groups:
            pipe.zcount(self._group_key(group), min=f"({expired}", max="+inf")

    @staticmethod
    def _with_channels(groups: list[str], results: list) -> list[str]:
        return [group for group, count in zip(groups, results, strict=True) if count]


_sync_lock = threading.Lock()


def _same_redis(one: redis.Redis, other: redis.Redis) -> bool:
    """Whether two redis-py clients talk to the same server and database."""
    address = ("host", "port", "path", "db", "username")
    return one.connection_pool.connection_class is other.connection_pool.connection_class and all(
        one.connection_pool.connection_kwargs.get(key) == other.connection_pool.connection_kwargs.get(key)
        for key in address
    )


def _sync_client(host: dict) -> redis.Redis | None:
    """A redis-py client for a channels-redis host entry (as its create_pool reads them)."""
    # A Redis that hangs must not hang the write that committed: bounded
    # waits (as the cache's), then the events are logged as lost (events.py).
    host = {"socket_connect_timeout": 1, "socket_timeout": 1, **host}
    if "master_name" in host:
        return None
    if "address" in host:
        return redis.Redis.from_url(host.pop("address"), **host)
    return redis.Redis(**host)
