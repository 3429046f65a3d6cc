"""Sessions in Redis (SESSION_ENGINE with REDIS_URL set), written once per change.

Django's cache store asks Redis whether a new key is free (EXISTS), writes the session at
once (SET NX), then rewrites it each time it is saved, reading it first to check it still
exists (GET, SET): seven commands for a sign-in. Here a sign-in's session is one SET NX, and
a save that changes nothing sends nothing (accounts.sessions.OncePerChange). An update still
reads first: a session ended elsewhere (signed out everywhere) is not brought back by a
request that was already under way.
"""

from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.backends.cache import SessionStore as CacheSessionStore

from accounts.sessions import OncePerChange


class SessionStore(OncePerChange, CacheSessionStore):
    def _write(self, data: dict, must_create: bool) -> None:
        if must_create:
            if not self._cache.add(self.cache_key, data, self.get_expiry_age()):
                raise CreateError
        elif self._cache.get(self.cache_key) is None:
            raise UpdateError
        else:
            self._cache.set(self.cache_key, data, self.get_expiry_age())
