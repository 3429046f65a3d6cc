"""Registration (issue 15): /register/, the emailed link, the new member and their member ID.

A visitor fills in the form; nothing but a pending registration exists until the link in the
mail is opened and its button pressed. The answer on screen is the same whether or not the
address already has an account: the mail says which.
"""

import datetime
import hashlib
import io
import os
import re
import secrets

import pytest
from django.contrib.auth.hashers import check_password
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.flows import registration
from accounts.models import Member, PendingRegistration, SecurityEvent
from tests.helpers import (
    PASSWORD,
    emailed_path,
    finished_member,
    sign_in,
    solved_captcha,
    switch_language,
    wrong_captcha,
)
from tests.live_site import Browser, LiveSite, postgres_query
from tests.test_concurrency import no_server_trouble, overlapped, race

NEW_PASSWORD = "cedar-Grove-6620"
NEW_PIN = "583920"
LINK_UNUSABLE = "このリンクは使えません"
SENT = "/register/sent/"
UNUSABLE_PAGE = "/register/verify/unusable/"  # where a link that cannot be used leads


def details(**changes) -> dict:
    """What a visitor who filled the form in correctly sends (the captcha read right)."""
    data = {
        "name": "鈴木 一郎",
        "email": "ichiro@example.com",
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
        "new_pin1": NEW_PIN,
        "new_pin2": NEW_PIN,
        "preferred_language": "ja",
        "terms": "on",
        **solved_captcha(),
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()  # the throttles' counters, when the cache is Redis


def register(client, **changes):
    return client.post("/register/", details(**changes))


def link_in(mail) -> str:
    return emailed_path(mail, "/register/verify/")


# What the link's page asks for: the password chosen when registering (helper-167).
CHOSEN = {"password": NEW_PASSWORD}


def finish(client, link: str):
    """Open the emailed link, then type the password and press the button on its page."""
    opened = client.get(link)
    assert opened["Location"] == "/register/verify/confirm/"
    return client.post("/register/verify/confirm/", CHOSEN)


def registered(client, mailoutbox, **changes) -> Member:
    """Register, follow the mailed link, press the button: the new member."""
    assert register(client, **changes)["Location"] == SENT
    response = finish(client, link_in(mailoutbox[-1]))
    assert response["Location"] == "/register/done/"
    return Member.objects.get(member_id=client.session["_registered_member_id"])


# --- The way in ------------------------------------------------------------------------------


def test_the_sign_in_page_links_to_registration_in_both_languages(client, db):
    page = client.get("/login/").content.decode()
    assert "アカウントをお持ちでないですか？" in page
    assert '<a class="nowrap" href="/register/">こちらから新規登録</a>' in page
    client.cookies["django_language"] = "en"
    page = client.get("/login/").content.decode()
    assert 'No account yet? <a class="nowrap" href="/register/">Register here</a>' in page


def test_the_form_asks_for_what_the_issue_lists(client, db):
    page = client.get("/register/").content.decode()
    for field in (
        "name",
        "email",
        "new_password1",
        "new_password2",
        "new_pin1",
        "new_pin2",
        "preferred_language",
        "terms",
        "captcha_1",
    ):
        assert f'name="{field}"' in page, field
    assert "利用規約に同意します" in page
    assert '<option value="ja" selected lang="ja">日本語</option>' in page


@pytest.mark.parametrize(
    ("language", "words"), [("ja", "利用規約を読む"), ("en", "Read the terms of use")]
)
def test_the_consent_links_to_the_published_terms(client, db, settings, language, words):
    settings.JENCO_TERMS_URL = "https://www.jenco.example/terms/"
    page = client.get("/register/", headers={"accept-language": language}).content.decode()
    assert (
        f'<a href="https://www.jenco.example/terms/" target="_blank" rel="noopener">{words}</a>'
        in page
    )


def test_without_published_terms_there_is_no_dead_link(client, db, settings):
    settings.JENCO_TERMS_URL = ""
    assert "利用規約を読む" not in client.get("/register/").content.decode()


# --- The whole journey -----------------------------------------------------------------------


def test_a_visitor_registers_confirms_the_address_and_gets_the_next_member_id(
    client, member, mailoutbox
):
    response = register(client)

    assert response["Location"] == SENT
    assert "メールをお送りしました" in client.get(SENT).content.decode()
    assert Member.objects.count() == 1  # nothing yet but the pending registration
    [mail] = mailoutbox
    assert mail.to == ["ichiro@example.com"]
    assert mail.subject == "【JENCO】新規登録を完了してください"
    assert "JENCOへのご登録ありがとうございます" in mail.body and "24時間" in mail.body
    assert "鈴木" not in mail.body  # the address is not confirmed yet: no name typed by anyone
    link = link_in(mail)
    assert mail.body.count("https://jenco.example/register/verify/") == 1

    opened = client.get(link)
    assert opened["Location"] == "/register/verify/confirm/"
    assert opened["Referrer-Policy"] == "no-referrer"  # the token's address is never a Referer
    page = client.get("/register/verify/confirm/").content.decode()
    assert "鈴木 一郎" in page and "ichiro@example.com" in page
    assert "アカウントを作成" in page
    assert Member.objects.count() == 1  # opening the link (a mail scanner too) creates nothing

    done = client.post("/register/verify/confirm/", CHOSEN)

    assert done["Location"] == "/register/done/"
    shown = client.get("/register/done/")
    page = shown.content.decode()
    assert "JPN1000002" in page and "新規登録完了" in page
    # The new member ID is kept by no cache, a shared computer's included (helper-150).
    assert "no-store" in shown["Cache-Control"]
    new = Member.objects.get(member_id="JPN1000002")
    assert (new.name, new.email, new.preferred_language) == (
        "鈴木 一郎",
        "ichiro@example.com",
        "ja",
    )
    assert new.origin == Member.Origin.REGISTRATION
    assert not new.on_default_password and not new.on_default_pin
    assert new.check_password(NEW_PASSWORD) and check_password(NEW_PIN, new.pin)
    assert SecurityEvent.objects.filter(kind="registered", member=new).count() == 1
    welcome = mailoutbox[-1]
    assert welcome.to == ["ichiro@example.com"]
    assert welcome.subject == "【JENCO】会員IDのお知らせ"
    assert "JPN1000002" in welcome.body and "https://jenco.example/login/" in welcome.body

    # The new member signs in with the ID they were shown, and lands in the back office.
    fresh = Client()
    assert sign_in(fresh, "jpn 1000002", NEW_PASSWORD)["Location"] == "/backoffice/"


def test_what_is_stored_before_verification_holds_no_secret_in_the_clear(client, db, mailoutbox):
    register(client)

    pending = PendingRegistration.objects.get()
    token = link_in(mailoutbox[0]).split("/")[3]
    assert pending.password != NEW_PASSWORD and check_password(NEW_PASSWORD, pending.password)
    assert pending.pin != NEW_PIN and check_password(NEW_PIN, pending.pin)
    assert pending.token_hash == hashlib.sha256(token.encode()).hexdigest()
    row = " ".join(str(v) for v in PendingRegistration.objects.values_list().get())
    assert NEW_PASSWORD not in row and NEW_PIN not in row and token not in row


def test_once_verified_the_registration_keeps_no_hash(client, db, mailoutbox):
    member = registered(client, mailoutbox)
    pending = PendingRegistration.objects.get()
    assert (pending.password, pending.pin, pending.member) == ("", "", member)


def test_the_first_member_of_an_empty_site_is_jpn0000001(client, db, mailoutbox):
    assert registered(client, mailoutbox).member_id == "JPN0000001"


def test_the_next_member_id_follows_the_highest_in_use(db):
    for member_id in ("JPN0000005", "JPN2999999", "JPN0100000"):
        Member.objects.create_user(member_id)
    assert registration.next_member_id() == "JPN3000000"


def test_staff_ids_are_not_where_members_numbers_continue(db):
    """The README's staff IDs are JPN9000001 and up: the first registration after them was
    JPN9000005 in the trial, in the staff range."""
    Member.objects.create_user("JPN2000003")
    for n in (1, 2, 3):
        Member.objects.create_user(f"JPN900000{n}", is_staff=True)
    Member.objects.create_superuser("JPN9500000", "root@jenco.example", "x")
    assert registration.next_member_id() == "JPN2000004"


def test_an_id_a_staff_account_holds_is_skipped(client, db, mailoutbox, monkeypatch):
    Member.objects.create_user("JPN2000003")
    Member.objects.create_user("JPN2000004", is_staff=True)  # in the members' range
    inserts = []
    save = Member.save

    def counted(member, *args, **kwargs):
        if kwargs.get("force_insert"):
            inserts.append(member.member_id)
        return save(member, *args, **kwargs)

    monkeypatch.setattr(Member, "save", counted)

    assert registered(client, mailoutbox).member_id == "JPN2000005"
    # Skipped before an INSERT was sent for it: PostgreSQL logs the statement that failed on
    # the unique key whole, and the new member's password and PIN hashes, address and name
    # were in its VALUES (helper-150).
    assert inserts == ["JPN2000005"]


def test_no_member_id_is_left_after_jpn9999999(db):
    Member.objects.create_user("JPN9999999")
    with pytest.raises(registration.MemberIdsExhausted):
        registration.next_member_id()


def test_the_mail_and_the_member_follow_the_language_chosen_not_the_page_s(client, db, mailoutbox):
    member = registered(client, mailoutbox, preferred_language="en")
    assert mailoutbox[0].subject == "[JENCO] Finish registering"
    assert mailoutbox[-1].subject == "[JENCO] Your member ID"
    assert member.preferred_language == "en"


def test_the_whole_journey_reads_in_english(client, db, mailoutbox):
    client.cookies["django_language"] = "en"
    page = client.get("/register/").content.decode()
    assert "<h1>Register</h1>" in page and "I agree to the JENCO terms of use." in page
    bad = register(client, new_pin1="123123", new_pin2="123123").content.decode()
    assert "You cannot use the default PIN." in bad
    assert register(client, preferred_language="en")["Location"] == SENT
    assert "We sent an email" in client.get(SENT).content.decode()
    client.get(link_in(mailoutbox[-1]))
    assert "Create my account" in client.get("/register/verify/confirm/").content.decode()
    client.post("/register/verify/confirm/", CHOSEN)
    assert "Your member ID is" in client.get("/register/done/").content.decode()


# --- The link --------------------------------------------------------------------------------


def test_the_owner_of_an_address_a_stranger_registered_gets_no_account_by_pressing_the_button(
    client, db, mailoutbox
):
    """helper-167: a stranger registered someone else's address with a password and PIN of
    their own; its owner pressed the mailed link's button, and the account was the
    stranger's (the next member ID guessed), who added a passkey and a sub password that
    outlived the owner's password reset. The account is created only with the password
    chosen when registering."""
    assert register(client, email="owner@example.com")["Location"] == SENT
    owner = Client()
    assert owner.get(link_in(mailoutbox[-1]))["Location"] == "/register/verify/confirm/"
    page = owner.get("/register/verify/confirm/").content.decode()
    assert "JENCOに新規登録していない場合は、このページを閉じてください。" in page

    pressed = owner.post("/register/verify/confirm/")  # the button alone
    assert "新規登録のときに設定したパスワードを入力してください。" in pressed.content.decode()
    for left in (4, 3, 2, 1):
        guess = owner.post("/register/verify/confirm/", {"password": f"owner-Guess-{left}"})
        said = f"新規登録のときに設定したパスワードと一致しません。あと{left}回入力できます。"
        assert said in guess.content.decode()
    last = owner.post("/register/verify/confirm/", {"password": "owner-Guess-0"}, follow=True)

    assert LINK_UNUSABLE in last.content.decode()
    assert not Member.objects.filter(email="owner@example.com").exists()
    pending = PendingRegistration.objects.get(email="owner@example.com")
    assert pending.used_at and pending.password == "" and pending.pin == ""
    # The stranger's own password no longer helps either: the link is used up.
    late = owner.post("/register/verify/confirm/", CHOSEN, follow=True)
    assert LINK_UNUSABLE in late.content.decode()
    assert not Member.objects.filter(email="owner@example.com").exists()


def test_a_wrong_password_on_the_links_page_reads_in_english(client, db, mailoutbox):
    register(client, preferred_language="en")
    client.cookies["django_language"] = "en"
    client.get(link_in(mailoutbox[-1]))
    page = client.post("/register/verify/confirm/", {"password": "a-Slip-2026"}).content.decode()
    assert "This is not the password chosen when registering. 4 more tries." in page
    assert client.post("/register/verify/confirm/", CHOSEN)["Location"] == "/register/done/"


def test_a_link_used_twice_gets_a_clear_page_and_changes_nothing(client, db, mailoutbox):
    register(client)
    link = link_in(mailoutbox[0])
    assert finish(client, link)["Location"] == "/register/done/"
    members = list(Member.objects.values_list("member_id", "password"))

    # Opened again, it says the account is there and offers the sign-in, not a new link
    # (helper-97: 「リンクを再申請する」 invited a second registration).
    again = Client()
    opened = again.get(link)
    assert opened["Referrer-Policy"] == "no-referrer"  # the token's address
    assert opened["Location"] == "/register/verify/created/"
    page = again.get(opened["Location"])
    assert page.status_code == 200 and LINK_UNUSABLE not in page.content.decode()
    assert "<title>アカウントは作成済みです | " in page.content.decode()
    assert 'href="/login/"' in page.content.decode()
    assert page["Referrer-Policy"] == "same-origin"  # so its language switch can be sent
    # The same browser pressing the button again (back, then the button): still done.
    pressed = client.post("/register/verify/confirm/", CHOSEN)
    assert pressed["Location"] == "/register/done/"
    assert client.get("/register/verify/confirm/")["Location"] == "/register/done/"
    assert list(Member.objects.values_list("member_id", "password")) == members
    assert SecurityEvent.objects.filter(kind="registered").count() == 1


def test_a_button_pressed_twice_at_once_makes_one_member(client, db, mailoutbox):
    register(client)
    link = link_in(mailoutbox[0])
    other = Client()
    for browser in (client, other):  # the link opened in two browsers, both pages showing
        browser.get(link)
    assert client.post("/register/verify/confirm/", CHOSEN)["Location"] == "/register/done/"
    late = other.post("/register/verify/confirm/", CHOSEN)
    # Told the account is made, as the link opened again is, not to ask for a new link,
    # which led to registering again (helper-150).
    assert late.status_code == 200 and LINK_UNUSABLE not in late.content.decode()
    assert "<title>アカウントは作成済みです | " in late.content.decode()
    assert (
        "<title>アカウントは作成済みです | "
        in other.get("/register/verify/confirm/").content.decode()
    )
    assert Member.objects.filter(origin="registration").count() == 1


def test_an_expired_link_gets_a_clear_page_and_creates_nothing(client, db, mailoutbox, settings):
    settings.JENCO_REGISTRATION_HOURS = 2
    register(client)
    link = link_in(mailoutbox[0])
    PendingRegistration.objects.update(created=timezone.now() - datetime.timedelta(hours=2))

    page = client.get(link, follow=True)

    assert page.redirect_chain == [(UNUSABLE_PAGE, 302)]
    assert page.status_code == 200 and LINK_UNUSABLE in page.content.decode()
    assert '<a class="button" href="/register/">' in page.content.decode()  # register again
    assert not Member.objects.exists()


@pytest.mark.parametrize("dead", ["expired", "used"])
def test_a_dead_link_leads_to_a_page_without_its_token_whose_language_switch_works(
    client, db, mailoutbox, dead
):
    # Answered at the token's address (no-referrer), the page's language switch went with
    # "Origin: null" and was refused (403).
    register(client)
    link = link_in(mailoutbox[0])
    if dead == "used":
        finish(client, link)
    else:
        PendingRegistration.objects.update(created=timezone.now() - datetime.timedelta(days=2))
    browser = Client()
    opened = browser.get(link)
    landing = {"expired": UNUSABLE_PAGE, "used": "/register/verify/created/"}[dead]
    assert opened["Location"] == landing and opened["Referrer-Policy"] == "no-referrer"
    page = browser.get(landing)
    assert link.split("/")[-2] not in page.content.decode()
    switched = switch_language(page)
    assert switched.status_code == 302 and switched["Location"] == landing
    english = browser.get(landing).content.decode()
    title = {"expired": "This link cannot be used", "used": "Your account has been created"}
    assert f"<title>{title[dead]} | " in english


def test_the_dead_links_page_opened_by_itself_says_the_link_cannot_be_used(client, db):
    page = client.get(UNUSABLE_PAGE)
    assert page.status_code == 200 and LINK_UNUSABLE in page.content.decode()
    assert "sessionid" not in page.cookies


def test_a_link_that_expires_while_its_page_is_open_creates_nothing(client, db, mailoutbox):
    register(client)
    client.get(link_in(mailoutbox[0]))
    PendingRegistration.objects.update(created=timezone.now() - datetime.timedelta(hours=25))

    pressed = client.post("/register/verify/confirm/", CHOSEN)

    assert pressed.status_code == 200 and LINK_UNUSABLE in pressed.content.decode()
    assert not Member.objects.exists()


def test_a_page_left_open_past_its_session_asks_for_the_link_again_which_still_works(
    client, db, mailoutbox, settings
):
    """The signed-out session holding the link ends after an hour; the link works 24. The
    page said "this link cannot be used" and to ask for a new one (a day's limit each)."""
    register(client)
    client.get(link_in(mailoutbox[0]))
    del client.cookies[settings.SESSION_COOKIE_NAME]  # the session ended meanwhile

    pressed = client.post("/register/verify/confirm/", CHOSEN)

    page = pressed.content.decode()
    assert pressed.status_code == 200 and LINK_UNUSABLE not in page
    assert "<title>メールのリンクをもう一度開いてください | " in page
    assert "送信から24時間有効です" in page
    assert not Member.objects.exists()
    finish(client, link_in(mailoutbox[0]))  # the same link, opened again
    assert Member.objects.count() == 1


def test_the_page_opened_without_a_link_asks_for_the_link(client, db, mailoutbox):
    register(client)
    for response in (
        client.get("/register/verify/confirm/"),
        client.post("/register/verify/confirm/", CHOSEN),
    ):
        assert "メールのリンクをもう一度開いてください" in response.content.decode()
    assert not Member.objects.exists()


@pytest.mark.parametrize(
    "token",
    ["garbled", "x" * 43, "%00", "a" * 10_000],
    ids=["garbled", "the length of ours", "NUL", "10,000 characters"],
)
def test_a_garbled_link_gets_a_clear_page(client, db, mailoutbox, token):
    register(client)  # a real registration is waiting: none of these completes it
    response = client.get(f"/register/verify/{token}/", follow=True)
    assert response.redirect_chain == [(UNUSABLE_PAGE, 302)]
    assert response.status_code == 200 and LINK_UNUSABLE in response.content.decode()
    pressed = client.post(f"/register/verify/{token}/", CHOSEN)
    assert pressed.status_code in (200, 302)
    assert client.post("/register/verify/confirm/", CHOSEN).status_code == 200
    assert not Member.objects.exists()


def test_the_done_page_without_a_registration_leads_to_sign_in(client, db):
    assert client.get("/register/done/")["Location"] == "/login/"


# --- The answer never says whether the address has an account -------------------------------


def sent_page(client) -> str:
    page = client.get(SENT).content.decode()
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)


def test_a_known_address_gets_the_same_answer_and_a_mail_naming_its_member_ids(member, mailoutbox):
    finished_member("JPN1000009", "taro@example.com", "山田 花子")  # a family shares it
    # Typed into admin with capitals, the address is still the same one.
    finished_member("JPN1000010", "", "山田 次郎")
    Member.objects.filter(member_id="JPN1000010").update(email="Taro@Example.COM")
    finished_member("JPN1000011", "taro@example.com", "退会 済", is_active=False)
    known, unknown = Client(), Client()

    to_known = register(known, email="ＴＡＲＯ@Example.com")  # typed any way
    to_unknown = register(unknown, email="jiro@example.com")

    assert (to_known.status_code, to_known["Location"]) == (302, SENT)
    assert (to_unknown.status_code, to_unknown["Location"]) == (302, SENT)
    assert sent_page(known) == sent_page(unknown)
    exists, link = mailoutbox
    assert exists.to == ["taro@example.com"]
    assert exists.subject == "【JENCO】すでにアカウントをお持ちです"
    assert re.findall(r"JPN\d{7}", exists.body) == ["JPN1000001", "JPN1000009", "JPN1000010"]
    assert "https://jenco.example/password/forgot/\n" in exists.body  # which? the member picks
    assert "/register/verify/" not in exists.body
    assert link.to == ["jiro@example.com"] and "/register/verify/" in link.body
    # Nothing is left that could make a second account on the known address.
    assert list(PendingRegistration.objects.values_list("email", flat=True)) == ["jiro@example.com"]


PHISHING_NAME = "【重要】至急 https://jenco-login.example/ で本人確認を"


def test_a_name_typed_in_the_form_is_not_mailed_to_an_address_nobody_has_confirmed(
    client, db, mailoutbox
):
    """Anyone can type anyone's address and a name of their choosing: JENCO's mail to that
    address must not carry the name (a phishing line on our letterhead) until the address
    is proved, by the link."""
    finished_member("JPN1000009", "taro@example.com", "山田 太郎", preferred_language="en")

    register(client, name=PHISHING_NAME, email="stranger@example.com")
    register(Client(), name=PHISHING_NAME, email="taro@example.com", preferred_language="ja")

    link, exists = sorted(mailoutbox, key=lambda mail: mail.to != ["stranger@example.com"])
    for mail in (link, exists):
        for text in (mail.subject, mail.body, mail.alternatives[0].content):
            assert "jenco-login" not in text and "至急" not in text
    assert link.body.startswith("JENCOへのご登録ありがとうございます")
    # The known address is spoken to in its owner's language, not the form's.
    assert exists.subject == "[JENCO] You already have an account"
    assert exists.body.startswith("Someone, perhaps you, tried to register")
    assert "山田" not in exists.body  # nor the owner's name, to whoever typed the address


def test_the_name_is_used_once_the_link_proved_the_address(client, db, mailoutbox):
    register(client)
    assert finish(client, link_in(mailoutbox[0]))["Location"] == "/register/done/"

    assert mailoutbox[-1].body.startswith("鈴木 一郎 様")


def test_an_address_registered_meanwhile_gets_no_second_account(client, db, mailoutbox):
    first, second = Client(), Client()
    register(first)
    register(second, name="鈴木 二郎")
    links = [link_in(mail) for mail in mailoutbox]
    assert finish(first, links[0])["Location"] == "/register/done/"

    late = finish(second, links[1])

    assert late.status_code == 200
    assert "このアドレスはすでに登録されています" in late.content.decode()
    assert Member.objects.filter(email="ichiro@example.com").count() == 1
    assert LINK_UNUSABLE in second.get(links[1], follow=True).content.decode()  # and it is used up


@pytest.mark.django_db(transaction=True)
def test_a_known_and_an_unknown_address_cost_the_request_the_same(member, settings, mailoutbox):
    # The worker decides which mail to send: the request queues it and nothing more.
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

    def statements(email):
        client = Client()
        data = details(email=email)
        with CaptureQueriesContext(connection) as queries:
            assert client.post("/register/", data)["Location"] == SENT
        return [re.sub(r"'[^']*'|\d+", "?", q["sql"]) for q in queries]

    assert statements("taro@example.com") == statements("nobody@example.com")
    assert mailoutbox == []
    call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", verbosity=0)
    assert sorted(m.to[0] for m in mailoutbox) == ["nobody@example.com", "taro@example.com"]
    token = link_in(next(m for m in mailoutbox if m.to == ["nobody@example.com"])).split("/")[3]
    stored = " ".join(str(r) for r in DBTaskResult.objects.values_list("args_kwargs"))
    assert token not in stored and "nobody@example.com" not in stored


# --- Bad input -------------------------------------------------------------------------------

BAD_INPUT = {
    "passwords differ": (
        {"new_password2": "cedar-Grove-6621"},
        "new_password2",
        "パスワードが2回とも同じではありません",
    ),
    "weak password": (
        {"new_password1": "password", "new_password2": "password"},
        "new_password1",
        None,
    ),
    "short password": ({"new_password1": "aB3$x", "new_password2": "aB3$x"}, "new_password1", None),
    "digits-only password": (
        {"new_password1": "20261203998", "new_password2": "20261203998"},
        "new_password1",
        None,
    ),
    "password like the email": (
        {"new_password1": "ichiro@example", "new_password2": "ichiro@example"},
        "new_password1",
        None,
    ),
    "the default password": (
        {"new_password1": "jenco@12345", "new_password2": "jenco@12345"},
        "new_password1",
        None,
    ),
    "PINs differ": (
        {"new_pin2": "583921"},
        "new_pin2",
        "新しいPINコードが2回とも同じではありません",
    ),
    "the default PIN": ({"new_pin1": "123123", "new_pin2": "123123"}, "new_pin1", None),
    "the default PIN in full-width digits": (
        {"new_pin1": "１２３１２３", "new_pin2": "１２３１２３"},
        "new_pin1",
        None,
    ),
    "one digit repeated": ({"new_pin1": "777777", "new_pin2": "777777"}, "new_pin1", None),
    "a run of digits": ({"new_pin1": "456789", "new_pin2": "456789"}, "new_pin1", None),
    "a short PIN": ({"new_pin1": "58392", "new_pin2": "58392"}, "new_pin1", None),
    "letters in the PIN": ({"new_pin1": "58392a", "new_pin2": "58392a"}, "new_pin1", None),
    "Arabic-Indic digits": ({"new_pin1": "٥٨٣٩٢٠", "new_pin2": "٥٨٣٩٢٠"}, "new_pin1", None),
    "no name": ({"name": ""}, "name", None),
    "a control character in the name": ({"name": "鈴木\x1b[31m"}, "name", None),
    "a right-to-left override in the name": ({"name": "鈴木\u202e一郎"}, "name", None),
    "a zero-width space in the name": ({"name": "鈴木\u200b一郎"}, "name", None),
    # Bytes that were not UTF-8, as Django decodes them (helper-102 stored 「ab���cd」).
    "replacement characters in the name": ({"name": "鈴木\ufffd\ufffd"}, "name", None),
    "a name that shows as blank": ({"name": "\u3164"}, "name", None),
    "a blank Braille pattern in the name": ({"name": "鈴木\u2800一郎"}, "name", None),
    "a name too long": ({"name": "名" * 151}, "name", None),
    "no email": ({"email": ""}, "email", None),
    "an invalid email": ({"email": "ichiro@"}, "email", "name@example.com"),
    "a huge email": ({"email": "a" * 250 + "@example.com"}, "email", None),
    "NUL in the email": ({"email": "ichiro\x00@example.com"}, "email", None),
    "a right-to-left override in the email": (
        {"email": "ichiro@exa\u202emple.com"},
        "email",
        "name@example.com",
    ),
    "no language": ({"preferred_language": None}, "preferred_language", None),
    "an unknown language": ({"preferred_language": "fr"}, "preferred_language", None),
    "the terms not agreed": ({"terms": None}, "terms", "利用規約に同意してください"),
    "a wrong captcha": (wrong_captcha, "captcha", "画像の数字と一致しません"),
    "no captcha": ({"captcha_1": ""}, "captcha", None),
}


@pytest.mark.parametrize("case", BAD_INPUT, ids=str)
def test_bad_input_gets_a_message_on_its_field_and_stores_nothing(client, db, mailoutbox, case):
    changes, field, message = BAD_INPUT[case]
    if callable(changes):
        changes = changes()
    response = register(client, **changes)

    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors, form.errors
    page = response.content.decode()
    assert 'class="errorlist' in page
    if message:
        assert message in page
    assert not PendingRegistration.objects.exists() and mailoutbox == []
    # What was typed stays, never the secrets.
    if field != "name":
        assert 'value="鈴木 一郎"' in page
    for secret in (NEW_PASSWORD, NEW_PIN):
        assert secret not in page
    # And the page says so: the boxes come back empty (helper-97: only the captcha's error
    # was shown, and the second send read "required" four times).
    assert "パスワードとPINコードは表示されません。もう一度入力してください。" in page
    assert "もう一度入力してください" not in client.get("/register/").content.decode()


def test_a_full_width_pin_counts_as_the_digits_it_shows(client, db, mailoutbox):
    member = registered(client, mailoutbox, new_pin1="５８３９２０", new_pin2="５８３９２０")
    assert check_password("583920", member.pin)


def test_a_name_typed_with_the_ideographic_space_is_kept_as_typed(client, db, mailoutbox):
    """「鈴木　一郎」: a Japanese keyboard types the full-width space between the names."""
    member = registered(client, mailoutbox, name="鈴木\u3000一郎")
    assert member.name == "鈴木\u3000一郎"


def test_a_form_sent_twice_registers_once(client, db, mailoutbox):
    data = details()
    assert client.post("/register/", data)["Location"] == SENT

    again = client.post("/register/", data)  # a double tap: the same captcha answer

    assert again.status_code == 200 and "画像の数字と一致しません" in again.content.decode()
    assert PendingRegistration.objects.count() == 1 and len(mailoutbox) == 1


# --- Limits ----------------------------------------------------------------------------------


def test_one_address_may_send_only_so_many_registrations_an_hour(db, settings, mailoutbox):
    settings.JENCO_REGISTRATION_PER_ADDRESS = 2
    client = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(2):
        assert register(client, email=f"n{n}@example.com")["Location"] == SENT

    refused = register(client, email="n2@example.com")

    assert refused.status_code == 200
    assert "この1時間に送信された新規登録が多すぎます" in refused.content.decode()
    assert 'value="n2@example.com"' in refused.content.decode()
    assert PendingRegistration.objects.count() == 2 and len(mailoutbox) == 2
    elsewhere = Client(REMOTE_ADDR="198.51.100.4")
    assert register(elsewhere, email="n2@example.com")["Location"] == SENT


def test_one_mailbox_receives_only_so_many_registration_mails_a_day(db, settings, mailoutbox):
    settings.JENCO_REGISTRATION_PER_EMAIL = 2
    spellings = ["ichiro@example.com", "Ichiro+jenco@example.com", '"ichiro"@EXAMPLE.com']
    answers = [
        register(Client(REMOTE_ADDR=f"203.0.113.{n}"), email=email)
        for n, email in enumerate(spellings)
    ]

    # The same answer for the third: it says nothing about the address.
    assert [a["Location"] for a in answers] == [SENT] * 3
    assert len(mailoutbox) == 2 and PendingRegistration.objects.count() == 2


# --- Closed by the operator ------------------------------------------------------------------


def test_closed_registration_says_so_hides_the_link_and_refuses_posts(
    client, db, settings, mailoutbox
):
    register(client)
    link = link_in(mailoutbox[0])
    settings.JENCO_REGISTRATION_OPEN = False

    page = client.get("/register/")
    assert page.status_code == 200
    assert "新規登録は受け付けていません" in page.content.decode()
    assert 'name="new_password1"' not in page.content.decode()
    assert 'href="/register/"' not in client.get("/login/").content.decode()
    refused = register(client, email="jiro@example.com")
    assert refused.status_code == 403 and "新規登録は受け付けていません" in refused.content.decode()
    assert PendingRegistration.objects.count() == 1 and len(mailoutbox) == 1
    # A link mailed before it closed creates nothing while it stays closed.
    assert "新規登録は受け付けていません" in client.get(link).content.decode()
    assert client.post("/register/verify/confirm/", CHOSEN).status_code == 403
    assert not Member.objects.exists()

    settings.JENCO_REGISTRATION_OPEN = True  # reopened: the sign-in page links again
    assert 'href="/register/"' in client.get("/login/").content.decode()


# --- Housekeeping ----------------------------------------------------------------------------


def test_housekeeping_removes_registrations_past_their_lifetime(db, settings):
    settings.JENCO_REGISTRATION_HOURS = 6
    now = timezone.now()
    for hours, email in [(7, "old@example.com"), (6, "edge@example.com"), (5, "live@example.com")]:
        PendingRegistration.objects.create(
            name="x", email=email, created=now - datetime.timedelta(hours=hours)
        )
    used = PendingRegistration.objects.create(
        name="x", email="used@example.com", created=now - datetime.timedelta(hours=8)
    )
    used.used_at = now
    used.save()
    out = io.StringIO()

    call_command("housekeeping", stdout=out)

    assert list(PendingRegistration.objects.values_list("email", flat=True)) == ["live@example.com"]
    assert "期限切れの新規登録を3件削除しました。" in out.getvalue()


def test_a_registration_and_a_member_sign_in_do_not_mix(client, member, mailoutbox):
    """Registering while signed in as someone else changes nothing about that member."""
    sign_in(client, "JPN1000001", PASSWORD)
    new = registered(client, mailoutbox, email="jiro@example.com")
    assert new.member_id == "JPN1000002"
    assert Member.objects.get(pk=member.pk).check_password(PASSWORD)


def test_failures_typed_against_the_next_id_before_it_was_anyones_do_not_pause_its_owner(
    client, db, mailoutbox
):
    # Member IDs are handed out in order: an attacker paused the next one before anybody held
    # it, and its owner's first sign-in, a minute after registering, met the pause (helper-102).
    upcoming = registration.next_member_id()
    for n in range(10):
        Client().post(
            "/login/",
            {"username": upcoming, "password": "wrong-password", **solved_captcha()},
            REMOTE_ADDR=f"10.6.0.{n}",
        )
    member = registered(client, mailoutbox)
    assert member.member_id == upcoming

    owner = Client()
    signed_in = owner.post(
        "/login/",
        {"username": upcoming, "password": NEW_PASSWORD, **solved_captcha()},
        REMOTE_ADDR="10.6.1.1",
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == "/backoffice/"


# --- Member IDs under concurrent registrations -----------------------------------------------

RACERS = 8
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")


@pytest.fixture(scope="module")
def live_site(tmp_path_factory):
    """A JENCO server in its own process (tests/live_site.py): on a SQLite file, or, in the
    suite's PostgreSQL run, on a database of its own in that cluster."""
    folder = tmp_path_factory.mktemp("registration-site")
    database_url = name = None
    if ON_POSTGRES:
        name = "jenco_register_" + secrets.token_hex(4)
        admin = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
        postgres_query(admin, f"CREATE DATABASE {name}")
        database_url = admin.rsplit("/", 1)[0] + "/" + name
    site = LiveSite(folder, database_url=database_url)
    site.env["JENCO_REGISTRATION_PER_ADDRESS"] = "1000"
    site.start()
    yield site
    site.stop()
    if name:
        postgres_query(admin, f"DROP DATABASE {name}")


def pressed_together(live_site, emails: list[str], setup: str = ""):
    """A pending registration for each address (`setup`: Python run first in the site's
    shell), each link opened in a browser of its own, then every 「アカウントを作成」 pressed
    at the same instant: the pages, and the browsers that got them."""
    tokens = [secrets.token_urlsafe(32) for _ in emails]
    rows = [(hashlib.sha256(t.encode()).hexdigest(), email) for t, email in zip(tokens, emails)]
    live_site.shell(
        "from django.contrib.auth.hashers import make_password\n"
        "from accounts.models import Member, PendingRegistration\n"
        f"{setup}"
        f"chosen = make_password({NEW_PASSWORD!r})\n"
        f"for n, (token_hash, email) in enumerate({rows!r}):\n"
        "    PendingRegistration.objects.create(name=f'会員 {n}',"
        " email=email, password=chosen, pin='!', token_hash=token_hash)\n"
    )
    browsers = []
    for token in tokens:
        browser = Browser(live_site)
        assert browser.get(f"/register/verify/{token}/").location == "/register/verify/confirm/"
        browsers.append((browser, {**browser.form("/register/verify/confirm/"), **CHOSEN}))

    def press(browser, fields):
        return lambda barrier: browser.request("POST", "/register/verify/confirm/", fields, barrier)

    mark = live_site.log_mark()
    pages = race(*(press(browser, fields) for browser, fields in browsers))
    assert overlapped(pages)
    no_server_trouble(live_site, pages, mark)
    return pages, [browser for browser, _fields in browsers]


def test_registrations_completed_at_the_same_moment_get_one_member_id_each(live_site):
    pages, browsers = pressed_together(
        live_site,
        [f"racer{n}@example.com" for n in range(RACERS)],
        setup="Member.objects.create_user('JPN5000000')\n",
    )
    assert [p.location for p in pages] == ["/register/done/"] * RACERS
    shown = [
        re.search(r'class="member-id"><strong>(JPN\d{7})<', browser.get("/register/done/").body)[1]
        for browser in browsers
    ]
    assert sorted(shown) == [f"JPN{5000001 + n}" for n in range(RACERS)]
    stored = live_site.query("SELECT member_id FROM accounts_member WHERE origin = 'registration'")
    assert sorted(row[0] for row in stored) == sorted(shown)


def test_links_for_one_address_confirmed_at_the_same_moment_make_one_member(live_site):
    # Each link's row was locked, but not the address: every press found it free and three
    # accounts shared it (helper-102). The second and later say it is taken.
    pages, _browsers = pressed_together(live_site, ["twice@example.com"] * RACERS)
    assert [p.location for p in pages].count("/register/done/") == 1
    assert (
        sum("このアドレスはすでに登録されています" in p.body for p in pages if p.status == 200)
        == RACERS - 1
    )
    stored = live_site.query(
        "SELECT count(*) FROM accounts_member WHERE email = 'twice@example.com'"
    )
    assert int(stored[0][0]) == 1


def test_an_address_whose_domain_is_spelled_the_other_way_has_its_account_already(
    client, db, mailoutbox
):
    # 例え.jp and xn--r8jz45g.jp are one mailbox: each spelling registered an account
    # (helper-103).
    registered(client, mailoutbox, email="idn1@例え.jp")
    for spelling in ("idn1@xn--r8jz45g.jp", "IDN1@XN--R8JZ45G.JP"):
        other = Client()
        assert register(other, email=spelling)["Location"] == SENT
        assert "/register/verify/" not in mailoutbox[-1].body
    assert Member.objects.filter(origin="registration").count() == 1


def test_a_mail_naming_one_member_id_fills_it_in_on_forgot_password(member, mailoutbox):
    # The sign-in page's "Forgot password?" carries the ID typed there (helper-142); the mail
    # that names the inbox's one ID now does too, in the fragment no server is sent.
    register(Client(), email="taro@example.com")

    (exists,) = mailoutbox
    link = "https://jenco.example/password/forgot/#member_id=JPN1000001"
    assert f"{link}\n" in exists.body
    assert f'<a href="{link}">' in exists.alternatives[0][0]
    assert re.findall(r"JPN\d{7}", exists.body.replace(link, "")) == ["JPN1000001"]


# --- One inbox, one account (helper-112) ------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["taro+jenco@gmail.com", "t.a.r.o@gmail.com", "Taro@googlemail.com"]
)
def test_another_spelling_of_a_members_inbox_has_its_account_already(db, mailoutbox, typed):
    # A "+tag" and Gmail's dots reach the same inbox: each registered a second account.
    finished_member("JPN1000001", "taro@gmail.com", "山田 太郎")

    assert register(Client(), email=typed)["Location"] == SENT

    (exists,) = mailoutbox
    assert exists.to == [typed.lower()]
    assert exists.subject == "【JENCO】すでにアカウントをお持ちです"
    # The one ID named, and again in "Forgot password?" (forgot_password_path), nothing else.
    assert re.findall(r"JPN\d{7}", exists.body) == ["JPN1000001", "JPN1000001"]
    assert "/register/verify/" not in exists.body
    assert Member.objects.count() == 1 and not PendingRegistration.objects.exists()


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_closed_accounts_address_registers_nothing_and_is_told_to_ask_support(
    db, mailoutbox, language
):
    finished_member(
        "JPN1000011", "taro@example.com", "退会 済", is_active=False, preferred_language=language
    )
    sent_to_unknown = sent_page_for("jiro@example.com")

    assert sent_page_for("taro@example.com") == sent_to_unknown  # the page tells nothing

    closed = next(mail for mail in mailoutbox if mail.to == ["taro@example.com"])
    subject, support = {
        "ja": (
            "【JENCO】このメールアドレスは閉鎖されたアカウントのものです",
            "JENCOサポートにお問い合わせください",
        ),
        "en": ("[JENCO] This email address belongs to a closed account", "contact JENCO support"),
    }[language]
    assert closed.subject == subject and support in closed.body
    assert re.findall(r"JPN\d{7}", closed.body) == ["JPN1000011"]
    assert "/register/verify/" not in closed.body and "/password/forgot/" not in closed.body
    assert not Member.objects.filter(email="taro@example.com", is_active=True).exists()


def sent_page_for(email: str) -> str:
    client = Client()
    assert register(client, email=email)["Location"] == SENT
    return sent_page(client)


def test_a_tag_outside_gmail_is_another_address_and_is_told_nothing_of_the_first(db, mailoutbox):
    # Where "+" is not a sub-address (some company servers), taro+x@ is another person's
    # address: mailing it the member IDs at taro@ would tell a stranger (helper-118).
    finished_member("JPN1000001", "taro@corp.example", "山田 太郎")

    assert register(Client(), email="taro+x@corp.example")["Location"] == SENT

    (mail,) = mailoutbox
    assert "/register/verify/" in mail.body and "JPN1000001" not in mail.body


@pytest.mark.parametrize(
    "stored, typed",
    [
        ("taro@straße.de", "taro@straße.de"),
        ("taro@straße.de", "taro@STRASSE.de"),
        ("taro@strasse.de", "taro@straße.de"),
    ],
)
def test_an_address_at_a_domain_idna_respells_has_its_account_already(
    db, mailoutbox, stored, typed
):
    # IDNA reads straße.de as strasse.de, and mail to either goes there: each spelling found
    # the other's account missing (helper-118, helper-119).
    finished_member("JPN1000001", stored, "山田 太郎")

    assert register(Client(), email=typed)["Location"] == SENT

    (exists,) = mailoutbox
    # The one ID named, and again in "Forgot password?" (forgot_password_path), nothing else.
    assert re.findall(r"JPN\d{7}", exists.body) == ["JPN1000001", "JPN1000001"]


def test_a_link_pressed_after_the_inbox_got_an_account_another_way_creates_none(
    client, db, mailoutbox
):
    assert register(client, email="hanako+2@gmail.com")["Location"] == SENT
    link = link_in(mailoutbox[-1])
    finished_member("JPN1000009", "hanako@gmail.com", "山田 花子")  # meanwhile, another way

    answer = finish(client, link).content.decode()

    assert "このアドレスはすでに登録されています" in answer
    assert Member.objects.count() == 1


def test_an_address_with_nothing_before_its_tag_reads_no_member_table(
    db, mailoutbox, django_assert_max_num_queries
):
    # "+x@gmail.com" has an empty inbox name: its lookup read every member (helper-120).
    from accounts.flows import email_change

    finished_member("JPN1000001", "taro@gmail.com", "山田 太郎")
    with django_assert_max_num_queries(0):
        assert email_change.accounts_at_mailbox("+x@gmail.com", certain=True) == []


def test_the_known_address_email_names_one_member_id_in_the_singular(client, db, mailoutbox):
    # "It is already registered for these member IDs:" above a single ID read oddly.
    finished_member("JPN1000009", "taro@example.com", "Taro Yamada", preferred_language="en")
    register(client, email="taro@example.com")
    body = mailoutbox[-1].body
    assert "It is already registered for this member ID:\n\n  JPN1000009\n" in body
    assert "these member IDs" not in body
    finished_member("JPN1000010", "taro@example.com", "Taro Yamada", preferred_language="en")
    cache.clear()
    register(Client(), email="taro@example.com")
    assert "It is already registered for these member IDs:" in mailoutbox[-1].body
