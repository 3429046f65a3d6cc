"""Sign-in posts whose password is being checked right now, per member ID and per address.

The lockout counts a failure once its hash has been checked, some 30 ms after the post came
(accounts.lockout). Posts sent together for one ID all read the count before any of them had
added to it, so every one was checked: 14 wrong passwords posted at once were all checked
where 10 are allowed, and in a burst of 20 the right one signed in (helper-86's trial). So a
post counts itself in here before the lockout reads the failures, and the lockout counts the
posts ahead of it as failures: the eleventh of eleven posts at once finds ten ahead of it and
checks nothing. A post ahead that then succeeds made this one wait for nothing: such a post
is told to try again in a few seconds, not that signing in is paused (accounts.lockout
.locked_out), since no pause is. Members behind one shared address near its limit can meet
that; for one ID, only posts sent together (a script, or two tabs at the ninth failure) can.

With Redis (REDIS_URL), one sorted set per ID and per address holds the posts checking, each
scored by when it came by Redis' own clock, which every app server shares; one round trip
counts a post in (and reads who is ahead, atomically, in a script), one counts it out. An
entry left by a worker killed mid-check ages out after AT_MOST seconds. Sets lost (a Redis
restart, an eviction) let the posts in flight at that moment go unseen, once.

Without Redis, the same in this process's memory: exact for one process (`make run`, the
test server, gunicorn with GUNICORN_WORKERS=1), not across several, where each process sees
only its own posts (helper-87: 12 of 20 checked on 4 worker processes). `manage.py check
--deploy` warns of it (jenco.W003).

What is counted is a member ID or an address: only an HMAC of it names a set
(accounts.throttle.hash_key), as for the throttles.
"""

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import caches

from accounts.throttle import hash_key
from jenco.redis_cache import RedisCache

# Longer than any password check takes (one hash; gunicorn's timeout is 30 s): an entry older
# than this was left by a process that died in the middle of one.
AT_MOST = 60

# KEYS: the sets; ARGV: the post's token, AT_MOST. Run whole, so no two posts read the same
# place in the queue. Returns how many posts are ahead in each set.
_COUNT_IN = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local ahead = {}
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - tonumber(ARGV[2]))
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('EXPIRE', key, ARGV[2])
  ahead[i] = redis.call('ZCARD', key) - 1
end
return ahead
"""
# KEYS: the sets; ARGV: the post's token. One call, where a pipeline of ZREMs cost twice the
# client's CPU.
_COUNT_OUT = """
for _, key in ipairs(KEYS) do
  redis.call('ZREM', key, ARGV[1])
end
"""


@contextmanager
def checking(*names: str | None) -> Iterator[tuple[int, ...]]:
    """Count one post in under each name (None: none) while the block runs; yields how many
    other posts under each name were already checking when it came (0 for None)."""
    token = secrets.token_hex(8)
    keys = [_key(name) for name in names if name is not None]
    store = _store()
    ahead = iter(store.count_in(keys, token) if keys else [])
    try:
        yield tuple(0 if name is None else next(ahead) for name in names)
    finally:
        if keys:
            store.count_out(keys, token)


def _key(name: str) -> str:
    return caches["default"].make_key(f"jenco:checking:{hash_key(name)}")


# --- Pauses logged ---------------------------------------------------------------------------
# Posts that finish together may each find that their failure reached the limit; one of them
# logs the pause (accounts.lockout.log_pause). Each post reads how many pauses of its ID and
# its address were logged before its own check; a post may log a pause only while that count
# is still what it read: one that read it before the last pause was logged was in flight when
# that pause began, and one that read it after found nothing paused, so its pause is new.
# Counts, not clocks: app servers' clocks differ (helper-94).

# Long past any post in flight (AT_MOST), so a count never expires under one that read it.
PAUSES_KEPT = 24 * 60 * 60

# KEYS: the count; ARGV: the count the post read, PAUSES_KEPT. 1 if this post logs.
_LOG_ONCE = """
local logged = tonumber(redis.call('GET', KEYS[1]) or '0')
if logged > tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], math.max(logged, tonumber(ARGV[1])) + 1, 'EX', ARGV[2])
return 1
"""


def pauses_logged(*names: str) -> tuple[int, ...]:
    """How many pauses of each name (a member ID, an address) have been logged lately."""
    return _store().pauses_logged([_pauses_key(name) for name in names])


def log_once(name: str, read: int) -> bool:
    """Whether this post logs the pause of `name`: no pause of it was logged since the post
    read `read` (pauses_logged). Counts it logged if so."""
    return _store().log_once(_pauses_key(name), read)


def _pauses_key(name: str) -> str:
    return caches["default"].make_key(f"jenco:pauses:{hash_key(name)}")


def _store():
    cache = caches["default"]
    return _RedisStore(cache) if isinstance(cache, RedisCache) else _MEMORY


class _RedisStore:
    # Registered once (that hashes the script), then run by whichever client asks: Django
    # keeps a cache, and so a client, per thread.
    scripts: dict[str, object] = {}

    def __init__(self, cache: RedisCache):
        self.client = cache.client()

    def count_in(self, keys: list[str], token: str) -> list[int]:
        return self._script(_COUNT_IN)(keys=keys, args=[token, AT_MOST], client=self.client)

    def count_out(self, keys: list[str], token: str) -> None:
        self._script(_COUNT_OUT)(keys=keys, args=[token], client=self.client)

    def pauses_logged(self, keys: list[str]) -> list[int]:
        return [int(count or 0) for count in self.client.mget(keys)]

    def log_once(self, key: str, read: int) -> bool:
        return bool(self._script(_LOG_ONCE)(keys=[key], args=[read, PAUSES_KEPT]))

    def _script(self, source: str):
        if source not in self.scripts:
            self.scripts[source] = self.client.register_script(source)
        return self.scripts[source]


class _MemoryStore:
    def __init__(self):
        self.lock = threading.Lock()
        self.checking: dict[str, dict[str, float]] = {}
        self.pauses: dict[str, int] = {}  # a few dozen bytes per ID or address ever paused

    def count_in(self, keys: list[str], token: str) -> list[int]:
        now = time.monotonic()
        ahead = []
        with self.lock:
            for key in keys:
                posts = self.checking.setdefault(key, {})
                for stale in [t for t, came in posts.items() if came < now - AT_MOST]:
                    del posts[stale]
                ahead.append(len(posts))
                posts[token] = now
        return ahead

    def count_out(self, keys: list[str], token: str) -> None:
        with self.lock:
            for key in keys:
                posts = self.checking.get(key, {})
                posts.pop(token, None)
                if not posts:
                    self.checking.pop(key, None)

    def pauses_logged(self, keys: list[str]) -> list[int]:
        return [self.pauses.get(key, 0) for key in keys]

    def log_once(self, key: str, read: int) -> bool:
        with self.lock:
            logged = self.pauses.get(key, 0)
            if logged > read:
                return False
            self.pauses[key] = max(logged, read) + 1
            return True


_MEMORY = _MemoryStore()
