"""Passkeys on a phone (375 px), with Chromium's virtual authenticator standing in for the
phone's fingerprint reader (the DevTools protocol's WebAuthn domain): the member adds a passkey
under Account > Security, signs in with it alone, and uses it as the second step after the
password (issue 16)."""

import re

import pyotp
import pytest
from playwright.sync_api import expect

from accounts.flows import two_step
from accounts.models import Authenticator, Passkey
from tests.e2e.test_two_step_journey import sign_in_with_password
from tests.e2e.test_view_only_journey import no_horizontal_overflow, sign_out
from tests.helpers import PIN

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def a_phone_with_a_fingerprint_reader(page, *, confirms_the_person: bool = True):
    """Chromium's virtual authenticator; a call that counts the passkeys it holds. One that
    cannot confirm the person ends the browser's request without an answer, as when the
    member cancels it."""
    devtools = page.context.new_cdp_session(page)
    devtools.send("WebAuthn.enable")
    added = devtools.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": confirms_the_person,
                "automaticPresenceSimulation": True,
            }
        },
    )
    held = {"authenticatorId": added["authenticatorId"]}
    return lambda: len(devtools.send("WebAuthn.getCredentials", held)["credentials"])


def test_a_member_adds_a_passkey_and_signs_in_with_it(
    page, live_server, member, mailoutbox, console_errors
):
    a_phone_with_a_fingerprint_reader(page)
    sign_in_with_password(page)
    expect(page).to_have_url(re.compile(r"/backoffice/$"))

    page.locator("summary", has_text="アカウント").click()
    page.get_by_role("link", name="セキュリティ").click()
    expect(page.get_by_text("パスキーはまだありません。")).to_be_visible()
    page.get_by_role("link", name="パスキーを追加する").click()
    page.get_by_label("パスキーの名前").fill("私のスマホ")
    page.get_by_label("PINコード", exact=True).fill(PIN)
    assert no_horizontal_overflow(page)
    page.get_by_role("button", name="次へ").click()
    # The phone is asked only now, with the name and PIN found right.
    expect(page.get_by_text("パスキーの名前：私のスマホ")).to_be_visible()
    assert no_horizontal_overflow(page)
    page.get_by_role("button", name="パスキーを追加").click()

    expect(page.get_by_text("パスキー「私のスマホ」を追加しました。")).to_be_visible()
    expect(page.locator("#passkeys").get_by_text("私のスマホ", exact=True)).to_be_visible()
    assert no_horizontal_overflow(page)
    assert mailoutbox[-1].subject == "【JENCO】パスキーを追加しました"
    sign_out(page)

    # On its own: no member ID, password or captcha.
    page.get_by_role("link", name="パスキーでログイン").click()
    page.get_by_role("button", name="パスキーでログイン").click()
    expect(page).to_have_url(re.compile(r"/backoffice/$"))
    assert Passkey.objects.get(member=member).last_used is not None
    assert console_errors == []


def test_a_passkey_is_the_second_step_after_the_password(page, live_server, member, console_errors):
    a_phone_with_a_fingerprint_reader(page)
    sign_in_with_password(page)
    page.goto("/backoffice/security/passkeys/add/")
    page.get_by_label("パスキーの名前").fill("私のスマホ")
    page.get_by_label("PINコード", exact=True).fill(PIN)
    page.get_by_role("button", name="次へ").click()
    page.get_by_role("button", name="パスキーを追加").click()
    expect(page.get_by_text("パスキー「私のスマホ」を追加しました。")).to_be_visible()
    # Two-step on with an authenticator app too (turned on as tests/test_two_step.py shows).
    Authenticator.objects.create(
        member=member, secret_encrypted=two_step._encrypt(pyotp.random_base32())
    )
    sign_out(page)

    sign_in_with_password(page)
    expect(page).to_have_url(re.compile(r"/login/code/$"))
    assert no_horizontal_overflow(page)
    page.get_by_role("button", name="パスキーを使う").click()
    expect(page).to_have_url(re.compile(r"/backoffice/$"))
    assert member.security_events.filter(kind="sign_in_passkey").count() == 1
    assert console_errors == []


def test_a_cancelled_passkey_says_so_and_signs_nobody_in(page, live_server, member, console_errors):
    # A phone that holds no passkey for this site and cannot confirm the person.
    a_phone_with_a_fingerprint_reader(page, confirms_the_person=False)
    page.goto("/login/passkey/")
    page.get_by_role("button", name="パスキーでログイン").click()
    expect(page.get_by_role("alert")).to_contain_text("パスキーは使用されませんでした")
    # The usual cause: the passkey was added on another device (helper-109).
    expect(page.get_by_role("alert")).to_contain_text(
        "パスキーをほかのスマートフォンやパソコンで追加した場合はその端末でお試しいただくか"
    )
    expect(page).to_have_url(re.compile(r"/login/passkey/$"))


def ask_the_phone_for_a_passkey(page, name: str) -> None:
    page.goto("/backoffice/security/passkeys/add/")
    page.get_by_label("パスキーの名前").fill(name)
    page.get_by_label("PINコード", exact=True).fill(PIN)
    page.get_by_role("button", name="次へ").click()
    page.get_by_role("button", name="パスキーを追加").click()


def test_a_phone_with_the_member_s_passkey_says_so_when_asked_for_another(
    page, live_server, member, console_errors
):
    # The browser refuses (the page lists the member's passkeys to exclude): that is no
    # cancelled request, and trying again on this phone would be refused again.
    passkeys_on_the_phone = a_phone_with_a_fingerprint_reader(page)
    sign_in_with_password(page)
    ask_the_phone_for_a_passkey(page, "私のスマホ")
    expect(page.get_by_text("パスキー「私のスマホ」を追加しました。")).to_be_visible()

    ask_the_phone_for_a_passkey(page, "もう一つ")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("この端末には、お客様のアカウントのパスキーがすでにあります")
    expect(alert).not_to_contain_text("追加されませんでした")
    assert no_horizontal_overflow(page)
    assert passkeys_on_the_phone() == 1
    assert list(Passkey.objects.values_list("name", flat=True)) == ["私のスマホ"]
    assert console_errors == []


def test_a_passkey_not_made_says_none_was_added(page, live_server, member, console_errors):
    # A phone that cannot confirm the person: the page says nothing was added (not "used").
    a_phone_with_a_fingerprint_reader(page, confirms_the_person=False)
    sign_in_with_password(page)
    ask_the_phone_for_a_passkey(page, "私のスマホ")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("パスキーは追加されませんでした")
    expect(alert).not_to_contain_text("使用されませんでした")
    assert not Passkey.objects.exists()


def test_a_second_page_left_too_long_asks_the_phone_for_nothing(
    page, live_server, member, console_errors
):
    # Past the time the name and PIN hold, the server would refuse what the phone makes, and
    # the passkey would stay on the phone: the page goes back to the first step instead.
    from importlib import import_module

    from django.conf import settings

    passkeys_on_the_phone = a_phone_with_a_fingerprint_reader(page)
    sign_in_with_password(page)
    page.goto("/backoffice/security/passkeys/add/")
    page.get_by_label("パスキーの名前").fill("私のスマホ")
    page.get_by_label("PINコード", exact=True).fill(PIN)
    page.get_by_role("button", name="次へ").click()
    expect(page.get_by_text("パスキーの名前：私のスマホ")).to_be_visible()
    # Nearly five minutes on that page (the session says when the PIN was given).
    key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    session = import_module(settings.SESSION_ENGINE).SessionStore(key)
    ready = session["passkey_add_ready"]
    session["passkey_add_ready"] = {**ready, "since": ready["since"] - 296}
    session.save()
    page.reload()
    page.get_by_role("button", name="パスキーを追加").click()
    expect(page.get_by_text("時間が経ちすぎました")).to_be_visible()
    expect(page.get_by_label("PINコード", exact=True)).to_be_visible()
    assert passkeys_on_the_phone() == 0
    assert not Passkey.objects.exists()
    assert console_errors == []


def test_a_page_opened_by_its_numeric_address_says_why_passkeys_do_not_work(
    page, live_server, member, console_errors, settings
):
    # Browsers allow passkeys on a host name only: on https://127.0.0.1 (make serve's first
    # address) the request failed as if the member had cancelled it (helpers 101, 105).
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
    a_phone_with_a_fingerprint_reader(page)
    page.goto(live_server.url.replace("localhost", "127.0.0.1") + "/login/passkey/")
    page.get_by_role("button", name="パスキーでログイン").click()
    expect(page.get_by_role("alert")).to_contain_text("このアドレスではパスキーを使えません")
    expect(page.get_by_role("alert")).not_to_contain_text("パスキーは使用されませんでした")
