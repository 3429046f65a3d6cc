"""Account > Security: where the member is signed in, signing devices out, and their own
activity (issue 16)."""

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import SecurityEvent
from tests.helpers import PASSWORD, PIN, sign_in, solved_captcha

pytestmark = pytest.mark.django_db

SECURITY = "/backoffice/security/"
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"
)
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()


def device(user_agent: str, address: str) -> Client:
    """A browser of the member's, signed in through the real form."""
    client = Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address)
    assert sign_in(client)["Location"] == "/backoffice/"
    return client


def other_ids(page: str) -> list[str]:
    return re.findall(r'<input type="hidden" name="session" value="(\d+)">', page)


def test_the_member_sees_every_device_the_current_one_marked(member):
    phone = device(PHONE, "203.0.113.7")
    desk = device(DESKTOP, "198.51.100.4")
    page = desk.get(SECURITY).content.decode()

    assert "iOS" not in page  # named as members know them
    assert "iPhone の Safari" in page and "Windows の Chrome" in page
    assert "203.0.113.7" in page and "198.51.100.4" in page
    current = re.search(r'<li class="session current">(.*?)</li>', page, re.S)[1]
    assert "Windows の Chrome" in current and "この端末" in current
    assert len(other_ids(page)) == 1  # the phone can be signed out; this device by Sign out
    desk.cookies["django_language"] = "en"
    english = desk.get(SECURITY).content.decode()
    assert "Chrome on Windows" in english and "This device" in english
    assert phone.get("/backoffice/").status_code == 200


def test_after_a_pin_change_this_device_still_shows_its_address(member):
    # A PIN or password change keeps this session signed in under a new key, which its
    # sign-in's log entry does not know: the device was listed with no address (trial).
    desk = device(DESKTOP, "198.51.100.4")
    new_pin = "583920"
    changed = desk.post(
        "/backoffice/profile/pin/",
        {"current_pin": PIN, "new_pin1": new_pin, "new_pin2": new_pin},
    )
    assert changed["Location"] == "/backoffice/profile/"
    page = desk.get(SECURITY).content.decode()
    current = re.search(r'<li class="session current">(.*?)</li>', page, re.S)[1]
    assert "Windows の Chrome" in current and "198.51.100.4" in current


def test_signing_out_one_device_really_ends_it(member):
    phone = device(PHONE, "203.0.113.7")
    desk = device(DESKTOP, "198.51.100.4")
    page = desk.get(SECURITY).content.decode()
    [phone_id] = other_ids(page)
    # The other device's button, beside the row tagged 「この端末」 for this one: not "sign out
    # this device" (helper-101 read it as the phone in hand).
    assert page.count("ログアウトさせる</button>") == 1 and "この端末をログアウト" not in page

    response = desk.post("/backoffice/security/sessions/end/", {"session": phone_id}, follow=True)

    assert "その端末をログアウトさせました。" in response.content.decode()
    assert phone.get("/backoffice/")["Location"].startswith("/login/")
    assert desk.get("/backoffice/").status_code == 200
    assert SecurityEvent.objects.filter(kind="session_ended", member=member).exists()
    assert other_ids(desk.get(SECURITY).content.decode()) == []


@pytest.mark.parametrize(
    ("page", "data"),
    [
        (
            "/backoffice/profile/password/",
            {"new_password1": "maple-Leaf-3391", "new_password2": "maple-Leaf-3391", "pin": PIN},
        ),
        (
            "/backoffice/profile/pin/",
            {"current_pin": PIN, "new_pin1": "583920", "new_pin2": "583920"},
        ),
    ],
)
def test_a_device_the_new_password_or_pin_signed_out_is_no_longer_listed(member, page, data):
    """Its session row stays until it expires, but it no longer signs anyone in: the trial
    saw a sign-in from before the password change listed, with a button to end it."""
    phone = device(PHONE, "203.0.113.7")
    desk = device(DESKTOP, "198.51.100.4")
    assert len(other_ids(desk.get(SECURITY).content.decode())) == 1

    assert desk.post(page, data).status_code == 302

    # Before the phone comes back (its next request deletes the row), the list is right.
    assert other_ids(desk.get(SECURITY).content.decode()) == []
    assert phone.get("/backoffice/")["Location"].startswith("/login/")


CHANGES = [
    (
        "/backoffice/profile/password/",
        {"new_password1": "maple-Leaf-3391", "new_password2": "maple-Leaf-3391", "pin": PIN},
    ),
    ("/backoffice/profile/pin/", {"current_pin": PIN, "new_pin1": "583920", "new_pin2": "583920"}),
]


@pytest.mark.parametrize(("page", "data"), CHANGES)
def test_a_device_that_changed_the_password_or_pin_can_be_signed_out_from_another(
    member, page, data
):
    # It stayed signed in under a new key its sign-in's entry did not hold: listed nowhere
    # else, "sign out everywhere else" said there was nowhere, and it stayed (helper-110).
    shared = device(PHONE, "203.0.113.7")
    assert shared.post(page, data).status_code == 302
    home = Client(HTTP_USER_AGENT=DESKTOP, REMOTE_ADDR="198.51.100.4")
    assert sign_in(home, password=data.get("new_password1", PASSWORD))["Location"] == "/backoffice/"

    page_at_home = home.get(SECURITY).content.decode()
    assert "iPhone の Safari" in page_at_home and "203.0.113.7" in page_at_home
    assert len(other_ids(page_at_home)) == 1
    response = home.post("/backoffice/security/sessions/end-others/", follow=True)
    assert "ほかの1台の端末をログアウトさせました。" in response.content.decode()
    assert shared.get("/backoffice/")["Location"].startswith("/login/")
    assert home.get("/backoffice/").status_code == 200


def test_sign_out_every_other_device(member):
    others = [device(PHONE, f"203.0.113.{n}") for n in (1, 2, 3)]
    desk = device(DESKTOP, "198.51.100.4")
    response = desk.post("/backoffice/security/sessions/end-others/", follow=True)

    assert "ほかの3台の端末をログアウトさせました。" in response.content.decode()
    for other in others:
        assert SESSION_KEY not in other.session
        assert other.get("/backoffice/")["Location"].startswith("/login/")
    assert desk.get("/backoffice/").status_code == 200
    again = desk.post("/backoffice/security/sessions/end-others/", follow=True)
    assert "ほかの端末ではログインしていません。" in again.content.decode()


@pytest.mark.parametrize("value", ["", "abc", "-1", "9" * 40, "１"])
def test_a_malformed_or_foreign_session_id_ends_nothing(member, english_member, value):
    stranger = Client()
    sign_in(stranger, "JPN1000002")
    theirs = SecurityEvent.objects.get(kind="sign_in", member=english_member).pk
    desk = device(DESKTOP, "198.51.100.4")

    for posted in (value, str(theirs)):
        response = desk.post("/backoffice/security/sessions/end/", {"session": posted}, follow=True)
        assert response.status_code == 200
        assert "その端末はすでにログアウトしています。" in response.content.decode()
    assert stranger.get("/backoffice/").status_code == 200  # the other member's, untouched


def test_the_current_device_cannot_be_ended_from_the_list(member):
    desk = device(DESKTOP, "198.51.100.4")
    mine = SecurityEvent.objects.get(kind="sign_in", member=member).pk
    desk.post("/backoffice/security/sessions/end/", {"session": mine})
    assert desk.get("/backoffice/").status_code == 200


def a_view_only_phone(member) -> Client:
    """The member's phone, signed in view only with the sub password they set."""
    from django.contrib.auth.hashers import make_password

    member.sub_password = make_password("willow-Creek-5512")
    member.save()
    viewer = Client(HTTP_USER_AGENT=PHONE)
    data = {"username": "JPN1000001", "password": "willow-Creek-5512", "view_only": "on"}
    viewer.post("/login/", {**data, **solved_captcha()})
    return viewer


def test_a_view_only_sign_in_is_marked_and_cannot_sign_others_out(member):
    viewer = a_view_only_phone(member)
    desk = device(DESKTOP, "198.51.100.4")

    assert "閲覧専用" in desk.get(SECURITY).content.decode()
    page = viewer.get(SECURITY).content.decode()
    assert "ログアウトさせる</button>" not in page
    assert viewer.post("/backoffice/security/sessions/end-others/").status_code == 403
    assert desk.get("/backoffice/").status_code == 200


def test_a_view_only_sign_in_the_new_sub_password_ended_is_no_longer_listed(member):
    # Its row stays until its next request; listed meanwhile, it read as signed in with a
    # button to end it (helper-112).
    viewer = a_view_only_phone(member)
    desk = device(DESKTOP, "198.51.100.4")
    assert "閲覧専用" in desk.get(SECURITY).content.decode()

    new = {"new_password1": "aspen-Grove-7720", "new_password2": "aspen-Grove-7720", "pin": PIN}
    assert desk.post("/backoffice/profile/sub-password/", new).status_code == 302

    page = desk.get(SECURITY).content.decode()
    listed = re.findall(r'<li class="session[^"]*">(.*?)</li>', page, re.S)
    assert len(listed) == 1 and "閲覧専用" not in listed[0] and other_ids(page) == []
    assert viewer.get("/backoffice/")["Location"].startswith("/login/")


def test_the_session_key_is_never_on_the_page_or_plain_in_the_log(member):
    desk = device(DESKTOP, "198.51.100.4")
    key = desk.session.session_key
    assert key not in desk.get(SECURITY).content.decode()
    event = SecurityEvent.objects.get(kind="sign_in", member=member)
    assert key not in str(event.details)


# --- A device signed out from elsewhere is told so ------------------------------------------

SIGNED_OUT_HERE = {
    "ja": "この端末はログアウトされました。お手数ですが、もう一度ログインしてください。",
    "en": "You were signed out on this device. Please sign in again.",
}


def where_it_lands(client, language: str = "ja") -> str:
    """The page a device opening the back office lands on: the sign-in page, once signed out."""
    client.cookies["django_language"] = language
    response = client.get("/backoffice/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/login/")
    return response.content.decode()


@pytest.mark.parametrize("engine", ["accounts.sessions", "accounts.cache_sessions"])
@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_device_signed_out_from_another_is_told_so_once(member, settings, engine, language):
    settings.SESSION_ENGINE = engine
    phone = device(PHONE, "203.0.113.7")
    desk = device(DESKTOP, "198.51.100.4")
    [phone_id] = other_ids(desk.get(SECURITY).content.decode())
    desk.post("/backoffice/security/sessions/end/", {"session": phone_id})

    assert SIGNED_OUT_HERE[language] in where_it_lands(phone, language)
    assert SIGNED_OUT_HERE[language] not in phone.get("/login/").content.decode()  # once


def test_every_other_device_signed_out_is_told_so(member):
    others = [device(PHONE, f"203.0.113.{n}") for n in (1, 2)]
    desk = device(DESKTOP, "198.51.100.4")
    desk.post("/backoffice/security/sessions/end-others/")

    for other in others:
        assert SIGNED_OUT_HERE["ja"] in where_it_lands(other)
    assert SIGNED_OUT_HERE["ja"] not in desk.get("/backoffice/").content.decode()


@pytest.mark.parametrize(("page", "data"), CHANGES)
def test_a_device_the_new_password_or_pin_signed_out_is_told_so(member, page, data):
    phone = device(PHONE, "203.0.113.7")
    desk = device(DESKTOP, "198.51.100.4")
    assert desk.post(page, data).status_code == 302

    assert SIGNED_OUT_HERE["en"] in where_it_lands(phone, "en")
    assert SIGNED_OUT_HERE["en"] not in phone.get("/login/").content.decode()
    assert SIGNED_OUT_HERE["en"] not in desk.get("/backoffice/").content.decode()


def test_a_view_only_device_the_new_sub_password_signed_out_is_told_so(member):
    viewer = a_view_only_phone(member)
    desk = device(DESKTOP, "198.51.100.4")
    new = {"new_password1": "aspen-Grove-7720", "new_password2": "aspen-Grove-7720", "pin": PIN}
    assert desk.post("/backoffice/profile/sub-password/", new).status_code == 302

    assert SIGNED_OUT_HERE["ja"] in where_it_lands(viewer)


def test_signing_out_on_the_device_itself_says_only_that(member):
    phone = device(PHONE, "203.0.113.7")

    page = phone.post("/logout/", follow=True).content.decode()

    assert "ログアウトしました。" in page and SIGNED_OUT_HERE["ja"] not in page
    assert SIGNED_OUT_HERE["ja"] not in phone.get("/backoffice/", follow=True).content.decode()


def signed_out_from_the_desk(member) -> Client:
    """A phone whose sign-in the desktop ended, not yet told."""
    phone = device(PHONE, "203.0.113.7")
    desk = device(DESKTOP, "198.51.100.4")
    [phone_id] = other_ids(desk.get(SECURITY).content.decode())
    desk.post("/backoffice/security/sessions/end/", {"session": phone_id})
    return phone


def test_a_device_signing_in_again_at_once_is_not_told_on_its_new_dashboard(member):
    # helper-158: the sign-in post took the notice and the new dashboard read it.
    phone = signed_out_from_the_desk(member)

    assert sign_in(phone, REMOTE_ADDR="203.0.113.7")["Location"] == "/backoffice/"

    assert SIGNED_OUT_HERE["ja"] not in phone.get("/backoffice/").content.decode()


def test_a_device_pressing_sign_out_after_it_was_ended_is_told_only_that(member):
    phone = signed_out_from_the_desk(member)

    page = phone.post("/logout/", follow=True).content.decode()

    assert SIGNED_OUT_HERE["ja"] not in page


def test_the_health_check_looks_up_no_member_for_a_signed_in_cookie(member):
    # helper-158: the notice's check looked the member up on every path, /healthz included.
    phone = device(PHONE, "203.0.113.7")
    with CaptureQueriesContext(connection) as queries:
        assert phone.get("/healthz").status_code == 200
    assert not [q for q in queries if "accounts_member" in q["sql"]]


def test_a_device_of_an_account_since_deactivated_is_told_to_contact_support(member):
    # helper-164: it was told "please sign in again", which would not work.
    phone = device(PHONE, "203.0.113.7")
    type(member).objects.filter(pk=member.pk).update(is_active=False)

    page = where_it_lands(phone)

    assert "このアカウントは現在ご利用いただけません。JENCOサポートにお問い合わせください。" in page
    assert SIGNED_OUT_HERE["ja"] not in page


def test_a_cookie_for_no_session_of_ours_hears_nothing(member):
    # Made up, or a session that simply ran out: nothing to tell, nothing told.
    for value in ("a" * 32, "0123456789abcdefghijklmnopqrstuv", "x" * 200):
        stranger = Client()
        stranger.cookies["sessionid"] = value
        assert SIGNED_OUT_HERE["ja"] not in where_it_lands(stranger)


# --- Activity --------------------------------------------------------------------------------


def test_activity_shows_sign_ins_failures_changes_and_staff_views_newest_first(
    member, support_agent
):
    attacker = Client(REMOTE_ADDR="192.0.2.66")
    sign_in(attacker, "ｊｐｎ１０００００１", "wrong-password-1")
    desk = device(DESKTOP, "198.51.100.4")
    staff = Client()
    staff.force_login(support_agent)
    assert staff.get(f"/admin/accounts/member/{member.pk}/change/").status_code == 200

    page = desk.get("/backoffice/security/activity/").content.decode()
    entries = re.findall(r"<strong>(.*?)</strong>", page)
    assert entries[:3] == [
        "JENCOサポートがお客様の情報を閲覧",
        "パスワードでログイン",
        "お客様の会員IDでのログイン失敗",
    ]
    assert "（サポート窓口）" in page and "192.0.2.66" in page
    assert support_agent.member_id not in page  # staff by team, never by name or ID
    desk.cookies["django_language"] = "en"
    english = desk.get("/backoffice/security/activity/").content.decode()
    assert "JENCO support opened your record" in english


def test_activity_is_the_members_own_and_paginated(member, english_member, settings):
    from accounts.audit import record

    for _ in range(30):
        record(None, "pin_failed", member)
    record(None, "pin_changed", english_member)
    desk = device(DESKTOP, "198.51.100.4")
    first = desk.get("/backoffice/security/activity/").content.decode()
    assert first.count('class="activity-entry') == 25 and "1 / 2 ページ" in first
    second = desk.get("/backoffice/security/activity/?page=2").content.decode()
    assert second.count('class="activity-entry') == 6
    assert "PINコードを変更" not in first + second  # the other member's
    assert desk.get("/backoffice/security/activity/?page=x%00").status_code == 200


def test_activity_keeps_to_its_days(member, settings):
    import datetime

    from django.utils import timezone

    from accounts.audit import record

    old = record(None, "pin_changed", member)
    old.created = timezone.now() - datetime.timedelta(days=settings.JENCO_ACTIVITY_DAYS + 1)
    old.save()
    desk = device(DESKTOP, "198.51.100.4")
    assert "PINコードを変更" not in desk.get("/backoffice/security/activity/").content.decode()
