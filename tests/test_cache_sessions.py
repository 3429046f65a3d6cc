"""Sessions in the shared cache (accounts.cache_sessions, the store with REDIS_URL set): a
sign-in writes its session with one command, a page view writes nothing, and a session ended
elsewhere is not brought back. On SQLite the cache is each process's memory; in the
PostgreSQL run (REDIS_URL set) it is Redis, as on the app servers."""

from importlib import import_module

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import UpdateError
from django.core.cache import caches

from accounts.cache_sessions import SessionStore
from jenco.redis_cache import RedisCache
from tests.helpers import sign_in

pytestmark = pytest.mark.django_db

SESSIONS = "django.contrib.sessions.cache"  # the store's key prefix


@pytest.fixture(autouse=True)
def _cache_sessions(settings):
    settings.SESSION_ENGINE = "accounts.cache_sessions"


@pytest.fixture
def session_commands(monkeypatch):
    """Every cache call that names a session key: (method, key)."""
    cache = caches["default"]
    calls = []
    for method in ("add", "set", "get", "has_key", "delete", "touch"):
        original = getattr(cache, method)

        def spy(key, *args, _method=method, _original=original, **kwargs):
            if key.startswith(SESSIONS):
                calls.append((_method, key.removeprefix(SESSIONS)))
            return _original(key, *args, **kwargs)

        monkeypatch.setattr(cache, method, spy)
    return calls


def test_a_sign_in_writes_its_session_with_one_command(client, member, session_commands):
    response = sign_in(client, member.member_id)

    assert response.status_code == 302
    key = client.cookies["sessionid"].value
    assert session_commands == [("add", key)]  # no "is this key free?", no rewrite
    assert client.session[SESSION_KEY] == str(member.pk)


def test_a_page_view_after_signing_in_reads_the_session_and_writes_nothing(
    client, member, session_commands
):
    sign_in(client, member.member_id)
    key = client.cookies["sessionid"].value
    session_commands.clear()

    response = client.get("/backoffice/")

    assert response.status_code == 200
    assert session_commands == [("get", key)]


def test_a_session_ended_elsewhere_is_not_brought_back_by_a_request_under_way(member):
    store = SessionStore()
    store["member"] = member.member_id
    store.save()
    under_way = SessionStore(store.session_key)
    assert under_way["member"] == member.member_id  # read at the start of the request
    store.delete()  # signed out everywhere, from another device or by support

    under_way["seen"] = 1
    with pytest.raises(UpdateError):
        under_way.save()
    assert not SessionStore().exists(store.session_key)


def test_a_new_session_refuses_a_key_in_use(member):
    from django.contrib.sessions.backends.base import CreateError

    first = SessionStore()
    first["member"] = member.member_id
    first.save()
    second = SessionStore()
    second._get_new_session_key = lambda: first.session_key  # the impossible collision
    second["member"] = "someone else"
    with pytest.raises(CreateError):
        second.save()
    assert SessionStore(first.session_key).load()["member"] == member.member_id


def test_the_redis_cache_makes_one_client_per_connection_pool():
    # No server needed: a client connects on its first command.
    cache = RedisCache("redis://127.0.0.1:1/0", {})
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client("any key") is client
    assert cache._cache.get_client(write=True).connection_pool is client.connection_pool


def test_new_session_keys_are_long_random_and_valid_for_django():
    from django.contrib.sessions.backends.base import VALID_KEY_CHARS

    from accounts.sessions import SessionStore as DatabaseSessionStore

    for store in (SessionStore, DatabaseSessionStore):
        keys = {store()._get_new_session_key() for _ in range(1000)}
        assert len(keys) == 1000
        assert all(len(key) == 32 and set(key) <= set(VALID_KEY_CHARS) for key in keys)
        session = store()
        session["x"] = 1
        session.save()
        assert store(session.session_key).load() == {"x": 1}


@pytest.mark.parametrize("engine", ["accounts.cache_sessions", "accounts.sessions"])
@pytest.mark.parametrize("cookie", ["a" * 16000, "A" * 32, "a" * 31 + "!", "a" * 33])
def test_a_session_cookie_no_store_could_have_made_is_not_looked_up(
    client, settings, session_commands, recwarn, engine, cookie
):
    # A session key is 32 lower-case letters and digits. A 16,000-character cookie was
    # looked up in Redis as it came, and Django's cache warned of the key (CacheKeyWarning)
    # with the whole of it, to the app server's log past the logging's 1,000-character cut:
    # 16 KB of log a request, 30 requests a second from one address (helper-150).
    settings.SESSION_ENGINE = engine
    client.cookies["sessionid"] = cookie

    response = client.get("/login/")

    assert response.status_code == 200
    assert session_commands == []
    assert [str(w.message) for w in recwarn] == []
    assert import_module(engine).SessionStore(cookie).session_key is None
