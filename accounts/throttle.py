"""Fixed-window request counters in the store every app server shares.

With several app servers (gunicorn's workers are processes) a counter in one process's memory
lets each process grant the whole limit: 4 workers sent 80 reset emails where 20 were allowed
(issue 12, finding 7). So the counters live in Redis when the cache is Redis (settings make it
so when REDIS_URL is set), and otherwise in the database, one row per scope, key and window.

What is counted is often an IP address or an email: only an HMAC of it is stored (a plain
SHA-256 of an IPv4 address is undone by trying all four billion).

django-ratelimit would do this, but its system checks reject Django's own Redis and local
memory caches, which are the two this project runs on; this is the part of it we need.
"""

import datetime
import time

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.addresses import is_shared, network_of
from accounts.models import RequestCounter


def over_limit(
    scope: str, key: str, limit: int, window_seconds: int, *, now: float | None = None
) -> bool:
    """Count one request for `key`; True once more than `limit` came within the window.

    `now` (seconds since the epoch) is for tests that walk the clock across a window.
    """
    now = time.time() if now is None else now
    start = int(now // window_seconds) * window_seconds
    key_hash = hash_key(key)
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        count = _count_in_redis(cache, scope, key_hash, start, window_seconds, now)
    else:
        count = _count_in_database(scope, key_hash, start, window_seconds)
    return count > limit


def address_over_limit(scope: str, address: str | None, limit: int, window_seconds: int) -> bool:
    """over_limit for a client's address, counted as the lockout counts it (an IPv6 client by
    its network); JENCO_SHARED_ADDRESS_TIMES as many for an address many members share on
    purpose (JENCO_SHARED_ADDRESSES: an office, a migration event)."""
    counted = network_of(address)
    if is_shared(counted):
        limit *= settings.JENCO_SHARED_ADDRESS_TIMES
    return over_limit(scope, counted or "-", limit, window_seconds)


def hash_key(key: str) -> str:
    return salted_hmac("accounts.throttle", key, algorithm="sha256").hexdigest()


def _count_in_redis(cache, scope: str, key_hash: str, start: int, window: int, now: float) -> int:
    name = f"throttle:{scope}:{key_hash}:{start}"
    for _attempt in range(3):
        # The key outlives its window by a little, so no one counts into an expired key.
        cache.add(name, 0, timeout=int(start + window - now) + 2)
        try:
            return cache.incr(name)  # INCR: atomic in Redis, whichever server asks
        except ValueError:  # evicted between add and incr: start it again
            continue
    raise RuntimeError(f"Redis keeps dropping the throttle counter {name}")


def _count_in_database(scope: str, key_hash: str, start: int, window: int) -> int:
    window_start = datetime.datetime.fromtimestamp(start, datetime.UTC)
    row = RequestCounter.objects.filter(scope=scope, key_hash=key_hash, window_start=window_start)
    with transaction.atomic():
        # The window's row, if no server made it yet: INSERT ... ON CONFLICT DO NOTHING (SQLite:
        # INSERT OR IGNORE) never fails on a race, and the first request of a window runs the
        # same statements as the tenth: the forgot pages do the same work whatever came before.
        RequestCounter.objects.bulk_create(
            [
                RequestCounter(
                    scope=scope,
                    key_hash=key_hash,
                    window_start=window_start,
                    window_end=window_start + datetime.timedelta(seconds=window),
                )
            ],
            ignore_conflicts=True,
        )
        # One UPDATE ... SET count = count + 1: the row stays locked until the transaction
        # ends (SQLite: the database's write lock), so the count read back is this request's.
        row.update(count=F("count") + 1)
        return row.values_list("count", flat=True).get()


def prune() -> int:
    """Delete the counters of windows that are over (manage.py housekeeping, hourly)."""
    deleted, _rows = RequestCounter.objects.filter(window_end__lte=timezone.now()).delete()
    return deleted
