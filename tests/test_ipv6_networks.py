"""An IPv6 client is counted by its network, not its address.

A home line or a phone is given a /64 of IPv6 addresses (2^64 of them) and may use any: counted
one address at a time, the lockout's 30 failures per address and the hourly limits on reset
and registration emails would each be new for every post. They count the network's first
JENCO_IPV6_PREFIX bits (64), staff read it as "2001:db8:1:2::/64", and the security log keeps
each address whole.
"""

import re

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.test import Client

from accounts.models import PendingRegistration, SecurityEvent
from tests.helpers import PASSWORD, a_minute_on, solved_captcha, wrong_captcha
from tests.test_deploy_check import PRODUCTION, manage
from tests.test_registration import SENT, register
from tests.test_support_desk import as_staff, last_signed_in_from, page_of

pytestmark = pytest.mark.django_db

NETWORK = "2001:db8:1:2::"  # a /64; the addresses below are in it unless said otherwise
PAUSED = "お使いのネットワークからのログイン"


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()


def sign_in_from(address: str, member_id="JPN1000001", password=PASSWORD, captcha=None):
    client = Client(REMOTE_ADDR=address)
    data = {"username": member_id, "password": password, **(captcha or solved_captcha())}
    return client, client.post("/login/", data)


def wrong_captchas_from(addresses: list[str]) -> None:
    for n, address in enumerate(addresses):
        sign_in_from(address, member_id=f"JPN50000{n:02}", captcha=wrong_captcha())


def test_failures_from_many_addresses_of_one_network_pause_the_network(member, settings):
    limit = settings.JENCO_LOCKOUT_ADDRESS_FAILURES
    wrong_captchas_from([f"2001:db8:1:2:{n:x}::{n + 1:x}" for n in range(limit)])

    client, page = sign_in_from("2001:db8:1:2:ffff:ffff:ffff:fffe")
    assert page.status_code == 429 and PAUSED in page.content.decode()
    assert SESSION_KEY not in client.session
    # The next network is another client's.
    client, page = sign_in_from("2001:db8:1:3::1")
    assert page.status_code == 302 and SESSION_KEY in client.session
    # Counted as one network; logged address by address, the pause with its network.
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True).distinct()) == [NETWORK]
    failed = SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SIGN_IN_CAPTCHA_FAILED)
    assert failed.values("ip_address").distinct().count() == limit
    pause = SecurityEvent.objects.get(kind=SecurityEvent.Kind.LOCKED_OUT)
    assert pause.details["address"] == f"{NETWORK}/64"
    assert pause.ip_address == f"2001:db8:1:2:{limit - 1:x}::{limit:x}"


@pytest.mark.parametrize(
    "written_as_ipv6",
    [
        "::ffff:198.51.100.7",  # IPv4-mapped
        "2002:c633:6407::1",  # 6to4: the IPv4 host 198.51.100.7 has all of 2002:c633:6407::/48
        "2001:0:4136:e378:8000:63bf:39cc:9bf8",  # Teredo, its client 198.51.100.7
        # A translator in front of an IPv6-only site: all its IPv4 members in one /64, so
        # one attacker's failures paused every one of them (helper-128).
        "64:ff9b::c633:6407",
    ],
)
def test_an_ipv4_host_behind_an_ipv6_address_is_that_ipv4_address(
    member, settings, written_as_ipv6
):
    wrong_captchas_from([written_as_ipv6] * settings.JENCO_LOCKOUT_ADDRESS_FAILURES)
    _client, page = sign_in_from("198.51.100.7")
    assert page.status_code == 429 and PAUSED in page.content.decode()


def test_a_link_local_address_with_its_zone_adds_up(member, settings):
    settings.JENCO_IPV6_PREFIX = 128
    wrong_captchas_from(["fe80::1%eth0"] * settings.JENCO_LOCKOUT_ADDRESS_FAILURES)
    _client, page = sign_in_from("fe80::1%eth0")
    assert page.status_code == 429


def test_the_prefix_is_the_operators_to_set(member, settings):
    settings.JENCO_IPV6_PREFIX = 128  # one address, one client
    limit = settings.JENCO_LOCKOUT_ADDRESS_FAILURES
    wrong_captchas_from([f"2001:db8:1:2::{n + 1:x}" for n in range(limit)])
    client, page = sign_in_from(f"2001:db8:1:2::{limit + 1:x}")
    assert page.status_code == 302 and SESSION_KEY in client.session
    assert "/128" not in str(AccessAttempt.objects.first())

    settings.JENCO_IPV6_PREFIX = 48  # a provider handing out /48s: 2001:db8:1:3:: is the same
    wrong_captchas_from([f"2001:db8:1:{n:x}::1" for n in range(limit)])
    _client, page = sign_in_from("2001:db8:1:ffff::1")
    assert page.status_code == 429


def test_an_impossible_prefix_names_the_variable():
    for value, said in [("129", "at most 128"), ("16", "at least 32"), ("/64", "a whole number")]:
        result = manage("check", **{**PRODUCTION, "JENCO_IPV6_PREFIX": value})
        assert result.returncode != 0
        assert f"JENCO_IPV6_PREFIX must be {said}" in result.stderr


def test_reset_emails_an_hour_count_the_network(member, mailoutbox, settings):
    settings.JENCO_FORGOT_PER_ADDRESS = 2
    for n in range(3):
        Client(REMOTE_ADDR=f"2001:db8:1:2::{n + 1:x}").post(
            "/password/forgot/",
            {"username": "JPN1000001", "email": "taro@example.com", **solved_captcha()},
        )
        a_minute_on(member)
    assert len(mailoutbox) == 2


def test_registrations_an_hour_count_the_network(settings, mailoutbox):
    settings.JENCO_REGISTRATION_PER_ADDRESS = 2
    answers = [
        register(Client(REMOTE_ADDR=f"2001:db8:1:2::{n + 1:x}"), email=f"n{n}@example.com")
        for n in range(3)
    ]
    assert [answer.status_code for answer in answers] == [302, 302, 200]
    assert "この1時間に送信された新規登録が多すぎます" in answers[2].content.decode()
    assert PendingRegistration.objects.count() == 2
    elsewhere = register(Client(REMOTE_ADDR="2001:db8:1:3::1"), email="n2@example.com")
    assert elsewhere["Location"] == SENT


def test_support_reads_and_finds_the_network(client, support_agent, member, settings):
    """The member signed in from one address of their /64 and the network is paused: the
    agent reads the network on the member's page and in the lockouts list, and finds its
    records by the address the security log shows."""
    last_signed_in_from(member, "2001:db8:1:2:aaaa::5")
    wrong_captchas_from(
        [f"2001:db8:1:2::{n + 1:x}" for n in range(settings.JENCO_LOCKOUT_ADDRESS_FAILURES)]
    )
    agent = as_staff(client, support_agent, "en")

    page = agent.get(page_of(member)).content.decode()
    assert f"Signing in from {NETWORK}/64, where they last signed in, is paused" in page

    listed = agent.get("/admin/axes/accessattempt/").content.decode()
    assert f"{NETWORK}/64" in listed
    found = agent.get("/admin/axes/accessattempt/", {"q": "2001:db8:1:2:aaaa::5"})
    rows = re.findall(r'<tr[^>]*>\s*<td class="action-checkbox">', found.content.decode())
    assert len(rows) == AccessAttempt.objects.count() > 0
    elsewhere = agent.get("/admin/axes/accessattempt/", {"q": "2001:db8:1:3::5"})
    assert re.findall(r'<td class="action-checkbox">', elsewhere.content.decode()) == []
    record = AccessAttempt.objects.first()
    detail = agent.get(f"/admin/axes/accessattempt/{record.pk}/change/").content.decode()
    assert f"{NETWORK}/64" in detail

    # Lifted, the log's entry names the network, as the list did.
    agent.post(f"/admin/axes/accessattempt/{record.pk}/delete/", {"post": "yes"})
    lifted = SecurityEvent.objects.get(kind=SecurityEvent.Kind.LOCKOUT_CLEARED)
    assert lifted.details["address"] == f"{NETWORK}/64"


def rows_found(agent, search: str) -> int:
    page = agent.get("/admin/axes/accessattempt/", {"q": search}).content.decode()
    return len(re.findall(r'<td class="action-checkbox">', page))


def test_the_lockouts_list_is_searched_by_address_or_network(client, support_agent, settings):
    wrong_captchas_from(["2001:db8:1:2::1", "2001:db8:7:7::1", "203.0.113.9", "203.0.113.10"])
    agent = as_staff(client, support_agent, "en")
    assert rows_found(agent, "[2001:db8:1:2::99]") == 1  # as a log line writes it
    assert rows_found(agent, "[2001:db8:1:2::99]:443") == 1
    assert rows_found(agent, "２００１:ｄｂ８:１:２::９９") == 1  # typed full-width
    assert rows_found(agent, "2001:db8::/32") == 2  # wider: every network inside it
    assert rows_found(agent, "203.0.113.0/28") == 2
    assert rows_found(agent, "203.0.113.9") == 1  # an address is that address, not 203.0.113.90
    assert rows_found(agent, "2001:db8:2::/48") == 0
    assert rows_found(agent, "203.0.113") == 2  # part of an address: found as text


@pytest.mark.parametrize("search", ["203.0.113.9/33", "2001:db8:1:2::/zz", "203.0.113/24"])
def test_a_network_that_is_none_is_said_so_on_the_lockouts_list(client, support_agent, search):
    # "0 records" read as nothing paused there (helper-125).
    wrong_captchas_from(["203.0.113.9"])
    agent = as_staff(client, support_agent, "en")
    page = agent.get("/admin/axes/accessattempt/", {"q": search}).content.decode()
    assert f"“{search}” is not an IP address or a network" in page
    assert "nothing was searched" in page


def test_a_whole_address_counted_before_networks_were_shows_as_it_is(support_agent, client):
    AccessAttempt.objects.create(
        ip_address="2001:db8:9:9:aaaa::5", path_info="/login/", failures_since_start=1
    )
    listed = as_staff(client, support_agent, "en").get("/admin/axes/accessattempt/")
    page = listed.content.decode()
    assert "2001:db8:9:9:aaaa::5" in page and "2001:db8:9:9:aaaa::5/64" not in page


def test_the_security_log_is_searched_by_the_network_staff_see(client, support_agent, member):
    wrong_captchas_from(["2001:db8:1:2::1", "2001:db8:1:2:ffff::2", "2001:db8:1:3::1"])
    agent = as_staff(client, support_agent, "en")

    def found(search: str) -> int:
        page = agent.get("/admin/accounts/securityevent/", {"q": search}).content.decode()
        assert "nothing was searched" not in page
        return len(re.findall(r"<tr[^>]*>\s*<t[dh] class=\"field-created", page))

    assert found(f"{NETWORK}/64") == 2
    assert found("2001:db8:1:2::/63") == 3
    assert found("2001:db8:1:2:ffff::2") == 1
    page = agent.get("/admin/accounts/securityevent/", {"q": "2001:db8:1:2::/zz"}).content
    assert "“2001:db8:1:2::/zz” is not an IP address or a network" in page.decode()
    page = agent.get("/admin/accounts/securityevent/", {"q": "not-an-address"}).content
    assert "an IP address or a network (such as 2001:db8:1:2::/64)" in page.decode()


def test_the_security_log_keeps_an_ipv4_client_as_ipv4(member, settings):
    # A dual-stack listener writes an IPv4 client as ::ffff:198.51.100.7: logged so, a search
    # for 198.51.100.7 found half its entries (helper-125).
    settings.JENCO_TRUSTED_PROXIES = 1
    for forwarded in ("::ffff:198.51.100.7", "198.51.100.7"):
        Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded).post(
            "/login/", {"username": "JPN1000001", "password": "x", **solved_captcha()}
        )
    Client(REMOTE_ADDR="::ffff:198.51.100.7").post(
        "/login/", {"username": "JPN1000001", "password": "x", **solved_captcha()}
    )
    failed = SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SIGN_IN_FAILED)
    assert list(failed.values_list("ip_address", flat=True)) == ["198.51.100.7"] * 3


def test_the_security_log_is_searched_by_an_ipv4_address_written_as_ipv6(
    client, support_agent, member, settings
):
    # Pasted from a dual-stack proxy's log, ::ffff:198.51.100.7 found none of the entries
    # the log keeps as 198.51.100.7, where the lockouts list found its record (helper-130).
    settings.JENCO_TRUSTED_PROXIES = 1
    Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7").post(
        "/login/", {"username": "JPN1000001", "password": "x", **solved_captcha()}
    )
    agent = as_staff(client, support_agent, "en")
    for typed in ("::ffff:198.51.100.7", "198.51.100.7"):
        page = agent.get("/admin/accounts/securityevent/", {"q": typed}).content.decode()
        assert len(re.findall(r'<t[dh] class="field-created', page)) == 1, typed
