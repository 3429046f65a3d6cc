"""Issue 12, finding 7: one limit for the whole deployment, however many app servers.

The forgot-password limit per address was counted in each process's memory: with 4 gunicorn
workers, 120 requests queued 80 emails instead of 20. The counters now live in the store
every process shares: the database, or Redis when REDIS_URL is set.
"""

import io
import shutil
import subprocess
import sys
import threading
import time

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.test import override_settings

from accounts import throttle
from accounts.models import RequestCounter
from tests.live_site import ROOT, Browser, LiveSite
from tools.services import free_port

ADDRESS = "203.0.113.7"
EMAIL = "taro@example.com"
HOUR = 3600
# A moment ten seconds into an hour-long window, so a test knows where the window ends.
T = 1_800_000_000 // HOUR * HOUR + 10


# --- In the database (no REDIS_URL) ---------------------------------------------------------


@pytest.fixture(autouse=True)
def _each_test_chooses_its_store(settings):
    # The suite's second run sets REDIS_URL (Redis cache): these tests count in the database
    # unless they ask for Redis (the redis_cache fixture below).
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.mark.django_db
def test_an_address_gets_its_limit_and_then_no_more():
    answers = [throttle.over_limit("forgot-password", ADDRESS, 3, HOUR, now=T) for _ in range(5)]

    assert answers == [False, False, False, True, True]
    assert RequestCounter.objects.get().count == 5


@pytest.mark.django_db
def test_each_address_and_each_scope_has_its_own_count():
    for _ in range(3):
        throttle.over_limit("forgot-password", ADDRESS, 3, HOUR, now=T)

    assert throttle.over_limit("forgot-password", ADDRESS, 3, HOUR, now=T)
    assert not throttle.over_limit("forgot-password", "198.51.100.2", 3, HOUR, now=T)
    assert not throttle.over_limit("forgot-pin", ADDRESS, 3, HOUR, now=T)


@pytest.mark.django_db
def test_the_count_starts_again_when_the_window_is_over():
    for _ in range(4):
        throttle.over_limit("forgot-password", ADDRESS, 3, HOUR, now=T)
    assert throttle.over_limit("forgot-password", ADDRESS, 3, HOUR, now=T + HOUR - 11)

    assert not throttle.over_limit("forgot-password", ADDRESS, 3, HOUR, now=T + HOUR - 10)


@pytest.mark.django_db
def test_it_stores_a_hash_never_the_address_or_email():
    throttle.over_limit("forgot-password", ADDRESS, 3, HOUR, now=T)
    throttle.over_limit("email-change", EMAIL, 3, HOUR, now=T)

    rows = list(RequestCounter.objects.values_list("scope", "key_hash", "window_start"))
    assert len(rows) == 2
    for row in rows:
        assert ADDRESS not in str(row) and EMAIL not in str(row)
    hashes = {key_hash for _scope, key_hash, _start in rows}
    assert all(len(h) == 64 and set(h) <= set("0123456789abcdef") for h in hashes)
    assert hashes == {throttle.hash_key(ADDRESS), throttle.hash_key(EMAIL)}


@pytest.mark.django_db
def test_the_daily_prune_deletes_the_counters_of_finished_windows():
    now = time.time()
    throttle.over_limit("forgot-password", ADDRESS, 3, HOUR, now=now - 2 * HOUR)
    throttle.over_limit("forgot-password", "198.51.100.2", 3, HOUR, now=now)

    call_command("prune_security_events", stdout=io.StringIO())

    assert list(RequestCounter.objects.values_list("key_hash", flat=True)) == [
        throttle.hash_key("198.51.100.2")
    ]


# --- Two app servers on one database --------------------------------------------------------

LIMIT = 5
# A member for each request: one member is mailed one link a minute whatever the address's
# limit (accounts.flows.reset.LINKS_APART).
MEMBERS = [(f"JPN30000{n:02d}", f"jpn30000{n:02d}@example.com") for n in range(1, 3 * LIMIT + 1)]


@pytest.fixture
def two_servers(tmp_path):
    """Two app servers of one deployment: one SQLite file, one mailbox, a process each."""
    servers = [LiveSite(tmp_path, "first"), LiveSite(tmp_path, "second")]
    for server in servers:
        server.env["JENCO_FORGOT_PER_ADDRESS"] = str(LIMIT)
        server.start()
    servers[0].shell(
        "from accounts.models import Member\n"
        f"for member_id, email in {MEMBERS!r}:\n"
        "    Member.objects.create_user(member_id, email=email, password='x-Long-pass-1')\n"
    )
    yield servers
    for server in servers:
        server.stop()


def test_one_address_gets_the_limit_once_across_two_app_servers(two_servers):
    for i, (member_id, email) in enumerate(MEMBERS):
        browser = Browser(two_servers[i % 2])  # alternately, from the same address
        data = {**browser.form("/password/forgot/"), "username": member_id, "email": email}
        page = browser.request("POST", "/password/forgot/", data)
        assert (page.status, page.location) == (302, "/password/forgot/sent/")

    assert len([email for _id, email in MEMBERS if two_servers[0].mails_to(email)]) == LIMIT


# --- In Redis (REDIS_URL set) ----------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A redis-server of our own on a free loopback port, nothing kept on disk."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (`make services` installs it)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "no"]
        + ["--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(10)


@pytest.fixture
def redis_cache(redis_url):
    cache = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}
    cache["default"]["LOCATION"] = redis_url
    with override_settings(CACHES=cache):
        caches["default"].clear()
        yield caches["default"]


@pytest.mark.django_db
def test_with_redis_an_address_gets_its_limit_and_the_database_holds_nothing(redis_cache):
    answers = [throttle.over_limit("forgot-password", ADDRESS, 3, HOUR, now=T) for _ in range(5)]

    assert answers == [False, False, False, True, True]
    assert not throttle.over_limit("forgot-password", ADDRESS, 3, HOUR, now=T + HOUR)
    assert not RequestCounter.objects.exists()


@pytest.mark.django_db
def test_with_redis_it_stores_a_hash_never_the_address(redis_cache):
    throttle.over_limit("forgot-password", ADDRESS, 3, HOUR)

    keys = [key.decode() for key in redis_cache._cache.get_client().keys("*")]
    assert len(keys) == 1
    assert ADDRESS not in keys[0] and throttle.hash_key(ADDRESS) in keys[0]


@pytest.mark.django_db
def test_with_redis_simultaneous_requests_share_one_count(redis_cache):
    answers = []
    barrier = threading.Barrier(8)

    def ask():
        barrier.wait(10)
        for _ in range(5):
            answers.append(throttle.over_limit("forgot-password", ADDRESS, 20, HOUR))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers.count(False) == 20 and answers.count(True) == 20


def test_with_redis_url_set_the_production_settings_count_in_redis(redis_url, tmp_path):
    # Before the redis client was a dependency this failed with "No module named 'redis'".
    # The database here has no tables: counting in it would fail too.
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "jenco.settings",
        "SECRET_KEY": "tests-only-not-a-secret-" + "y" * 40,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        "REDIS_URL": redis_url,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    code = (
        "from accounts import throttle\n"
        # One moment for all three: a window boundary between them would restart the count.
        "print([throttle.over_limit('forgot-password', '192.0.2.9', 2, 60, now=1e9 + 1) for _ in range(3)])\n"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[False, False, True]"
