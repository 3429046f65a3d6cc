"""Django's database sessions, written once per change instead of up to three times.

Django's store draws a new key on sign-in by asking the table whether it is free (a SELECT),
writes the row at once (an INSERT in a transaction of its own), then rewrites it when the
response goes out (an UPDATE in another). Here a sign-in's session is one INSERT, written
inside the sign-in's own transaction (accounts.flows.sign_in.sign_in), and the middleware's save at
the end of the request writes nothing unless the session changed again since.

The same holds for the Redis store (accounts.cache_sessions): OncePerChange is shared.
"""

import base64
import secrets

from django.conf import settings
from django.contrib import auth
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, router
from django.utils.crypto import salted_hmac

_KEY_CHARS = frozenset(VALID_KEY_CHARS)


def is_session_key(key) -> bool:
    """A key a store could have drawn: 32 lower-case letters and digits (ours, and Django's
    before them)."""
    return isinstance(key, str) and len(key) == 32 and set(key) <= _KEY_CHARS


def _ended_key(session_key: str) -> str:
    # A keyed hash: the cache never holds a session key, and the session's own cache key
    # (accounts.cache_sessions) is never this one.
    digest = salted_hmac("accounts.sessions.ended", session_key, algorithm="sha256").hexdigest()
    return f"jenco:ended-session:{digest}"


def mark_ended(session_key: str) -> None:
    """Note that this session of ours was ended by someone else (another device's "sign out",
    support), for as long as its cookie can still come back: the device that held it is told
    so once (accounts.middleware.ended_elsewhere). Marked before the session is deleted, so the
    device's next request finds either its session or the mark."""
    cache.set(_ended_key(session_key), True, timeout=settings.SESSION_COOKIE_AGE)


def take_ended_mark(session_key: str) -> bool:
    """Whether `session_key` is one mark_ended noted, forgetting the mark: told once. A key
    no store could have drawn (anyone's made-up cookie) is looked up nowhere."""
    if not is_session_key(session_key):
        return False
    # Whether the delete found it: one command, so two requests at once (a page and its
    # script's fetch) cannot both take it (helper-164).
    return cache.delete(_ended_key(session_key))


class OncePerChange:
    """A session store's key drawing and saving, with one write per change of the data."""

    def get_session_cookie_age(self) -> int:
        """How long the session lives from its last save, unless set_expiry says otherwise.
        One nobody is signed in to lives JENCO_SIGNED_OUT_SESSION_SECONDS, not a sign-in's
        SESSION_COOKIE_AGE: every opening of an emailed link that still works, without a
        cookie, starts one, and a flood of them kept 12 hours each filled the session store
        (helper-134). Django asks this for the stored expiry and the cookie's both."""
        if auth.SESSION_KEY in self._session:
            return settings.SESSION_COOKIE_AGE
        return settings.JENCO_SIGNED_OUT_SESSION_SECONDS

    def _validate_session_key(self, key) -> bool:
        """Only a key a store could have drawn: 32 lower-case letters and digits (ours, and
        Django's before them). Django's own check takes any of 8 characters or more: a
        cookie 16,000 characters long was looked up in Redis as it came, and the cache's
        CacheKeyWarning wrote the whole of it to the app server's log, past the logging's
        1,000-character cut (helper-150). Any other cookie is no session: a new one."""
        return is_session_key(key)

    def _get_new_session_key(self) -> str:
        # 160 random bits as 32 characters of base32 in lower case (a-z, 2-7: all valid key
        # characters), in a microsecond where get_random_string draws each character on its
        # own (35 us). A key in use is never drawn again, and the store refuses a key in use
        # on creation (a unique key, or Redis' SET NX).
        return base64.b32encode(secrets.token_bytes(20)).decode().lower()

    def cycle_key(self) -> None:
        """A new key for the same data (auth.login: no session fixation), written with the
        data when the session is saved rather than at once. The key is drawn now, so what
        the sign-in logs (accounts.flows.sign_in) can name the session it started."""
        data = self._session
        key = self.session_key
        self._session_key = self._get_new_session_key()
        self._unsaved = True
        self._session_cache = data
        self.modified = True
        self._written = None
        if key:
            self.delete(key)

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            self._session_key = self._get_new_session_key()
            must_create = True
        if getattr(self, "_unsaved", False):
            must_create = True
        data = self._get_session(no_load=must_create)
        written = (self.session_key, self.serializer().dumps(data))
        if not must_create and written == getattr(self, "_written", None):
            return  # saved already in this request (a sign-in), unchanged since
        self._write(data, must_create)
        self._written = written
        self._unsaved = False

    def _write(self, data: dict, must_create: bool) -> None:
        """Store `data` under the session key: create it (CreateError if the key is taken)
        or update it (UpdateError if it is gone: ended elsewhere, never brought back)."""
        raise NotImplementedError


class SessionStore(OncePerChange, DatabaseSessionStore):
    def _write(self, data: dict, must_create: bool) -> None:
        obj = self.create_model_instance(data)
        using = router.db_for_write(self.model, instance=obj)
        # One statement, no savepoint of its own: inside the sign-in's transaction, or alone.
        try:
            obj.save(force_insert=must_create, force_update=not must_create, using=using)
        except IntegrityError:
            if must_create:
                raise CreateError from None
            raise
        except DatabaseError:
            if not must_create:
                raise UpdateError from None
            raise
