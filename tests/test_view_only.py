"""The sub password as a view-only sign-in (issue 15): the back office, read-only."""

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from accounts import view_only
from accounts.ja_accounts import ja_member
from accounts.models import EmailChangeRequest, Member, SecurityEvent
from backoffice.models import Invoice, Quote
from tests.helpers import (
    DEFAULT_PASSWORD,
    DEFAULT_PIN,
    PASSWORD,
    PIN,
    finished_member,
    solved_captcha,
    wrong_captcha,
)
from tests.test_first_sign_in import CountingHasher
from tests.test_hostile_input import HOSTILE_VALUES, echo_problems, has_message, post

pytestmark = pytest.mark.django_db

SUB_PASSWORD = "willow-Creek-5512"
NEW_PIN = "739264"
NEW_PASSWORD = "cedar-Harbour-8841"
INVALID_LOGIN = {
    "ja": "会員IDまたはパスワードが正しくありません",
    "en": "The member ID or password is incorrect",
}
REFUSED = {
    "ja": "変更するには、ログアウトしてからメインパスワードでログインし直してください。",
    "en": "To make a change, sign out and sign in again with your main password.",
}
BADGE = {"ja": "閲覧専用", "en": "View only"}


@pytest.fixture
def member(member):
    """The shared member, with a sub password set."""
    member.sub_password = make_password(SUB_PASSWORD)
    member.save(update_fields=["sub_password"])
    return member


@pytest.fixture
def english_member(english_member):
    english_member.sub_password = make_password(SUB_PASSWORD)
    english_member.save(update_fields=["sub_password"])
    return english_member


def sign_in(client, member_id="JPN1000001", password=SUB_PASSWORD, *, view_only=True, **extra):
    data = {"username": member_id, "password": password, **solved_captcha(), **extra}
    if view_only:
        data["view_only"] = "on"
    return client.post("/login/", data)


@pytest.fixture
def viewer(client, member, mailoutbox):
    """Signed in view only, through the sign-in form."""
    assert sign_in(client)["Location"] == "/backoffice/"
    mailoutbox.clear()
    return client


def lang(client, language):
    client.cookies["django_language"] = language
    return client


def is_view_only(client) -> bool:
    return view_only.SESSION_KEY in client.session


# --- Signing in -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "language, label, help_text",
    [
        (
            "ja",
            "閲覧専用：サブパスワードでログイン",
            "チェックを入れた場合は、パスワード欄にメインパスワードではなくサブパスワードを入力してください。",
        ),
        (
            "en",
            "View only: sign in with the sub password",
            "If ticked, type the sub password in the password box, not the main one.",
        ),
    ],
)
def test_the_sign_in_page_offers_a_view_only_box(client, language, label, help_text):
    page = client.get("/login/", headers={"accept-language": language}).content.decode()

    assert f'<label for="id_view_only">{label}</label>' in page
    # Which password goes in the box, said before a post (helper-101 typed the main one).
    assert f'<div class="helptext" id="id_view_only_helptext">{help_text}</div>' in page
    assert (
        '<input type="checkbox" name="view_only" aria-describedby="id_view_only_helptext"'
        ' id="id_view_only">'
    ) in page


def test_the_sub_password_with_the_box_ticked_opens_the_back_office_view_only(
    client, member, mailoutbox
):
    response = sign_in(client)

    assert response["Location"] == "/backoffice/"
    assert client.session[SESSION_KEY] == str(member.pk)
    assert is_view_only(client)
    assert SecurityEvent.objects.filter(member=member, kind="sign_in_view_only").count() == 1
    assert not SecurityEvent.objects.filter(member=member, kind="sign_in").exists()
    page = client.get("/backoffice/").content.decode()
    assert '<p class="view-only-badge">閲覧専用</p>' in page


def test_the_security_page_says_it_is_view_only_as_profile_and_billing_do(viewer):
    # It shows the devices and the activity to a view-only sign-in, without the notice the
    # other readable pages have, and the sub-password page did not list it (helper-97).
    notice = "閲覧専用でログインしています。ご覧いただけますが、変更はできません。"
    assert notice in viewer.get("/backoffice/security/").content.decode()
    refused = viewer.get("/backoffice/profile/pin/").content.decode()
    assert "ダッシュボード、プロフィール、請求書、セキュリティ" in refused


@pytest.mark.parametrize(
    "who, subject, words",
    [
        (
            "JPN1000001",
            "【JENCO】サブパスワードで閲覧専用ログインがありました",
            "閲覧専用ログインがありました",
        ),
        ("JPN1000002", "[JENCO] Someone signed in view only with your sub password", "view only"),
    ],
)
def test_each_view_only_sign_in_mails_the_member_in_their_language(
    client, member, english_member, mailoutbox, who, subject, words
):
    for _ in range(2):
        Client().post(
            "/login/",
            {"username": who, "password": SUB_PASSWORD, "view_only": "on", **solved_captcha()},
        )

    assert [m.subject for m in mailoutbox] == [subject, subject]
    assert words in mailoutbox[0].body
    assert mailoutbox[0].to == [Member.objects.get(member_id=who).email]
    assert SUB_PASSWORD not in mailoutbox[0].body


def test_a_sign_in_with_the_main_password_mails_nothing(client, member, mailoutbox):
    sign_in(client, password=PASSWORD, view_only=False)
    assert not is_view_only(client)
    assert mailoutbox == []


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize(
    "member_id, password, ticked",
    [
        ("JPN1000001", SUB_PASSWORD, False),  # the sub password, box not ticked
        ("JPN1000001", PASSWORD, True),  # the main password, box ticked
        ("JPN1000001", "not-the-sub-password", True),  # a wrong sub password
        ("JPN1000002", "not-the-sub-password", True),  # has none
        ("JPN7777777", SUB_PASSWORD, True),  # nobody
    ],
    ids=["sub password unticked", "main password ticked", "wrong", "none set", "unknown ID"],
)
def test_every_failure_reads_the_same_and_says_nothing_about_a_sub_password(
    client, member, mailoutbox, language, member_id, password, ticked
):
    finished_member("JPN1000002", "alice@example.com", "Alice Smith")  # no sub password
    lang(client, language)

    response = sign_in(client, member_id, password, view_only=ticked)

    page = response.content.decode()
    assert response.status_code == 200
    assert SESSION_KEY not in client.session
    assert INVALID_LOGIN[language] in page
    errors = re.findall(r'<ul class="errorlist[^"]*">.*?</ul>', page, re.S)
    assert len(errors) == 1  # the one message, nothing about a sub password
    assert password not in page  # never sent back
    assert ('id="id_view_only" checked' in page) is ticked  # the box as it was sent
    assert mailoutbox == []
    assert SecurityEvent.objects.filter(kind="sign_in_failed").count() == 1


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_wrong_captcha_with_the_box_ticked_checks_no_password(client, member, language):
    lang(client, language)
    data = {"username": "JPN1000001", "password": SUB_PASSWORD, "view_only": "on"}
    page = client.post("/login/", {**data, **wrong_captcha()}).content.decode()

    assert {"ja": "画像の数字と一致しません", "en": "did not match the picture"}[language] in page
    assert SESSION_KEY not in client.session


@pytest.mark.parametrize(
    "username, password",
    [
        ("JPN1000001", SUB_PASSWORD),  # right
        ("JPN1000001", "not-the-sub-password"),  # wrong
        ("JPN1000001", PASSWORD),  # the main password, ticked
        ("JPN1000002", SUB_PASSWORD),  # a member without one
        ("JPN2000001", DEFAULT_PASSWORD),  # migrated, the default password ticked
        ("JPN2000002", SUB_PASSWORD),  # migrating, with a sub password stored
        ("JPN7777777", SUB_PASSWORD),  # nobody
    ],
)
def test_every_view_only_attempt_costs_exactly_one_hash(
    client, settings, member, migrated_member, username, password
):
    settings.PASSWORD_HASHERS = ["tests.test_first_sign_in.CountingHasher"]
    hasher = CountingHasher()
    Member.objects.filter(pk=member.pk).update(
        password=hasher.encode(PASSWORD, hasher.salt()),
        sub_password=hasher.encode(SUB_PASSWORD, hasher.salt()),
    )
    finished_member("JPN1000002", "alice@example.com", "Alice Smith")
    migrating = ja_member("JPN2000002", name="佐藤 次郎", email="jiro@example.com")
    migrating.sub_password = hasher.encode(SUB_PASSWORD, hasher.salt())
    migrating.save()
    from accounts import credentials

    for default in settings.JENCO_DEFAULT_PASSWORDS:  # warm the per-process default hashes
        credentials._default_hash(default)
    CountingHasher.count = 0

    sign_in(client, username, password)

    assert CountingHasher.count == 1


# --- Members still on the migration steps ---------------------------------------------------


def test_the_sign_in_page_s_captcha_shows_to_a_view_only_session(viewer, settings):
    """Signing in again with the main password starts from the sign-in page (a post that
    fails shows it to a view-only session): its picture, audio and ↻ were refused (403)."""
    page = sign_in(viewer, password="not-the-password", view_only=False).content.decode()
    image = re.search(r'src="(/captcha/image/\w+/)"', page)[1]
    assert viewer.get(image)["Content-Type"] == "image/png"
    assert viewer.get(image.rstrip("/") + "@2/")["Content-Type"] == "image/png"
    if settings.CAPTCHA_FLITE_PATH:
        audio = re.search(r'href="(/captcha/audio/\w+\.wav)"', page)[1]
        assert viewer.get(audio)["Content-Type"] == "audio/wav"
    refreshed = viewer.get("/captcha/refresh/", headers={"x-requested-with": "XMLHttpRequest"})
    assert refreshed.json()["image_url"].startswith("/captcha/image/")
    assert is_view_only(viewer)  # still the view-only session, nothing raised


def test_a_migrating_member_cannot_sign_in_view_only(client, migrated_member):
    response = sign_in(client, "JPN2000001", DEFAULT_PASSWORD)
    assert INVALID_LOGIN["ja"] in response.content.decode()
    assert SESSION_KEY not in client.session


def test_not_even_with_a_sub_password_left_from_elsewhere(client, migrated_member):
    migrated_member.sub_password = make_password(SUB_PASSWORD)
    migrated_member.on_default_pin = False
    migrated_member.pin = make_password(PIN)
    migrated_member.save()  # at the password step, with a sub password somehow stored

    response = sign_in(client, "JPN2000001", SUB_PASSWORD)

    assert INVALID_LOGIN["ja"] in response.content.decode()
    assert SESSION_KEY not in client.session


def test_a_migrating_member_cannot_reach_the_sub_password_page(migrated_client):
    response = migrated_client.get("/backoffice/profile/sub-password/")
    assert response["Location"] == "/backoffice/profile/pin/"  # the gate: the PIN step first


# --- Lockout: the same counters, the same pause ---------------------------------------------


def test_wrong_sub_passwords_count_towards_the_same_lockout(client, member):
    for n in range(5):
        sign_in(client, password="not-the-sub-password", REMOTE_ADDR=f"10.0.0.{n}")
        sign_in(client, password="not-the-password", view_only=False, REMOTE_ADDR=f"10.0.1.{n}")

    for ticked, password in [(True, SUB_PASSWORD), (False, PASSWORD)]:
        response = Client().post(
            "/login/",
            {
                "username": "JPN1000001",
                "password": password,
                **({"view_only": "on"} if ticked else {}),
                **solved_captcha(),
            },
            REMOTE_ADDR="10.9.9.9",
        )
        assert response.status_code == 429
        assert "一時的にログインを停止" in response.content.decode()


def test_a_view_only_sign_in_does_not_clear_the_failures_against_the_id(client, member):
    for n in range(9):
        sign_in(client, password="not-the-password", view_only=False, REMOTE_ADDR=f"10.0.0.{n}")
    Client().post(
        "/login/",
        {"username": "JPN1000001", "password": SUB_PASSWORD, "view_only": "on", **solved_captcha()},
    )

    # Whoever holds the sub password cannot buy more guesses at the main password.
    sign_in(Client(), password="still-not-the-password", view_only=False)
    response = sign_in(Client(), password=PASSWORD, view_only=False)
    assert response.status_code == 429


# --- What a view-only session sees ----------------------------------------------------------


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize(
    "path",
    ["/backoffice/", "/backoffice/profile/", "/backoffice/billing/", "/backoffice/billing/INV-1/"],
)
def test_dashboard_profile_and_billing_show_with_the_header_saying_view_only(
    viewer, member, language, path
):
    Invoice.objects.create(
        member=member, number="INV-1", issued="2026-11-01", due="2026-11-30", amount_yen=12345
    )
    Quote.objects.create(
        symbol="NIKKEI", last="15676.9", change="+5.0", percent="+0.03", as_of=timezone.now()
    )
    lang(viewer, language)

    response = viewer.get(path)

    page = response.content.decode()
    assert response.status_code == 200
    assert f'<p class="view-only-badge">{BADGE[language]}</p>' in page
    assert '<span class="symbol" title="">NIKKEI</span> <span class="last">15676.9</span>' in page
    assert "<form" not in page[page.index("</header>") : page.index("<footer")]  # nothing to send


def test_the_invoice_pdf_downloads(viewer, member):
    Invoice.objects.create(
        member=member, number="INV-1", issued="2026-11-01", due="2026-11-30", amount_yen=12345
    )
    response = viewer.get("/backoffice/billing/INV-1/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_profile_offers_no_change(viewer, member, language):
    page = lang(viewer, language).get("/backoffice/profile/").content.decode()

    assert "/backoffice/profile/email/" not in page
    assert "/backoffice/profile/pin/" not in page
    assert "/backoffice/profile/password/" not in page
    assert "/backoffice/profile/sub-password/" not in page
    assert 'action="/i18n/setlang/"' in page  # the header's switch (the cookie only)
    assert page.count('action="/i18n/setlang/"') == 1  # not the account's language buttons
    assert "<dd>日本語" in page  # the account's language, as text
    assert {"ja": "変更はできません。", "en": "nothing can be changed."}[language] in page


def test_the_dashboard_shows_only_what_can_be_opened(viewer):
    page = viewer.get("/backoffice/").content.decode()
    shortcuts = page[page.index('class="card shortcuts"') :]
    assert "/backoffice/profile/" in shortcuts and "/backoffice/billing/" in shortcuts
    assert "/backoffice/profile/pin/" not in shortcuts
    assert "閲覧専用としてログインしています" in page


# --- Every change is refused, and never reaches a form -------------------------------------

FORM_PAGES = [
    "/backoffice/profile/pin/",
    "/backoffice/profile/password/",
    "/backoffice/profile/sub-password/",
    "/backoffice/profile/email/",
    "/backoffice/profile/email/confirm/some-token/",
    "/backoffice/first-sign-in/mailbox/",
    "/pin/forgot/",
    "/password/forgot/",
    "/admin/",
    "/admin/accounts/member/",
]


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize("path", FORM_PAGES)
def test_no_form_page_opens(viewer, member, language, path):
    member.is_staff = member.is_superuser = True  # not even a staff member's admin
    member.save(update_fields=["is_staff", "is_superuser"])
    response = lang(viewer, language).get(path)

    page = response.content.decode()
    assert response.status_code == 403
    assert REFUSED[language] in page
    assert f'<p class="view-only-badge">{BADGE[language]}</p>' in page
    assert not re.search(r'name="(new_|current_|pin|email|code)', page)


def changes_posted(member):
    """Each change's form, filled in right, as a full session would post it."""
    return [
        (
            "/backoffice/profile/pin/",
            {"current_pin": PIN, "new_pin1": NEW_PIN, "new_pin2": NEW_PIN},
        ),
        (
            "/backoffice/profile/password/",
            {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD, "pin": PIN},
        ),
        (
            "/backoffice/profile/sub-password/",
            {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD, "pin": PIN},
        ),
        ("/backoffice/profile/sub-password/", {"remove": "1", "pin": PIN}),
        ("/backoffice/profile/email/", {"email": "taro.new@example.com", "pin": PIN}),
        ("/backoffice/profile/email/confirm/new-address/", {}),
        ("/pin/forgot/", {}),
        ("/password/forgot/", {"username": "JPN1000001", "email": member.email}),
        ("/backoffice/first-sign-in/mailbox/", {"resend": "1"}),
        ("/admin/accounts/member/", {"action": "delete_selected", "_selected_action": member.pk}),
    ]


@pytest.mark.parametrize("language", ["ja", "en"])
def test_every_change_is_refused_and_nothing_changes(viewer, member, mailoutbox, language):
    before = Member.objects.values().get(pk=member.pk)
    events = SecurityEvent.objects.count()
    lang(viewer, language)

    for path, data in changes_posted(member):
        response = viewer.post(path, {**data, **solved_captcha()})
        assert response.status_code == 403, path
        assert REFUSED[language] in response.content.decode(), path

    assert Member.objects.values().get(pk=member.pk) == before  # not even a PIN try counted
    assert SecurityEvent.objects.count() == events
    assert not EmailChangeRequest.objects.exists()
    assert mailoutbox == []
    assert is_view_only(viewer)


def test_the_language_switch_changes_the_page_not_the_account(viewer, member):
    response = viewer.post("/i18n/setlang/", {"language": "en", "next": "/backoffice/"})

    assert response["Location"] == "/backoffice/"
    assert response.cookies["django_language"].value == "en"
    assert "View only" in viewer.get("/backoffice/").content.decode()
    assert Member.objects.get(pk=member.pk).preferred_language == "ja"
    assert not SecurityEvent.objects.filter(kind="language_changed").exists()


def test_a_full_session_still_saves_the_language(client, member):
    client.force_login(member)
    client.post("/i18n/setlang/", {"language": "en", "next": "/backoffice/"})
    assert Member.objects.get(pk=member.pk).preferred_language == "en"


def test_signing_out_works(viewer, member):
    response = viewer.post("/logout/")

    assert response["Location"] == "/login/"
    assert SESSION_KEY not in viewer.session
    assert not Session.objects.exists()
    assert SecurityEvent.objects.filter(member=member, kind="sign_out").exists()


def test_head_of_a_form_page_is_refused_too(viewer):
    assert viewer.head("/backoffice/profile/pin/").status_code == 403


def test_a_view_nobody_marked_is_refused_by_default(rf):
    """What a new view gets: the middleware refuses it unless it is marked."""
    from django.http import HttpResponse

    def new_view(request):
        return HttpResponse("changed something")

    request = rf.get("/backoffice/new/")
    request.view_only = True
    response = view_only.ViewOnlyMiddleware(lambda r: None).process_view(request, new_view, (), {})
    assert response.status_code == 403
    assert view_only.readable(new_view) is new_view
    assert (
        view_only.ViewOnlyMiddleware(lambda r: None).process_view(request, new_view, (), {}) is None
    )
    post = rf.post("/backoffice/new/")
    post.view_only = True
    assert view_only.ViewOnlyMiddleware(lambda r: None).process_view(post, new_view, (), {})


def every_view():
    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern), entry.callback

    return list(walk(get_resolver().url_patterns))


def test_only_these_views_open_to_a_view_only_session():
    """A view marked readable or allowed is a decision: this list changes with it."""
    marked = {
        route: "allowed" if getattr(view, "view_only_allowed", False) else "readable"
        for route, view in every_view()
        if getattr(view, "view_only_allowed", False) or getattr(view, "view_only_readable", False)
    }
    assert marked == {
        "": "readable",
        "login/": "allowed",
        "login/code/": "allowed",  # the second step of a new sign-in: a new session
        "login/code/passkey/": "allowed",  # the same with a passkey
        "login/passkey/": "allowed",  # a new sign-in with a passkey alone
        "logout/": "allowed",
        "backoffice/": "readable",
        "backoffice/security/": "readable",
        "backoffice/security/activity/": "readable",
        "backoffice/profile/": "readable",
        "backoffice/billing/": "readable",
        "backoffice/billing/<invoice_number:number>/": "readable",
        "backoffice/billing/<invoice_number:number>/pdf/": "readable",
        "i18n/setlang/": "allowed",
        # The sign-in page's captcha, which a view-only session signing in again must read.
        "captcha/refresh/": "readable",
        "^captcha/image/(?P<key>\\w+)/$": "readable",
        "^captcha/image/(?P<key>\\w+)@2/$": "readable",
        "^captcha/audio/(?P<key>\\w+)\\.wav$": "readable",
        "healthz": "readable",
        "favicon.ico": "readable",
    }


# --- Never raised to a full session ---------------------------------------------------------


def test_a_sign_in_page_left_open_before_a_view_only_sign_in_says_why_it_did_nothing(member):
    # Its CSRF token is the one the view-only sign-in replaced: the main password sent from
    # it was dropped without a word on the view-only dashboard (helper-138).
    browser = Client(enforce_csrf_checks=True)
    old_tab = browser.get("/login/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', old_tab)[1]
    view_only_data = {"username": "JPN1000001", "password": SUB_PASSWORD, "view_only": "on"}
    data = {"csrfmiddlewaretoken": token, **solved_captcha()}
    assert browser.post("/login/", {**data, **view_only_data})["Location"] == "/backoffice/"

    main = {"csrfmiddlewaretoken": token, "username": "JPN1000001", "password": PASSWORD}
    page = browser.post("/login/", {**main, **solved_captcha()}, follow=True).content.decode()

    assert "閲覧専用でログイン中のため、そのログインは行われませんでした" in page
    assert is_view_only(browser)
    again = browser.post("/login/", {**data, **view_only_data}, follow=True)  # a double tap
    assert "そのログインは行われませんでした" not in again.content.decode()


def test_the_main_password_from_a_view_only_session_starts_a_fresh_session(viewer, member):
    old_key = viewer.session.session_key
    assert viewer.get("/login/")["Location"] == "/backoffice/"  # no sign-in form offered

    response = sign_in(viewer, password=PASSWORD, view_only=False)

    assert response["Location"] == "/backoffice/"
    assert viewer.session.session_key != old_key
    assert not is_view_only(viewer)
    assert not Session.objects.filter(session_key=old_key).exists()
    assert viewer.get("/backoffice/profile/pin/").status_code == 200
    stale = Client()
    stale.cookies["sessionid"] = old_key
    assert stale.get("/backoffice/")["Location"] == "/login/?next=/backoffice/"


def test_a_wrong_main_password_leaves_the_session_view_only(viewer):
    sign_in(viewer, password="not-the-password", view_only=False)
    assert viewer.get("/backoffice/profile/pin/").status_code == 403


def test_a_view_only_sign_in_from_a_full_session_starts_a_view_only_one(client, member):
    sign_in(client, password=PASSWORD, view_only=False)
    session = client.session
    session["_email_change_token"] = "kept?"
    session.save()
    old_key = client.session.session_key

    sign_in(client)

    assert client.session.session_key != old_key
    assert is_view_only(client)
    assert "_email_change_token" not in client.session
    assert client.get("/backoffice/profile/pin/").status_code == 403


def test_a_session_whose_marker_does_not_match_ends(viewer, member):
    """The marker is a fingerprint of the sub password's hash, checked on every request."""
    session = viewer.session
    session[view_only.SESSION_KEY] = "forged"
    session.save()
    assert viewer.get("/backoffice/")["Location"] == "/login/?next=/backoffice/"


# --- Changing or removing the sub password ends view-only sessions --------------------------


@pytest.mark.parametrize(
    "data",
    [
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD, "pin": PIN},
        {"remove": "1", "pin": PIN},
    ],
    ids=["changed", "removed"],
)
def test_changing_or_removing_the_sub_password_ends_view_only_sessions(viewer, member, data):
    own = Client()
    own.force_login(member)

    response = own.post("/backoffice/profile/sub-password/", data)

    assert response["Location"] == "/backoffice/profile/"
    assert viewer.get("/backoffice/")["Location"] == "/login/?next=/backoffice/"
    assert SESSION_KEY not in viewer.session
    assert own.get("/backoffice/").status_code == 200  # the member's own session stays


@pytest.mark.parametrize(
    "path, data",
    [
        (
            "/backoffice/profile/password/",
            {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD, "pin": PIN},
        ),
        (
            "/backoffice/profile/pin/",
            {"current_pin": PIN, "new_pin1": NEW_PIN, "new_pin2": NEW_PIN},
        ),
    ],
    ids=["password", "PIN"],
)
def test_a_new_main_password_or_pin_ends_view_only_sessions_too(viewer, member, path, data):
    own = Client()
    own.force_login(member)
    assert own.post(path, data)["Location"] == "/backoffice/profile/"
    assert viewer.get("/backoffice/")["Location"] == "/login/?next=/backoffice/"


def test_after_removal_the_sub_password_no_longer_signs_in(client, member):
    own = Client()
    own.force_login(member)
    own.post("/backoffice/profile/sub-password/", {"remove": "1", "pin": PIN})

    response = sign_in(client)

    assert INVALID_LOGIN["ja"] in response.content.decode()
    assert SESSION_KEY not in client.session


# --- The sub password page ------------------------------------------------------------------


@pytest.mark.parametrize(
    "language, explained, state",
    [
        (
            "ja",
            "閲覧専用ログイン",
            "サブパスワードは設定されていません。閲覧専用ログインはできません。",
        ),
        ("en", "View-only sign-in", "No sub password is set: view-only sign-in is off."),
    ],
)
def test_the_page_explains_the_view_only_sign_in_and_says_none_is_set(
    client, language, explained, state
):
    member = finished_member("JPN1000009", "ken@example.com", "Ken")
    client.force_login(member)
    page = lang(client, language).get("/backoffice/profile/sub-password/").content.decode()

    assert f"<h2>{explained}</h2>" in page
    assert state in page
    assert 'name="remove"' not in page  # nothing to remove


@pytest.mark.parametrize(
    "language, state",
    [
        ("ja", "サブパスワードが設定されています。閲覧専用ログインができます。"),
        ("en", "A sub password is set: view-only sign-in is on."),
    ],
)
def test_the_page_says_one_is_set_and_offers_to_remove_it(client, member, language, state):
    client.force_login(member)
    page = lang(client, language).get("/backoffice/profile/sub-password/").content.decode()

    assert state in page
    assert 'name="remove"' in page
    assert page.count('name="pin"') == 2 and 'id="id_remove_pin"' in page


@pytest.mark.parametrize(
    "language, message",
    [
        ("ja", "サブパスワードを設定しました。これで閲覧専用でログインできます。"),
        ("en", "Your sub password has been set. You can now sign in view only with it."),
    ],
)
def test_setting_one_says_so_and_then_signs_in_view_only(client, mailoutbox, language, message):
    member = finished_member("JPN1000009", "ken@example.com", "Ken", preferred_language=language)
    client.force_login(member)
    lang(client, language)

    response = client.post(
        "/backoffice/profile/sub-password/",
        {"new_password1": SUB_PASSWORD, "new_password2": SUB_PASSWORD, "pin": PIN},
        follow=True,
    )

    assert message in response.content.decode()
    assert SecurityEvent.objects.filter(member=member, kind="sub_password_changed").count() == 1
    assert len(mailoutbox) == 1
    viewer = Client()
    sign_in(viewer, "JPN1000009")
    assert is_view_only(viewer)


@pytest.mark.parametrize(
    "language, message, subject",
    [
        (
            "ja",
            "サブパスワードを削除しました。閲覧専用ログインはできなくなりました。",
            "【JENCO】サブパスワードが削除されました",
        ),
        (
            "en",
            "Your sub password has been removed. View-only sign-in is off.",
            "[JENCO] Your sub password was removed",
        ),
    ],
)
def test_removing_it_with_the_pin(client, member, mailoutbox, language, message, subject):
    Member.objects.filter(pk=member.pk).update(preferred_language=language)
    client.force_login(member)
    lang(client, language)

    response = client.post(
        "/backoffice/profile/sub-password/", {"remove": "1", "pin": PIN}, follow=True
    )

    assert message in response.content.decode()
    assert Member.objects.get(pk=member.pk).sub_password == ""
    assert SecurityEvent.objects.filter(member=member, kind="sub_password_removed").count() == 1
    assert [m.subject for m in mailoutbox] == [subject]


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize(
    "data, messages, pin_tries",
    [
        (
            {"pin": "999999"},
            {"ja": "PINコードが正しくありません", "en": "The PIN is incorrect"},
            1,
        ),
        ({"pin": ""}, {"ja": "この項目は必須です", "en": "This field is required."}, 0),
        ({}, {"ja": "この項目は必須です", "en": "This field is required."}, 0),
        (
            {"pin": "1" * 2000},
            {"ja": "PINコードは6桁の数字で入力してください。", "en": "Your PIN must be 6 digits."},
            0,
        ),
        (
            {"pin": PIN, "version": "stale"},
            {"ja": "ページを開いた後に", "en": "already changed after the page was opened"},
            0,
        ),
    ],
    ids=["wrong PIN", "empty PIN", "no PIN", "huge PIN", "stale page"],
)
def test_a_removal_that_is_not_confirmed_changes_nothing(
    client, member, mailoutbox, language, data, messages, pin_tries
):
    client.force_login(member)
    before = Member.objects.get(pk=member.pk).sub_password

    response = lang(client, language).post(
        "/backoffice/profile/sub-password/", {"remove": "1", **data}
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert messages[language] in page
    assert Member.objects.get(pk=member.pk).sub_password == before
    assert Member.objects.get(pk=member.pk).pin_failures == pin_tries
    assert mailoutbox == []
    assert 'name="new_password1"' in page  # the rest of the page as before


@pytest.mark.parametrize(
    "language, message",
    [("ja", "削除するサブパスワードはありません。"), ("en", "You have no sub password to remove.")],
)
def test_removing_when_there_is_none_says_so_and_costs_no_pin_try(client, language, message):
    member = finished_member("JPN1000009", "ken@example.com", "Ken")
    client.force_login(member)

    page = (
        lang(client, language)
        .post("/backoffice/profile/sub-password/", {"remove": "1", "pin": "999999"})
        .content.decode()
    )

    assert message in page
    assert Member.objects.get(pk=member.pk).pin_failures == 0


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize(
    "new1, new2, messages",
    [
        (
            SUB_PASSWORD,
            "willow-Creek-5513",
            {
                "ja": "パスワードが2回とも同じではありません。",
                "en": "The two passwords do not match.",
            },
        ),
        (
            PASSWORD,
            PASSWORD,
            {
                "ja": "サブパスワードはメインパスワードと別のものにしてください。",
                "en": "Your sub password must be different from your main password.",
            },
        ),
        ("short1", "short1", {"ja": "短すぎます", "en": "too short"}),
        (
            DEFAULT_PASSWORD,
            DEFAULT_PASSWORD,
            {"ja": "デフォルトのパスワードは使えません", "en": "published default"},
        ),
        ("", "", {"ja": "この項目は必須です", "en": "This field is required."}),
    ],
    ids=["mismatch", "same as main", "too short", "published default", "empty"],
)
def test_a_bad_new_sub_password_changes_nothing(client, language, new1, new2, messages):
    member = finished_member("JPN1000009", "ken@example.com", "Ken")
    client.force_login(member)

    response = lang(client, language).post(
        "/backoffice/profile/sub-password/",
        {"new_password1": new1, "new_password2": new2, "pin": PIN},
    )

    page = response.content.decode()
    assert messages[language] in page
    assert Member.objects.get(pk=member.pk).sub_password == ""
    assert new1 not in page or new1 == ""  # never sent back


@pytest.mark.parametrize("pin", ["", "999999", PIN])
@pytest.mark.parametrize(
    ("page", "guess", "told"),
    [
        (
            "/backoffice/profile/sub-password/",
            PASSWORD,
            "Your sub password must be different from your main password.",
        ),
        (
            "/backoffice/profile/password/",
            SUB_PASSWORD,
            "Your main password must be different from your sub password.",
        ),
    ],
    ids=["sub password page, the main password", "password page, the sub password"],
)
def test_a_guess_at_the_other_password_is_told_only_with_the_pin(client, page, guess, told, pin):
    # Told before the PIN was checked, even with none, the page answered whoever held the
    # session, without limit or log, whether a guess was the member's password (helper-110).
    # While the PIN is locked, the right one is refused too: nothing is compared.
    member = finished_member("JPN1000009", "ken@example.com", "Ken")
    member.sub_password = make_password(SUB_PASSWORD)
    member.save()
    client.force_login(member)
    lang(client, "en")  # the page's own words in Japanese repeat the message's
    data = {"new_password1": guess, "new_password2": guess, "pin": pin}

    answer = client.post(page, data).content.decode()
    assert (told in answer) == (pin == PIN)

    Member.objects.filter(pk=member.pk).update(
        pin_locked_until=timezone.now() + timezone.timedelta(minutes=10)
    )
    assert told not in client.post(page, data).content.decode()
    member.refresh_from_db()
    assert member.check_password(PASSWORD)
    assert check_password(SUB_PASSWORD, member.sub_password)


def test_a_wrong_pin_when_setting_one_changes_nothing(client, member):
    client.force_login(member)
    page = client.post(
        "/backoffice/profile/sub-password/",
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD, "pin": DEFAULT_PIN},
    ).content.decode()
    assert "PINコードが正しくありません" in page
    assert check_password(SUB_PASSWORD, Member.objects.get(pk=member.pk).sub_password)


# --- What it costs --------------------------------------------------------------------------


def test_a_view_only_sign_in_costs_what_a_sign_in_does_and_a_page_view_writes_nothing(
    client, member, settings, django_assert_max_num_queries
):
    """tests/test_cost.py's budget: 12 statements, 2 write transactions, with the session in
    the database; then a page view of at most 3 queries that writes nothing."""
    from tests.test_cost import WriteTransactions, the_sign_in_page

    settings.SESSION_ENGINE = "accounts.sessions"
    captcha, page_statements, page_writes = the_sign_in_page(client)
    data = {"username": "JPN1000001", "password": SUB_PASSWORD, "view_only": "on", **captcha}
    with (
        django_assert_max_num_queries(12 - page_statements),
        WriteTransactions() as writes,
    ):
        response = client.post("/login/", data)
    assert response["Location"] == "/backoffice/"
    assert page_writes + writes.count == 2
    assert is_view_only(client)

    with django_assert_max_num_queries(3), WriteTransactions() as writes:
        assert client.get("/backoffice/").status_code == 200
    assert writes.count == 0


# --- Hostile input in the new fields ---------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=lambda v: repr(v[:24]))
def test_hostile_values_in_the_view_only_box_and_the_remove_button_are_answered_cleanly(
    member, value
):
    sign_in_page = Client(raise_request_exception=False)
    data = {"username": "JPN1000001", "password": "not-the-sub-password", "view_only": value}
    answer = post(sign_in_page, "/login/", {**data, **solved_captcha()})
    assert answer.status_code == 200 and has_message(answer.content.decode())
    assert echo_problems(value, answer.content.decode()) == []

    own = Client(raise_request_exception=False)
    own.force_login(member)
    before = Member.objects.values_list("sub_password", "pin_failures").get(pk=member.pk)
    answer = post(own, "/backoffice/profile/sub-password/", {"remove": value, "pin": "999999"})
    assert answer.status_code == 200 and has_message(answer.content.decode())
    assert echo_problems(value, answer.content.decode()) == []
    assert Member.objects.values_list("sub_password", "pin_failures").get(pk=member.pk) == (
        before[0],
        1,  # a wrong PIN, counted once, whatever the button said
    )


def test_a_member_is_mailed_at_most_ten_notices_an_hour(client, member, mailoutbox, settings):
    # One client signing in view-only 12 times a second queued a mail each, ahead of every
    # member's mailbox codes and reset links (helper-134). Each sign-in is still logged.
    for _ in range(12):
        client.cookies.clear()
        assert sign_in(client)["Location"] == "/backoffice/"
    assert len(mailoutbox) == settings.JENCO_NOTICES_PER_MEMBER_HOUR == 10
    assert member.security_events.filter(kind="sign_in_view_only").count() == 12
    # Ten of one kind keep back no other: a changed password is still told.
    client.cookies.clear()
    client.force_login(member)
    client.post(
        "/backoffice/profile/password/",
        {"new_password1": "maple-Leaf-3391", "new_password2": "maple-Leaf-3391", "pin": PIN},
    )
    assert len(mailoutbox) == 11 and "パスワードが変更されました" in mailoutbox[-1].subject
