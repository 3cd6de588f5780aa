"""The Lua scripts :class:`core.store.redis.RedisStore` runs inside Redis.

A script runs atomically on the server, so each of these is one indivisible step
for every process sharing the database, with no ``WATCH`` retry loop. Each says
which ``KEYS`` and ``ARGV`` it takes; Redis turns a Lua ``false`` into a nil reply.
"""

from __future__ import annotations

DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
"""Delete a key only if it still holds ``ARGV[1]``: an unreadable record only if it is still the
one read, so no good record is lost; a claim only by its holder, so no other holder's is freed."""

DELETE_FIELD_IF_EQUAL = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
"""
"""Drop a hash field (an unreadable board opponent) only if it is still the one read."""

DROP_TURN = """
return redis.call('LREM', KEYS[1], 0, ARGV[1])
"""

LINK_ANSWER = """
local link = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], link, ARGV[1])
local forgotten = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', link - tonumber(ARGV[3]))
for _, ref in ipairs(forgotten) do
    redis.call('HDEL', KEYS[2], ref)
end
if #forgotten > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', link - tonumber(ARGV[3]))
end
return link
"""
"""KEYS: link counter, ref -> conversation hash, ref -> link number zset. ARGV: ref, conversation, bound."""

TAKE_UNIT = """
local current = redis.call('GET', KEYS[1])
if tonumber(current or '0') >= tonumber(ARGV[1]) then return false end
local count = redis.call('INCR', KEYS[1])
if not current then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return count
"""
"""KEYS: the counter. ARGV: limit, lifetime in ms. The count after this use, or nil at the limit.

Only the use that creates the counter sets its expiry, so later uses (and a unit given
back down to 0) never renew it: the counter lives ``ttl`` from its first use.
"""

GIVE_UNIT = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""
"""KEYS: the counter. Take one use back, never below 0 and never creating a counter (DECR keeps its expiry)."""

LOG_ENTRY = """
local n = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], ARGV[1], string.format('%016x:', n) .. ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[4]) - 1)
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if newest[2] then
    redis.call('PEXPIREAT', KEYS[1], math.ceil((tonumber(newest[2]) + tonumber(ARGV[5])) * 1000))
end
return n
"""
"""KEYS: the player's log (a sorted set by time), the logging order counter. ARGV: the entry's time,
its record, the cutoff (older goes), how many to keep at most, the retention in seconds.

The member is the record behind its number in logging order (:func:`core.store.redis_values.entry_text`).
The log expires when its newest entry grows older than the retention, so a log nobody writes to again
still goes.
"""
