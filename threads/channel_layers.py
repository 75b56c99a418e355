"""The Redis channel layer, plus one send to many users at once.

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

import time
from collections import defaultdict

from channels_redis.core import RedisChannelLayer


class ChatRedisChannelLayer(RedisChannelLayer):
    async def group_send_many(self, messages: dict[str, dict]) -> None:
        """`group_send(group, message)` for each item, skipping empty groups
        after one pipelined lookup (channels-redis 4.3's keys and expiry)."""
        by_connection = defaultdict(list)
        for group in messages:
            assert self.require_valid_group_name(group), "Group name not valid"
            by_connection[self.consistent_hash(group)].append(group)
        expired = int(time.time()) - self.group_expiry
        for index, groups in by_connection.items():
            pipe = self.connection(index).pipeline()
            for group in groups:
                pipe.zremrangebyscore(self._group_key(group), min=0, max=expired)
                pipe.zcard(self._group_key(group))
            results = await pipe.execute()
            for group, listening in zip(groups, results[1::2], strict=True):
                if listening:
                    await self.group_send(group, messages[group])
