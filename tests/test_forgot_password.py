import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.test import Client

from accounts import tokens
from accounts.flows import reset
from accounts.models import Member, SecurityEvent
from tests.helpers import (
    DEFAULT_PASSWORD,
    PASSWORD,
    a_minute_ago,
    a_minute_on,
    emailed_path,
    sign_in,
    solved_captcha,
    switch_language,
    wrong_captcha,
)

Kind = SecurityEvent.Kind

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "cherry-Tree-8812"
SENT_JA = "設定用のURLを送信しました"
UNUSABLE_PAGE = "/password/reset/link/unusable/"


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()


def ask(client, username, email, captcha=None):
    data = {"username": username, "email": email, **(captcha or solved_captcha())}
    return client.post("/password/forgot/", data)


def without_csrf(response) -> str:
    """The page but its CSRF token and the two values the visitor typed, which it repeats."""
    page = re.sub(r'name="csrfmiddlewaretoken" value="\w+"', "", response.content.decode())
    return re.sub(
        r'(<dl class="facts typed">.*?<dd>).*?(</dd>.*?<dd>).*?(</dd>)', r"\1\2\3", page, flags=re.S
    )


def link_in(mail) -> str:
    return emailed_path(mail, "/password/reset/")


def follow_link(client, path):
    """Open the emailed link: Django moves the token out of the address first."""
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].endswith("/set-password/")
    return response["Location"]


def set_password(client, form_path, password=NEW_PASSWORD, again=None):
    data = {"new_password1": password, "new_password2": again or password, **solved_captcha()}
    return client.post(form_path, data)


def test_it_shows_the_seeds_forgot_password_screen(client):
    page = client.get("/password/forgot/").content.decode()
    for text in [
        "パスワードをわすれました",
        "会員ID",  # one name for the identifier; only the sign-in box keeps the seed's
        "JPNと7桁の数字",
        "メールアドレス",
        "キャプチャ",
        "送信",
        "JAのバックオフィス",
    ]:
        assert text in page


@pytest.mark.parametrize("path", ["/password/forgot/", "/pin/forgot/"])
@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("ja", "JENCOでメールアドレスを変更した方、JENCOで新規登録した方は、JENCOに登録した"),
        ("en", "If you changed your email address in JENCO, or registered in JENCO, enter the"),
    ],
)
def test_the_page_says_which_address_after_a_change_in_jenco(client, path, language, words):
    # "The address registered with JA" (the seed's words) sent a member who had changed it
    # here to the old one, which mails nothing and says so to nobody (helper-131).
    page = client.get(path, headers={"accept-language": language}).content.decode()
    assert words in page


def test_a_matching_request_sends_one_link_in_the_members_language(client, member, mailoutbox):
    response = ask(client, "jpn1000001", "Taro@Example.com")
    assert response["Location"] == "/password/forgot/sent/"
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["taro@example.com"]
    assert "パスワード" in mail.subject
    assert "https://jenco.example/password/reset/" in mail.body
    assert "新しいパスワード設定のご依頼を受け付けました" in mail.body  # the member asked
    assert "JENCOサポート" not in mail.body
    assert mail.alternatives[0].mimetype == "text/html"
    assert SecurityEvent.objects.filter(member=member, kind="password_reset_requested").exists()


def test_an_english_member_gets_the_email_in_english(client, english_member, mailoutbox):
    ask(client, "JPN1000002", "alice@example.com")
    assert "Set a new password" in mailoutbox[0].subject


def test_full_width_email_matches(client, member, mailoutbox):
    ask(client, "JPN1000001", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ")
    assert len(mailoutbox) == 1


@pytest.mark.parametrize(
    ("username", "email"),
    [("JPN1000001", "someone@example.com"), ("JPN7654321", "taro@example.com")],
)
def test_an_unmatched_request_gets_the_same_answer_and_no_mail(
    client, member, mailoutbox, username, email
):
    matched = client.get(ask(client, "JPN1000001", "taro@example.com")["Location"])
    unmatched_response = ask(client, username, email)
    assert unmatched_response["Location"] == "/password/forgot/sent/"
    unmatched = client.get(unmatched_response["Location"])
    assert without_csrf(matched) == without_csrf(unmatched)
    assert SENT_JA in unmatched.content.decode()
    assert "迷惑メール" in unmatched.content.decode()
    assert len(mailoutbox) == 1  # the matched one only


@pytest.mark.parametrize(
    "language, words",
    [
        ("ja", ("入力された会員ID", "入力されたメールアドレス", "もう一度入力してください")),
        ("en", ("Member ID you entered", "Email address you entered", "Enter them again")),
    ],
)
def test_the_sent_page_repeats_what_was_typed_once(client, member, language, words):
    # helper-159: a mistyped address (exmple.com) was waited on for ever.
    client.cookies["django_language"] = language
    page = client.get(ask(client, "jpn1000001", "taro@exmple.com")["Location"]).content.decode()

    assert all(word in page for word in words)
    assert "<dd>JPN1000001</dd>" in page and "<dd>taro@exmple.com</dd>" in page
    assert '<a href="/password/forgot/">' in page
    again = client.get("/password/forgot/sent/").content.decode()
    assert "taro@exmple.com" not in again  # once
    pin_form = {"username": "JPN1000001", "email": "x@example.com", **solved_captcha()}
    assert client.post("/pin/forgot/", pin_form)["Location"] == "/pin/forgot/sent/"
    assert "x@example.com" not in client.get("/password/forgot/sent/").content.decode()


def test_an_inactive_member_gets_no_mail(client, member, mailoutbox):
    Member.objects.filter(pk=member.pk).update(is_active=False)
    assert ask(client, "JPN1000001", "taro@example.com")["Location"] == "/password/forgot/sent/"
    assert mailoutbox == []


def test_a_malformed_id_or_email_gets_a_form_message(client, member, mailoutbox):
    page = ask(client, "123", "not-an-email").content.decode()
    assert "7桁" in page and "name@example.com" in page
    assert mailoutbox == []


def test_a_wrong_captcha_sends_nothing(client, member, mailoutbox):
    response = ask(client, "JPN1000001", "taro@example.com", captcha=wrong_captcha())
    assert response.status_code == 200
    assert mailoutbox == []


def test_asking_changes_nothing_about_the_account(client, member, mailoutbox):
    before = Member.objects.values().get(pk=member.pk)
    ask(client, "JPN1000001", "taro@example.com")
    assert Member.objects.values().get(pk=member.pk) == before


def test_the_link_sets_a_new_password_and_does_not_sign_in(client, member, mailoutbox):
    ask(client, "JPN1000001", "taro@example.com")
    assert client.get(link_in(mailoutbox[0]))["Referrer-Policy"] == "no-referrer"
    form_path = follow_link(client, link_in(mailoutbox[0]))
    page = client.get(form_path)
    assert "新しいパスワード" in page.content.decode()
    response = set_password(client, form_path)
    assert response["Location"] == "/password/reset/done/"
    assert SESSION_KEY not in client.session
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    done = client.get("/password/reset/done/").content.decode()
    assert "/login/" in done
    # What it leaves as it was (helper-167: a reset, the way to shut an intruder out, said
    # nothing of passkeys or a sub password they added).
    assert (
        "新しいパスワードを設定しても、パスキー、サブパスワード、2段階認証は変わりません。" in done
    )
    assert "パスワード" in mailoutbox[-1].subject  # the notice that it was reset
    assert SecurityEvent.objects.filter(member=member, kind="password_reset").exists()


def test_the_link_works_only_once(client, member, mailoutbox):
    ask(client, "JPN1000001", "taro@example.com")
    link = link_in(mailoutbox[0])
    set_password(client, follow_link(client, link))
    again = client.get(link, follow=True)
    assert again.redirect_chain == [(UNUSABLE_PAGE, 302)]  # no token in its address
    assert again.status_code == 200
    assert "このリンクは使えません" in again.content.decode()
    # The tab says so too, not "Set a new password" over a page that offers none.
    assert "<title>このリンクは使えません | " in again.content.decode()
    # The member who set it and came back (Back, or the mail's link again) is not sent to
    # ask for another link as if it had failed (helper-149).
    assert (
        "このリンクで新しいパスワードを設定済みの場合は、手続きは完了しています。"
        "新しいパスワードでログインしてください。"
    ) in again.content.decode()
    # ... and has the way there on the page, not only the button to ask for another link
    # (helper-151: a phone showed 「リンクを再申請する」 alone).
    assert '<a href="/login/">ログイン画面に戻る</a>' in again.content.decode()


def test_a_new_password_voids_every_earlier_link(client, member, mailoutbox):
    ask(client, "JPN1000001", "taro@example.com")
    a_minute_on(member)
    ask(client, "JPN1000001", "taro@example.com")
    first, second = link_in(mailoutbox[0]), link_in(mailoutbox[1])
    set_password(client, follow_link(client, second))
    assert "このリンクは使えません" in client.get(first, follow=True).content.decode()


def test_a_newer_link_replaces_the_older_one(client, member, mailoutbox):
    with a_minute_ago(tokens.password_reset_token, Kind.PASSWORD_RESET_REQUESTED):
        ask(client, "JPN1000001", "taro@example.com")
    first = link_in(mailoutbox[0])
    assert client.get(first).status_code == 302  # it works until a newer one is sent

    ask(client, "JPN1000001", "taro@example.com")

    assert "このリンクは使えません" in client.get(first, follow=True).content.decode()
    done = set_password(client, follow_link(client, link_in(mailoutbox[1])))
    assert done["Location"] == "/password/reset/done/"


def test_a_link_support_sends_replaces_the_members_own(client, member, mailoutbox, support_agent):
    with a_minute_ago(tokens.password_reset_token, Kind.PASSWORD_RESET_REQUESTED):
        ask(client, "JPN1000001", "taro@example.com")
    first = link_in(mailoutbox[0])

    assert reset.email_reset_link(reset.PASSWORD, member, actor=support_agent).sent

    assert "このリンクは使えません" in client.get(first, follow=True).content.decode()
    assert client.get(link_in(mailoutbox[1])).status_code == 302


def test_an_expired_link_is_refused(client, member, mailoutbox, settings):
    ask(client, "JPN1000001", "taro@example.com")
    link = link_in(mailoutbox[0])
    settings.PASSWORD_RESET_TIMEOUT = -1
    page = client.get(link, follow=True).content.decode()
    assert "このリンクは使えません" in page
    # Worded as support's email-correction link words it (the trial found two versions).
    assert (
        "有効期限が切れたか、すでに使われたか、新しいリンクに置き換えられたため、"
        "このリンクは使えません。もう一度リンクを申請してください。"
    ) in page
    assert "/password/forgot/" in page


def test_a_dead_link_leads_to_a_page_without_its_token_whose_language_switch_works(
    client, member, mailoutbox
):
    # Answered at the token's address (no-referrer), the page's forms went with "Origin:
    # null": a member who opened an expired link and tapped English got a 403.
    ask(client, "JPN1000001", "taro@example.com")
    link = link_in(mailoutbox[0])
    set_password(client, follow_link(client, link))
    opened = client.get(link)
    assert opened["Location"] == UNUSABLE_PAGE and opened["Referrer-Policy"] == "no-referrer"
    page = client.get(opened["Location"])
    assert link.split("/")[-2] not in page.content.decode()
    assert page["Referrer-Policy"] == "same-origin"
    switched = switch_language(page)
    assert switched.status_code == 302 and switched["Location"] == UNUSABLE_PAGE
    english = client.get(UNUSABLE_PAGE).content.decode()
    assert "<title>This link cannot be used | " in english
    assert 'href="/password/forgot/"' in english


def test_the_dead_links_page_opened_by_itself_says_the_link_cannot_be_used(client, db):
    page = client.get(UNUSABLE_PAGE)
    assert page.status_code == 200
    assert "<title>このリンクは使えません | " in page.content.decode()
    assert "sessionid" not in page.cookies


@pytest.mark.parametrize(
    "path",
    [
        "/password/reset/MQ/abc-123/",
        "/password/reset/zzzz/set-password/",
        "/password/reset/" + "A" * 3000 + "/x/",
        "/password/reset/OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5/abc/",
    ],
)
def test_a_tampered_link_gets_a_clear_page(client, member, path):
    response = client.get(path, follow=True)
    assert response.status_code == 200
    assert "このリンクは使えません" in response.content.decode()


def test_a_truncated_token_is_refused(client, member, mailoutbox):
    ask(client, "JPN1000001", "taro@example.com")
    link = link_in(mailoutbox[0])
    assert "このリンクは使えません" in client.get(link[:-5] + "/", follow=True).content.decode()


def test_mismatched_or_weak_passwords_change_nothing(client, member, mailoutbox):
    ask(client, "JPN1000001", "taro@example.com")
    form_path = follow_link(client, link_in(mailoutbox[0]))
    page = set_password(client, form_path, again="something-else-1").content.decode()
    assert "2回とも同じではありません" in page
    page = set_password(client, form_path, password="jenco@12345").content.decode()
    assert "デフォルトのパスワードは使えません" in page
    page = set_password(client, form_path, password="12345678").content.decode()
    assert "12345678" not in page
    member.refresh_from_db()
    assert member.check_password(PASSWORD)


def test_the_reset_signs_every_session_out(client, member, mailoutbox):
    from django.test import Client

    other_device = Client()
    other_device.force_login(member)
    assert other_device.get("/backoffice/").status_code == 200
    ask(client, "JPN1000001", "taro@example.com")
    set_password(client, follow_link(client, link_in(mailoutbox[0])))
    assert other_device.get("/backoffice/")["Location"].startswith("/login/")


def test_a_migrated_member_still_changes_the_default_pin_next(client, migrated_member, mailoutbox):
    ask(client, "JPN2000001", "hanako@example.com")
    set_password(client, follow_link(client, link_in(mailoutbox[0])))
    migrated_member.refresh_from_db()
    assert not migrated_member.on_default_password
    assert migrated_member.on_default_pin
    client.post("/login/", {"username": "JPN2000001", "password": NEW_PASSWORD, **solved_captcha()})
    assert client.get("/backoffice/")["Location"] == "/backoffice/profile/pin/"


def test_a_sign_in_on_the_published_password_does_not_void_the_members_link(
    client, migrated_member, mailoutbox
):
    # Anyone may sign in to a migrated account on the published password, and each such
    # sign-in wrote the last sign-in that Django's token is bound to: whoever knew the member
    # ID voided the reset link the mailbox page offers when its codes are spent (helper-150).
    ask(client, "JPN2000001", "hanako@example.com")
    link = link_in(mailoutbox[0])
    stranger = Client()
    assert sign_in(stranger, "JPN2000001", DEFAULT_PASSWORD)["Location"] == "/backoffice/"
    migrated_member.refresh_from_db()
    assert migrated_member.last_login is not None
    set_password(client, follow_link(client, link))
    migrated_member.refresh_from_db()
    assert migrated_member.check_password(NEW_PASSWORD)
    # Used, it is void as ever: the password it set is in the hash.
    assert client.get(link, follow=True).redirect_chain == [(UNUSABLE_PAGE, 302)]


def test_a_sign_in_on_the_members_own_password_still_voids_the_link(client, member, mailoutbox):
    # Django's rule, kept where the password is the member's own: they remembered it.
    ask(client, "JPN1000001", "taro@example.com")
    link = link_in(mailoutbox[0])
    assert sign_in(Client())["Location"] == "/backoffice/"
    assert client.get(link, follow=True).redirect_chain == [(UNUSABLE_PAGE, 302)]


def test_at_most_three_emails_per_member_an_hour(client, member, mailoutbox):
    for _ in range(5):
        response = ask(client, "JPN1000001", "taro@example.com")
        assert response["Location"] == "/password/forgot/sent/"
        a_minute_on(member)
    assert len(mailoutbox) == 3


def test_asking_twice_within_a_minute_mails_one_link(client, member, mailoutbox):
    ask(client, "JPN1000001", "taro@example.com")
    assert ask(client, "JPN1000001", "taro@example.com")["Location"] == "/password/forgot/sent/"
    assert len(mailoutbox) == 1


def test_one_address_asking_too_often_gets_the_same_answer_and_no_mail(
    client, member, mailoutbox, settings
):
    settings.JENCO_FORGOT_PER_ADDRESS = 2
    for _ in range(2):
        ask(client, "JPN7000000", "x@example.com")
    response = ask(client, "JPN1000001", "taro@example.com")
    assert response["Location"] == "/password/forgot/sent/"
    assert mailoutbox == []


def test_the_sent_page_says_how_many_emails_an_hour_are_sent(client, settings):
    # A fourth request in an hour sends nothing; the page says so to everyone, the same way.
    settings.JENCO_RESET_EMAILS_PER_HOUR = 3
    page = client.get("/password/forgot/sent/").content.decode()
    assert "1時間に3通までしかお送りしません" in page
    page = client.get("/pin/forgot/sent/", headers={"accept-language": "en"}).content.decode()
    assert "at most 3 such emails an hour" in page


def test_only_the_sign_in_box_keeps_the_seeds_user_id_wording(client):
    assert "ユーザー名 / ユーザーID" in client.get("/login/").content.decode()
    for path in ["/password/forgot/", "/pin/forgot/", "/password/forgot/sent/"]:
        page = client.get(path).content.decode()
        assert "ユーザー" not in page and "ユーザID" not in page, path


SUB_PASSWORD = "willow-Creek-5512"


@pytest.mark.parametrize("new_password", [SUB_PASSWORD, NEW_PASSWORD], ids=["sub", "other"])
def test_the_link_tells_nothing_of_the_sub_password(client, member, mailoutbox, new_password):
    # Refused, the form told whoever reads the mailbox, one captcha a guess, whether a guess
    # was the sub password (helper-112): now any new password is taken, and one that was the
    # sub password leaves no sub password behind (view-only sign-in off, the member told).
    from django.contrib.auth.hashers import make_password

    member.sub_password = make_password(SUB_PASSWORD)
    member.save(update_fields=["sub_password"])
    ask(client, "JPN1000001", "taro@example.com")
    mailoutbox_before = len(mailoutbox)

    response = set_password(client, follow_link(client, link_in(mailoutbox[0])), new_password)

    assert response["Location"] == "/password/reset/done/"
    member.refresh_from_db()
    assert member.check_password(new_password)
    was_sub = new_password == SUB_PASSWORD
    assert (member.sub_password == "") is was_sub
    done = client.get("/password/reset/done/").content.decode()
    assert ("サブパスワードは削除され、閲覧専用ログインはオフになりました" in done) is was_sub
    removed = SecurityEvent.objects.filter(member=member, kind=Kind.SUB_PASSWORD_REMOVED)
    assert removed.exists() is was_sub
    subjects = [mail.subject for mail in mailoutbox[mailoutbox_before:]]
    assert any("サブパスワード" in subject for subject in subjects) is was_sub


@pytest.mark.parametrize("has_sub_password", [True, False])
def test_setting_a_password_from_the_link_costs_the_same_with_or_without_a_sub_password(
    client, member, mailoutbox, settings, has_sub_password
):
    # Compared only when one was set, the answer's time told whether one was (helper-118).
    from django.contrib.auth.hashers import make_password

    from tests.test_first_sign_in import CountingHasher

    settings.PASSWORD_HASHERS = ["tests.test_first_sign_in.CountingHasher"]
    if has_sub_password:
        member.sub_password = make_password(SUB_PASSWORD)
        member.save(update_fields=["sub_password"])
    ask(client, "JPN1000001", "taro@example.com")
    form_path = follow_link(client, link_in(mailoutbox[0]))
    CountingHasher.count = 0

    assert set_password(client, form_path)["Location"] == "/password/reset/done/"
    # The new password's hash, and one verification against the sub password or nothing.
    assert CountingHasher.count == 2


def test_a_reset_on_a_signed_in_browser_is_not_told_as_signed_out_elsewhere(
    member_client, member, mailoutbox, english_member
):
    # helper-162: the browser that set the new password was signed in; its next page said
    # "You were signed out on this device" as if someone else had done it. It is signed out
    # by the reset itself. Another member signed in on a shared phone is left signed in.
    ask(member_client, "JPN1000001", "taro@example.com")
    set_password(member_client, follow_link(member_client, link_in(mailoutbox[0])))
    page = member_client.get("/password/reset/done/").content.decode()
    assert "この端末はログアウトされました" not in page and "ログアウトしました" in page
    assert SESSION_KEY not in member_client.session

    family_phone = Client()
    family_phone.force_login(english_member)
    a_minute_on(member)
    ask(family_phone, "JPN1000001", "taro@example.com")
    set_password(
        family_phone, follow_link(family_phone, link_in(mailoutbox[-1])), "plum-Blossom-42"
    )
    assert family_phone.get("/backoffice/").status_code == 200
