"""The members every test needs, and a captcha answered through its store."""

from pathlib import Path

import pytest
from captcha.models import CaptchaStore
from django.contrib.auth.hashers import make_password

from accounts.ja_accounts import ja_member
from accounts.models import Member

PASSWORD = "plum-Blossom-2026"
PIN = "482916"
DEFAULT_PASSWORD = "jenco@12345"
DEFAULT_PIN = "123123"
# The sample quote feed `make run` loads (four instruments, as on the seed's sign-in page).
SAMPLE_FEED = str(Path(__file__).resolve().parent.parent / "deploy" / "sample-quotes.csv")
# Every page of the signed-in back office.
BACKOFFICE_PAGES = [
    "/backoffice/",
    "/backoffice/profile/",
    "/backoffice/profile/pin/",
    "/backoffice/profile/password/",
    "/backoffice/profile/sub-password/",
    "/backoffice/profile/email/",
]


def solved_captcha() -> dict:
    """What a member who read the picture correctly would submit."""
    key = CaptchaStore.generate_key()
    return {"captcha_0": key, "captcha_1": CaptchaStore.objects.get(hashkey=key).response}


def wrong_captcha() -> dict:
    key = CaptchaStore.generate_key()
    answer = CaptchaStore.objects.get(hashkey=key).response
    return {"captcha_0": key, "captcha_1": f"{(int(answer) + 1) % 10000:04d}"}


@pytest.fixture(autouse=True)
def _fresh_default_hashes():
    # The hash of the published defaults is cached per process; tests swap hashers.
    from accounts import credentials

    credentials._default_hash.cache_clear()
    yield
    credentials._default_hash.cache_clear()


@pytest.fixture(autouse=True)
def _no_ticker_left_over():
    # The ticker's strip is cached (backoffice.ticker); a test's quotes are rolled back with
    # its database, so its cached strip must go too.
    from django.core.cache import cache

    from backoffice.ticker import cache_keys

    cache.delete_many(cache_keys())
    yield
    cache.delete_many(cache_keys())


@pytest.fixture
def member(db) -> Member:
    """A member who finished the migration: own password and PIN."""
    return Member.objects.create_user(
        "JPN1000001",
        email="taro@example.com",
        password=PASSWORD,
        name="山田 太郎",
        pin=make_password(PIN),
        id_document_number="AB98765432",
    )


@pytest.fixture
def english_member(db) -> Member:
    return Member.objects.create_user(
        "JPN1000002",
        email="alice@example.com",
        password=PASSWORD,
        name="Alice Smith",
        pin=make_password(PIN),
        preferred_language="en",
    )


@pytest.fixture
def migrated_member(db) -> Member:
    """Brought over from JA, still on the published default password and PIN."""
    m = ja_member(
        "JPN2000001", name="佐藤 花子", email="hanako@example.com", id_document_number="X1234567"
    )
    m.save()
    return m


@pytest.fixture
def staff(db) -> Member:
    return Member.objects.create_superuser("JPN9000001", "admin@jenco.example", PASSWORD)


@pytest.fixture
def support_agent(db) -> Member:
    from django.contrib.auth.models import Group

    agent = Member.objects.create_user(
        "JPN9000002", "support@jenco.example", PASSWORD, is_staff=True
    )
    agent.groups.add(Group.objects.get(name="Support"))
    return agent


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def prove_mailbox(client, member) -> None:
    """What entering the mailed code leaves in this session (accounts.mailbox)."""
    from accounts import mailbox

    session = client.session
    session[mailbox.SESSION_KEY] = [member.pk, session.get("signed_in_at")]
    session.save()


@pytest.fixture
def migrated_client(client, migrated_member):
    """Signed in on the defaults, with the mailbox code already entered: at the PIN step."""
    client.force_login(migrated_member)
    prove_mailbox(client, migrated_member)
    return client


@pytest.fixture
def mailoutbox(transactional_db, mailoutbox):
    """Sent mail. Emails are queued when the change commits, so a test reading them runs with
    real commits rather than inside one rolled-back transaction."""
    return mailoutbox
