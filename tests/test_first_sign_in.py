"""Seed pages 1 and 4-6: a JA member signs in on the published defaults, then changes the
PIN first and the password second before the back office opens."""

import datetime
import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import MD5PasswordHasher, check_password, make_password

from accounts.models import SecurityEvent
from tests.helpers import DEFAULT_PASSWORD, DEFAULT_PIN, PASSWORD, PIN, prove_mailbox, sign_in

pytestmark = pytest.mark.django_db

BACK_OFFICE = [
    "/backoffice/",
    "/backoffice/profile/",
    "/backoffice/profile/sub-password/",
    "/backoffice/profile/email/",
]
NEW_PIN = "583920"
NEW_PASSWORD = "maple-Leaf-3391"


@pytest.mark.parametrize("password", ["jenco@12345", "Jenco@12345"])
def test_a_migrated_member_signs_in_with_either_published_spelling(
    client, migrated_member, password
):
    response = sign_in(client, "JPN2000001", password)
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(migrated_member.pk)
    assert SecurityEvent.objects.filter(member=migrated_member, kind="sign_in_default").exists()


def test_the_default_password_opens_no_account_that_left_it(client, member):
    response = sign_in(client, "JPN1000001", DEFAULT_PASSWORD)
    assert response.status_code == 200
    assert SESSION_KEY not in client.session


def test_a_migrated_member_cannot_sign_in_with_anything_else(client, migrated_member):
    sign_in(client, "JPN2000001", "jenco@123456")
    assert SESSION_KEY not in client.session


def test_after_the_deadline_the_defaults_point_to_forgot_password(
    client, migrated_member, settings
):
    settings.JENCO_DEFAULT_CREDENTIALS_UNTIL = datetime.date(2020, 1, 1)
    page = sign_in(client, "JPN2000001", DEFAULT_PASSWORD).content.decode()
    assert SESSION_KEY not in client.session
    assert "デフォルトのパスワードではログインできなくなりました" in page
    assert "/password/forgot/" in page
    # Still a failed sign-in: in the security log and counted towards the lockout.
    assert SecurityEvent.objects.filter(kind="sign_in_failed").count() == 1


def test_the_deadline_message_says_nothing_about_whether_the_id_exists(
    client, migrated_member, settings
):
    settings.JENCO_DEFAULT_CREDENTIALS_UNTIL = datetime.date(2020, 1, 1)
    known = sign_in(client, "JPN2000001", DEFAULT_PASSWORD).content.decode()
    unknown = sign_in(client, "JPN2999999", DEFAULT_PASSWORD).content.decode()
    message = "デフォルトのパスワードではログインできなくなりました"
    assert message in known and message in unknown


def test_before_the_deadline_the_defaults_still_work(client, migrated_member, settings):
    settings.JENCO_DEFAULT_CREDENTIALS_UNTIL = datetime.date(2999, 12, 31)
    sign_in(client, "JPN2000001", DEFAULT_PASSWORD)
    assert SESSION_KEY in client.session


def test_a_default_password_sign_in_after_the_pin_was_changed_mails_a_code_that_says_so(
    client, migrated_member, mailoutbox
):
    from django.contrib.auth.hashers import make_password

    migrated_member.pin = make_password(NEW_PIN)
    migrated_member.on_default_pin = False
    migrated_member.save()
    sign_in(client, "JPN2000001", DEFAULT_PASSWORD)
    [mail] = mailoutbox
    assert "確認コード" in mail.subject
    assert "お心当たりがない場合" in mail.body
    assert "パスワードを変更していただきます（PINコードは変更済みです）" in mail.body
    assert "PINコード・パスワードの順番" not in mail.body


@pytest.mark.parametrize("path", BACK_OFFICE + ["/backoffice/profile/password/"])
def test_every_back_office_page_leads_to_the_pin_step_first(migrated_client, path):
    response = migrated_client.get(path)
    assert response.status_code == 302
    assert response["Location"] == "/backoffice/profile/pin/"


FIRST = "先にこの手順を完了してください。完了すると、ほかのページを開けるようになります。"


def test_a_page_asked_for_from_the_menu_lands_on_the_step_with_a_word_why(migrated_client):
    # helper-159: Profile and Security bounced back to the step as if the link were broken.
    response = migrated_client.get("/backoffice/security/", follow=True)
    assert response.redirect_chain[-1][0] == "/backoffice/profile/pin/"
    assert FIRST in response.content.decode()
    home = migrated_client.get("/backoffice/", follow=True).content.decode()
    assert FIRST not in home  # every sign-in lands there: nothing to explain


def test_the_pin_step_says_why_in_the_seeds_words(migrated_client):
    page = migrated_client.get("/backoffice/profile/pin/").content.decode()
    assert "必ずPINコード・パスワードの順番に変更してください" in page
    assert "デフォルト：123123" in page


@pytest.mark.parametrize(
    ("language", "just_now_and_why", "order"),
    [
        (
            "ja",
            "デフォルトのパスワードでログインしました。"
            "デフォルトのパスワードとPINコードは全会員に公開されているため、"
            "ほかの操作の前に、まず変更してください。",
            "必ずPINコード・パスワードの順番に変更してください。",
        ),
        (
            "en",
            "You have just signed in with the default password. The default password and PIN"
            " are published to every member: change them now, before anything else.",
            "Please change them in this order: first your PIN, then your password.",
        ),
    ],
)
def test_the_forced_change_says_the_member_just_signed_in_on_the_defaults_and_why(
    client, migrated_member, language, just_now_and_why, order
):
    client.force_login(migrated_member)
    prove_mailbox(client, migrated_member)
    notice = notice_on(client, "/backoffice/profile/pin/", language)
    assert f"<p>{just_now_and_why}</p>" in notice and order in notice


def notice_on(client, step: str, language: str) -> str:
    page = client.get(step, headers={"accept-language": language}).content.decode()
    return " ".join(
        re.search(r'<div class="notice" role="note">(.*?)</div>', page, re.S)[1].split()
    )


@pytest.mark.parametrize(
    ("language", "next_step"),
    [
        (
            "ja",
            "次に、パスワードを変更してください。"
            "今のパスワードは、公開されているデフォルトのパスワードのままです。",
        ),
        (
            "en",
            "Now please change your password, which is still the published default one.",
        ),
    ],
)
def test_once_the_pin_is_changed_the_password_step_says_only_whats_left(
    client, migrated_member, language, next_step
):
    """Not "change them now… first your PIN", when the PIN is done (the trial's note)."""
    migrated_member.pin, migrated_member.on_default_pin = make_password(PIN), False
    migrated_member.save()
    client.force_login(migrated_member)
    prove_mailbox(client, migrated_member)

    notice = notice_on(client, "/backoffice/profile/password/", language)

    assert f"<p>{next_step}</p>" in notice
    assert "順番" not in notice and "in this order" not in notice
    assert "ほかの操作の前に" not in notice and "before anything else" not in notice


@pytest.mark.parametrize("path", BACK_OFFICE + ["/backoffice/profile/pin/"])
def test_after_the_pin_every_page_leads_to_the_password_step(
    migrated_client, migrated_member, path
):
    change_pin(migrated_client)
    response = migrated_client.get(path)
    assert response.status_code == 302
    assert response["Location"] == "/backoffice/profile/password/"


def change_pin(client):
    return client.post(
        "/backoffice/profile/pin/",
        {"current_pin": DEFAULT_PIN, "new_pin1": NEW_PIN, "new_pin2": NEW_PIN},
    )


def change_password(client, pin=NEW_PIN):
    return client.post(
        "/backoffice/profile/password/",
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD, "pin": pin},
    )


def test_the_whole_journey_of_the_seed(client, migrated_member, mailoutbox):
    sign_in(client, "ＪＰＮ２０００００１", DEFAULT_PASSWORD)
    assert client.get("/backoffice/")["Location"] == "/backoffice/first-sign-in/mailbox/"
    code = re.search(r"^\s+(\d{6})$", mailoutbox[0].body, re.M).group(1)
    assert client.post("/backoffice/first-sign-in/mailbox/", {"code": code}).status_code == 302
    assert client.get("/backoffice/")["Location"] == "/backoffice/profile/pin/"
    assert change_pin(client)["Location"] == "/backoffice/"
    assert client.get("/backoffice/")["Location"] == "/backoffice/profile/password/"
    assert change_password(client)["Location"] == "/backoffice/"  # home, not the profile
    assert client.get("/backoffice/").status_code == 200
    migrated_member.refresh_from_db()
    assert not migrated_member.on_default_pin and not migrated_member.on_default_password
    assert check_password(NEW_PIN, migrated_member.pin)
    assert migrated_member.check_password(NEW_PASSWORD)
    subjects = [m.subject for m in mailoutbox]
    assert any("PINコードが変更されました" in s for s in subjects)
    assert any("パスワードが変更されました" in s for s in subjects)
    # The defaults no longer open the account; the new password does.
    client.post("/logout/")
    sign_in(client, "JPN2000001", DEFAULT_PASSWORD)
    assert SESSION_KEY not in client.session
    sign_in(client, "JPN2000001", NEW_PASSWORD)
    assert SESSION_KEY in client.session


def test_the_password_step_is_confirmed_with_the_new_pin(migrated_client, migrated_member):
    change_pin(migrated_client)
    page = change_password(migrated_client, pin=DEFAULT_PIN).content.decode()
    assert "PINコードが正しくありません" in page
    migrated_member.refresh_from_db()
    assert migrated_member.on_default_password


def test_the_new_password_may_not_be_a_published_default(migrated_client, migrated_member):
    change_pin(migrated_client)
    page = migrated_client.post(
        "/backoffice/profile/password/",
        {"new_password1": "Jenco@12345", "new_password2": "Jenco@12345", "pin": NEW_PIN},
    ).content.decode()
    assert "デフォルトのパスワードは使えません" in page
    migrated_member.refresh_from_db()
    assert migrated_member.on_default_password


class CountingHasher(MD5PasswordHasher):
    """Counts every hash computed, verification or not."""

    count = 0

    def encode(self, password, salt):
        type(self).count += 1
        return super().encode(password, salt)


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("JPN1000001", PASSWORD),  # own password, right
        ("JPN1000001", "wrong-password"),  # own password, wrong
        ("JPN2000001", DEFAULT_PASSWORD),  # migrated, default password
        ("JPN2000001", "Jenco@12345"),  # migrated, other spelling
        ("JPN2000001", "wrong-password"),  # migrated, wrong
        ("JPN7777777", DEFAULT_PASSWORD),  # nobody
        ("JPN7777777", "wrong-password"),  # nobody
    ],
)
def test_every_sign_in_costs_exactly_one_hash(
    client, settings, member, migrated_member, username, password
):
    settings.PASSWORD_HASHERS = ["tests.test_first_sign_in.CountingHasher"]
    from accounts.models import Member

    Member.objects.filter(pk=member.pk).update(
        password=CountingHasher().encode(PASSWORD, CountingHasher().salt())
    )
    from accounts import credentials

    for default in settings.JENCO_DEFAULT_PASSWORDS:  # warm the per-process default hashes
        credentials._default_hash(default)
    CountingHasher.count = 0
    sign_in(client, username, password)
    assert CountingHasher.count == 1


def test_the_password_step_after_the_pin_says_the_pin_is_changed_once(migrated_client):
    """The green message says it; the notice under it goes on to what is left (the trial
    read 「PINコードを変更しました。」 twice)."""
    response = migrated_client.get(change_pin(migrated_client)["Location"], follow=True)
    page = response.content.decode()

    assert response.request["PATH_INFO"] == "/backoffice/profile/password/"
    assert page.count("PINコードを変更しました") == 1
    assert "次に、パスワードを変更してください" in page
