"""Addresses many members share on purpose: JENCO's offices, a migration event's network.

On migration day a help desk signs in member after member from one address. Each sign-in on
the published default password counts against the address, as a failure does, so the 30th in
15 minutes paused the address: the members in the queue got the paused page, and so did the
support agents in the same office, who then could not sign in to lift it. Listed in
JENCO_SHARED_ADDRESSES, an address has JENCO_SHARED_ADDRESS_TIMES (10) times every
per-address limit: a room full of members fits, a script spraying the published password
from its open Wi-Fi still pauses it. Every member ID's own limit holds as it is.
"""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from accounts import sign_in_sql
from accounts.checks import no_one_is_shared_by_mistake
from accounts.flows.sign_in import BY_PASSWORD, EVERY_WAY
from accounts.ja_accounts import ja_member
from accounts.models import PendingRegistration
from tests.helpers import DEFAULT_PASSWORD, PASSWORD, a_minute_on, solved_captcha, wrong_captcha
from tests.test_deploy_check import PRODUCTION, manage
from tests.test_registration import register
from tests.test_support_desk import as_staff, last_signed_in_from, page_of

pytestmark = pytest.mark.django_db

OFFICE = "203.0.113.5"  # inside the office's 203.0.113.0/28
OUTSIDE = "198.51.100.9"
PAUSED = "一時的にログインを停止"


@pytest.fixture(autouse=True)
def _office(settings):
    cache.clear()
    settings.JENCO_SHARED_ADDRESSES = ["203.0.113.0/28", "2001:db8:1::/56"]


def sign_in(address: str, member_id: str, password: str, captcha=None):
    client = Client(REMOTE_ADDR=address)
    data = {"username": member_id, "password": password, **(captcha or solved_captcha())}
    return client, client.post("/login/", data)


def test_a_help_desk_signs_in_member_after_member(settings, member, mailoutbox):
    """Forty migrated members through the first sign-in at the office, a few mistyping on the
    way: none is paused, nor is the agent or the member who signs in after them."""
    queue = settings.JENCO_LOCKOUT_ADDRESS_FAILURES + 10
    for n in range(queue):
        ja_member(f"JPN20000{n:02}", email=f"m{n}@example.com").save()
    for n in range(queue):
        sign_in(OFFICE, f"JPN20000{n:02}", "jenco@1234", captcha=wrong_captcha())
        client, page = sign_in(OFFICE, f"JPN20000{n:02}", DEFAULT_PASSWORD)
        assert page.status_code == 302, n
        assert client.get("/backoffice/")["Location"] == "/backoffice/first-sign-in/mailbox/"
    assert len(mailoutbox) == queue  # a code each

    client, page = sign_in("203.0.113.14", "JPN1000001", PASSWORD)
    assert page.status_code == 302 and SESSION_KEY in client.session
    # Counted all the same, against the office's own, higher limit.
    assert sum(AccessAttempt.objects.values_list("failures_since_start", flat=True)) == 2 * queue


def test_members_mistyping_their_own_passwords_at_the_desk(settings, member):
    queue = settings.JENCO_LOCKOUT_ADDRESS_FAILURES + 5
    for n in range(queue):
        sign_in(OFFICE, f"JPN40000{n:02}", "not-the-password")
    client, page = sign_in(OFFICE, "JPN1000001", PASSWORD)
    assert page.status_code == 302 and SESSION_KEY in client.session


def test_a_script_spraying_from_the_office_still_pauses_it(settings, member):
    settings.JENCO_SHARED_ADDRESS_TIMES = 2
    limit = 2 * settings.JENCO_LOCKOUT_ADDRESS_FAILURES
    for n in range(limit - 1):
        sign_in(OFFICE, f"JPN30000{n:02}", "x", captcha=wrong_captcha())
    client, page = sign_in(OFFICE, "JPN1000001", PASSWORD)
    assert page.status_code == 302 and SESSION_KEY in client.session
    sign_in(OFFICE, "JPN3000099", "x", captcha=wrong_captcha())
    _client, page = sign_in(OFFICE, "JPN1000001", PASSWORD)
    assert page.status_code == 429 and "お使いのネットワークからのログイン" in page.content.decode()


def test_the_same_queue_from_any_other_address_pauses_it(settings, member):
    for n in range(settings.JENCO_LOCKOUT_ADDRESS_FAILURES):
        sign_in(OUTSIDE, f"JPN30000{n:02}", "x", captcha=wrong_captcha())
    _client, page = sign_in(OUTSIDE, "JPN1000001", PASSWORD)
    assert page.status_code == 429


def test_a_member_id_is_still_paused_from_the_office(settings, member):
    """Past the usual address limit, the ID alone is paused: the page says a reset lifts
    it, which it would not say of a paused network."""
    for n in range(settings.JENCO_LOCKOUT_ADDRESS_FAILURES):
        sign_in(OFFICE, f"JPN30000{n:02}", "x", captcha=wrong_captcha())
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(OFFICE, "JPN1000001", "not-the-password")
    _client, page = sign_in(OFFICE, "JPN1000001", PASSWORD)
    assert page.status_code == 429 and PAUSED in page.content.decode()
    assert "停止も解除されます" in page.content.decode()
    way = BY_PASSWORD
    counts = sign_in_sql.count_sign_ins(
        "JPN1000001",
        member.pk,
        after=timezone.now(),
        kinds=way.kinds,
        renewed_by=way.renewed_by,
        every_kind=EVERY_WAY.kinds,
    )
    assert counts.failed == settings.AXES_FAILURE_LIMIT


def test_an_ipv6_office_network_is_shared_whole(settings, member):
    for n in range(settings.JENCO_LOCKOUT_ADDRESS_FAILURES + 5):
        sign_in(f"2001:db8:1:5::{n + 1:x}", f"JPN30000{n:02}", "x", captcha=wrong_captcha())
    client, page = sign_in("2001:db8:1:5::ff", "JPN1000001", PASSWORD)
    assert page.status_code == 302 and SESSION_KEY in client.session


def test_the_hourly_limits_per_address_are_the_offices_too(settings, member, mailoutbox):
    settings.JENCO_SHARED_ADDRESS_TIMES = 2
    settings.JENCO_FORGOT_PER_ADDRESS = 1
    settings.JENCO_REGISTRATION_PER_ADDRESS = 1
    for _ in range(3):
        Client(REMOTE_ADDR=OFFICE).post(
            "/password/forgot/",
            {"username": "JPN1000001", "email": "taro@example.com", **solved_captcha()},
        )
        a_minute_on(member)
    assert len(mailoutbox) == 2
    answers = [register(Client(REMOTE_ADDR=OFFICE), email=f"n{n}@example.com") for n in range(3)]
    assert [answer.status_code for answer in answers] == [302, 302, 200]
    assert PendingRegistration.objects.count() == 2


def test_support_reads_the_office_at_its_own_limit(client, support_agent, member, settings):
    """Forty failures from the office, five with one ID: the agent is not told the member's
    network is paused, and the lockouts list gives the office's own limit."""
    last_signed_in_from(member, OFFICE)
    AccessAttempt.objects.create(
        username="JPN5000001", ip_address=OFFICE, path_info="/login/", failures_since_start=5
    )
    AccessAttempt.objects.create(ip_address=OFFICE, path_info="/login/", failures_since_start=35)
    agent = as_staff(client, support_agent, "en")

    page = agent.get(page_of(member)).content.decode()
    assert "Yes: nothing is paused." in page and "Signing in from" not in page
    listed = agent.get("/admin/axes/accessattempt/").content.decode()
    assert "Not paused: 5 of 10 failures with this ID, 40 of 300 from this address." in listed
    assert listed.count("it pauses at 300 failures, not 30; each ID still pauses at 10.") == 2
    paused = agent.get("/admin/axes/accessattempt/", {"paused": "yes"}).content.decode()
    assert OFFICE not in paused


def test_the_paused_list_takes_each_address_at_its_limit(client, support_agent, settings):
    AccessAttempt.objects.create(ip_address=OFFICE, path_info="/login/", failures_since_start=40)
    AccessAttempt.objects.create(ip_address=OUTSIDE, path_info="/login/", failures_since_start=40)
    agent = as_staff(client, support_agent, "en")
    paused = agent.get("/admin/axes/accessattempt/", {"paused": "yes"}).content.decode()
    assert OUTSIDE in paused and OFFICE not in paused

    AccessAttempt.objects.create(
        ip_address="203.0.113.6", path_info="/login/", failures_since_start=300
    )
    paused = agent.get("/admin/axes/accessattempt/", {"paused": "yes"}).content.decode()
    assert "203.0.113.6" in paused and "Paused: 300 failures from this address" in paused


@pytest.mark.parametrize(
    "everyone", ["127.0.0.1", "::ffff:127.0.0.1", "::1", "0.0.0.0", "127.0.0.0/24", "::/56"]
)
def test_an_address_every_client_has_behind_a_proxy_is_refused(settings, everyone):
    settings.JENCO_SHARED_ADDRESSES = ["203.0.113.0/28", everyone]
    (error,) = no_one_is_shared_by_mistake(None)
    assert error.id == "jenco.E006"
    assert f"JENCO_SHARED_ADDRESSES に {everyone} が含まれています" in error.msg  # as written
    settings.JENCO_SHARED_ADDRESSES = ["203.0.113.0/28"]
    assert no_one_is_shared_by_mistake(None) == []


def test_private_addresses_are_warned_of(settings):
    settings.JENCO_SHARED_ADDRESSES = ["172.18.0.2", "203.0.113.0/28", "fd00:1::/64"]
    (warning,) = no_one_is_shared_by_mistake(None)
    assert warning.id == "jenco.W005"
    assert "プライベートアドレス 172.18.0.2, fd00:1::/64 が含まれています" in warning.msg


@pytest.mark.parametrize(
    "value, said",
    [
        ("203.0.0.0/16", "takes networks of /24 at the widest: '203.0.0.0/16'"),
        ("2001:db8::/48", "takes networks of /56 at the widest: '2001:db8::/48'"),
        ("the office", "must list IP addresses or networks, comma-separated: 'the office'"),
        ("203.0.113.5/24", "lists an address with a prefix, '203.0.113.5/24': write the network"),
        ("::ffff:203.0.113.0/120", "lists '::ffff:203.0.113.0/120', an IPv4 address written as"),
        ("2002:cb00:7105::/48", "lists '2002:cb00:7105::/48', an IPv4 address written as IPv6"),
        ("64:ff9b::cb00:7105", "lists '64:ff9b::cb00:7105', an IPv4 address written as IPv6"),
        ("::/0", "takes networks of /56 at the widest: '::/0'"),
    ],
)
def test_a_list_the_settings_cannot_read_names_the_variable(value, said):
    result = manage("check", **{**PRODUCTION, "JENCO_SHARED_ADDRESSES": f"192.0.2.7,{value}"})
    assert result.returncode != 0
    assert f"JENCO_SHARED_ADDRESSES {said}" in result.stderr


def test_a_shared_address_has_more_than_an_address():
    result = manage("check", **{**PRODUCTION, "JENCO_SHARED_ADDRESS_TIMES": "1"})
    assert "JENCO_SHARED_ADDRESS_TIMES must be at least 2" in result.stderr
