"""Passkeys (WebAuthn, issue 16): added and removed with the PIN, used as the second step or to
sign in alone. A software passkey (tests/softkey.py) signs with a real key, so py_webauthn's
checks run for real; Chromium's virtual authenticator does the same in the browser tests."""

import re

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache

from accounts.flows import two_step
from accounts.models import Passkey, SecurityEvent
from tests.helpers import PIN, finished_member, sign_in
from tests.softkey import SoftPasskey, options_in
from tests.test_two_step import password_step, turn_on

pytestmark = pytest.mark.django_db

ADD = "/backoffice/security/passkeys/add/"
SIGN_IN = "/login/passkey/"
SECOND_STEP = "/login/code/passkey/"
Kind = SecurityEvent.Kind


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()


def named(client, name="iPhone", pin=PIN):
    """The first step of adding one: the name and the PIN."""
    return client.post(ADD, {"name": name, "pin": pin})


def add_passkey(client, name="iPhone", pin=PIN, key=None) -> SoftPasskey:
    """Add a passkey as a member does: name and PIN, then the phone makes it."""
    key = key or SoftPasskey()
    if named(client, name, pin).status_code == 302:
        answer = key.create(options_in(client.get(ADD).content.decode()))
        client.post(ADD, {"passkey": answer})
    return key


def sign_in_with(client, key: SoftPasskey, **kwargs):
    answer = key.get(options_in(client.get(SIGN_IN).content.decode()), **kwargs)
    return client.post(SIGN_IN, {"passkey": answer})


def signed_in_as(client):
    return client.session.get(SESSION_KEY)


# --- Adding and removing -----------------------------------------------------------------------


def test_the_security_page_offers_passkeys_in_both_languages(member_client):
    page = member_client.get("/backoffice/security/").content.decode()
    assert "パスキー" in page and ADD in page
    english = member_client.get("/backoffice/security/", headers={"accept-language": "en"})
    assert "Add a passkey" in english.content.decode()


def test_adding_a_passkey_keeps_only_its_public_key_logs_and_mails(
    member_client, member, mailoutbox
):
    key = add_passkey(member_client, name="仕事のPC")

    passkey = Passkey.objects.get(member=member)
    assert passkey.name == "仕事のPC" and passkey.credential_id == key.id
    assert member.security_events.filter(kind=Kind.PASSKEY_ADDED).count() == 1
    assert "passkey" in mailoutbox[-1].body.lower() or "パスキー" in mailoutbox[-1].body
    page = member_client.get("/backoffice/security/").content.decode()
    assert "仕事のPC" in page


def test_the_added_notice_says_to_remove_a_passkey_the_member_did_not_add(
    member_client, member, client, mailoutbox
):
    # A passkey signs in on its own: one added by whoever held the session keeps working after
    # a new password, the one thing the notice advised. It says to remove the passkey too.
    add_passkey(member_client, name="iPhone")
    body = mailoutbox[-1].body
    assert "【アカウント】⇒【セキュリティ】で「iPhone」を削除" in body
    assert "パスワードを再設定しただけではパスキーは削除されません" in body
    english = finished_member(
        "JPN1000002", "alice@example.com", "Alice Smith", preferred_language="en"
    )
    client.force_login(english)
    add_passkey(client, name="Office PC")
    body = mailoutbox[-1].body
    assert "remove “Office PC” under Account > Security" in body
    assert "A new password alone does not remove it." in body


def test_the_page_asks_for_a_passkey_this_site_can_use_again(member_client, member):
    named(member_client)
    options = options_in(member_client.get(ADD).content.decode())
    assert options["rp"]["id"] == "testserver"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    # The user handle is opaque: no member ID or name in what the passkey keeps.
    assert "JPN1000001" not in options["user"]["id"]
    key = add_passkey(member_client)
    named(member_client)
    options = options_in(member_client.get(ADD).content.decode())
    assert [each["id"] for each in options["excludeCredentials"]] == [key.id]


def test_the_device_is_asked_only_once_the_name_and_pin_are_right(member_client, member):
    # A mistyped PIN or a refused name is told on the first page, which asks the device for
    # nothing: no passkey is left on the phone that this site does not keep.
    for name, pin, told in [
        ("iPhone", "999999", "PINコードが正しくありません"),
        ("  ", PIN, "パスキーに名前を付けてください。"),
        ("iPhone\u202e", PIN, "制御文字や見えない文字を含まない名前を入力してください。"),
        ("iPhone\ufffd", PIN, "制御文字や見えない文字を含まない名前を入力してください。"),
        ("\u3164", PIN, "制御文字や見えない文字を含まない名前を入力してください。"),
    ]:
        page = named(member_client, name, pin).content.decode()
        assert told in page
        assert 'id="passkey-options"' not in page and "passkeys.js" not in page
        page = member_client.get(ADD).content.decode()
        assert 'id="passkey-options"' not in page
    assert not Passkey.objects.exists()

    response = named(member_client, "仕事のPC")
    assert response["Location"] == ADD
    page = member_client.get(ADD).content.decode()
    assert "仕事のPC" in page and 'id="passkey-options"' in page
    # Another name: the first page again, the name given filled in.
    renamed = member_client.get(ADD + "?rename=1").content.decode()
    assert 'value="仕事のPC"' in renamed and 'id="passkey-options"' not in renamed


@pytest.mark.parametrize(
    "name", ["\ufdfa" * 60, "\u337f" * 20, "㍻" * 31], ids=["ﷺ×60", "㍿×20", "㍻×31"]
)
def test_a_name_that_normalising_makes_too_long_is_refused_before_the_device(member_client, name):
    # Each is 60 characters or fewer as typed, and more once normalised ("ﷺ" is 18): it is
    # refused on the first page, not after the phone has made the passkey.
    page = named(member_client, name).content.decode()
    assert "名前は60文字以内で入力してください。" in page
    assert 'id="passkey-options"' not in member_client.get(ADD).content.decode()
    assert not Passkey.objects.exists()


def test_a_wrong_pin_adds_nothing_and_mails_nothing(member_client, member, mailoutbox):
    add_passkey(member_client, pin="999999")
    assert not Passkey.objects.filter(member=member).exists() and not mailoutbox
    # An answer posted without the first step (or after it was forgotten) keeps nothing.
    named(member_client)
    answer = SoftPasskey().create(options_in(member_client.get(ADD).content.decode()))
    session = member_client.session
    del session["passkey_add_ready"]
    session.save()
    member_client.post(ADD, {"passkey": answer})
    assert not Passkey.objects.exists() and not mailoutbox


def test_waiting_too_long_between_the_steps_starts_again(member_client, member):
    named(member_client)
    answer = SoftPasskey().create(options_in(member_client.get(ADD).content.decode()))
    session = member_client.session
    ready = session["passkey_add_ready"]
    session["passkey_add_ready"] = {**ready, "since": ready["since"] - 301}  # 5 minutes ago
    session.save()
    response = member_client.post(ADD, {"passkey": answer}, follow=True)
    assert "時間が経ちすぎました" in response.content.decode()
    assert 'name="pin"' in response.content.decode()  # the first step again
    assert not Passkey.objects.exists()


def test_the_name_and_pin_hold_for_one_try_and_five_minutes(member_client, member):
    # They stand for the PIN: not left open for whoever comes to the browser next.
    named(member_client)
    page = member_client.get(ADD).content.decode()
    seconds = int(re.search(r'data-passkey-seconds="(\d+)"', page)[1])
    assert 290 <= seconds <= 300  # the page stops asking the device after them (passkeys.js)
    assert 'data-passkey-expired="/backoffice/security/passkeys/add/?waited=1"' in page
    # A refused answer: the name and PIN again, not a second try on the same.
    member_client.post(ADD, {"passkey": "{}"})
    assert 'name="pin"' in member_client.get(ADD).content.decode()
    # Named, then back to Security: the same.
    named(member_client)
    member_client.get("/backoffice/security/")
    assert 'name="pin"' in member_client.get(ADD).content.decode()
    # Sent back by the page once its time was up (passkeys.js): told why, and the PIN again.
    named(member_client)
    page = member_client.get(ADD + "?waited=1").content.decode()
    assert "時間が経ちすぎました" in page and 'name="pin"' in page
    assert 'name="pin"' in member_client.get(ADD).content.decode()


def test_the_tenth_passkey_sent_twice_is_answered_as_the_first(member_client, member):
    for n in range(9):
        add_passkey(member_client, name=f"key {n}")
    named(member_client, "key 9")
    answer = SoftPasskey().create(options_in(member_client.get(ADD).content.decode()))
    assert member_client.post(ADD, {"passkey": answer})["Location"] == "/backoffice/security/"
    again = member_client.post(ADD, {"passkey": answer}, follow=True).content.decode()
    assert Passkey.objects.filter(member=member).count() == 10
    assert "パスキー「key 9」を追加しました" in again  # the first post's message, once
    assert "最大" not in again


def test_an_answer_for_another_site_or_challenge_is_refused(member_client, member):
    named(member_client, "A")
    options = options_in(member_client.get(ADD).content.decode())
    phished = SoftPasskey().create(options, origin="https://jenco.example.evil")
    page = member_client.post(ADD, {"passkey": phished}, follow=True).content.decode()
    assert "パスキーを確認できなかったため" in page and not Passkey.objects.exists()

    stale = SoftPasskey().create(options)  # its challenge was used up by the post above
    member_client.get(ADD)
    member_client.post(ADD, {"passkey": stale})
    assert not Passkey.objects.exists()


@pytest.mark.parametrize(
    "answer", ["", "{", "[]", '{"id": 5}', '{"id": "x", "response": "y"}', "x" * 30_000, "\x00"]
)
def test_malformed_answers_are_refused_with_a_message(member_client, answer):
    named(member_client, "A")
    member_client.get(ADD)
    page = member_client.post(
        ADD, {"passkey": answer}, headers={"accept-language": "en"}, follow=True
    )
    assert page.status_code == 200
    assert "passkey" in page.content.decode().lower()
    assert 'name="pin"' in page.content.decode()  # the name and PIN again, then the device
    assert not Passkey.objects.exists()


def test_the_same_passkey_posted_twice_is_kept_once(member_client, member, mailoutbox):
    key = SoftPasskey()
    named(member_client, "A")
    answer = key.create(options_in(member_client.get(ADD).content.decode()))
    member_client.post(ADD, {"passkey": answer})
    # The double tap: answered as the first post was, not with an error.
    again = member_client.post(ADD, {"passkey": answer})
    assert again["Location"] == "/backoffice/security/"
    assert Passkey.objects.filter(member=member).count() == 1
    assert len([m for m in mailoutbox if "パスキー" in m.subject]) == 1


def test_removing_needs_the_pin_and_only_the_members_own(member_client, member, mailoutbox):
    add_passkey(member_client)
    passkey = Passkey.objects.get(member=member)
    remove = f"/backoffice/security/passkeys/{passkey.pk}/remove/"

    member_client.post(remove, {"pin": "999999"})
    assert Passkey.objects.filter(pk=passkey.pk).exists()
    member_client.post(remove, {"pin": PIN})
    assert not Passkey.objects.filter(pk=passkey.pk).exists()
    assert member.security_events.filter(kind=Kind.PASSKEY_REMOVED).count() == 1

    other = finished_member("JPN1000009", "jiro@example.com", "山田 次郎")
    theirs = Passkey.objects.create(member=other, name="X", credential_id="abc", public_key=b"k")
    assert (
        member_client.get(f"/backoffice/security/passkeys/{theirs.pk}/remove/").status_code == 404
    )
    member_client.post(f"/backoffice/security/passkeys/{theirs.pk}/remove/", {"pin": PIN})
    assert Passkey.objects.filter(pk=theirs.pk).exists()


# --- Signing in with a passkey alone ----------------------------------------------------------


def test_a_passkey_alone_signs_in_and_is_logged_as_such(member_client, member, client):
    key = add_passkey(member_client)
    client.logout()

    response = sign_in_with(client, key)

    assert response.status_code == 302 and signed_in_as(client) == str(member.pk)
    assert member.security_events.filter(kind=Kind.SIGN_IN_PASSKEY).count() == 1
    assert Passkey.objects.get(member=member).last_used is not None


def test_the_sign_in_page_links_to_passkeys(client):
    page = client.get("/login/").content.decode()
    assert SIGN_IN in page and "パスキーでログイン" in page


def test_a_replayed_assertion_does_not_sign_in(member_client, member, client):
    key = add_passkey(member_client)
    client.logout()
    answer = key.get(options_in(client.get(SIGN_IN).content.decode()))
    client.post(SIGN_IN, {"passkey": answer})
    client.logout()

    client.get(SIGN_IN)  # a new challenge: the recorded answer signed the old one
    replay = client.post(SIGN_IN, {"passkey": answer})

    assert replay.status_code == 200 and signed_in_as(client) is None
    assert "パスキー" in replay.content.decode()


def test_without_the_person_verified_a_passkey_alone_is_not_enough(member_client, client):
    key = add_passkey(member_client)
    client.logout()
    sign_in_with(client, key, verified=False)
    assert signed_in_as(client) is None


def test_a_passkey_nobody_added_or_of_a_deactivated_member_signs_nobody_in(
    member_client, member, client
):
    key = add_passkey(member_client)
    client.logout()
    sign_in_with(client, SoftPasskey())
    assert signed_in_as(client) is None

    member.is_active = False
    member.save()
    sign_in_with(client, key)
    assert signed_in_as(client) is None


def test_a_copied_key_whose_counter_goes_back_is_refused(member_client, member, client):
    key = add_passkey(member_client)
    client.logout()
    sign_in_with(client, key)
    client.logout()
    key.counter -= 2  # a clone that signed fewer times than the original
    sign_in_with(client, key)
    assert signed_in_as(client) is None
    assert member.security_events.filter(kind=Kind.PASSKEY_FAILED).count() == 1


def test_an_answer_nested_too_deep_for_python_is_refused_not_a_crash(client, db):
    # 10,000 "[" (inside MAX_ANSWER) raised RecursionError, not ValueError: a 500 for anyone
    # signed out (helper-99).
    client.get(SIGN_IN)
    assert client.post(SIGN_IN, {"passkey": "[" * 10_000}).status_code < 500
    assert signed_in_as(client) is None


@pytest.mark.parametrize("hostile_id", ["a\\u0000b", "\\ud800", "a/b+c==", "x" * 1400])
def test_a_credential_id_no_browser_sends_is_refused_on_both_pages(
    member_client, client, hostile_id
):
    # A NUL or a lone surrogate reached the database's query: a 500, and its traceback mailed
    # to the admins, for anyone to repeat without signing in (helper-95).
    turn_on(member_client)
    add_passkey(member_client)
    client.logout()
    answer = '{"id": "' + hostile_id + '", "response": {}}'
    client.get(SIGN_IN)
    assert client.post(SIGN_IN, {"passkey": answer}).status_code < 500
    assert signed_in_as(client) is None

    password_step(client)
    client.get("/login/code/")
    assert client.post(SECOND_STEP, {"passkey": answer}).status_code < 500
    assert signed_in_as(client) is None


# --- As the second step --------------------------------------------------------------------


def test_a_passkey_can_be_the_second_step(member_client, member, client):
    turn_on(member_client)
    key = add_passkey(member_client)

    password_step(client)
    page = client.get("/login/code/").content.decode()
    assert SECOND_STEP in page and signed_in_as(client) is None
    client.post(SECOND_STEP, {"passkey": key.get(options_in(page))})

    assert signed_in_as(client) == str(member.pk)
    assert member.security_events.filter(kind=Kind.SIGN_IN_PASSKEY).count() == 1


def test_the_activity_tells_a_passkey_after_the_password_from_a_passkey_alone(
    member_client, member, client
):
    # Both read "Signed in with a passkey": a member checking how their account was opened
    # could not tell whether the password had been typed too.
    turn_on(member_client)
    key = add_passkey(member_client)
    password_step(client)
    page = client.get("/login/code/").content.decode()
    client.post(SECOND_STEP, {"passkey": key.get(options_in(page))})
    client.logout()
    sign_in_with(client, key)

    page = client.get("/backoffice/security/activity/").content.decode()
    assert page.count("パスワードとパスキーでログイン") == 1
    assert page.count("パスキーでログイン") == 2  # the one alone, and within the other
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get("/backoffice/security/activity/").content.decode()
    assert english.count("Signed in with your password and a passkey") == 1
    assert english.count("Signed in with a passkey") == 1


def test_another_members_passkey_is_not_a_second_step(member_client, member, client):
    turn_on(member_client)
    add_passkey(member_client)
    other = finished_member("JPN1000009", "jiro@example.com", "山田 次郎")
    client.force_login(other)
    theirs = add_passkey(client)

    password_step(client)  # as JPN1000001
    page = client.get("/login/code/").content.decode()
    client.post(SECOND_STEP, {"passkey": theirs.get(options_in(page))})

    assert signed_in_as(client) is None
    assert member.security_events.filter(kind=Kind.PASSKEY_FAILED).count() == 1


def test_the_second_step_page_offers_no_passkey_without_one(member_client, client):
    turn_on(member_client)
    password_step(client)
    assert SECOND_STEP not in client.get("/login/code/").content.decode()


def test_a_passkey_answer_without_a_waiting_sign_in_does_nothing(member_client, client):
    key = add_passkey(member_client)
    client.logout()
    response = client.post(SECOND_STEP, {"passkey": key.get({"challenge": "AAAA"})})
    assert response.status_code == 302 and signed_in_as(client) is None


def test_support_reset_removes_passkeys_too(member_client, member, support_agent):
    turn_on(member_client)
    add_passkey(member_client)
    assert two_step.reset(member, actor=support_agent)
    assert not Passkey.objects.filter(member=member).exists()


def test_with_passkeys_but_no_app_the_password_still_signs_in_alone(member_client, member, client):
    add_passkey(member_client)
    client.logout()
    sign_in(client)
    assert signed_in_as(client) == str(member.pk)


# --- What a signed-out visit keeps --------------------------------------------------------------


def session_cookie_age(response, settings) -> int:
    return int(response.cookies[settings.SESSION_COOKIE_NAME]["max-age"])


def test_a_signed_out_visit_keeps_its_challenge_in_a_signed_out_session(client, settings):
    # Each visit without a cookie kept a 12-hour session for a 5-minute challenge: a flood
    # of them filled Redis (helper-132). A signed-out session lives 30 minutes.
    response = client.get(SIGN_IN)
    assert session_cookie_age(response, settings) == settings.JENCO_SIGNED_OUT_SESSION_SECONDS
    assert client.session.get_expiry_age() == settings.JENCO_SIGNED_OUT_SESSION_SECONDS


@pytest.mark.parametrize("how", ["passkey", "password"])
def test_a_sign_in_after_it_lasts_as_long_as_any(member_client, member, client, settings, how):
    key = add_passkey(member_client)
    client.logout()
    if how == "passkey":
        response = sign_in_with(client, key)
    else:
        client.get(SIGN_IN)  # looked at the passkey page, then used the password
        response = sign_in(client)
    assert signed_in_as(client) == str(member.pk)
    assert session_cookie_age(response, settings) == settings.SESSION_COOKIE_AGE
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE


def test_a_sign_in_waiting_for_its_second_step_keeps_its_wait(member_client, member, client):
    add_passkey(member_client)
    turn_on(member_client)
    client.logout()
    password_step(client)
    before = client.session.get_expiry_age()
    client.get(SECOND_STEP)  # the second step's passkey page: a challenge in that session
    assert client.session.get_expiry_age() == before


def test_a_passkey_removed_twice_is_logged_and_mailed_once(member_client, member, mailoutbox):
    # Two tabs, or support's reset meanwhile: the second found nothing and still logged and
    # mailed its removal (helper-143).
    from accounts.flows import passkeys

    add_passkey(member_client)
    stale = Passkey.objects.get(member=member)
    mailed = len(mailoutbox)

    assert passkeys.remove(None, member, Passkey.objects.get(pk=stale.pk)) is True
    assert passkeys.remove(None, member, stale) is False

    assert member.security_events.filter(kind=Kind.PASSKEY_REMOVED).count() == 1
    assert len(mailoutbox) == mailed + 1
