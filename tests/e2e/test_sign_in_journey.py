"""A migrated member's first sign-in, in a real browser, as the seed's screens show it."""

import re

import pytest
from captcha.models import CaptchaStore
from playwright.sync_api import Page, expect

from tests.conftest import DEFAULT_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FULL_WIDTH_ID = "ＪＰＮ２０００００１"  # what a Japanese keyboard in full-width mode types
PIN_FIRST_JA = "デフォルトのパスワードでログインした場合は、必ずPINコード・パスワードの順番に変更してください。"


def answer_captcha(page: Page) -> None:
    """Read the picture the way the member does: here, from the store by the page's hidden key."""
    key = page.locator("input[name=captcha_0]").input_value()
    page.locator("input[name=captcha_1]").fill(CaptchaStore.objects.get(hashkey=key).response)


def sign_in_as_migrated_member(page: Page) -> None:
    page.goto("/login/")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    page.get_by_label("ユーザー名 / ユーザーID").fill(FULL_WIDTH_ID)
    page.get_by_label("パスワード", exact=True).fill(DEFAULT_PASSWORD)
    answer_captcha(page)
    page.get_by_role("button", name="ログイン").click()


def test_a_migrated_member_signs_in_with_a_full_width_id_and_is_sent_to_change_the_pin(
    page, live_server, migrated_member
):
    sign_in_as_migrated_member(page)

    expect(page).to_have_url(f"{live_server.url}/backoffice/profile/pin/")
    expect(page.get_by_text(PIN_FIRST_JA)).to_be_visible()
    expect(page.get_by_role("heading", name="PINコードの変更")).to_be_visible()
    expect(page.get_by_label("現在のPINコード")).to_be_visible()


def test_the_refresh_button_shows_a_new_captcha_picture(page, live_server, db):
    page.goto("/login/")
    image = page.locator("img[data-captcha-image]")
    key = page.locator("input[name=captcha_0]")
    answer = page.locator("input[name=captcha_1]")
    old_src, old_key = image.get_attribute("src"), key.input_value()
    answer.fill("12")

    refresh = page.locator("button[data-captcha-refresh]")
    expect(refresh).to_have_text("↻")
    refresh.click()

    expect(key).not_to_have_value(old_key)
    expect(image).not_to_have_attribute("src", old_src)
    new_key = key.input_value()
    assert new_key in image.get_attribute("src")
    assert CaptchaStore.objects.filter(hashkey=new_key).exists()
    expect(answer).to_have_value("")
    expect(answer).to_be_focused()
    # The new picture loaded (a broken image has no natural width).
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") > 0


def test_no_page_of_the_journey_logs_a_console_error(
    page, live_server, migrated_member, console_errors
):
    """Our Content-Security-Policy forbids inline scripts and styles: a slip shows up here."""
    page.goto("/login/")
    page.locator("button[data-captcha-refresh]").click()  # the one script of the sign-in page
    expect(page.locator("input[name=captcha_1]")).to_be_focused()
    page.get_by_role("button", name="ログイン").click()  # an empty submit: errors on the form
    expect(page.locator(".has-error").first).to_be_visible()
    sign_in_as_migrated_member(page)
    expect(page).to_have_url(re.compile(r"/backoffice/profile/pin/$"))
    page.goto("/backoffice/")  # the gate sends it back to the PIN step
    expect(page).to_have_url(re.compile(r"/backoffice/profile/pin/$"))

    assert console_errors == []
