"""Fixed-window request counters in the shared cache (Redis in production).

django-ratelimit would do this, but its system checks reject Django's own Redis and local
memory caches, which are the two this project runs on; this is the part of it we need.
"""

from django.core.cache import cache


def over_limit(scope: str, key: str, limit: int, window_seconds: int) -> bool:
    """Count one request for `key`; True once more than `limit` came within the window."""
    cache_key = f"throttle:{scope}:{key}"
    cache.add(cache_key, 0, timeout=window_seconds)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window_seconds)
        count = 1
    return count > limit
