"""Account > Profile > change email: a link mailed to the new address opens a page whose button
makes the change, once; members and addresses get only so many links (issue 12, finding 6)."""

import datetime
import re

import pytest
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from accounts import links
from accounts.models import EmailChangeRequest, Member, SecurityEvent
from tests.helpers import JAPAN_TIME, PASSWORD, PIN, solved_captcha, switch_language
from tests.i18n_helpers import english_runs, japanese_in, read

pytestmark = pytest.mark.django_db

# Where the emailed link leads: the page with the button, at an address without the token.
CONFIRM_PAGE = "/backoffice/profile/email/confirm/new-address/"
CONFIRM_PREFIX = "/backoffice/profile/email/confirm/"
UNUSABLE_PAGE = "/backoffice/profile/email/confirm/unusable/"  # where a dead link leads
UNUSABLE = "このリンクは使えません"
REOPEN = "メールのリンクをもう一度開いてください"
ASKS_TOO_OFTEN = "メールアドレス変更の申請回数が上限に達しました"
ADDRESS_FULL = "現在、このメールアドレスには確認用URLを送信できません"


def ask_change(client, email="taro.new@example.com", pin=PIN):
    return client.post("/backoffice/profile/email/", {"email": email, "pin": pin})


def confirmation_path(mailoutbox, to="taro.new@example.com") -> str:
    """The link in the newest confirmation mail to `to`."""
    for mail in reversed(mailoutbox):
        found = links.emailed_path(mail.body, "/backoffice/profile/email/confirm/")
        if mail.to == [to] and found:
            return found
    raise AssertionError(f"no confirmation link was mailed to {to}")


def open_link(client, path):
    """What the member's browser does with the emailed link: it lands on the page it leads to."""
    return client.get(path, follow=True)


def confirm(client, path):
    """Open the link and press the button."""
    open_link(client, path)
    return client.post(CONFIRM_PAGE)


def email_of(member) -> str:
    return Member.objects.get(pk=member.pk).email


def links_mailed(mailoutbox, to: str) -> int:
    return sum(m.to == [to] and "/email/confirm/" in m.body for m in mailoutbox)


def says_unusable(response) -> bool:
    """The page an unusable link answers with, in either language, its title saying so too."""
    text = response.content.decode()
    return response.status_code == 200 and any(
        f"<title>{words} | " in text for words in (UNUSABLE, "This link cannot be used")
    )


def another_member(member_id="JPN1000003", email="jiro@example.com") -> Member:
    return Member.objects.create_user(
        member_id, email=email, password=PASSWORD, name="鈴木 次郎", pin=make_password(PIN)
    )


# --- The change, confirmed with a button -------------------------------------------------------


def test_the_change_waits_for_the_new_address_to_confirm(member_client, member, mailoutbox):
    response = ask_change(member_client)
    assert response["Location"] == "/backoffice/profile/"
    assert email_of(member) == "taro@example.com"
    assert {tuple(m.to) for m in mailoutbox} == {("taro.new@example.com",), ("taro@example.com",)}
    response = confirm(member_client, confirmation_path(mailoutbox))
    assert response["Location"] == "/backoffice/profile/"
    assert (
        "メールアドレスを変更しました。"
        in member_client.get("/backoffice/profile/").content.decode()
    )
    assert email_of(member) == "taro.new@example.com"
    assert SecurityEvent.objects.filter(member=member, kind="email_changed").exists()
    notices_to_old = [m for m in mailoutbox if m.to == ["taro@example.com"]]
    assert len(notices_to_old) == 2  # the request, then the change


def test_profile_shows_the_address_waiting_for_its_confirmation(
    member_client, member, mailoutbox, settings
):
    # Profile showed only the old address after a change was asked for (helper-101).
    ask_change(member_client)
    profile = member_client.get("/backoffice/profile/").content.decode()
    assert "確認待ち：taro.new@example.com。" in profile and "まで有効" in profile
    confirm(member_client, confirmation_path(mailoutbox))
    assert "確認待ち" not in member_client.get("/backoffice/profile/").content.decode()

    ask_change(member_client, email="taro.third@example.com")
    hours = datetime.timedelta(hours=settings.JENCO_EMAIL_CHANGE_HOURS, minutes=1)
    EmailChangeRequest.objects.update(created=timezone.now() - hours)
    assert "確認待ち" not in member_client.get("/backoffice/profile/").content.decode()


def test_opening_the_link_only_asks(member_client, member, mailoutbox):
    """Mail scanners open links: opening one changes nothing until the button is pressed."""
    ask_change(member_client)
    page = open_link(member_client, confirmation_path(mailoutbox))
    assert page.redirect_chain == [(CONFIRM_PAGE, 302)]
    text = page.content.decode()
    assert "taro@example.com から taro.new@example.com に変更しますか" in text
    assert "メールアドレスを変更する</button>" in text
    assert email_of(member) == "taro@example.com"
    assert not SecurityEvent.objects.filter(member=member, kind="email_changed").exists()


def test_the_address_holding_the_token_sends_no_referrer(member_client, mailoutbox):
    ask_change(member_client)
    path = confirmation_path(mailoutbox)
    token = path.rstrip("/").rsplit("/", 1)[1]
    opened = member_client.get(path)
    assert opened["Referrer-Policy"] == "no-referrer"
    page = member_client.get(opened["Location"])
    assert opened["Location"] == CONFIRM_PAGE and token not in page.content.decode()


def test_the_database_holds_no_working_link(member_client, mailoutbox):
    ask_change(member_client)
    token = confirmation_path(mailoutbox).rstrip("/").rsplit("/", 1)[1]
    stored = " ".join(str(row) for row in EmailChangeRequest.objects.values_list())
    assert "taro.new@example.com" in stored and token not in stored


# --- One use, the newest link only -------------------------------------------------------------


def test_a_confirmation_link_works_once(member_client, member, mailoutbox):
    ask_change(member_client)
    path = confirmation_path(mailoutbox)
    confirm(member_client, path)
    Member.objects.filter(pk=member.pk).update(email="taro.other@example.com")
    again = open_link(member_client, path)
    assert says_unusable(again)
    # Not sent to ask again as if it had failed (helper-149).
    assert "このリンクで確認済みの場合は、メールアドレスの変更は完了しています" in (
        again.content.decode()
    )
    # The link opened last said it cannot be used; the page without one asks for the link.
    assert REOPEN in member_client.post(CONFIRM_PAGE).content.decode()
    assert email_of(member) == "taro.other@example.com"


def test_a_link_replayed_after_the_address_was_set_back_changes_nothing(
    member_client, member, mailoutbox
):
    """The pen-test's replay: change A→B, set it back to A, open the first link again."""
    ask_change(member_client, "taro.new@example.com")
    first_link = confirmation_path(mailoutbox, "taro.new@example.com")
    confirm(member_client, first_link)
    ask_change(member_client, "taro@example.com")
    confirm(member_client, confirmation_path(mailoutbox, "taro@example.com"))
    assert email_of(member) == "taro@example.com"
    assert says_unusable(open_link(member_client, first_link))
    assert REOPEN in member_client.post(CONFIRM_PAGE).content.decode()
    assert email_of(member) == "taro@example.com"


def test_pressing_the_button_twice_changes_once(member_client, member, mailoutbox):
    ask_change(member_client)
    open_link(member_client, confirmation_path(mailoutbox))
    assert member_client.post(CONFIRM_PAGE)["Location"] == "/backoffice/profile/"
    # The second press finds it done, and says so: not "this link cannot be used".
    again = member_client.post(CONFIRM_PAGE, follow=True).content.decode()
    assert "メールアドレスを変更しました" in again
    assert SecurityEvent.objects.filter(member=member, kind="email_changed").count() == 1
    assert len([m for m in mailoutbox if m.to == ["taro@example.com"]]) == 2  # ask, changed


def test_the_form_sent_twice_asks_once(member_client, member, mailoutbox):
    # A double tap: two requests, two log entries and two notices to the old address.
    for _ in range(2):
        response = ask_change(member_client)
        assert response["Location"] == "/backoffice/profile/"
    assert EmailChangeRequest.objects.count() == 1
    assert SecurityEvent.objects.filter(kind="email_change_requested").count() == 1
    assert [m.to for m in mailoutbox].count(["taro@example.com"]) == 1
    assert [m.to for m in mailoutbox].count(["taro.new@example.com"]) == 1


def test_a_newer_request_voids_the_older_link(member_client, member, mailoutbox):
    ask_change(member_client, "taro.first@example.com")
    ask_change(member_client, "taro.second@example.com")
    older = confirmation_path(mailoutbox, "taro.first@example.com")
    assert says_unusable(open_link(member_client, older))
    assert says_unusable(member_client.post(older, follow=True))
    assert email_of(member) == "taro@example.com"
    confirm(member_client, confirmation_path(mailoutbox, "taro.second@example.com"))
    assert email_of(member) == "taro.second@example.com"


def test_an_expired_link_changes_nothing(member_client, member, mailoutbox, settings):
    ask_change(member_client)
    path = confirmation_path(mailoutbox)
    open_link(member_client, path)
    hours = datetime.timedelta(hours=settings.JENCO_EMAIL_CHANGE_HOURS, minutes=1)
    EmailChangeRequest.objects.update(created=timezone.now() - hours)
    assert says_unusable(member_client.post(CONFIRM_PAGE))
    assert says_unusable(open_link(member_client, path))
    assert email_of(member) == "taro@example.com"


@pytest.mark.parametrize(
    "bad",
    [
        "garbage",
        "truncated",
        "non-ASCII",
        "percent-escaped",
        "long",
    ],
)
def test_a_bad_link_says_it_cannot_be_used_and_changes_nothing(
    member_client, member, english_member, mailoutbox, bad
):
    ask_change(member_client)
    path = confirmation_path(mailoutbox)
    paths = {
        "garbage": "/backoffice/profile/email/confirm/not-a-token/",
        "truncated": path[:-6] + "/",
        "non-ASCII": "/backoffice/profile/email/confirm/確認トークン/",
        "percent-escaped": "/backoffice/profile/email/confirm/%00%ff%2e%2e/",
        "long": "/backoffice/profile/email/confirm/" + "A" * 5000 + "/",
    }
    assert says_unusable(open_link(member_client, paths[bad]))
    assert says_unusable(member_client.post(paths[bad], follow=True))
    member_client.post(CONFIRM_PAGE)
    assert email_of(member) == "taro@example.com"
    assert email_of(english_member) == "alice@example.com"


def test_another_members_link_says_so_and_changes_nothing(
    member_client, member, english_member, mailoutbox
):
    # A shared phone signed in to someone else read "expired, used or replaced", and the
    # member asked for a new link that landed the same way (helper-141).
    ask_change(member_client)
    path = confirmation_path(mailoutbox)
    member_client.force_login(english_member)

    for response in (open_link(member_client, path), member_client.post(path, follow=True)):
        assert response.redirect_chain[-1][0] == CONFIRM_PAGE  # no token in its address
        assert response["Referrer-Policy"] == "same-origin"  # so its sign-out can be sent
        text = response.content.decode()
        assert "このリンクは別のアカウントのものです" in text
        assert "現在、JPN1000002 でログインしています" in text and "JPN1000001" not in text
        assert 'action="/logout/"' in text and not says_unusable(response)
    member_client.post(CONFIRM_PAGE)
    assert email_of(member) == "taro@example.com"
    assert email_of(english_member) == "alice@example.com"

    member_client.force_login(member)  # the right account: the link still works
    open_link(member_client, path)
    assert member_client.post(CONFIRM_PAGE).status_code == 302
    assert email_of(member) != "taro@example.com"


def test_another_members_link_opened_signed_out_says_so_after_the_sign_in(
    client, member, english_member, mailoutbox
):
    # Opened signed out, then signed in with another member ID: the page read "cannot be
    # used" (helper-145).
    client.force_login(member)
    ask_change(client)
    path = confirmation_path(mailoutbox)
    client.logout()
    assert open_link(client, path).redirect_chain[-1][0].startswith("/login/")
    client.force_login(english_member)

    text = client.get(CONFIRM_PAGE).content.decode()
    assert "このリンクは別のアカウントのものです" in text and "JPN1000001" not in text
    client.post(CONFIRM_PAGE)
    assert email_of(member) == "taro@example.com"
    assert email_of(english_member) == "alice@example.com"


# --- Limits ------------------------------------------------------------------------------------


def test_the_fourth_request_in_an_hour_is_refused_and_sends_nothing(
    member_client, member, mailoutbox, settings
):
    assert settings.JENCO_EMAIL_CHANGE_PER_HOUR == 3
    for n in range(3):
        assert ask_change(member_client, f"taro.{n}@example.com").status_code == 302
    first = EmailChangeRequest.objects.order_by("created").first().created
    sent = len(mailoutbox)
    page = ask_change(member_client, "taro.3@example.com").content.decode()
    assert ASKS_TOO_OFTEN in page
    # The minute after the hour is up (13:05:20 reads 13:06: at 13:05 it would still refuse).
    free = timezone.localtime(first + datetime.timedelta(hours=1, minutes=1))
    assert f"{JAPAN_TIME}{free:%H:%M} 以降にもう一度申請してください" in page
    assert len(mailoutbox) == sent
    assert EmailChangeRequest.objects.count() == 3
    assert SecurityEvent.objects.filter(kind="email_change_requested").count() == 3
    assert Member.objects.get(pk=member.pk).pin_failures == 0


def test_an_hour_later_the_member_may_ask_again(member_client, mailoutbox):
    for n in range(3):
        ask_change(member_client, f"taro.{n}@example.com")
    EmailChangeRequest.objects.update(created=timezone.now() - datetime.timedelta(minutes=61))
    assert ask_change(member_client, "taro.3@example.com").status_code == 302
    assert links_mailed(mailoutbox, "taro.3@example.com") == 1


def test_a_member_gets_only_so_many_links_a_day(member_client, mailoutbox, settings):
    settings.JENCO_EMAIL_CHANGE_PER_DAY = 4
    for n in range(4):
        ask_change(member_client, f"taro.{n}@example.com")
        EmailChangeRequest.objects.update(created=timezone.now() - datetime.timedelta(hours=2))
    assert ASKS_TOO_OFTEN in ask_change(member_client, "taro.4@example.com").content.decode()
    assert links_mailed(mailoutbox, "taro.4@example.com") == 0


def test_several_members_cannot_fill_one_strangers_mailbox(
    client, member, english_member, mailoutbox, settings
):
    """25 of 25 requests reached a third party's mailbox; now a day's limit does."""
    assert settings.JENCO_EMAIL_CHANGE_PER_ADDRESS == 3
    members = [member, english_member, another_member(), another_member("JPN1000004", "s@x.jp")]
    for who in members[:3]:
        client.force_login(who)
        assert ask_change(client, "stranger@example.org").status_code == 302
    client.force_login(members[3])
    for address in ("stranger@example.org", "Stranger+jenco@Example.org"):
        page = ask_change(client, address).content.decode()
        assert ADDRESS_FULL in page
        assert "時間をおいてもう一度申請するか、別のメールアドレスをご利用ください" in page
        assert "送信済み" not in page  # nothing says links went to the address
        # Nor when others asked for it (the attacker's retest read their time off it).
        assert "以降" not in page and not re.search(r"\d\d?:\d\d", page.split("<main")[1])
    assert links_mailed(mailoutbox, "stranger@example.org") == 3
    assert links_mailed(mailoutbox, "stranger+jenco@example.org") == 0
    assert EmailChangeRequest.objects.count() == 3


@pytest.mark.parametrize(
    "spelling",
    [
        '"stranger"@example.org',  # the retest sent 8 mails to one inbox with these
        '"\\stranger"@example.org',
        '"str\\anger"@example.org',
        '"stranger+9"@example.org',
        "STRANGER+x@EXAMPLE.ORG",
    ],
)
def test_quoted_and_escaped_spellings_of_one_mailbox_share_its_limit(
    client, member, english_member, mailoutbox, spelling
):
    members = [member, english_member, another_member()]
    for who in members:
        client.force_login(who)
        assert ask_change(client, "stranger@example.org").status_code == 302
    client.force_login(another_member("JPN1000004", "s@x.jp"))
    page = ask_change(client, spelling).content.decode()
    assert ADDRESS_FULL in page
    assert EmailChangeRequest.objects.count() == 3


def test_gmail_dots_are_one_mailbox(client, member, english_member, mailoutbox):
    for who, address in [
        (member, "stranger@gmail.com"),
        (english_member, "s.tranger@gmail.com"),
        (another_member(), "st.ranger@googlemail.com"),
    ]:
        client.force_login(who)
        assert ask_change(client, address).status_code == 302
    client.force_login(another_member("JPN1000004", "s@x.jp"))
    assert ADDRESS_FULL in ask_change(client, "stra.nger@gmail.com").content.decode()


def test_the_limit_speaks_the_members_language(client, english_member, mailoutbox):
    client.force_login(english_member)
    client.cookies["django_language"] = "en"
    for n in range(3):
        ask_change(client, f"alice.{n}@example.com")
    page = ask_change(client, "alice.3@example.com").content.decode()
    assert "You have asked to change your email address too many times" in page


# --- The form --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("not-an-email", "name@example.com"),
        ("TARO@example.com", "すでに登録されている"),
        # 112 characters typed, 312 after NFKC: longer than any address may be.
        ("ﬃ" * 100 + "@example.com", "name@example.com"),
        (
            "a" * 10_000 + "@example.com",
            "メールアドレスを name@example.com の形で入力してください。",
        ),
        ("taro@[127.0.0.1]", "name@example.com"),  # at a bare IP: Django's validator passes it
    ],
)
def test_a_bad_address_gets_a_message(member_client, member, email, message):
    assert message in ask_change(member_client, email=email).content.decode()


@pytest.mark.parametrize(
    "email",
    [
        # Django's validator passes them: U+202E turned the address around in the notice to
        # the old address, and the mail to it failed in the worker (IDNA cannot spell it).
        "taro.new@exa\u202emple.com",
        "taro.new@exa\u200bmple.com",  # zero-width space
        "taro.new@example\u3000.com",  # ideographic space
    ],
)
def test_an_address_with_invisible_characters_is_refused_and_nothing_is_sent(
    member_client, member, mailoutbox, email
):
    page = ask_change(member_client, email=email).content.decode()
    assert "メールアドレスを name@example.com の形で入力してください。" in page
    assert mailoutbox == [] and not EmailChangeRequest.objects.exists()


def test_an_international_domain_is_still_taken(member_client, member, mailoutbox):
    ask_change(member_client, email="taro@例え.jp")
    assert EmailChangeRequest.objects.get().new_email == "taro@例え.jp"


def test_a_wrong_pin_sends_nothing(member_client, member, mailoutbox):
    assert "PINコードが正しくありません" in ask_change(member_client, pin="000001").content.decode()
    assert mailoutbox == []
    assert not EmailChangeRequest.objects.exists()


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_pages_of_the_link_read_in_the_members_language(
    client, request, mailoutbox, settings, language
):
    who = request.getfixturevalue("member" if language == "ja" else "english_member")
    client.force_login(who)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    ask_change(client, "new.address@example.com")
    pages = [
        open_link(client, confirmation_path(mailoutbox, "new.address@example.com")),
        client.get("/backoffice/profile/email/confirm/not-a-token/"),
    ]
    for page in pages:
        for piece in read(page.content.decode()).pieces:
            if language == "ja" and piece.lang != "en":
                assert english_runs(piece.text) == [], piece
            if language == "en" and piece.text not in ("日本語", who.name):
                assert not japanese_in(piece.text), piece


def test_a_link_opened_signed_out_says_why_and_finishes_after_sign_in(
    member_client, member, mailoutbox
):
    # Issue 14, item 5: before, a bare sign-in page with the token in its address.
    ask_change(member_client)
    path = confirmation_path(mailoutbox)
    member_client.post("/logout/")
    response = member_client.get(path)
    assert response["Location"] == f"/login/?next={CONFIRM_PAGE}"
    assert response["Referrer-Policy"] == "no-referrer"
    page = member_client.get(response["Location"]).content.decode()
    assert "メールアドレスの変更を完了するには、ログインしてください。" in page
    assert path.split("/")[-2] not in page  # the token stays out of the sign-in page
    signed_in = member_client.post(
        "/login/",
        {"username": "JPN1000001", "password": PASSWORD, "next": CONFIRM_PAGE, **solved_captcha()},
    )
    assert signed_in["Location"] == CONFIRM_PAGE
    assert "taro.new@example.com" in member_client.get(CONFIRM_PAGE).content.decode()
    member_client.post(CONFIRM_PAGE)
    assert email_of(member) == "taro.new@example.com"


def test_a_sign_in_slower_than_the_signed_out_session_asks_for_the_link_again(
    member_client, member, mailoutbox, settings
):
    """The link waits for a sign-in in a signed-out session of an hour; the link works 24. A
    member who signed in after it ended read "this link cannot be used"."""
    ask_change(member_client)
    path = confirmation_path(mailoutbox)
    member_client.post("/logout/")
    member_client.get(path)
    del member_client.cookies[settings.SESSION_COOKIE_NAME]  # an hour on the sign-in page
    member_client.post(
        "/login/",
        {"username": "JPN1000001", "password": PASSWORD, "next": CONFIRM_PAGE, **solved_captcha()},
    )
    for response in (member_client.get(CONFIRM_PAGE), member_client.post(CONFIRM_PAGE)):
        page = response.content.decode()
        assert f"<title>{REOPEN} | " in page and "送信から24時間有効です" in page
        assert '<a href="/backoffice/profile/email/">' in page  # if it has expired meanwhile
    assert email_of(member) == "taro@example.com"
    assert member_client.get(path)["Location"] == CONFIRM_PAGE  # the link, opened again
    member_client.post(CONFIRM_PAGE)
    assert email_of(member) == "taro.new@example.com"


@pytest.mark.parametrize("token", ["made-up-token", "A" * 15000, "used", "replaced", "expired"])
def test_a_link_opened_signed_out_that_cannot_confirm_says_so_and_starts_no_session(
    member_client, member, mailoutbox, settings, token
):
    # Every such address was kept in a new 12-hour session: a flood of made-up links filled
    # Redis until every sign-in answered 500 (helper-132).
    ask_change(member_client)
    link = confirmation_path(mailoutbox)
    if token == "used":
        confirm(member_client, link)
    elif token == "replaced":
        ask_change(member_client, "taro.newer@example.com")
    elif token == "expired":
        EmailChangeRequest.objects.update(
            created=timezone.now() - datetime.timedelta(hours=settings.JENCO_EMAIL_CHANGE_HOURS)
        )
    member_client.post("/logout/")
    member_client.cookies.pop(settings.SESSION_COOKIE_NAME, None)
    path = link if token in ("used", "replaced", "expired") else f"{CONFIRM_PREFIX}{token}/"
    opened = member_client.get(path)
    assert opened["Location"] == UNUSABLE_PAGE and opened["Referrer-Policy"] == "no-referrer"
    response = member_client.get(opened["Location"])
    assert response.status_code == 200
    assert UNUSABLE in response.content.decode()
    # Its way on leads through the sign-in page, and says so (helper-149: it read "ask for a
    # new link" and landed on a sign-in form without a word why).
    assert (
        '<a class="button" href="/backoffice/profile/email/">ログインしてリンクを再申請する</a>'
        in response.content.decode()
    )
    for answer in (opened, response):
        assert settings.SESSION_COOKIE_NAME not in answer.cookies


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed in", "signed out"])
def test_a_dead_link_leads_to_a_page_without_its_token_whose_language_switch_works(
    member_client, member, mailoutbox, signed_in
):
    # Answered at the token's address (no-referrer), the page's forms (language switch,
    # sign-out) went with "Origin: null" and were refused (403).
    ask_change(member_client, "taro.first@example.com")
    ask_change(member_client, "taro.second@example.com")
    older = confirmation_path(mailoutbox, "taro.first@example.com")
    if not signed_in:
        member_client.post("/logout/")
    opened = member_client.get(older)
    assert opened["Location"] == UNUSABLE_PAGE and opened["Referrer-Policy"] == "no-referrer"
    page = member_client.get(UNUSABLE_PAGE)
    assert older.split("/")[-2] not in page.content.decode()
    assert says_unusable(page)
    switched = switch_language(page)
    assert switched.status_code == 302 and switched["Location"] == UNUSABLE_PAGE
    english = member_client.get(UNUSABLE_PAGE)
    assert "<title>This link cannot be used | " in english.content.decode()
    assert ('action="/logout/"' in english.content.decode()) is signed_in
    assert email_of(member) == "taro@example.com"


def test_a_link_opened_signed_out_after_a_dead_one_still_finishes(
    member_client, member, mailoutbox, settings
):
    ask_change(member_client)
    link = confirmation_path(mailoutbox)
    member_client.post("/logout/")
    assert member_client.get(f"{CONFIRM_PREFIX}made-up/", follow=True).status_code == 200
    assert member_client.get(link)["Location"] == f"/login/?next={CONFIRM_PAGE}"
    member_client.post(
        "/login/",
        {"username": "JPN1000001", "password": PASSWORD, "next": CONFIRM_PAGE, **solved_captcha()},
    )
    member_client.post(CONFIRM_PAGE)
    assert email_of(member) == "taro.new@example.com"


def test_the_mail_to_the_unproved_address_carries_no_name_its_requester_typed(
    member_client, member, mailoutbox
):
    # A registered name such as "Visit https://evil.example now" rode on 【JENCO】 mail to
    # any address a member typed (four-role trial): that mail greets the account by its ID.
    Member.objects.filter(pk=member.pk).update(name="Visit https://evil.example/login now")
    ask_change(member_client, email="victim@example.com")
    to_new = [m for m in mailoutbox if m.to == ["victim@example.com"]]
    assert len(to_new) == 1
    body, html = to_new[0].body, to_new[0].alternatives[0][0]
    assert "evil.example" not in body and "evil.example" not in html
    assert body.startswith("JPN1000001 様")
