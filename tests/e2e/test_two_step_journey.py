"""Two-step verification on a phone (375 px): the member turns on an authenticator app from
Account > Security, keeps the recovery codes, signs out, and signs in with the password and
then the app's code (issue 16)."""

import re
import time
from pathlib import Path

import pyotp
import pytest
from django.test import Client
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE
from tests.e2e.test_sign_in_journey import answer_captcha
from tests.e2e.test_view_only_journey import no_horizontal_overflow, sign_out
from tests.helpers import PASSWORD, PIN

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in_with_password(page) -> None:
    page.goto("/login/")
    page.get_by_label("ユーザー名 / ユーザーID").fill("JPN1000001")
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)
    answer_captcha(page)
    page.get_by_role("button", name="ログイン").click()


def turn_on_with_the_app(page) -> None:
    """Signed in, two-step turned on from its set-up page: the recovery codes are shown."""
    sign_in_with_password(page)
    page.goto("/backoffice/security/two-step/authenticator/")
    totp = pyotp.TOTP(page.locator(".secret-key").inner_text().replace(" ", ""))
    page.get_by_label("アプリのコード").fill(totp.now())
    page.get_by_label("PINコード", exact=True).fill(PIN)
    page.get_by_role("button", name="2段階認証をオンにする").click()
    expect(page.locator(".recovery-codes li")).to_have_count(10)


def test_a_member_turns_on_an_authenticator_and_signs_in_with_it(
    page, live_server, member, mailoutbox, console_errors
):
    sign_in_with_password(page)
    expect(page).to_have_url(re.compile(r"/backoffice/$"))

    # Account > Security, from the account menu.
    page.locator("summary", has_text="アカウント").click()
    page.get_by_role("link", name="セキュリティ").click()
    expect(page.get_by_text("オフ：ログインにはパスワードだけが必要です。")).to_be_visible()
    page.get_by_role("link", name="認証アプリを設定する").click()

    # The QR code fits the phone; the member's app reads the key.
    qr = page.locator(".qr svg")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box["width"] >= 150 and box["x"] + box["width"] <= 375
    assert no_horizontal_overflow(page)
    totp = pyotp.TOTP(page.locator(".secret-key").inner_text().replace(" ", ""))
    page.get_by_label("アプリのコード").fill(totp.now())
    page.get_by_label("PINコード", exact=True).fill(PIN)
    page.get_by_role("button", name="2段階認証をオンにする").click()

    # The recovery codes, once, with a download.
    expect(page.get_by_text("表示されるのはこの1回だけです")).to_be_visible()
    codes = page.locator(".recovery-codes li")
    expect(codes).to_have_count(10)
    with page.expect_download() as download:
        page.get_by_role("link", name="テキストファイルでダウンロード").click()
    saved = Path(download.value.path()).read_text(encoding="utf-8")
    assert codes.first.inner_text() in saved
    assert no_horizontal_overflow(page)
    page.get_by_role("link", name="保存しました").click()
    expect(
        page.get_by_text("オン：ログイン時、パスワードの後に認証アプリのコードを入力します。")
    ).to_be_visible()
    sign_out(page)

    # Signing in now takes the password, then the app's code (its next one: the set-up used
    # this step's).
    sign_in_with_password(page)
    expect(page).to_have_url(re.compile(r"/login/code/$"))
    page.get_by_label("コード", exact=True).fill(totp.at(time.time() + totp.interval))
    page.get_by_role("button", name="確認").click()
    expect(page).to_have_url(re.compile(r"/backoffice/$"))
    assert mailoutbox[-1].subject == "【JENCO】2段階認証をオンにしました"
    assert console_errors == []


def test_the_code_box_opens_the_number_pad_and_a_button_brings_back_the_letters(
    page, live_server, member, console_errors
):
    # helper-159: the box opened the full keyboard for the app's six digits, on every
    # sign-in, for the recovery codes' sake.
    turn_on_with_the_app(page)
    recovery_code = page.locator(".recovery-codes li").first.inner_text()
    page.get_by_role("link", name="保存しました").click()
    sign_out(page)
    sign_in_with_password(page)
    box = page.get_by_label("コード", exact=True)
    letters = page.get_by_role("button", name="リカバリーコードを入力する")
    expect(box).to_have_attribute("inputmode", "numeric")
    # A thumb high, and clear of Confirm below it (helper-168: 27 px, touching it).
    switch = letters.bounding_box()
    confirm = page.get_by_role("button", name="確認").bounding_box()
    assert switch["height"] >= 44 and confirm["y"] - (switch["y"] + switch["height"]) >= 8

    letters.click()

    expect(box).to_have_attribute("inputmode", "text")
    expect(box).to_be_focused()
    expect(letters).to_be_hidden()
    box.fill(recovery_code)
    page.get_by_role("button", name="確認").click()
    expect(page).to_have_url(re.compile(r"/backoffice/$"))
    assert console_errors == []


def test_without_the_script_the_code_box_keeps_the_keyboard_with_letters(
    browser, live_server, member
):
    from tests.test_two_step import turn_on

    app = Client()
    app.force_login(member)
    turn_on(app)
    context = browser.new_context(
        base_url=live_server.url, java_script_enabled=False, locale="ja-JP", viewport=PHONE
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in_with_password(page)
    expect(page).to_have_url(re.compile(r"/login/code/$"))

    box = page.get_by_label("コード", exact=True)
    assert box.get_attribute("inputmode") is None
    expect(page.get_by_role("button", name="リカバリーコードを入力する")).to_be_hidden()
    context.close()


def test_a_double_tap_on_new_recovery_codes_shows_codes_that_work(
    page, live_server, member, console_errors
):
    # The form sent twice from the page (FormData: what the browser itself submits), one
    # after the other: the page's token, marked disabled, was never sent, so the second made
    # a set of its own. (At the same moment: tests/test_concurrency.py, on a database that
    # makes writers wait as production's do; this live server's in-memory one does not.)
    from accounts.flows import two_step
    from accounts.models import RecoveryCode

    turn_on_with_the_app(page)

    page.goto("/backoffice/security/two-step/recovery-codes/")
    page.get_by_label("PINコード", exact=True).fill(PIN)
    answers = page.evaluate(
        """async () => {
          const form = document.querySelector("form:has(input[name=pin])");
          const send = () => fetch(location.href, {method: "POST", body: new FormData(form)})
            .then(response => response.text());
          const pages = [await send(), await send()];
          return pages.map(text => [...text.matchAll(/<li><code>([A-Z0-9-]{11})<\\/code>/g)]
            .map(found => found[1]));
        }"""
    )
    first, second = answers
    assert len(first) == 10 and first == second
    stored = set(RecoveryCode.objects.filter(member=member).values_list("code_hash", flat=True))
    assert len(stored) == 10
    assert {two_step._code_hash(member, code.replace("-", "")) for code in second} == stored
    assert console_errors == []


def test_the_key_is_copied_by_its_button_and_the_copy_is_announced(
    page, live_server, member, console_errors
):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in_with_password(page)
    page.goto("/backoffice/security/two-step/authenticator/")
    key = page.locator(".secret-key").inner_text().replace(" ", "")

    page.get_by_role("button", name="キーをコピー").click()

    expect(page.get_by_role("status").filter(has_text="コピーしました")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key  # without the spaces
    assert no_horizontal_overflow(page)
    assert console_errors == []


def test_the_recovery_codes_are_copied_one_a_line(page, live_server, member, console_errors):
    # helper-159: the key had a copy button, the codes only a file download (awkward on a
    # phone).
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    turn_on_with_the_app(page)
    codes = page.locator(".recovery-codes li").all_inner_texts()

    page.get_by_role("button", name="コードをコピー").click()

    expect(page.get_by_role("status").filter(has_text="コピーしました")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == "\n".join(codes)
    assert no_horizontal_overflow(page)
    assert console_errors == []


def test_without_the_script_a_tap_on_the_key_selects_it_whole(browser, live_server, member):
    context = browser.new_context(
        base_url=live_server.url, java_script_enabled=False, locale="ja-JP", viewport=PHONE
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in_with_password(page)
    page.goto("/backoffice/security/two-step/authenticator/")

    expect(page.get_by_role("button", name="キーをコピー")).to_be_hidden()
    page.locator(".secret-key").click()
    selected = page.evaluate("getSelection().toString()")
    assert selected.replace(" ", "") == page.locator(".secret-key").inner_text().replace(" ", "")
    context.close()


def test_back_to_the_recovery_codes_makes_no_new_ones(page, live_server, member, console_errors):
    # Back from Security to the codes page showed Chromium's resubmission page, whose
    # "Continue" made a new set and voided the codes just saved (helper-153).
    from accounts.models import RecoveryCode

    turn_on_with_the_app(page)
    saved = set(RecoveryCode.objects.filter(member=member).values_list("code_hash", flat=True))
    page.get_by_role("link", name="保存しました").click()
    expect(page).to_have_url(re.compile(r"/backoffice/security/$"))

    page.go_back()

    # The address asked anew: no resubmission page, and the saved codes still the ones.
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert page.locator(".recovery-codes li").count() == 0
    stored = set(RecoveryCode.objects.filter(member=member).values_list("code_hash", flat=True))
    assert stored == saved
    assert console_errors == []
