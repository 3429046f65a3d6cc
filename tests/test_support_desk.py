"""The member's admin page as the support view (issue 17): what a Support agent and a
Supervisor read and may do on a call, each action's words, and every permission boundary."""

import re

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import models
from django.test import Client
from django.utils import timezone, translation

from accounts import times
from accounts.flows import support
from accounts.models import MailboxCode, Member, Passkey, SecurityEvent
from tests.helpers import (
    DEFAULT_PASSWORD,
    PASSWORD,
    PIN,
    a_minute_on,
    emailed_path,
    sign_in,
    solved_captcha,
    switch_language,
)
from tests.test_two_step import password_step, turn_on

pytestmark = pytest.mark.django_db
Kind = SecurityEvent.Kind


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()


@pytest.fixture
def supervisor(db) -> Member:
    boss = Member.objects.create_user(
        "JPN9000003", "boss@jenco.example", PASSWORD, name="監督 花子", is_staff=True
    )
    boss.groups.add(Group.objects.get(name="Supervisor"))
    return boss


def page_of(member) -> str:
    return f"/admin/accounts/member/{member.pk}/change/"


def seen_on(page) -> str:
    """What the reset-two-step page's form carries of what it showed (a hidden field)."""
    return re.search(r'name="seen" value="([0-9a-f]*)"', page.content.decode())[1]


def reset_two_step(boss, member, reason: str, page=None):
    """Open the reset-two-step page (or use `page`, opened before) and press its button."""
    url = f"{page_of(member).removesuffix('change/')}reset-two-step/"
    page = page or boss.get(url)
    return boss.post(url, {"reason": reason, "seen": seen_on(page)})


def as_staff(client, agent, language="ja"):
    client.force_login(agent)
    client.cookies["django_language"] = language
    return client


def paused(member, failures=10):
    AccessAttempt.objects.create(
        username=member.member_id,
        ip_address="203.0.113.7",
        user_agent="Mozilla/5.0 (iPhone)",
        path_info="/login/",
        failures_since_start=failures,
    )


# --- Reading the member's page -----------------------------------------------------------------


def test_the_page_says_whether_the_member_can_sign_in_and_why_not(client, support_agent, member):
    agent = as_staff(client, support_agent, "en")
    page = agent.get(page_of(member)).content.decode()
    assert "Yes: nothing is paused." in page

    paused(member)
    page = agent.get(page_of(member)).content.decode()
    assert "No: paused." in page
    assert "Sign-in paused until" in page and "203.0.113.7" in page
    # On the 24-hour clock, Japan time named, and one full stop: not "until Dec. 4, 2026,
    # 10:22 p.m.."
    assert re.search(r"Sign-in paused until \w{3}\.? \d{1,2}, \d{4}, \d{2}:\d{2} JST\.<", page)
    assert "Lift the pauses" in page


@pytest.mark.parametrize(
    "language, says",
    [
        ("ja", "一時停止の解除は会員ご本人のためだけに"),
        ("en", "Lift a sign-in pause only for the member"),
    ],
)
def test_a_sign_in_pause_says_who_to_lift_it_for_and_the_members_own_way_out(
    client, support_agent, member, language, says
):
    """A caller says "I'm locked out". The button lifted at once, with no word that the
    pause is what stops whoever is guessing the password, nor that the member can end it
    themselves with "Forgot password?" (helper-152)."""
    agent = as_staff(client, support_agent, language)
    assert says not in agent.get(page_of(member)).content.decode()
    paused(member)
    page = agent.get(page_of(member)).content.decode()
    sign_in_part = page[page.index('id="support-sign-in"') : page.index('id="support-actions"')]
    assert says in sign_in_part
    assert (
        "パスワードを忘れましたか？" if language == "ja" else "Forgot password?"
    ) in sign_in_part


def failures_from(address, *, minutes_ago, failures, member_id=None):
    """A lockout record: `failures` from `address` (with `member_id`, or none), the last
    `minutes_ago`."""
    AccessAttempt.objects.create(
        username=member_id,
        ip_address=address,
        user_agent=f"bot {address} {member_id} {minutes_ago}",
        path_info="/login/",
        failures_since_start=failures,
    )
    AccessAttempt.objects.filter(username=member_id, ip_address=address).update(
        attempt_time=timezone.now() - timezone.timedelta(minutes=minutes_ago)
    )


def last_signed_in_from(member, address):
    SecurityEvent.objects.create(member=member, kind=Kind.SIGN_IN, ip_address=address)
    Member.objects.filter(pk=member.pk).update(last_login=timezone.now())
    member.refresh_from_db()


def test_the_page_says_when_the_network_the_member_uses_is_paused(client, support_agent, member):
    """A member calls: "the page says my network is paused". Their carrier's address failed
    30 times with other IDs; the member's own ID is fine. The page said "Yes: nothing is
    paused." and the agent told them to try again."""
    last_signed_in_from(member, "198.51.100.20")
    failures_from("198.51.100.20", minutes_ago=10, failures=20, member_id="JPN5000001")
    failures_from("198.51.100.20", minutes_ago=1, failures=10)
    agent = as_staff(client, support_agent, "en")

    page = agent.get(page_of(member)).content.decode()

    assert "Not from their network: signing in from it is paused (below)." in page
    # The 20 age out first, leaving 10 of 30: the pause ends then, not 15 minutes after the
    # last failure.
    ends = times.minute_up(timezone.now() + timezone.timedelta(minutes=5))
    line = re.search(r"Signing in from 198\.51\.100\.20, where they last signed in, [^<]*", page)[0]
    assert f"paused until {ends:%b}" in line and f"{ends:%H:%M} JST: too many failed" in line
    assert "they can sign in over another connection" in line
    assert "Lift the pauses" not in page  # no lift of the member's ends it

    page = as_staff(Client(), support_agent).get(page_of(member)).content.decode()
    assert "会員のネットワークからはログインできません" in page


@pytest.mark.parametrize("kind", [Kind.SIGN_IN_FAILED, Kind.SIGN_IN_CAPTCHA_FAILED])
def test_a_paused_network_the_members_id_last_failed_from_is_named_as_perhaps_not_theirs(
    client, support_agent, member, kind
):
    # A wrong captcha with the ID, logged as a kind of its own, counts against the address
    # as a wrong password does (helper-162).
    last_signed_in_from(member, "198.51.100.20")
    SecurityEvent.objects.create(kind=kind, member_id_typed="JPN1000001", ip_address="192.0.2.66")
    failures_from("192.0.2.66", minutes_ago=1, failures=30)
    page = as_staff(client, support_agent, "en").get(page_of(member)).content.decode()
    # Their own network is fine: the answer is yes, with the other network named.
    assert "Yes: nothing is paused." in page
    assert (
        "Signing in from 192.0.2.66, where the last failed sign-in with their ID came from "
        "(perhaps not theirs), is paused until"
    ) in page


def test_a_network_under_its_limit_is_not_mentioned(client, support_agent, member):
    last_signed_in_from(member, "198.51.100.20")
    failures_from("198.51.100.20", minutes_ago=1, failures=29)
    failures_from("198.51.100.20", minutes_ago=16, failures=10, member_id="JPN5000001")
    page = as_staff(client, support_agent, "en").get(page_of(member)).content.decode()
    assert "Yes: nothing is paused." in page and "Signing in from" not in page


def test_an_ids_pause_ends_when_enough_of_its_failures_age_out(client, support_agent, member):
    failures_from("203.0.113.7", minutes_ago=10, failures=9, member_id=member.member_id)
    failures_from("203.0.113.8", minutes_ago=1, failures=1, member_id=member.member_id)
    page = as_staff(client, support_agent, "en").get(page_of(member)).content.decode()
    ends = times.minute_up(timezone.now() + timezone.timedelta(minutes=5))
    assert re.search(rf"Sign-in paused until [^<]* {ends:%H:%M} JST\.<", page)

    # And the member can sign in then, not 9 minutes later.
    AccessAttempt.objects.update(
        attempt_time=models.F("attempt_time") - timezone.timedelta(minutes=5, seconds=1)
    )
    assert sign_in(Client(), member.member_id, PASSWORD).status_code == 302


def test_lifting_a_members_pause_says_their_network_stays_paused(client, support_agent, member):
    paused(member)
    last_signed_in_from(member, "198.51.100.20")
    failures_from("198.51.100.20", minutes_ago=1, failures=30)
    agent = as_staff(client, support_agent, "en")
    response = agent.post(f"{page_of(member).removesuffix('change/')}clear-lockout/", follow=True)
    told = re.search(r'<li class="warning">([^<]*)</li>', response.content.decode())[1]
    assert told.startswith(
        "Pauses and locks lifted on JPN1000001: the sign-in pause. The member can sign in "
        "now, but not from 198.51.100.20 before"
    )
    assert "over another connection, such as mobile data instead of Wi-Fi." in told
    assert "The member can sign in now." not in response.content.decode()


def test_a_failure_older_than_the_lockouts_window_names_no_network(client, support_agent, member):
    SecurityEvent.objects.create(
        kind=Kind.SIGN_IN_FAILED, member_id_typed="JPN1000001", ip_address="192.0.2.66"
    )
    SecurityEvent.objects.update(created=timezone.now() - timezone.timedelta(days=60))
    failures_from("192.0.2.66", minutes_ago=1, failures=30)
    page = as_staff(client, support_agent, "en").get(page_of(member)).content.decode()
    assert "Yes: nothing is paused." in page and "Signing in from 192.0.2.66" not in page


def test_lifting_a_new_members_pause_names_the_network_they_failed_from(
    client, support_agent, member
):
    """helper-88: a member who never signed in failed ten times from a network that others
    paused too. The lift said 「会員は今すぐログインできます。」 and the page 「はい：一時停止
    はありません。」, and the member's next sign-in there got the network's pause."""
    for n in range(10):
        sign_in(Client(), "JPN1000001", "wrong-password", REMOTE_ADDR="192.0.2.77")
    failures_from("192.0.2.77", minutes_ago=1, failures=20)
    agent = as_staff(client, support_agent, "en")
    page = agent.get(page_of(member)).content.decode()
    assert "No: paused." in page  # the ID itself, first
    assert "Signing in from 192.0.2.77, where the last failed sign-in with their ID" in page

    response = agent.post(f"{page_of(member).removesuffix('change/')}clear-lockout/", follow=True)

    page = response.content.decode()
    assert "The member can sign in now, but not from 192.0.2.77 before" in page
    assert "Not from their network" in page and "Yes: nothing is paused." not in page
    refused = sign_in(Client(), "JPN1000001", PASSWORD, REMOTE_ADDR="192.0.2.77")
    assert refused.status_code == 429


def test_admin_and_the_member_read_the_same_minute_for_a_locks_end(client, support_agent, member):
    ends = timezone.localtime().replace(second=20, microsecond=0) + timezone.timedelta(minutes=30)
    Member.objects.filter(pk=member.pk).update(pin_locked_until=ends)
    first_free_minute = ends.replace(second=0) + timezone.timedelta(minutes=1)

    page = as_staff(client, support_agent).get(page_of(member)).content.decode()
    admin_says = re.search(r"PINコードは [^<]* (\d{1,2}:\d{2}) までロック中です", page)[1]
    field = re.search(r'field-pin_lock_ends.*?<div class="readonly">([^<]*)</div>', page, re.S)[1]
    assert field.endswith(admin_says)  # the Activity section's field reads the same minute
    client.force_login(member)
    page = client.get("/backoffice/profile/pin/").content.decode()
    member_reads = re.search(r"(\d{1,2}:\d{2})", page.split("ロックされています")[0][-300:])
    assert admin_says == member_reads[1] == f"{first_free_minute:%H:%M}"


def test_the_pages_heading_has_the_members_name_beside_the_id(client, support_agent, member):
    """Only 「JPN1000001」 headed the page: the name was far down, among the fields
    (helper-160)."""
    page = as_staff(client, support_agent, "ja").get(page_of(member)).content.decode()
    assert "<h2>JPN1000001 山田 太郎</h2>" in page
    # The tab's title, which the browser's history keeps, names the ID only (helper-161).
    title = page[page.index("<title>") : page.index("</title>")]
    assert "JPN1000001" in title and "山田" not in title


def test_the_page_reads_in_japanese_too(client, support_agent, member):
    paused(member)
    page = as_staff(client, support_agent).get(page_of(member)).content.decode()
    assert "ログインできますか" in page and "一時停止を解除する" in page


def test_the_page_shows_two_step_last_sign_ins_and_the_log_with_agents(
    client, support_agent, member
):
    member_client = client
    member_client.force_login(member)
    turn_on(member_client)
    password_step(member_client)  # a sign-in waiting for its code: logged nowhere yet
    sign_in(client, password="wrong-password")
    agent = as_staff(client, support_agent, "en")
    page = agent.get(page_of(member)).content.decode()
    assert "Two-step verification: on since" in page and "10 recovery codes left" in page
    assert "Security events" in page and "Two-step verification turned on" in page
    # Opening the page is itself logged, with the agent.
    event = member.security_events.filter(kind=Kind.MEMBER_VIEWED).latest("created")
    assert event.actor == support_agent and event.details["team"] == "Support"


# --- Lifting a lockout ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "language, heading, link, menu",
    [
        ("ja", "セキュリティ記録", "この会員のセキュリティ記録をすべて見る", "セキュリティ記録"),
        ("en", "Security events", "All security events for this member", "Security events"),
    ],
)
def test_the_member_pages_log_has_the_name_of_the_list_it_links_to(
    client, support_agent, member, language, heading, link, menu
):
    # The page said 「セキュリティログ」 and 「この会員のログをすべて見る」 ("Security log"),
    # the menu and the list it opens 「セキュリティ記録」 ("Security events"): an agent told
    # to check the log looked for a name the menu did not have (helper-152).
    agent = as_staff(client, support_agent, language)
    agent.get(page_of(member))  # the first view is the log's first line
    page = agent.get(page_of(member)).content.decode()
    timeline = page[page.index('id="support-timeline"') :]
    assert f"<h2>{heading}</h2>" in timeline and f">{link}</a>" in timeline
    assert f">{menu}</a>" in agent.get("/admin/").content.decode()
    assert "セキュリティログ" not in page and "Security log<" not in page


def test_an_agents_admin_home_has_no_recent_actions_box_that_is_always_empty(
    client, support_agent, staff, member
):
    # 「最近行った操作 / 自分の操作 / 利用不可」 for good: an agent's actions are in the security
    # log, not in Django's own, so the box read as if nothing they did was recorded.
    agent = as_staff(client, support_agent)
    agent.post(f"{page_of(member).removesuffix('change/')}send-reset-link/password/")
    page = agent.get("/admin/").content.decode()
    assert "最近行った操作" not in page and "recent-actions-module" not in page
    assert "recent-actions-module" in as_staff(Client(), staff).get("/admin/").content.decode()


def test_an_agent_opening_the_record_again_within_the_call_makes_one_line(
    support_agent, supervisor, member
):
    """Admin comes back to the member's page after each action, and each reload was a
    line of the security log: the first view of each agent's half hour is logged, once."""
    agent, boss = as_staff(Client(), support_agent), as_staff(Client(), supervisor)
    for _ in range(3):
        assert agent.get(page_of(member)).status_code == 200
    assert boss.get(page_of(member)).status_code == 200
    reader = Client()
    reader.force_login(member)

    def lines() -> int:
        activity = reader.get("/backoffice/security/activity/").content.decode()
        return activity.count("JENCOサポートがお客様の情報を閲覧")

    views = member.security_events.filter(kind=Kind.MEMBER_VIEWED)
    assert sorted(views.values_list("actor__member_id", flat=True)) == ["JPN9000002", "JPN9000003"]
    first = views.get(actor=support_agent)
    assert first.details == {"team": "Support"}  # the first view of the call, as ever
    assert lines() == 2  # one per agent
    page = agent.get(page_of(member)).content.decode()
    timeline = page[page.index('id="support-timeline"') :]
    assert timeline.count("JPN9000002") == 1  # the page's own log: one view, not four
    # Half an hour later the same agent's visit is a line of its own.
    views.update(created=timezone.now() - timezone.timedelta(minutes=31))
    assert agent.get(page_of(member)).status_code == 200
    assert views.count() == 3 and lines() == 3


def test_a_view_after_something_new_happened_to_the_member_is_logged_again(support_agent, member):
    # helper-158: within the half hour, a view after the member signed in was not logged,
    # and the log said the agent saw the member only as they were before it.
    agent = as_staff(Client(), support_agent)
    views = member.security_events.filter(kind=Kind.MEMBER_VIEWED)
    assert agent.get(page_of(member)).status_code == 200
    sign_in(Client(), member.member_id, "not-the-password", REMOTE_ADDR="203.0.113.9")
    assert agent.get(page_of(member)).status_code == 200
    assert views.count() == 2  # after a failed sign-in with the ID
    sign_in(Client(), member.member_id, captcha={"captcha_0": "x", "captcha_1": "0000"})
    assert agent.get(page_of(member)).status_code == 200
    assert views.count() == 2  # a wrong captcha, which anyone can post, is no news
    assert sign_in(Client(), member.member_id, REMOTE_ADDR="203.0.113.9").status_code == 302
    assert agent.get(page_of(member)).status_code == 200
    assert views.count() == 3  # after the member's sign-in
    link = f"{page_of(member).removesuffix('change/')}send-reset-link/password/"
    assert agent.post(link).status_code == 302  # the agent's own action, logged
    assert member.security_events.filter(actor=support_agent).count() == 4
    assert agent.get(page_of(member)).status_code == 200
    assert views.count() == 3  # is no news to the agent


def test_a_superusers_refused_edit_which_shows_the_record_is_a_view_too(staff, member):
    # helper-158: a post answered with the page showed the record and logged nothing.
    root = as_staff(Client(), staff)
    page = root.post(page_of(member), {"name": "x", "preferred_language": "zz"})
    assert page.status_code == 200 and member.email in page.content.decode()

    views = member.security_events.filter(kind=Kind.MEMBER_VIEWED, actor=staff)
    assert views.count() == 1


def test_the_same_agent_from_another_address_is_logged_again(support_agent, member):
    # The same staff account somewhere else within the half hour is worth a line of its own.
    here = as_staff(Client(REMOTE_ADDR="198.51.100.1"), support_agent)
    there = as_staff(Client(REMOTE_ADDR="203.0.113.50"), support_agent)
    for agent in (here, here, there, there):
        assert agent.get(page_of(member)).status_code == 200
    views = member.security_events.filter(kind=Kind.MEMBER_VIEWED)
    assert sorted(views.values_list("ip_address", flat=True)) == ["198.51.100.1", "203.0.113.50"]


def test_support_lifts_every_pause_and_it_is_logged(client, support_agent, member, caplog):
    caplog.set_level("INFO", logger="jenco.security")
    paused(member)
    Member.objects.filter(pk=member.pk).update(
        pin_locked_until=timezone.now() + timezone.timedelta(minutes=30)
    )
    agent = as_staff(client, support_agent, "en")
    response = agent.post(f"{page_of(member).removesuffix('change/')}clear-lockout/", follow=True)

    assert (
        "Pauses and locks lifted on JPN1000001: the sign-in pause, the lock on changes that "
        "need the PIN. "
        "The member can sign in now." in response.content.decode()
    )
    assert not AccessAttempt.objects.filter(username=member.member_id).exists()
    member.refresh_from_db()
    assert member.pin_locked_until is None
    event = member.security_events.get(kind=Kind.LOCKOUT_CLEARED)
    assert event.actor == support_agent
    # The app log names the agent too, as admin's security log does.
    assert f"lockout_cleared member=JPN1000001 by={support_agent.member_id} ip=" in caplog.text
    # And the member signs in at once, and reads that both were lifted: the PIN lock too,
    # of which an email told them.
    client.logout()
    assert sign_in(client).status_code == 302
    activity = client.get("/backoffice/security/activity/").content.decode()
    assert "JENCOサポートが、ログインの一時停止とPINコードが必要な操作のロックを解除" in activity


def test_a_pin_lock_lifted_alone_reads_as_the_pins_in_the_members_activity(
    client, support_agent, member
):
    Member.objects.filter(pk=member.pk).update(
        pin_locked_until=timezone.now() + timezone.timedelta(minutes=30)
    )
    agent = as_staff(client, support_agent)
    response = agent.post(f"{page_of(member).removesuffix('change/')}clear-lockout/", follow=True)

    # The agent is not told the member can sign in now: they could all along.
    told = response.content.decode()
    assert (
        "JPN1000001 のPINコードが必要な操作のロックを解除しました。"
        "会員はPINコードが必要な操作を再び行えます。" in told
    )
    assert "今すぐログインできます" not in told
    client.force_login(member)
    activity = client.get("/backoffice/security/activity/").content.decode()
    assert "JENCOサポートが、PINコードが必要な操作のロックを解除" in activity
    assert "パスワードが必要な操作" not in activity and "ログインの一時停止を解除" not in activity


def test_a_staff_accounts_password_lock_lifted_alone_is_told_as_its_password(
    client, staff, support_agent
):
    assert not support_agent.has_pin  # made without a PIN: confirms changes with its password
    Member.objects.filter(pk=support_agent.pk).update(
        pin_locked_until=timezone.now() + timezone.timedelta(minutes=30)
    )
    boss = as_staff(client, staff, "en")
    url = f"{page_of(support_agent).removesuffix('change/')}clear-lockout/"
    told = boss.post(url, follow=True).content.decode()

    assert (
        "Lock lifted on JPN9000002: the lock on changes that need the password. "
        "The account can make changes with its password again." in told
    )
    assert "PIN" not in told.split("Lock lifted")[1].split("</li>")[0]


def test_a_staff_accounts_sign_in_pause_lifted_reads_as_the_accounts(client, staff, support_agent):
    paused(support_agent)
    boss = as_staff(client, staff, "en")
    url = f"{page_of(support_agent).removesuffix('change/')}clear-lockout/"
    told = boss.post(url, follow=True).content.decode()
    assert (
        "Pauses and locks lifted on JPN9000002: the sign-in pause. The account can sign in now."
        in told
    )


def test_lifting_when_nothing_is_paused_says_so(client, support_agent, member):
    agent = as_staff(client, support_agent, "en")
    response = agent.post(f"{page_of(member).removesuffix('change/')}clear-lockout/", follow=True)
    assert "was not paused: nothing to lift" in response.content.decode()
    assert not member.security_events.filter(kind=Kind.LOCKOUT_CLEARED).exists()


def pause_two_step(client, member, settings):
    """Two-step on, then wrong codes to the limit at the code step of a sign-in."""
    client.force_login(member)
    turn_on(client)
    password_step(client)
    for _ in range(settings.JENCO_TWO_STEP_ATTEMPTS):
        client.post("/login/code/", {"code": "000000"})


def test_a_two_step_pause_is_lifted_too(client, support_agent, member, settings):
    pause_two_step(client, member, settings)
    agent = as_staff(client, support_agent, "en")
    page = agent.get(page_of(member)).content.decode()
    assert "Two-step codes paused until" in page and ": too many wrong codes." in page
    agent.post(f"{page_of(member).removesuffix('change/')}clear-lockout/")
    assert "Two-step codes paused until" not in agent.get(page_of(member)).content.decode()


def test_a_two_step_pause_ends_with_two_step_itself(client, supervisor, member, settings):
    """A member who lost their phone, paused at the code, whose two-step a Supervisor then
    reset: signing in asks for no code, and admin no longer says they cannot sign in."""
    pause_two_step(client, member, settings)
    boss = as_staff(client, supervisor, "en")
    assert "No: paused." in boss.get(page_of(member)).content.decode()
    reset_two_step(boss, member, "Lost the phone; called from the registered number.")

    page = boss.get(page_of(member)).content.decode()
    assert "Yes: nothing is paused." in page and "Two-step codes paused until" not in page
    client.logout()
    assert sign_in(client).status_code == 302


MAILBOX = "/backoffice/first-sign-in/mailbox/"


def guess_mailbox_codes_to_the_cap(member, mailoutbox, settings):
    """Sessions on the published password, each typing its code's tries wrong, until the
    member's hour of checked codes is spent (accounts.flows.mailbox)."""
    for n in range(settings.JENCO_MAILBOX_WRONG_CODES_PER_MEMBER_HOUR // 5):
        guesser = Client()
        sign_in(guesser, member.member_id, DEFAULT_PASSWORD, REMOTE_ADDR=f"198.51.100.{n}")
        code = re.findall(r"^\s+(\d{6})$", mailoutbox[-1].body, re.M)[0]
        for _ in range(5):
            guesser.post(MAILBOX, {"code": f"{(int(code) + 1) % 10**6:06d}"})


@pytest.mark.parametrize(
    "language, says",
    [
        ("ja", "初回ログインの確認コードの段階です。最後のコードは"),
        ("en", "At the first sign-in's mailbox code step: the last code was emailed"),
    ],
)
def test_a_member_at_the_code_step_says_when_the_last_code_was_mailed(
    client, support_agent, migrated_member, member, mailoutbox, language, says
):
    """ "I never got the code." Nothing is paused, so the page said 「はい：一時停止はありませ
    ん」 and nothing of the code: the agent had to find 確認コードを送信 in the log below, and
    was not told what to offer (helper-152)."""
    agent = as_staff(client, support_agent, language)
    assert says not in agent.get(page_of(migrated_member)).content.decode()  # none sent yet
    assert sign_in(Client(), "JPN2000001", DEFAULT_PASSWORD).status_code == 302
    page = agent.get(page_of(migrated_member)).content.decode()
    sign_in_part = page[page.index('id="support-sign-in"') : page.index('id="support-actions"')]
    assert says in sign_in_part
    sent = migrated_member.security_events.get(kind=Kind.MAILBOX_CODE_SENT).created
    assert timezone.localtime(sent).strftime("%H:%M") in sign_in_part
    assert says not in agent.get(page_of(member)).content.decode()  # past that step


@pytest.mark.parametrize(
    "language, void, works",
    [
        ("ja", "誤りが多すぎたため、もう使えません", "コードの有効期限は"),
        ("en", "no longer works: it was typed wrong too many times", "a code works for"),
    ],
)
def test_a_code_typed_wrong_too_many_times_is_told_as_void_with_when_a_new_one_can_be_sent(
    client, support_agent, migrated_member, mailoutbox, language, void, works
):
    """The member read 「確認コードの誤りが多すぎます」, and the page told the agent the code
    still worked for ten minutes and to check the spam folder (helper-160)."""
    member = Client()
    sign_in(member, "JPN2000001", DEFAULT_PASSWORD)
    code = re.findall(r"^\s+(\d{6})$", mailoutbox[-1].body, re.M)[0]
    for _ in range(5):
        member.post(MAILBOX, {"code": f"{(int(code) + 1) % 10**6:06d}"})
    agent = as_staff(client, support_agent, language)
    page = agent.get(page_of(migrated_member)).content.decode()
    sign_in_part = page[page.index('id="support-sign-in"') : page.index('id="support-actions"')]
    assert void in sign_in_part and works not in sign_in_part
    mailed = MailboxCode.objects.get(member=migrated_member).created
    new_code_at = times.minute_up(mailed + timezone.timedelta(seconds=60))
    assert timezone.localtime(new_code_at).strftime("%H:%M") in sign_in_part


def test_a_mailbox_code_pause_is_shown_and_lifted_too(
    client, support_agent, migrated_member, mailoutbox, settings
):
    """A member from JA calls: others guessed at the first sign-in's mailbox code until it
    paused, and the member cannot get past it. The page said "Yes: nothing is paused." and
    offered nothing to lift."""
    guess_mailbox_codes_to_the_cap(migrated_member, mailoutbox, settings)
    agent = as_staff(client, support_agent, "en")
    page = agent.get(page_of(migrated_member)).content.decode()
    assert "No: paused." in page
    # The last code, typed wrong too often, is void, and no new one is sent before the
    # pause ends (helper-160).
    void = re.search(r"<li>At the first sign-in's mailbox code step: [^<]*</li>", page)[0]
    with translation.override("en"):
        pause_ends = support._when(support.lock_state(migrated_member).mailbox_paused_until)
    assert "no longer works" in void and f"a new code sent from {pause_ends}" in void
    assert "Mailbox codes at first sign-in paused until" in page
    assert "Email them a password reset link to let them in now" in page
    url = f"{page_of(migrated_member).removesuffix('change/')}clear-lockout/"
    told = agent.post(url, follow=True).content.decode()
    assert (
        "Pauses and locks lifted on JPN2000001: the pause on mailbox codes at first sign-in. "
        "The member can sign in now."
    ) in told
    assert "Yes: nothing is paused." in agent.get(page_of(migrated_member)).content.decode()
    event = SecurityEvent.objects.get(kind=Kind.LOCKOUT_CLEARED, member=migrated_member)
    assert event.details["lifted"] == ["mailbox"]
    # The member signs in on the defaults, and the mailed code is checked and proves the
    # mailbox.
    owner = Client()
    sign_in(owner, "JPN2000001", DEFAULT_PASSWORD)
    code = re.findall(r"^\s+(\d{6})$", mailoutbox[-1].body, re.M)[0]
    assert owner.post(MAILBOX, {"code": code})["Location"] == "/backoffice/"


def test_a_mailbox_code_pause_reads_in_japanese(
    client, support_agent, migrated_member, mailoutbox, settings
):
    guess_mailbox_codes_to_the_cap(migrated_member, mailoutbox, settings)
    agent = as_staff(client, support_agent, "ja")
    page = agent.get(page_of(migrated_member)).content.decode()
    assert "初回ログインの確認コード入力は" in page and "まで一時停止中です" in page
    url = f"{page_of(migrated_member).removesuffix('change/')}clear-lockout/"
    told = agent.post(url, follow=True).content.decode()
    assert "初回ログインの確認コード入力の一時停止" in told


def test_a_mailbox_code_pause_ends_once_the_password_is_the_members_own(
    client, support_agent, migrated_member, mailoutbox, settings
):
    """The way in admin names beside the pause: a reset link. Its new password ends the
    mailbox step, and so the pause, which the page then no longer shows."""
    guess_mailbox_codes_to_the_cap(migrated_member, mailoutbox, settings)
    agent = as_staff(client, support_agent, "en")
    assert (
        "Mailbox codes at first sign-in paused"
        in agent.get(page_of(migrated_member)).content.decode()
    )
    agent.post(f"{page_of(migrated_member).removesuffix('change/')}send-reset-link/password/")
    owner = Client()
    form = owner.get(emailed_path(mailoutbox[-1], "/password/reset/"))["Location"]
    new = {"new_password1": "Spring-Rain-2026", "new_password2": "Spring-Rain-2026"}
    assert owner.post(form, {**new, **solved_captcha()}).status_code == 302
    assert "Yes: nothing is paused." in agent.get(page_of(migrated_member)).content.decode()
    owner = Client()
    sign_in(owner, "JPN2000001", "Spring-Rain-2026")
    assert owner.get("/backoffice/")["Location"] == "/backoffice/profile/pin/"


def test_lifting_another_pause_leaves_the_mailbox_codes_count_as_it_was(
    client, support_agent, migrated_member, mailoutbox, settings
):
    """Support lifting a PIN lock (or a sign-in pause, which whoever guesses can cause by
    typing wrong passwords) must not hand fresh mailbox code guesses to that person."""
    settings.JENCO_MAILBOX_WRONG_CODES_PER_MEMBER_HOUR = 6
    guesser = Client()
    sign_in(guesser, "JPN2000001", DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.1")
    code = re.findall(r"^\s+(\d{6})$", mailoutbox[-1].body, re.M)[0]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        guesser.post(MAILBOX, {"code": wrong})
    Member.objects.filter(pk=migrated_member.pk).update(
        pin_locked_until=timezone.now() + timezone.timedelta(minutes=30)
    )
    agent = as_staff(client, support_agent, "en")
    agent.post(f"{page_of(migrated_member).removesuffix('change/')}clear-lockout/")
    assert SecurityEvent.objects.get(kind=Kind.LOCKOUT_CLEARED).details["lifted"] == ["pin"]
    guesser = Client()
    sign_in(guesser, "JPN2000001", DEFAULT_PASSWORD, REMOTE_ADDR="198.51.100.2")
    page = guesser.post(MAILBOX, {"code": wrong}).content.decode()  # the sixth: the cap
    assert "コードを確認できるのは" in page
    assert "No: paused." in agent.get(page_of(migrated_member)).content.decode()


def test_after_the_hours_codes_were_all_mailed_support_is_told_no_code_reaches_the_member(
    client, support_agent, migrated_member, mailoutbox, settings
):
    """Whoever knows the ID can spend the hour's 20 codes on the published password. Lifting
    the code pause then opens the code step, but no code can reach the member: the agent is
    told so, and the way on that works now."""
    guess_mailbox_codes_to_the_cap(migrated_member, mailoutbox, settings)
    # The rest of the hour's codes, mailed to other sign-ins on the published password.
    spent = settings.JENCO_MAILBOX_CODES_PER_MEMBER_HOUR - MailboxCode.objects.count()
    MailboxCode.objects.bulk_create(MailboxCode(member=migrated_member) for _ in range(spent))
    agent = as_staff(client, support_agent, "en")
    page = agent.get(page_of(migrated_member)).content.decode()
    assert "No code can be mailed for the first sign-in before" in page
    url = f"{page_of(migrated_member).removesuffix('change/')}clear-lockout/"
    told = agent.post(url, follow=True).content.decode()
    assert "no code can be mailed to them to finish signing in before" in told
    assert "email them a password reset link to let them in now." in told
    assert "The member can sign in now." not in told


def test_lifting_a_sign_in_pause_while_the_hours_codes_are_spent_says_so_too(
    client, support_agent, migrated_member, mailoutbox, settings
):
    """Not only a lifted code pause: a member on the published password whose sign-in pause
    is lifted signs in to a code step no code can reach yet (helper-83)."""
    MailboxCode.objects.bulk_create(
        MailboxCode(member=migrated_member)
        for _ in range(settings.JENCO_MAILBOX_CODES_PER_MEMBER_HOUR)
    )
    paused(migrated_member)
    agent = as_staff(client, support_agent, "en")
    url = f"{page_of(migrated_member).removesuffix('change/')}clear-lockout/"
    told = agent.post(url, follow=True).content.decode()
    assert "Pauses and locks lifted on JPN2000001: the sign-in pause. The member can type" in told
    assert "no code can be mailed to them to finish signing in before" in told
    # And the page after it does not answer "Yes: nothing is paused." (helper-84).
    assert "Not yet: no code can be mailed to finish signing in" in told
    assert "Yes: nothing is paused." not in told


def test_lifting_while_the_codes_are_spent_and_the_network_is_paused_names_both(
    client, support_agent, migrated_member, settings
):
    """The codes' message alone said "email them a password reset link to let them in now",
    which the member's paused network did not (helper-89)."""
    MailboxCode.objects.bulk_create(
        MailboxCode(member=migrated_member)
        for _ in range(settings.JENCO_MAILBOX_CODES_PER_MEMBER_HOUR)
    )
    paused(migrated_member)
    last_signed_in_from(migrated_member, "198.51.100.20")
    failures_from("198.51.100.20", minutes_ago=1, failures=30)
    agent = as_staff(client, support_agent, "en")
    url = f"{page_of(migrated_member).removesuffix('change/')}clear-lockout/"
    page = agent.post(url, follow=True).content.decode()
    told = re.search(r'<li class="warning">([^<]*)</li>', page)[1]
    assert "no code can be mailed to them to finish signing in before" in told
    assert "and not from 198.51.100.20 before" in told
    assert "have them sign in over another connection" in told
    assert "to let them in now" not in told


@pytest.mark.parametrize(
    "language, question, button",
    [
        (
            "ja",
            "JPN1000001 の次の一時停止をすべて解除しますか？ ログインの一時停止（{sign_in} に自動で終了）、"
            "PINコードが必要な操作のロック（{pin} に自動で終了）",
            "はい、解除します",
        ),
        (
            "en",
            "Lift these pauses on JPN1000001: the sign-in pause (ends by itself at {sign_in}), "
            "the lock on changes that need the PIN (ends by itself at {pin})? They are lifted "
            "from every address",
            "Yes, lift them",
        ),
    ],
)
def test_the_members_lift_button_asks_first_and_only_a_post_lifts(
    client, support_agent, member, language, question, button
):
    # The member page's 「一時停止を解除する」 lifted at a press, where the lockouts list's
    # action asks first: a lift gives whoever is guessing at the ID new tries.
    paused(member)
    Member.objects.filter(pk=member.pk).update(
        pin_locked_until=timezone.now() + timezone.timedelta(minutes=30)
    )
    agent = as_staff(client, support_agent, language)
    url = f"{page_of(member).removesuffix('change/')}clear-lockout/"
    page = agent.get(page_of(member)).content.decode()
    assert f'<a href="{url}" class="button">' in page
    asked = agent.get(url)
    shown = asked.content.decode()
    member.refresh_from_db()
    with translation.override(language):
        state = support.lock_state(member)
        ends = {"sign_in": support._when(state.until), "pin": support._when(state.pin_locked_until)}
    assert asked.status_code == 200 and question.format(**ends) in shown
    assert f'value="{button}"' in shown and 'name="csrfmiddlewaretoken"' in shown
    # Nothing lifted by the asking.
    assert AccessAttempt.objects.filter(username=member.member_id).exists()
    assert not member.security_events.filter(kind=Kind.LOCKOUT_CLEARED).exists()
    agent.post(url)
    assert not AccessAttempt.objects.filter(username=member.member_id).exists()
    assert member.security_events.filter(kind=Kind.LOCKOUT_CLEARED).count() == 1


@pytest.mark.parametrize(
    "language, question, button, not_said",
    [
        (
            "ja",
            "JPN1000001 のログインの一時停止（{end} に自動で終了）を解除しますか？",
            "はい、解除します",
            "すべての一時停止",
        ),
        (
            "en",
            "Lift this pause on JPN1000001: the sign-in pause (ends by itself at {end})? It is "
            "lifted from every address, and the member&#x27;s activity says JENCO Support "
            "lifted it.",
            "Yes, lift it",
            "every pause",
        ),
    ],
)
def test_asking_to_lift_one_pause_says_it_as_one_and_when_it_ends_by_itself(
    client, support_agent, member, language, question, button, not_said
):
    """「すべての一時停止（ログインの一時停止）」 for a single pause, "Yes, lift them", and
    nothing of when it would end without a lift (helper-160)."""
    paused(member)
    agent = as_staff(client, support_agent, language)
    shown = agent.get(f"{page_of(member).removesuffix('change/')}clear-lockout/").content.decode()
    with translation.override(language):
        end = support._when(support.lock_state(member).until)
    assert question.format(end=end) in shown
    assert f'value="{button}"' in shown and not_said not in shown


def test_the_lift_needs_the_csrf_token(support_agent, member):
    paused(member)
    agent = as_staff(Client(enforce_csrf_checks=True), support_agent)
    url = f"{page_of(member).removesuffix('change/')}clear-lockout/"
    assert agent.post(url).status_code == 403
    assert AccessAttempt.objects.filter(username=member.member_id).exists()


def test_asking_to_lift_when_nothing_is_paused_says_so(client, support_agent, member):
    agent = as_staff(client, support_agent, "en")
    response = agent.get(f"{page_of(member).removesuffix('change/')}clear-lockout/", follow=True)
    assert "was not paused: nothing to lift" in response.content.decode()


# --- Reset links from the member's page -------------------------------------------------------


def test_a_reset_link_from_the_page_says_where_it_went(
    client, support_agent, member, mailoutbox, caplog
):
    caplog.set_level("INFO", logger="jenco.security")
    agent = as_staff(client, support_agent, "en")
    url = f"{page_of(member).removesuffix('change/')}send-reset-link/password/"
    iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"
    )
    response = agent.post(url, follow=True, headers={"user-agent": iphone})
    assert "on its way to taro@example.com" in response.content.decode()
    assert member.security_events.filter(kind=Kind.PASSWORD_RESET_REQUESTED).count() == 1
    assert f"password_reset_requested member=JPN1000001 by={support_agent.member_id}" in (
        caplog.text
    )
    # The member's activity credits support, not the member, and shows nothing of the
    # agent's device (the four-role trial read 「パスワード再設定リンクを申請」, iPhone の Safari).
    member_client = Client(headers={"user-agent": "Mozilla/5.0 (Windows NT 10.0) Firefox/140.0"})
    member_client.force_login(member)
    activity = member_client.get("/backoffice/security/activity/").content.decode()
    assert "JENCOサポートがパスワード再設定リンクを送信</strong>（サポート窓口）" in activity
    assert "パスワード再設定リンクを申請" not in activity
    assert "Safari" not in activity and "iPhone" not in activity


@pytest.mark.parametrize(
    "language, warned, told",
    [
        (
            "ja",
            "再設定リンクは、新しいアドレスではなく",
            "送信しました。これは変更前の登録メールアドレスです",
        ),
        ("en", "A reset link goes to the registered address, taro@example.com, not", "old"),
    ],
)
def test_a_reset_link_while_a_correction_waits_says_it_goes_to_the_old_address(
    client, support_agent, supervisor, member, mailoutbox, language, warned, told
):
    """A supervisor corrected the address; before the member confirmed it, an agent sent a
    reset link from the page, which went to the old address with no word of it
    (helper-160). The log keeps where it went, masked, for an "I never got it" call."""
    correct(as_staff(client, supervisor), member)
    agent = as_staff(Client(), support_agent, language)
    page = agent.get(page_of(member)).content.decode()
    help_the_member = page[page.index('id="support-actions"') : page.index('id="support-sign-ins"')]
    assert warned in help_the_member
    url = f"{page_of(member).removesuffix('change/')}send-reset-link/password/"
    result = agent.post(url, follow=True).content.decode()
    assert told in result and "taro.new@example.net" in result
    assert mailoutbox[-1].to == ["taro@example.com"]
    event = member.security_events.get(kind=Kind.PASSWORD_RESET_REQUESTED)
    assert event.details["to"] == "t•••@example.com"
    entry = agent.get(f"/admin/accounts/securityevent/{event.pk}/change/").content.decode()
    assert "t•••@example.com" in entry


def test_a_reset_link_with_no_correction_waiting_has_no_warning(
    client, support_agent, member, mailoutbox
):
    agent = as_staff(client, support_agent, "en")
    page = agent.get(page_of(member)).content.decode()
    assert 'id="support-reset-to-old"' not in page
    url = f"{page_of(member).removesuffix('change/')}send-reset-link/password/"
    assert "old registered address" not in agent.post(url, follow=True).content.decode()


def test_the_logs_filter_finds_a_staff_sent_link_under_the_kind_it_is_logged_as(
    client, support_agent, member, mailoutbox
):
    """The filter offered 「スタッフが再設定リンクを送信」, which nothing ever logged: a staff
    link is logged as the reset request it is (it voids older links and counts toward the
    hour's limit as the member's own), with the agent as actor (helper-160)."""
    agent = as_staff(client, support_agent, "ja")
    agent.post(f"{page_of(member).removesuffix('change/')}send-reset-link/password/")
    log = agent.get("/admin/accounts/securityevent/").content.decode()
    assert "スタッフが再設定リンクを送信" not in log and "kind__exact=reset_link_sent" not in log
    found = agent.get("/admin/accounts/securityevent/?kind__exact=password_reset_requested")
    assert support_agent.member_id in found.content.decode()


@pytest.mark.parametrize(
    "language, says",
    [
        ("ja", "登録メールアドレスは会員ご本人にだけお伝えください"),
        ("en", "Tell the registered email only to the member"),
    ],
)
def test_the_registered_email_comes_with_how_to_tell_it_only_to_the_member(
    client, support_agent, member, language, says
):
    """A caller gives a member ID and asks which email is registered. The page showed the
    address and nothing else: an agent read it out to whoever knew the ID (helper-152)."""
    page = as_staff(client, support_agent, language).get(page_of(member)).content.decode()
    help_the_member = page[page.index('id="support-actions"') : page.index('id="support-sign-ins"')]
    assert "taro@example.com" in help_the_member
    assert says in help_the_member
    Member.objects.filter(pk=member.pk).update(email="")
    page = as_staff(client, support_agent, language).get(page_of(member)).content.decode()
    assert says not in page


def test_over_the_hourly_limit_it_says_when_it_can_be_sent_again(
    client, support_agent, member, settings
):
    settings.JENCO_RESET_EMAILS_PER_HOUR = 2
    agent = as_staff(client, support_agent, "en")
    url = f"{page_of(member).removesuffix('change/')}send-reset-link/pin/"
    for _ in range(2):
        agent.post(url)
        a_minute_on(member)
    page = agent.post(url, follow=True).content.decode()
    assert "Not sent: 2 links went to JPN1000001 in the last hour" in page
    assert "It can be sent again at" in page


@pytest.mark.parametrize(
    "language, not_again, not_now",
    [
        (
            "ja",
            "再送していません：1分以内に JPN1000001 へリンクを送信済みで、配信中です。",
            "1分以内にパスワード再設定用のリンクを送信しました。",
        ),
        (
            "en",
            "Not sent again: a link went to JPN1000001 less than a minute ago and is on its way.",
            "A password reset link was sent less than a minute ago",
        ),
    ],
)
def test_a_second_press_mails_no_second_link(
    client, support_agent, member, mailoutbox, language, not_again, not_now
):
    # helper-160: a double press mailed the member two links, two of the hour's three.
    agent = as_staff(client, support_agent, language)
    url = f"{page_of(member).removesuffix('change/')}send-reset-link/password/"
    agent.post(url)

    page = agent.post(url, follow=True).content.decode()

    assert len(mailoutbox) == 1 and not_again in page
    assert "send-reset-link/password/" not in page and not_now in page
    assert "send-reset-link/pin/" in page  # the other kind is another link
    a_minute_on(member)
    assert "send-reset-link/password/" in agent.get(page_of(member)).content.decode()
    agent.post(url)
    assert len(mailoutbox) == 2


def test_the_member_page_says_how_many_links_went_this_hour_and_when(client, support_agent, member):
    # For the "I never got it" call, and before a press that spends one of the hour's
    # (helper-160).
    agent = as_staff(client, support_agent, "en")
    url = f"{page_of(member).removesuffix('change/')}send-reset-link/password/"
    assert "emailed in the last hour" not in agent.get(page_of(member)).content.decode()
    agent.post(url)
    a_minute_on(member)
    agent.post(url)
    a_minute_on(member)

    page = agent.get(page_of(member)).content.decode()

    last = member.security_events.filter(kind="password_reset_requested").latest("created")
    with translation.override("en"):
        when = times.sent_at(last.created)
    assert (
        f"2 password reset links were emailed in the last hour, the last at {when} (the hour "
        "allows 3)." in page
    )
    assert "PIN reset link was emailed" not in page and "PIN reset links were" not in page


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_admin_index_lists_members_first(client, support_agent, language):
    # Django orders by name: in Japanese, invoices came first and the member list last
    # (helper-160). A call starts at the member.
    page = as_staff(client, support_agent, language).get("/admin/").content.decode()
    found = re.findall(r'<th scope="row" id="([\w-]+)"', page)
    assert found == [
        "accounts-member",
        "accounts-securityevent",
        "axes-accessattempt",
        "backoffice-invoice",
    ]


def test_no_address_says_so(client, support_agent, member):
    Member.objects.filter(pk=member.pk).update(email="")
    agent = as_staff(client, support_agent, "en")
    url = f"{page_of(member).removesuffix('change/')}send-reset-link/password/"
    assert "has no registered email address" in agent.post(url, follow=True).content.decode()


@pytest.mark.parametrize(
    "language, says",
    [
        ("ja", "お電話をサポート責任者（Supervisor グループ）に引き継いでください"),
        ("en", "Hand the call to a supervisor (the Supervisor group), who can correct"),
    ],
)
def test_a_member_with_no_address_is_offered_no_reset_link_but_the_way_on(
    client, support_agent, supervisor, member, language, says
):
    """The buttons were offered, and answered 「送信していません…」 (helper-160)."""
    Member.objects.filter(pk=member.pk).update(email="")
    page = as_staff(client, support_agent, language).get(page_of(member)).content.decode()
    assert "send-reset-link/" not in page and says in page
    no_address = (
        "メールアドレスは登録されていません。" if language == "ja" else "No registered email"
    )
    assert no_address not in page  # said once, in the paragraph with what to do (helper-161)
    boss = as_staff(Client(), supervisor, language).get(page_of(member)).content.decode()
    assert "send-reset-link/" not in boss and "correct-email/" in boss and says not in boss
    assert 'id="support-no-reset-link"' in boss


def test_a_deactivated_member_is_offered_no_reset_link_and_told_why(client, support_agent, member):
    # helper-164: both buttons were offered, and said "not sent" only after the press.
    Member.objects.filter(pk=member.pk).update(is_active=False)
    page = as_staff(client, support_agent).get(page_of(member)).content.decode()
    assert "send-reset-link/" not in page
    assert page.count("アカウントが停止されているため、再設定リンクは送信できません。") == 1


def test_past_the_hours_links_the_button_gives_way_to_when_another_can_go(
    client, support_agent, member
):
    agent = as_staff(client, support_agent, "en")
    url = f"{page_of(member).removesuffix('change/')}send-reset-link/password/"
    for _ in range(settings.JENCO_RESET_EMAILS_PER_HOUR):
        assert agent.post(url).status_code == 302
        a_minute_on(member)

    page = agent.get(page_of(member)).content.decode()

    assert "send-reset-link/password/" not in page and "send-reset-link/pin/" in page
    assert "The password reset links one hour allows (3) have all been sent" in page
    # And when the last went, for the caller's mailbox (helper-168: the line went away).
    assert "3 password reset links were emailed in the last hour, the last at" in page


# --- Supervisor: two-step and deactivation -----------------------------------------------------


def test_support_may_not_reset_two_step_or_deactivate(client, support_agent, member):
    agent = as_staff(client, support_agent)
    base = page_of(member).removesuffix("change/")
    assert agent.get(f"{base}reset-two-step/").status_code == 403
    assert agent.post(f"{base}active/", {"reason": "x"}).status_code == 403
    page = agent.get(page_of(member)).content.decode()
    assert "reset-two-step/" not in page and f"{base}active/" not in page
    member.refresh_from_db()
    assert member.is_active


@pytest.mark.parametrize(
    "language, says",
    [
        ("en", "Only a supervisor (the Supervisor group) can turn two-step verification off"),
        ("ja", "本人確認のうえでサポート責任者（Supervisor グループ）だけが行えます"),
    ],
)
def test_support_reads_that_a_supervisor_resets_two_step(
    client, support_agent, supervisor, member, language, says
):
    # Support saw two-step on and no button, with no word of who could help the member.
    member_client = Client()
    member_client.force_login(member)
    turn_on(member_client)
    agent = as_staff(client, support_agent, language).get(page_of(member)).content.decode()
    assert says in agent and "reset-two-step/" not in agent
    boss = as_staff(Client(), supervisor, language).get(page_of(member)).content.decode()
    assert says not in boss and "reset-two-step/" in boss
    member.authenticator.delete()  # off: nothing to hand over
    assert (
        says not in as_staff(client, support_agent, language).get(page_of(member)).content.decode()
    )


def test_a_supervisor_resets_two_step_with_a_reason(client, supervisor, member, mailoutbox):
    member_client = client
    member_client.force_login(member)
    turn_on(member_client)
    Passkey.objects.create(member=member, name="iPhone", credential_id="aWQ", public_key=b"-")
    boss = as_staff(client, supervisor, "en")
    url = f"{page_of(member).removesuffix('change/')}reset-two-step/"

    empty = boss.post(url, {"reason": "   "})
    assert "Write the reason" in empty.content.decode()
    assert member.security_events.filter(kind=Kind.TWO_STEP_RESET).count() == 0

    done = reset_two_step(boss, member, "Name, registered email and ID document number match.")
    assert done.status_code == 302
    assert not Passkey.objects.filter(member=member).exists()
    event = member.security_events.get(kind=Kind.TWO_STEP_RESET)
    assert event.actor == supervisor and "registered email" in event.details["reason"]
    assert event.details["team"] == "Supervisor"
    # The member reads the team, never the agent's name or the reason.
    member_client.force_login(member)
    activity = member_client.get("/backoffice/security/activity/").content.decode()
    assert "(Supervisor)" in activity and "registered email" not in activity


@pytest.mark.parametrize(
    "two_step_on, passkeys, told",
    [
        (True, 0, "Two-step verification is off for JPN1000001 (they had no passkeys)."),
        (False, 2, "2 passkeys of JPN1000001 were removed (two-step verification was off)."),
        (True, 1, "Two-step verification is off for JPN1000001 and their 1 passkey is removed."),
    ],
)
def test_the_supervisor_is_told_what_the_reset_removed(
    client, supervisor, member, two_step_on, passkeys, told
):
    # It said the passkeys were removed of a member who had none (helper-152).
    if two_step_on:
        member_client = Client()
        member_client.force_login(member)
        turn_on(member_client)
    for n in range(passkeys):
        Passkey.objects.create(
            member=member, name=f"Phone {n}", credential_id=f"aWQ{n}", public_key=b"-"
        )
    boss = as_staff(client, supervisor, "en")

    done = reset_two_step(boss, member, "Lost the phone; identity checked.")

    shown = boss.get(done["Location"]).content.decode()
    assert f"{told} They were told by email; they sign in with the password now." in shown


@pytest.mark.parametrize("action", ["reset-two-step", "correct-email", "active", "clear-lockout"])
def test_a_supervisors_reason_page_has_admins_breadcrumb_bar(client, supervisor, member, action):
    # The reason pages drew their trail as a <div class="breadcrumbs">, which Django 6's admin
    # no longer styles: bare links jammed against the header, with no way back that looked
    # like one.
    paused(member)  # the lift's page asks only while something is paused
    url = f"{page_of(member).removesuffix('change/')}{action}/"
    page = as_staff(client, supervisor, "en").get(url).content.decode()
    trail = re.search(r'<ol class="breadcrumbs">(.*?)</ol>', page, re.S)
    assert trail, action
    assert f'href="{page_of(member)}">JPN1000001</a></li>' in trail[1]
    assert '<li aria-current="page">' in trail[1]
    assert 'class="breadcrumbs"' not in page.replace('<ol class="breadcrumbs">', "")
    # The section too, as on the member's page: Home › 会員とセキュリティ › 会員 › JPN… › …
    # (helper-160: the action pages skipped it).
    names = re.findall(r"<li[^>]*>(?:<a [^>]*>)?([^<]*)", trail[1])
    member_page = as_staff(Client(), supervisor, "en").get(page_of(member)).content.decode()
    on_member_page = re.search(r'<ol class="breadcrumbs">(.*?)</ol>', member_page, re.S)[1]
    assert names[:-1] == re.findall(r"<li[^>]*>(?:<a [^>]*>)?([^<]*)", on_member_page)


@pytest.mark.parametrize(
    "language, example, not_held",
    [
        (
            "ja",
            "例：氏名、登録メールアドレス、会員ID、身分証明書番号の末尾4桁",
            ["電話", "生年月日", "本人確認書類"],
        ),
        (
            "en",
            "the registered email address, the member ID and the last four characters of the ID "
            "document number",
            ["phone", "birth date"],
        ),
    ],
)
@pytest.mark.parametrize("action", ["reset-two-step/", "correct-email/", "active/"])
def test_the_reasons_example_names_only_what_the_page_shows(
    client, supervisor, member, action, language, example, not_held
):
    """The example named a registered phone and a birth date, which JENCO does not hold, and
    「本人確認書類番号」 where the page says 身分証明書番号 (helper-160)."""
    boss = as_staff(client, supervisor, language)
    page = boss.get(f"{page_of(member).removesuffix('change/')}{action}").content.decode()
    assert example in page
    assert not any(word in page for word in not_held)


def test_a_reset_two_step_page_left_open_removes_nothing_set_up_since(
    client, supervisor, member, mailoutbox
):
    # Two supervisors opened the page; one reset, the member set two-step up again, and the
    # other's press removed the new authenticator and its recovery codes (helper-103).
    member_client = Client()
    member_client.force_login(member)
    turn_on(member_client)
    boss = as_staff(client, supervisor, "en")
    url = f"{page_of(member).removesuffix('change/')}reset-two-step/"
    left_open = boss.get(url)
    assert reset_two_step(boss, member, "Lost the phone; identity checked.").status_code == 302
    turn_on(member_client)  # set up anew

    stale = reset_two_step(boss, member, "Lost the phone; identity checked.", page=left_open)
    assert (
        "after this page was opened: nothing was turned off"
        in boss.get(stale["Location"]).content.decode()
    )
    assert Member.objects.get(pk=member.pk).authenticator is not None
    assert member.security_events.filter(kind=Kind.TWO_STEP_RESET).count() == 1

    # The same page sent twice in a row: the second finds nothing to turn off.
    page = boss.get(url)
    reset_two_step(boss, member, "Lost the phone again.", page=page)
    again = reset_two_step(boss, member, "Lost the phone again.", page=page)
    assert "nothing changed" in boss.get(again["Location"]).content.decode()
    assert member.security_events.filter(kind=Kind.TWO_STEP_RESET).count() == 2


def test_a_supervisor_deactivates_and_reactivates(client, supervisor, member):
    boss = as_staff(client, supervisor, "en")
    url = f"{page_of(member).removesuffix('change/')}active/"
    assert "Deactivate the account" in boss.get(url).content.decode()
    boss.post(
        url,
        {"reason": "Member asked to close the account; identity checked by phone.", "active": "0"},
    )
    member.refresh_from_db()
    assert not member.is_active
    assert member.security_events.get(kind=Kind.MEMBER_DEACTIVATED).actor == supervisor

    # Nobody signs in to it now.
    other = Client()
    sign_in(other)
    assert SESSION_KEY not in other.session

    assert "Reactivate the account" in boss.get(url).content.decode()
    boss.post(url, {"reason": "Identity checked again.", "active": "1"})
    member.refresh_from_db()
    assert member.is_active


@pytest.mark.parametrize(
    "language, button, title",
    [
        ("ja", "アカウントを停止する…", "<h1>アカウントを停止する</h1>"),
        ("en", "Deactivate the account…", "<h1>Deactivate the account</h1>"),
    ],
)
def test_deactivating_says_it_is_the_account_that_stops(
    client, supervisor, member, language, button, title
):
    """「停止する…」 beside two-step's buttons read like "stop two-step" or "pause"
    (helper-160)."""
    boss = as_staff(client, supervisor, language)
    assert button in boss.get(page_of(member)).content.decode()
    page = boss.get(f"{page_of(member).removesuffix('change/')}active/").content.decode()
    assert title in page


def test_the_deactivate_button_pressed_twice_leaves_the_member_deactivated(
    client, supervisor, member
):
    # The page's button was a switch: the second press (a double tap, or a second supervisor
    # on the same page) reactivated the account it had just closed (helper-102).
    boss = as_staff(client, supervisor, "en")
    url = f"{page_of(member).removesuffix('change/')}active/"
    form = boss.get(url).content.decode()
    assert '<input type="hidden" name="active" value="0"' in form
    for _press in range(2):
        done = boss.post(url, {"reason": "Fraud report.", "active": "0"}, follow=True)
        assert "is deactivated" in done.content.decode()
    member.refresh_from_db()
    assert not member.is_active
    assert member.security_events.filter(kind=Kind.MEMBER_DEACTIVATED).count() == 1
    assert not member.security_events.filter(kind=Kind.MEMBER_REACTIVATED).exists()


def test_a_deactivated_members_session_ends(client, supervisor, member):
    member_client = Client()
    member_client.force_login(member)
    assert member_client.get("/backoffice/").status_code == 200
    boss = as_staff(client, supervisor)
    boss.post(
        f"{page_of(member).removesuffix('change/')}active/",
        {"reason": "Fraud report.", "active": "0"},
    )
    assert member_client.get("/backoffice/").status_code == 302


def test_a_reason_too_long_or_hostile_is_refused(client, supervisor, member):
    boss = as_staff(client, supervisor, "en")
    url = f"{page_of(member).removesuffix('change/')}active/"
    too_long = boss.post(url, {"reason": "x" * 501, "active": "0"}).content.decode()
    assert "At most 500 characters" in too_long and "Deactivate the account" in too_long
    assert boss.post(url, {"reason": "\x00", "active": "0"}).status_code == 200
    assert boss.post(url, {"reason": "Fraud report.", "active": "maybe"}).status_code == 200
    member.refresh_from_db()
    assert member.is_active


def test_the_supervisor_group_can_do_everything_support_can(db):
    support = set(Group.objects.get(name="Support").permissions.values_list("codename", flat=True))
    supervisor = set(
        Group.objects.get(name="Supervisor").permissions.values_list("codename", flat=True)
    )
    assert support < supervisor
    assert {"reset_two_step", "deactivate_member"} <= supervisor - support


def test_an_unknown_member_is_a_404(client, supervisor):
    boss = as_staff(client, supervisor)
    assert boss.get("/admin/accounts/member/999999/reset-two-step/").status_code == 404
    assert boss.post("/admin/accounts/member/999999/clear-lockout/").status_code == 404


# --- Supervisor: correcting the registered email --------------------------------------------


def correct(
    client,
    member,
    email="taro.new@example.net",
    reason="Name, registered email and ID document number match.",
):
    url = f"{page_of(member).removesuffix('change/')}correct-email/"
    return client.post(url, {"email": email, "reason": reason}, follow=True)


def test_a_correction_waiting_for_its_link_is_on_the_member_page(
    client, support_agent, supervisor, member, mailoutbox
):
    """The member calls back: "I never got the link". The page showed only the old address,
    and the correction only as a masked line in the log, 「i•••@example.com → i•••@…」: no
    agent could say where the link went or until when it works (helper-152)."""
    page = as_staff(client, support_agent).get(page_of(member)).content.decode()
    assert "確認待ち" not in page
    assert correct(as_staff(Client(), supervisor), member).status_code == 200
    page = as_staff(client, support_agent).get(page_of(member)).content.decode()
    actions = page[page.index('id="support-actions"') : page.index('id="support-sign-ins"')]
    assert "確認待ち：taro.new@example.net への変更" in actions
    assert "サポート責任者が訂正を開始" in actions
    # The new address is the member's as much as the registered one (helper-154).
    assert (
        "この新しいアドレスも、登録メールアドレスと同じく会員本人にだけお伝えください。" in actions
    )
    english = as_staff(Client(), support_agent, "en").get(page_of(member)).content.decode()
    assert "Waiting: a change to taro.new@example.net" in english
    # Once confirmed, nothing waits.
    visitor = Client()
    to_new = [mail for mail in mailoutbox if mail.to == ["taro.new@example.net"]]
    visitor.get(emailed_path(to_new[0], "/email/correct/"), follow=True)
    visitor.post("/email/correct/new-address/")
    page = as_staff(client, support_agent).get(page_of(member)).content.decode()
    assert "確認待ち" not in page and "登録メールアドレス：taro.new@example.net" in page


def test_a_supervisor_corrects_an_email_the_member_confirms_signed_out(
    client, supervisor, member, mailoutbox
):
    boss = as_staff(client, supervisor, "en")
    page = correct(boss, member).content.decode()
    assert "A confirmation link is on its way to taro.new@example.net" in page

    member.refresh_from_db()
    assert member.email == "taro@example.com"  # nothing changes before the link
    to_new = [mail for mail in mailoutbox if mail.to == ["taro.new@example.net"]]
    to_old = [mail for mail in mailoutbox if mail.to == ["taro@example.com"]]
    assert len(to_new) == 1 and len(to_old) == 1
    assert "t•••@example.net" in to_old[0].body and "taro.new" not in to_old[0].body
    started = member.security_events.get(kind=Kind.EMAIL_CORRECTION_STARTED)
    assert started.actor == supervisor and "registered email" in started.details["reason"]
    assert started.details["old"] == "t•••@example.com"
    assert started.details["new"] == "t•••@example.net"

    # The member, who cannot sign in, follows the link.
    visitor = Client()
    link = emailed_path(to_new[0], "/email/correct/")
    opened = visitor.get(link, follow=True)
    assert "/email/correct/new-address/" in opened.redirect_chain[-1][0]
    assert "taro.new@example.net" in opened.content.decode()
    member.refresh_from_db()
    assert member.email == "taro@example.com"  # opening the link (a mail scanner) changes nothing

    done = visitor.post("/email/correct/new-address/").content.decode()
    member.refresh_from_db()
    assert member.email == "taro.new@example.net"
    assert "/password/forgot/" in done
    corrected = member.security_events.get(kind=Kind.EMAIL_CORRECTED)
    assert corrected.details == {"old": "t•••@example.com", "new": "t•••@example.net"}

    # The button pressed twice: the second press reads as the first (helper-95: "unusable").
    twice = visitor.post("/email/correct/new-address/").content.decode()
    assert "/password/forgot/" in twice and "このリンクは使えません" not in twice
    assert member.security_events.filter(kind=Kind.EMAIL_CORRECTED).count() == 1

    # Once only.
    visitor.get(link)
    again = visitor.post("/email/correct/new-address/").content.decode()
    assert "このリンクは使えません" in again


def test_a_correction_sent_twice_or_by_two_supervisors_at_once_mails_one_working_link(
    client, supervisor, member, mailoutbox
):
    # Sent twice, the second link voided the first, already mailed ("このリンクは使えません");
    # two supervisors at once were each told a link was on its way, and only one was mailed
    # (helper-113).
    from accounts.models import EmailChangeRequest

    boss = as_staff(client, supervisor, "en")
    for _ in range(2):
        page = correct(boss, member).content.decode()
        assert "A confirmation link is on its way to taro.new@example.net" in page
    other = Member.objects.create_user(
        "JPN9000004", "other.boss@jenco.example", PASSWORD, is_staff=True
    )
    other.groups.add(Group.objects.get(name="Supervisor"))
    refused = correct(as_staff(Client(), other, "en"), member, email="someone@example.org")
    page = refused.content.decode()
    assert (
        "A correction to t•••@example.net was started for this member a moment ago, "
        "by JPN9000003" in page
    )
    assert "on its way" not in page

    assert EmailChangeRequest.objects.filter(member=member).count() == 1
    assert member.security_events.filter(kind=Kind.EMAIL_CORRECTION_STARTED).count() == 1
    to_new = [mail for mail in mailoutbox if mail.to == ["taro.new@example.net"]]
    assert len(to_new) == 1
    assert [mail.to for mail in mailoutbox].count(["taro@example.com"]) == 1
    assert not [mail for mail in mailoutbox if mail.to == ["someone@example.org"]]
    visitor = Client()
    visitor.get(emailed_path(to_new[0], "/email/correct/"))
    visitor.post("/email/correct/new-address/")
    member.refresh_from_db()
    assert member.email == "taro.new@example.net"


def test_a_made_up_correction_link_says_it_cannot_be_used_and_starts_no_session(db):
    visitor = Client()
    opened = visitor.get("/email/correct/made-up-token/")
    assert opened["Location"] == "/email/correct/unusable/"  # the token's address: no-referrer
    assert opened["Referrer-Policy"] == "no-referrer"
    assert "sessionid" not in opened.cookies
    response = visitor.get(opened["Location"])
    assert response.status_code == 200
    assert "このリンクは使えません" in response.content.decode()
    # The tab says so too (helper-149: "Confirm your new email address").
    assert "<title>このリンクは使えません | " in response.content.decode()
    assert "このリンクのボタンをすでに押した場合は、メールアドレスの変更は完了しています" in (
        response.content.decode()
    )
    assert (
        "有効期限が切れたか、すでに使われたか、新しいリンクに置き換えられたため、"
        "このリンクは使えません。もう一度JENCOサポートにお電話ください。"
    ) in response.content.decode()
    assert response["Referrer-Policy"] == "same-origin"  # so its language switch can be sent
    assert "sessionid" not in response.cookies


def test_a_used_correction_link_leads_to_a_page_whose_language_switch_works(
    client, supervisor, member, mailoutbox
):
    # Answered at the token's address (no-referrer), its language switch went with "Origin:
    # null" and was refused (403).
    correct(as_staff(client, supervisor), member)
    [to_new] = [mail for mail in mailoutbox if mail.to == ["taro.new@example.net"]]
    link = emailed_path(to_new, "/email/correct/")
    visitor = Client()
    visitor.get(link)
    visitor.post("/email/correct/new-address/")
    opened = visitor.get(link)
    assert opened["Location"] == "/email/correct/unusable/"
    page = visitor.get(opened["Location"])
    assert link.split("/")[-2] not in page.content.decode()
    switched = switch_language(page)
    assert switched.status_code == 302 and switched["Location"] == "/email/correct/unusable/"
    english = visitor.get(switched["Location"]).content.decode()
    assert "The link has expired, has already been used" in english


def test_support_may_not_correct_an_email(client, support_agent, member, mailoutbox):
    agent = as_staff(client, support_agent)
    url = f"{page_of(member).removesuffix('change/')}correct-email/"
    assert agent.get(url).status_code == 403
    assert agent.post(url, {"email": "x@example.net", "reason": "r"}).status_code == 403
    assert "correct-email/" not in agent.get(page_of(member)).content.decode()
    assert not mailoutbox


@pytest.mark.parametrize(
    "email, reason, says",
    [
        ("taro@example.com", "Checked by phone.", "This is already the registered address."),
        ("ＴＡＲＯ@example.com", "Checked by phone.", "This is already the registered address."),
        ("not-an-address", "Checked by phone.", "Enter an email address such as"),
        ("new@example.net", "   ", "Write the reason"),
        ("", "Checked by phone.", "Enter the new email address."),
    ],
)
def test_bad_corrections_say_why_and_change_nothing(
    client, supervisor, member, mailoutbox, email, reason, says
):
    boss = as_staff(client, supervisor, "en")
    page = correct(boss, member, email, reason).content.decode()
    assert says in page
    assert not mailoutbox
    assert not member.security_events.filter(kind=Kind.EMAIL_CORRECTION_STARTED).exists()


def test_the_correction_form_reads_in_japanese(client, supervisor, member):
    boss = as_staff(client, supervisor)
    page = boss.get(f"{page_of(member).removesuffix('change/')}correct-email/").content.decode()
    assert "登録メールアドレスの訂正" in page and "本人確認" in page


def test_a_members_own_change_link_does_not_work_signed_out(member_client, member, mailoutbox):
    member_client.post("/backoffice/profile/email/", {"email": "taro.mine@example.net", "pin": PIN})
    mail = next(mail for mail in mailoutbox if mail.to == ["taro.mine@example.net"])
    token = emailed_path(mail, "/backoffice/profile/email/confirm/").rstrip("/").split("/")[-1]
    visitor = Client()
    visitor.get(f"/email/correct/{token}/")
    visitor.post("/email/correct/new-address/")
    member.refresh_from_db()
    assert member.email == "taro@example.com"


# --- Edits through admin's own form ------------------------------------------------------------


def change_form_data(member, **changes) -> dict:
    data = {
        "name": member.name,
        "preferred_language": member.preferred_language,
        "is_staff": "",
        "is_superuser": "",
        "groups": [],
        "_save": "Save",
    }
    return {**data, **changes}


def test_an_edit_in_admins_form_is_in_the_security_log(client, staff, member):
    client.force_login(staff)
    response = client.post(page_of(member), change_form_data(member, name="山田 太朗"))
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.name == "山田 太朗"
    event = member.security_events.get(kind=Kind.MEMBER_EDITED)
    assert event.actor == staff and event.details["fields"] == ["name"]


def test_admins_form_cannot_deactivate_without_a_reason(client, staff, member):
    client.force_login(staff)
    client.post(page_of(member), change_form_data(member, is_active=""))
    member.refresh_from_db()
    assert member.is_active
    assert not member.security_events.filter(kind=Kind.MEMBER_EDITED).exists()


# --- "Someone signed in who wasn't me" ------------------------------------------------------


def test_support_signs_the_member_out_everywhere(client, support_agent, member):
    phones = []
    for address in ("198.51.100.1", "198.51.100.2"):
        phone = Client(REMOTE_ADDR=address)
        sign_in(phone)
        assert phone.get("/backoffice/").status_code == 200
        phones.append(phone)
    agent = as_staff(client, support_agent, "en")
    url = f"{page_of(member).removesuffix('change/')}sign-out/"
    # Asked first (helper-160: one press signed the member out of every device).
    assert f'href="{url}"' in agent.get(page_of(member)).content.decode()
    question = agent.get(url).content.decode()
    assert "Sign JPN1000001 out on every device now?" in question
    assert "Yes, sign them out" in question
    assert all(phone.get("/backoffice/").status_code == 200 for phone in phones)

    page = agent.post(url, follow=True).content.decode()

    assert "JPN1000001 is signed out on 2 devices" in page
    assert all(phone.get("/backoffice/").status_code == 302 for phone in phones)
    event = member.security_events.get(kind=Kind.OTHER_SESSIONS_ENDED)
    assert event.actor == support_agent and event.details["count"] == 2
    # The member reads who did it, by team.
    phones[0].force_login(member)
    phones[0].cookies["django_language"] = "en"  # the sign-in set the account's, Japanese
    activity = phones[0].get("/backoffice/security/activity/").content.decode()
    assert "JENCO support signed you out on every device" in activity
    assert "Support" in activity

    again = agent.post(url, follow=True).content.decode()
    assert "was not signed in anywhere: nothing to end" in again


def test_support_s_sign_out_ends_a_device_that_changed_the_pin(client, support_agent, member):
    # The PIN change kept that device signed in under a key no sign-in's entry held: support
    # said "signed out on 1 device" (the other one) and it stayed (helper-110).
    shared = Client(REMOTE_ADDR="198.51.100.1")
    sign_in(shared)
    changed = {"current_pin": PIN, "new_pin1": "583920", "new_pin2": "583920"}
    assert shared.post("/backoffice/profile/pin/", changed).status_code == 302
    assert shared.get("/backoffice/").status_code == 200
    agent = as_staff(client, support_agent, "en")

    page = agent.post(f"{page_of(member).removesuffix('change/')}sign-out/", follow=True)

    assert "JPN1000001 is signed out on 1 device" in page.content.decode()
    assert shared.get("/backoffice/")["Location"].startswith("/login/")


# --- Staff accounts are a superuser's (the four-role trial) ------------------------------------


def test_a_members_page_shows_support_no_staff_flags_or_teams(
    client, support_agent, supervisor, staff, member
):
    # They always read "no" on a member's page, the only kind support is shown (helper-160).
    for agent in (support_agent, supervisor):
        page = as_staff(Client(), agent, "en").get(page_of(member)).content.decode()
        assert "field-is_active" in page
        assert "field-is_staff" not in page and "field-is_superuser" not in page
        assert "field-groups" not in page
    page = as_staff(client, staff, "en").get(page_of(member)).content.decode()  # a superuser
    assert "field-is_staff" in page and "field-is_superuser" in page and "field-groups" in page


def test_staff_flags_and_teams_are_a_superusers_even_where_a_group_may_change_members(
    client, supervisor, member
):
    # A superuser gave the Supervisor group "change member"; a Supervisor then made a member
    # a superuser (helper-113). The name and language stay theirs to correct.
    from django.contrib.auth.models import Permission

    Group.objects.get(name="Supervisor").permissions.add(
        Permission.objects.get(codename="change_member")
    )
    boss = as_staff(client, supervisor, "en")
    page = boss.get(page_of(member)).content.decode()
    assert 'name="name"' in page and 'name="is_superuser"' not in page
    assert 'name="is_staff"' not in page and 'name="groups"' not in page

    response = boss.post(
        page_of(member),
        {
            "name": "Taro Corrected",
            "preferred_language": "ja",
            "is_staff": "on",
            "is_superuser": "on",
            "groups": [Group.objects.get(name="Supervisor").pk],
        },
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.name == "Taro Corrected"
    assert not member.is_staff and not member.is_superuser and not member.groups.exists()


def test_a_supervisor_cannot_take_over_a_superuser_or_act_on_staff(
    client, supervisor, support_agent, staff, mailoutbox
):
    """A Supervisor who could correct a superuser's email could take the account over (reset
    link to the new address); an agent who could lift a Supervisor's pause, sign them out or
    mail them a reset link acts above their rights. Only a superuser sees staff accounts."""
    boss = as_staff(Client(), supervisor, "en")
    base = page_of(staff).removesuffix("change/")

    assert correct(boss, staff, email="mallory@evil.example").status_code == 404
    assert boss.post(f"{base}reset-two-step/", {"reason": "x" * 20}).status_code == 404
    assert boss.post(f"{base}active/", {"reason": "x" * 20}).status_code == 404
    assert boss.get(page_of(staff)).status_code == 302  # admin's "does not exist"
    staff.refresh_from_db()
    assert staff.email == "admin@jenco.example" and staff.is_active
    assert mailoutbox == []

    agent = as_staff(Client(), support_agent, "en")
    paused(supervisor)
    target = page_of(supervisor).removesuffix("change/")
    for action in ("clear-lockout/", "send-reset-link/password/", "sign-out/"):
        assert agent.post(f"{target}{action}").status_code == 404, action
    assert AccessAttempt.objects.filter(username=supervisor.member_id).exists()
    assert mailoutbox == []
    # Not listed, not even by search, nor in the lockouts and the security log.
    listed = agent.get("/admin/accounts/member/", {"q": "JPN900"}).content.decode()
    assert "JPN9000003" not in listed and "JPN9000001" not in listed
    assert "JPN9000003" not in agent.get("/admin/axes/accessattempt/").content.decode()
    sign_in(Client(), "JPN9000003", "wrong-password-1")
    sign_in(Client(), "JPN1000001", "wrong-password-1")  # a member's, with no member row
    sign_in(Client(), "JPN7777777", "wrong-password-1")  # nobody's
    # A colleague's own entries: here the Supervisor's refused admin filter.
    assert boss.get("/admin/accounts/securityevent/?member=1").status_code == 400
    log = agent.get("/admin/accounts/securityevent/").content.decode()
    assert "JPN9000003" not in log  # neither as the member nor as the one who did it
    # Failed sign-ins typed with members' and unknown IDs are still there for support.
    assert "JPN1000001" in log and "JPN7777777" in log
    # axes' "clean up expired attempts" is not offered: it failed (500) and would reach
    # every row; housekeeping does it.
    lockouts = agent.get("/admin/axes/accessattempt/").content.decode()
    assert "cleanup_expired_attempts" not in lockouts


def test_a_superuser_still_looks_after_staff_accounts(
    client, staff, supervisor, member, mailoutbox
):
    root = as_staff(client, staff, "en")
    paused(supervisor)
    # Staff have no PIN: no PIN reset link for them, from the page or any other way.
    page = root.get(page_of(supervisor)).content.decode()
    assert "send-reset-link/pin/" not in page and "send-reset-link/password/" in page
    refused = root.post(
        f"{page_of(supervisor).removesuffix('change/')}send-reset-link/pin/", follow=True
    )
    assert "JPN9000003 is a staff account and has no PIN" in refused.content.decode()
    assert mailoutbox == []

    assert "JPN9000003" in root.get("/admin/accounts/member/", {"q": "JPN900"}).content.decode()
    assert root.get(page_of(supervisor)).status_code == 200
    root.post(f"{page_of(supervisor).removesuffix('change/')}clear-lockout/")
    assert not AccessAttempt.objects.filter(username=supervisor.member_id).exists()
    # And the members, as before.
    assert root.get(page_of(member)).status_code == 200


# --- The lockouts list (axes' AccessAttempt) ---------------------------------------------------


def test_lifting_pauses_from_the_lockouts_list_is_logged_and_the_member_is_told(
    client, support_agent, member
):
    agent = as_staff(client, support_agent)
    paused(member)
    AccessAttempt.objects.create(  # an ID nobody has, from another network
        username="JPN7777777", ip_address="198.51.100.9", failures_since_start=10
    )
    page = agent.get("/admin/axes/accessattempt/").content.decode()
    assert "選択した一時停止を解除する" in page
    assert 'value="delete_selected"' not in page  # "delete" lifted pauses without a trace

    response = agent.post(
        "/admin/axes/accessattempt/",
        {
            "action": "lift_pauses",
            "_selected_action": list(AccessAttempt.objects.values_list("pk", flat=True)),
            "post": "yes",
        },
        follow=True,
    )
    assert (
        '<li class="success">ログイン失敗の記録を2件消去しました。それによる一時停止があれば、解除されています。'
        in (response.content.decode())
    )
    # And the member's, named with what was lifted, as the member page's button says it.
    assert (
        "JPN1000001 のログインの一時停止を解除しました。会員は今すぐログインできます。"
    ) in response.content.decode()
    assert not AccessAttempt.objects.exists()
    # The member's activity says support lifted it, naming the team, as the member page's
    # button does; the unknown ID's entry keeps the address that was paused.
    lifted = SecurityEvent.objects.filter(kind=Kind.LOCKOUT_CLEARED)
    mine = lifted.get(member=member)
    assert mine.actor == support_agent and mine.details["team"] == "Support"
    other = lifted.get(member_id_typed="JPN7777777")
    assert other.details["address"] == "198.51.100.9"
    reader = Client()
    reader.force_login(member)
    activity = reader.get("/backoffice/security/activity/").content.decode()
    assert "<strong>JENCOサポートがログインの一時停止を解除</strong>（サポート窓口）" in activity


def test_the_lockouts_lists_action_asks_first_naming_every_pause_it_lifts(
    client, support_agent, member
):
    """A member's row lifts every pause on the member, their PIN lock too: the list's action
    said nothing before it did, where a row's own button asks."""
    agent = as_staff(client, support_agent)
    paused(member)
    Member.objects.filter(pk=member.pk).update(
        pin_locked_until=timezone.now() + timezone.timedelta(minutes=30)
    )
    AccessAttempt.objects.create(username=None, ip_address="198.51.100.9", failures_since_start=3)
    picked = list(AccessAttempt.objects.values_list("pk", flat=True))

    asked = agent.post(
        "/admin/axes/accessattempt/", {"action": "lift_pauses", "_selected_action": picked}
    )

    page = asked.content.decode()
    assert asked.status_code == 200
    assert "以下のログイン失敗の記録2件を消去し、それによる一時停止があれば解除しますか？" in page
    assert "JPN1000001（203.0.113.7 から、" in page and "198.51.100.9 から（" in page
    assert "JPN1000001: ログインの一時停止、PINコードが必要な操作のロック<" in page
    assert 'value="はい、解除します"' in page and 'name="post" value="yes"' in page
    # No bare `nonce="…"` in the page's text (helper-90: shown above admin's header).
    assert not re.search(r'^\s*nonce="', page, re.M)
    # Asking changed nothing.
    assert AccessAttempt.objects.count() == 2
    assert not SecurityEvent.objects.filter(kind=Kind.LOCKOUT_CLEARED).exists()
    assert Member.objects.get(pk=member.pk).pin_locked_until is not None

    done = agent.post(
        "/admin/axes/accessattempt/",
        {"action": "lift_pauses", "_selected_action": picked, "post": "yes"},
        follow=True,
    )
    assert "ログイン失敗の記録を2件消去し" in done.content.decode()
    assert Member.objects.get(pk=member.pk).pin_locked_until is None


def _all_of_a_long_list(client, agent, rows: int):
    """`rows` lockout records of as many addresses, and the lift action's post picking them
    all ("Select all" across the list), for `agent` signed in."""
    AccessAttempt.objects.bulk_create(
        AccessAttempt(ip_address=f"10.9.{n // 250}.{n % 250}", failures_since_start=1)
        for n in range(rows)
    )
    one = AccessAttempt.objects.values_list("pk", flat=True)[:1]
    picked = {"action": "lift_pauses", "select_across": "1", "_selected_action": list(one)}
    return as_staff(client, agent), picked


def test_lifting_every_row_of_a_long_list_at_once_works(client, support_agent):
    """ "Select all" across 1,005 rows: the confirmation's "yes" sent every row's key, and a
    post of over 1,000 fields is refused (400): nothing was lifted (helper-89)."""
    agent, picked = _all_of_a_long_list(client, support_agent, 1005)

    asked = agent.post("/admin/axes/accessattempt/", picked).content.decode()
    assert "以下のログイン失敗の記録1005件を消去し" in asked and "…ほか905件。" in asked
    assert asked.count('name="_selected_action"') == 1

    done = agent.post("/admin/axes/accessattempt/", {**picked, "post": "yes"}, follow=True)
    assert done.status_code == 200
    assert "ログイン失敗の記録を1005件消去し" in done.content.decode()
    assert not AccessAttempt.objects.exists()


def test_lifting_more_rows_than_one_lift_takes_lifts_nothing_and_says_so(client, support_agent):
    # "Select all" over 30,000 rows held an app server's thread for two minutes: the agent got
    # nginx's busy page and never learnt what was done (helper-113).
    agent, picked = _all_of_a_long_list(client, support_agent, 2001)
    for post in ({}, {"post": "yes"}):
        page = agent.post("/admin/axes/accessattempt/", {**picked, **post}, follow=True)
        assert "一度に解除できるのは2000件までです" in page.content.decode()
        assert AccessAttempt.objects.count() == 2001
    assert not SecurityEvent.objects.filter(kind=Kind.LOCKOUT_CLEARED).exists()


def test_a_row_two_agents_lift_at_once_is_cleared_and_logged_once(rf, support_agent, staff):
    # Both were told "cleared 1", and the log had the row twice (helper-113). The second lift
    # read the row before the first was done: it finds it gone once it may go on.
    from accounts.flows import support

    _row("JPN5000001", "198.51.100.5", 4)  # an ID nobody has
    read_by_both = list(AccessAttempt.objects.all())
    request = rf.post("/admin/axes/accessattempt/", REMOTE_ADDR="127.0.0.1")
    first = support.lift_pauses(request, read_by_both, actor=support_agent)
    second = support.lift_pauses(request, read_by_both, actor=staff)
    assert first[0] == 1 and second[0] == 0
    assert SecurityEvent.objects.filter(kind=Kind.LOCKOUT_CLEARED).count() == 1

    # The second agent is told so, not "cleared 0 records; any pauses they made are lifted"
    # (helper-114).
    from django.contrib import admin
    from django.contrib.messages import get_messages
    from django.contrib.messages.storage.fallback import FallbackStorage

    request.session, request.user = {}, staff
    request._messages = FallbackStorage(request)
    admin.site._registry[AccessAttempt]._say_lifted(request, *second)
    [said] = [str(message) for message in get_messages(request)]
    assert said.startswith("何も解除していません。選んだ記録はすでにありませんでした")


def test_a_staff_accounts_lifted_records_stay_hidden_from_support(client, support_agent, staff):
    AccessAttempt.objects.create(
        username=staff.member_id, ip_address="10.7.7.7", failures_since_start=3
    )
    sign_in(Client(), staff.member_id, PASSWORD, REMOTE_ADDR="10.7.7.8")  # lifts them
    assert AccessAttempt.objects.filter(username=None, ip_address="10.7.7.7").exists()
    page = as_staff(client, support_agent).get("/admin/axes/accessattempt/").content.decode()
    assert "10.7.7.7" not in page


def test_a_lift_from_the_lockouts_list_leaves_the_other_addresses_their_share(
    client, support_agent, member
):
    """One row of a member tried from two addresses, picked: the member's pause is lifted,
    the row picked is cleared, and the other address keeps its 5 failures as its own (an
    address that guessed at the member gets no guesses back). The count says the one row
    cleared: the other is still in the list, as the address's."""
    paused(member, failures=6)
    AccessAttempt.objects.create(
        username=member.member_id, ip_address="198.51.100.20", failures_since_start=5
    )
    picked = AccessAttempt.objects.filter(ip_address="203.0.113.7").values_list("pk", flat=True)
    response = as_staff(client, support_agent).post(
        "/admin/axes/accessattempt/",
        {"action": "lift_pauses", "_selected_action": list(picked), "post": "yes"},
        follow=True,
    )
    page = response.content.decode()
    assert (
        "ログイン失敗の記録を1件消去しました。それによる一時停止があれば、解除されています。"
        in page
    )
    assert "JPN1000001 のログインの一時停止を解除しました。" in page
    assert list(
        AccessAttempt.objects.values_list("username", "ip_address", "failures_since_start")
    ) == [(None, "198.51.100.20", 5)]
    assert sign_in(Client(), "JPN1000001", PASSWORD).status_code == 302


def test_lifting_on_the_members_page_leaves_the_addresses_their_share(
    client, support_agent, member
):
    paused(member)
    as_staff(client, support_agent).post(f"{page_of(member).removesuffix('change/')}clear-lockout/")
    assert list(
        AccessAttempt.objects.values_list("username", "ip_address", "failures_since_start")
    ) == [(None, "203.0.113.7", 10)]
    assert sign_in(Client(), "JPN1000001", PASSWORD).status_code == 302


def test_a_superuser_in_no_team_reads_as_jenco_support_alone(client, staff, member):
    """「JENCOサポート」 is the whole of who acted: no 「（JENCO）」 after it."""
    from accounts.flows import support

    paused(member)
    as_staff(client, staff).post(f"{page_of(member).removesuffix('change/')}clear-lockout/")
    reader = Client()
    reader.force_login(member)
    activity = reader.get("/backoffice/security/activity/").content.decode()
    assert "<strong>JENCOサポートがログインの一時停止を解除</strong></p>" in activity
    assert "（JENCO）" not in activity
    event = member.security_events.get(kind=Kind.LOCKOUT_CLEARED)
    with translation.override("en"):
        assert "Team: —" in support.details_in_words(event)


def test_a_lockout_rows_delete_button_lifts_the_pause_the_same_way(client, support_agent, member):
    agent = as_staff(client, support_agent)
    paused(member)
    attempt = AccessAttempt.objects.get()
    response = agent.post(
        f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/admin/axes/accessattempt/"
    # Said as the list's action says it, as a success.
    assert (
        '<li class="success">ログイン失敗の記録を1件消去しました。それによる一時停止があれば、解除されています。'
        in (response.content.decode())
    )
    assert not AccessAttempt.objects.exists()
    assert SecurityEvent.objects.filter(
        kind=Kind.LOCKOUT_CLEARED, member=member, actor=support_agent
    ).exists()
    assert sign_in(Client(), "JPN1000001", PASSWORD).status_code == 302


def test_a_lockout_rows_page_and_its_confirmation_speak_of_lifting_not_deleting(
    client, support_agent, member
):
    agent = as_staff(client, support_agent)
    paused(member)
    attempt = AccessAttempt.objects.get()
    page = agent.get(f"/admin/axes/accessattempt/{attempt.pk}/change/").content.decode()
    assert f'href="/admin/axes/accessattempt/{attempt.pk}/delete/"' in page
    assert ">一時停止を解除</a>" in page and ">削除</a>" not in page

    assert "HTTP Accept" not in page and "有効期限" not in page  # axes' fields, not an agent's

    confirm = agent.get(f"/admin/axes/accessattempt/{attempt.pk}/delete/").content.decode()
    assert "<title>一時停止を解除 | " in confirm and "<h1>一時停止を解除</h1>" in confirm
    assert "ログイン失敗の記録「JPN1000001（203.0.113.7 から、" in confirm
    assert "）」を消去し、それによる一時停止があれば解除しますか？" in confirm
    assert 'value="はい、解除します"' in confirm
    assert "削除しますか" not in confirm and "関連する" not in confirm
    assert AccessAttempt.objects.exists()  # asking changed nothing


def test_the_lockouts_list_reads_in_english_for_an_english_agent(client, support_agent, member):
    agent = as_staff(client, support_agent, "en")
    paused(member)
    page = agent.get("/admin/axes/accessattempt/").content.decode()
    assert "Failed sign-ins" in page and "Member ID" in page and "By Time" in page
    assert "Lift the selected pauses" in page
    for axes_word in ("Access attempt", "access attempt", "Username", "Attempt Time"):
        assert axes_word not in page
    attempt = AccessAttempt.objects.get()
    confirm = agent.get(f"/admin/axes/accessattempt/{attempt.pk}/delete/").content.decode()
    assert "Clear the failed sign-in record “JPN1000001 from 203.0.113.7" in confirm
    assert 'value="Yes, lift it"' in confirm


def test_an_unknown_paused_filter_value_shows_the_whole_list_as_admins_filters_do(client, staff):
    root = as_staff(client, staff)
    response = root.get("/admin/axes/accessattempt/", {"paused": "zzz"})
    assert response.status_code == 302 and response["Location"].endswith("?e=1")


def test_the_lockouts_list_finds_an_id_however_it_is_typed(client, support_agent, member):
    agent = as_staff(client, support_agent)
    paused(member)
    for typed in ("ＪＰＮ１０００００１", "ｊｐｎ １０００ ００１", "jpn1000001"):
        page = agent.get("/admin/axes/accessattempt/", {"q": typed}).content.decode()
        assert "203.0.113.7" in page, typed


def test_the_member_page_shows_the_failed_sign_ins_typed_with_the_id(client, support_agent, member):
    # Logged against no member (as the ID typed): the page showed only the staff's views, so
    # an agent saw "paused" and no failure to say why.
    for _ in range(2):
        sign_in(Client(), "JPN1000001", "wrong-Password-1")
    page = as_staff(client, support_agent).get(page_of(member)).content.decode()
    timeline = page[page.index('id="support-timeline"') :]
    rows = re.findall(r"<tr><td>.*?</tr>", timeline)
    failed = [row for row in rows if "<td>ログイン失敗</td>" in row]
    assert len(failed) == 2 and all("このIDを入力した人" in row for row in failed)


def test_the_member_page_does_not_say_the_member_did_what_anyone_with_the_id_could(
    client, support_agent, migrated_member, mailoutbox
):
    """A caller says "I never got the code, and someone keeps asking for reset links". The
    log said 会員本人 (the member) for a sign-in on the published default password, the codes
    guessed after it and the reset requests: anyone who knows the member ID (and, for a reset,
    the registered address) does those, so the agent told the caller they had done it."""
    stranger = Client()
    assert sign_in(stranger, "JPN2000001", DEFAULT_PASSWORD).status_code == 302
    stranger.post("/backoffice/first-sign-in/mailbox/", {"code": "000000"})
    data = {"username": "JPN2000001", "email": "hanako@example.com", **solved_captcha()}
    Client().post("/password/forgot/", data)
    page = as_staff(client, support_agent).get(page_of(migrated_member)).content.decode()
    timeline = page[page.index('id="support-timeline"') :]
    rows = re.findall(r"<tr><td>.*?</tr>", timeline)

    def by(kind_words):
        found = [row for row in rows if f"<td>{kind_words}</td>" in row]
        assert found, kind_words
        return found

    for words in ("デフォルトの認証情報でログイン", "確認コードを送信", "確認コードの誤り"):
        assert all("デフォルトのパスワードでログインした人" in row for row in by(words)), words
    assert all("このIDとメールアドレスを入力した人" in row for row in by("パスワード再設定の申請"))
    assert "会員本人" not in "".join(rows)


def test_the_members_own_one_tap_pin_link_is_logged_as_the_members(
    client, support_agent, member, mailoutbox
):
    # helper-168: signed in, the member tapped "Forgot PIN?" (nothing typed), and the log
    # said 「このIDとメールアドレスを入力した人」, which an agent would take for a stranger.
    phone = Client()
    sign_in(phone)
    phone.post("/pin/forgot/", {"next": "/backoffice/"})
    page = as_staff(client, support_agent).get(page_of(member)).content.decode()
    timeline = page[page.index('id="support-timeline"') :]
    (row,) = [r for r in re.findall(r"<tr><td>.*?</tr>", timeline) if "PINコード再設定" in r]
    assert "会員本人" in row and "入力した人" not in row
    assert len(mailoutbox) == 1


def test_the_member_pages_history_button_opens_the_members_security_log(
    client, support_agent, member
):
    # 履歴 (History) led to Django's change history, which said 「このオブジェクトには変更履歴
    # がありません」: what staff do is in the security log, not in admin's own log (helper-152).
    paused(member)
    agent = as_staff(client, support_agent)
    assert f'href="{page_of(member).removesuffix("change/")}history/"' in (
        agent.get(page_of(member)).content.decode()
    )
    history = agent.get(f"{page_of(member).removesuffix('change/')}history/", follow=True)
    assert history.redirect_chain[-1][0] == "/admin/accounts/securityevent/?q=JPN1000001"
    assert "スタッフによる会員情報の閲覧" in history.content.decode()
    assert agent.get("/admin/accounts/member/999999/history/").status_code == 404


def test_a_log_entrys_page_says_its_details_in_words(client, support_agent, member):
    assert sign_in(Client(), "JPN1000001", PASSWORD).status_code == 302
    signed_in = SecurityEvent.objects.get(kind=Kind.SIGN_IN, member=member)
    edited = SecurityEvent.objects.create(
        kind=Kind.MEMBER_EDITED,
        member=member,
        actor=support_agent,
        details={"team": "Support", "fields": ["email", "name"]},
    )
    agent = as_staff(client, support_agent)
    page = agent.get(f"/admin/accounts/securityevent/{signed_in.pk}/change/").content.decode()
    # The sign-in's session key (encrypted; what Account > Security ends it by) is not shown.
    assert signed_in.details["session"] not in page and '{"session"' not in page
    page = agent.get(f"/admin/accounts/securityevent/{edited.pk}/change/").content.decode()
    assert "担当：サポート窓口<br>変更した項目：メールアドレス、氏名" in page  # a Japanese list
    assert '{"team"' not in page


def test_the_security_log_says_pause_as_every_other_page_does(client, support_agent, member):
    for _ in range(10):
        sign_in(Client(), "JPN1000001", "wrong-Password-1")
    agent = as_staff(client, support_agent)
    agent.post(f"{page_of(member).removesuffix('change/')}clear-lockout/")
    page = agent.get("/admin/accounts/securityevent/").content.decode()
    assert '<td class="field-kind">ログインの一時停止</td>' in page
    assert "スタッフが一時停止を解除" in page
    assert ">ロック<" not in page and "スタッフがロックを解除" not in page  # PIN locks stay locks


def test_a_row_that_pauses_nothing_lifts_nothing_in_the_members_activity(
    client, support_agent, member
):
    # 3 of 10: not paused. The page offered "Lift the pauses" anyway, and lifting the row
    # told the member that JENCO Support had lifted a pause that never was.
    paused(member, failures=3)
    agent = as_staff(client, support_agent)
    page = agent.get(page_of(member)).content.decode()
    assert "はい：一時停止はありません。" in page and "一時停止を解除する" not in page
    attempt = AccessAttempt.objects.get()
    agent.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert not AccessAttempt.objects.exists()
    assert not SecurityEvent.objects.filter(kind=Kind.LOCKOUT_CLEARED, member=member).exists()
    logged = SecurityEvent.objects.get(kind=Kind.LOCKOUT_CLEARED)
    assert logged.member_id_typed == "JPN1000001" and logged.actor == support_agent
    reader = Client()
    reader.force_login(member)
    activity = reader.get("/backoffice/security/activity/").content.decode()
    assert "一時停止を解除" not in activity


def test_an_address_rows_confirmation_speaks_of_the_address(client, support_agent):
    _row(None, "198.51.100.1", 5)
    attempt = AccessAttempt.objects.get()
    agent = as_staff(client, support_agent)
    confirm = agent.get(f"/admin/axes/accessattempt/{attempt.pk}/delete/").content.decode()
    assert "ログイン失敗の記録「198.51.100.1 から（" in confirm
    assert "会員IDの一時停止は" not in confirm


def _row(username, address, failures, minutes_ago=1):
    row = AccessAttempt.objects.create(
        username=username, ip_address=address, failures_since_start=failures
    )
    when = timezone.now() - timezone.timedelta(minutes=minutes_ago)  # auto_now_add on create
    AccessAttempt.objects.filter(pk=row.pk).update(attempt_time=when)


def test_the_lockouts_list_says_once_what_a_row_without_an_id_counts(client, support_agent):
    # Every row without an ID repeated the same three-line explanation in its status cell,
    # squeezed into a column a word wide beside the user agent's: a page of them was a wall
    # of text an agent scrolled past to find a member's row (helper-152).
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        _row(None, address, 4)
    _row("JPN7000001", "203.0.113.1", 10)
    page = as_staff(client, support_agent).get("/admin/axes/accessattempt/").content.decode()
    explained = "IDのない行は、画像の数字の間違い、公開されているデフォルトのパスワードでのログイン"
    assert page.count(explained) == 1
    rows = re.findall(r'<tr[^>]*>\s*<td class="action-checkbox">.*?</tr>', page, re.S)
    assert len(rows) == 4 and not any(explained in row for row in rows)
    assert page.count("停止なし：このアドレスからの失敗4回（30回で一時停止）。") == 3
    assert "css/admin.css" in page  # the status column's width


def test_the_lockouts_list_says_what_is_paused_by_the_sums_that_decide_it(client, staff):
    # axes compared each row alone with the ID's limit of 10: an address's row read paused
    # at 11 (an address pauses at 30, over all its rows), an ID tried from two addresses
    # read "not paused" when it was.
    root = as_staff(client, staff)
    _row(None, "198.51.100.1", 11)  # wrong captchas: the address alone
    _row("JPN7000001", "203.0.113.1", 6)
    _row("JPN7000001", "203.0.113.2", 4)  # 10 with this ID: paused
    _row("JPN7000002", "192.0.2.1", 9)
    _row("JPN7000003", "192.0.2.1", 21)  # 30 from this address: both paused (this ID too)
    _row("JPN7000004", "192.0.2.99", 12, minutes_ago=60)  # past the cool-off
    page = root.get("/admin/axes/accessattempt/").content.decode()
    assert "停止なし：このアドレスからの失敗11回（30回で一時停止）。" in page
    assert page.count("一時停止中：このIDでの失敗10回（10回で一時停止）。") == 2
    assert "一時停止中：このIDでの失敗21回（10回で一時停止）。" in page
    assert page.count("一時停止中：このアドレスからの失敗30回（30回で一時停止）。") == 1
    assert "対象外：15分より前の失敗です。" in page
    # A row with no ID counts what a good sign-in on the published default password adds,
    # and what a member who proved themselves leaves to the address.
    assert (
        "IDのない行は、画像の数字の間違い、公開されているデフォルトのパスワードでのログイン、"
        "そしてその後ログインした（または一時停止を解除された）会員への誤ったパスワード" in page
    )

    paused = root.get("/admin/axes/accessattempt/", {"paused": "yes"}).content.decode()
    for member_id in ("JPN7000001", "JPN7000002", "JPN7000003"):
        assert member_id in paused
    assert "JPN7000004" not in paused and "198.51.100.1" not in paused
    not_paused = root.get("/admin/axes/accessattempt/", {"paused": "no"}).content.decode()
    assert "198.51.100.1" in not_paused and "JPN7000004" in not_paused
    assert "JPN7000001" not in not_paused


def test_the_lockouts_list_works_out_totals_for_the_rows_it_shows_only(client, staff):
    # Worked out in the page's query, each row's totals were also worked out for every row a
    # later page skips: 1-1.5 s for the last pages of 30,000 rows (helper-114).
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(130):
        _row(f"JPN70{n:05d}", f"198.51.100.{n}", 1 + n % 12)
    root = as_staff(client, staff)
    with CaptureQueriesContext(connection) as queries:
        page = root.get("/admin/axes/accessattempt/", {"p": "2"}).content.decode()
    assert "一時停止中：このIDでの失敗11回（10回で一時停止）。" in page  # JPN7000010, on page 2
    summed = [q["sql"] for q in queries.captured_queries if "SUM(" in q["sql"].upper()]
    assert summed and all("OFFSET" not in sql.upper() for sql in summed)


def test_a_name_edited_in_admin_is_held_to_registrations_rule(client, staff, member):
    """The name goes into every email's greeting: one line, nothing invisible in it."""
    client.force_login(staff)  # a superuser: agents cannot edit members' names
    page = client.get(page_of(member)).content.decode()
    form = {
        name: value
        for name, value in re.findall(
            r'<input type="(?:text|email|hidden)" name="(\w+)" value="([^"]*)"', page
        )
    }
    for refused in ("Sato\u200bHanako", "Sato\u202eHanako"):
        response = client.post(page_of(member), {**form, "name": refused})
        assert "目に見えない文字（ゼロ幅スペースなど）" in response.content.decode()
    member.refresh_from_db()
    assert member.name not in ("Sato\u200bHanako", "Sato\u202eHanako")


def test_a_message_that_starts_with_the_address_shows_it_as_registered(
    client, support_agent, member
):
    """In Japanese the address comes first; admin's capfirst wrote 「Taro@example.com 宛てに」."""
    agent = as_staff(client, support_agent)
    url = f"{page_of(member).removesuffix('change/')}send-reset-link/password/"
    page = agent.post(url, follow=True).content.decode()
    assert '<li class="success">taro@example.com' in page


def test_admins_own_messages_still_begin_with_a_capital(client, support_agent, staff):
    agent = as_staff(client, support_agent, "en")
    page = agent.get(page_of(staff), follow=True).content.decode()
    assert '<li class="warning">Member with ID' in page


def test_a_name_as_imported_does_not_stop_other_fields_being_saved(rf, staff, member):
    """A CP932 外字 comes in through the JA import as a private-use character; the name
    rule holds only a name edited on the page."""
    from django.contrib import admin as django_admin
    from django.forms.models import model_to_dict

    Member.objects.filter(pk=member.pk).update(name="\ue000田 花子")
    member.refresh_from_db()
    request = rf.get(page_of(member))
    request.user = staff
    form_class = django_admin.site._registry[Member].get_form(request, member)
    initial = {k: v for k, v in model_to_dict(member).items() if k in form_class.base_fields}
    initial["groups"] = [group.pk for group in initial.get("groups", [])]

    kept = form_class({**initial, "preferred_language": "en"}, instance=member)
    edited = form_class({**initial, "name": "\ue000田\u200b花子"}, instance=member)
    # A typo in the given name corrected: the 外字 of the family name stays.
    corrected = form_class({**initial, "name": "\ue000田 花代"}, instance=member)
    # A private-use character the name did not have is refused, as registration does.
    another = form_class({**initial, "name": "\ue000田 花\ue001"}, instance=member)

    assert kept.is_valid(), kept.errors
    assert not edited.is_valid() and "name" in edited.errors
    assert corrected.is_valid(), corrected.errors
    assert corrected.cleaned_data["name"] == "\ue000田 花代"
    assert not another.is_valid() and "name" in another.errors


def test_the_security_log_says_in_words_which_pauses_were_lifted(client, support_agent, member):
    from accounts.flows import support

    paused(member)
    Member.objects.filter(pk=member.pk).update(
        pin_locked_until=timezone.now() + timezone.timedelta(minutes=30)
    )
    event_request = as_staff(client, support_agent, "en")
    event_request.post(f"{page_of(member).removesuffix('change/')}clear-lockout/")
    event = member.security_events.get(kind=Kind.LOCKOUT_CLEARED)

    assert event.details["lifted"] == ["sign_in", "pin"]
    with translation.override("en"):
        assert (
            "Pauses and locks lifted: the sign-in pause, the lock on changes that need the PIN or "
            "password" in (support.details_in_words(event))
        )
    with translation.override("ja"):
        assert (
            "解除した一時停止・ロック：ログインの一時停止、PINコード（またはパスワード）が必要な操作のロック"
            in (support.details_in_words(event))
        )


def test_admins_message_after_a_save_links_the_member_not_shows_its_html(client, staff, member):
    client.force_login(staff)
    form = member_page_form(client, member)
    form.update(name="佐藤 花子", preferred_language=member.preferred_language, _continue="1")
    saved = client.post(page_of(member), form, follow=True).content.decode()
    assert f'<a href="{page_of(member)}">{member.member_id}</a>' in saved
    assert "&lt;a href" not in saved


def test_an_agent_in_two_teams_reads_as_a_list_in_the_readers_language():
    from accounts.activity import team_names

    with translation.override("ja"):
        assert team_names("Supervisor, Support") == "サポート責任者、サポート窓口"
    with translation.override("en"):
        assert team_names("Supervisor, Support") == "Supervisor, Support"


def member_page_form(client, member) -> dict:
    """The member page's text fields as admin fills them in, to post back changed."""
    page = client.get(page_of(member)).content.decode()
    return dict(
        re.findall(r'<input type="(?:text|email|hidden)" name="(\w+)" value="([^"]*)"', page)
    )


# --- A staff account's address is an inbox of its own --------------------------------------


def test_a_member_made_staff_in_admin_needs_an_address_of_their_own(client, staff, member):
    """Its reset links would reach whoever else reads that inbox (a family shares one)."""
    sibling = Member.objects.create_user("JPN1000009", email="taro+hanako@example.com")
    client.force_login(staff)  # a superuser
    form = member_page_form(client, sibling)
    form.update(preferred_language="ja", is_staff="on")

    refused = client.post(page_of(sibling), form).content.decode()
    assert "スタッフアカウントには専用のメールアドレスを指定してください。" in refused
    assert not Member.objects.get(pk=sibling.pk).is_staff

    Member.objects.filter(pk=member.pk).update(email="taro.old@example.com")  # no longer shared
    assert client.post(page_of(sibling), form).status_code == 302
    assert Member.objects.get(pk=sibling.pk).is_staff


def test_a_team_is_for_staff_accounts_only(client, staff, member):
    """A group opens nothing without staff status, and would carry its permissions, unseen,
    into the day the account is made staff."""
    from django.contrib.auth.models import Group

    supervisor = Group.objects.get(name="Supervisor")
    client.force_login(staff)  # a superuser
    form = member_page_form(client, member)
    form.update(preferred_language="ja", groups=[supervisor.pk])

    refused = client.post(page_of(member), form).content.decode()
    assert "グループはスタッフのチームです。「スタッフ」にもチェックを入れるか" in refused
    assert not member.groups.exists()
    # With staff status ticked the same team is saved.
    assert client.post(page_of(member), {**form, "is_staff": "on"}).status_code == 302
    assert list(member.groups.all()) == [supervisor]
    # And staff status is not taken away while the team stays.
    form.update(groups=[supervisor.pk])
    assert client.post(page_of(member), form).status_code == 200
    assert Member.objects.get(pk=member.pk).is_staff


def test_a_superuser_is_a_staff_account(client, staff, member):
    """Every permission and no way into admin to see them used: refused, as a team is."""
    client.force_login(staff)  # a superuser
    form = member_page_form(client, member)
    form.update(preferred_language="ja", is_superuser="on")

    refused = client.post(page_of(member), form).content.decode()
    assert (
        "スーパーユーザーはスタッフアカウントです。「スタッフ」にもチェックを入れてください。"
        in refused
    )
    assert not Member.objects.get(pk=member.pk).is_superuser
    assert client.post(page_of(member), {**form, "is_staff": "on"}).status_code == 302
    assert Member.objects.get(pk=member.pk).is_superuser
    # Nor is staff status taken from a superuser: the form without "staff" ticked is refused.
    assert "is_staff" not in form and form["is_superuser"] == "on"
    assert client.post(page_of(member), form).status_code == 200
    assert Member.objects.get(pk=member.pk).is_staff


def test_a_staff_accounts_email_is_not_corrected_to_a_members_inbox(
    client, staff, support_agent, member, mailoutbox
):
    boss = as_staff(client, staff, "en")  # a superuser: agents do not see staff accounts
    page = correct(boss, support_agent, email="TARO+support@example.com").content.decode()
    assert "reaches the same inbox as another account&#x27;s" in page
    assert not mailoutbox


def test_support_sees_the_hour_s_sign_ins_paused_and_lifting_ends_it(
    client, support_agent, member, settings
):
    # "Yes: nothing is paused" while every sign-in got the paused page, and "Lift the
    # pauses" said the member could sign in when they could not (helper-141).
    settings.JENCO_SIGN_INS_PER_MEMBER_HOUR = 2
    SecurityEvent.objects.bulk_create(
        [SecurityEvent(kind=Kind.SIGN_IN, member=member) for _ in range(2)]
    )
    assert sign_in(Client()).status_code == 429
    agent = as_staff(client, support_agent, "en")

    page = agent.get(page_of(member)).content.decode()

    assert "No: paused." in page
    assert "Signing in with the password paused until" in page
    lifted = agent.post(f"{page_of(member).removesuffix('change/')}clear-lockout/", follow=True)
    assert (
        "Pauses and locks lifted on JPN1000001: the pause after the hour&#x27;s most sign-ins. "
        "The member can sign in now." in lifted.content.decode()
    )
    assert sign_in(Client()).status_code == 302
