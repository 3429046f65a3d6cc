"""A migrated member's first sign-in, in a real browser, as the seed's screens show it."""

import re

import pytest
from captcha.models import CaptchaStore
from playwright.sync_api import Page, expect

from tests.helpers import DEFAULT_PASSWORD, PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FULL_WIDTH_ID = "ＪＰＮ２０００００１"  # what a Japanese keyboard in full-width mode types
PIN_FIRST_JA = "必ずPINコード・パスワードの順番に変更してください。"


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


def enter_the_mailed_code(page: Page, mailoutbox) -> None:
    """Read the code from the mail, type it as a member does, in full-width digits."""
    code = re.search(r"^\s+(\d{6})$", mailoutbox[-1].body, re.M).group(1)
    page.get_by_label("確認コード").fill("".join(chr(ord(d) + 0xFEE0) for d in code))
    page.get_by_role("button", name="確認", exact=True).click()


def test_a_migrated_member_signs_in_with_a_full_width_id_proves_the_mailbox_then_changes_the_pin(
    page, live_server, migrated_member, mailoutbox
):
    sign_in_as_migrated_member(page)

    expect(page).to_have_url(f"{live_server.url}/backoffice/first-sign-in/mailbox/")
    expect(page.get_by_text("h•••@example.com")).to_be_visible()
    enter_the_mailed_code(page, mailoutbox)
    expect(page).to_have_url(f"{live_server.url}/backoffice/profile/pin/")
    expect(page.get_by_text(PIN_FIRST_JA)).to_be_visible()
    expect(page.get_by_role("heading", name="PINコードの変更")).to_be_visible()
    expect(page.get_by_label("現在のPINコード")).to_be_visible()


# The lines the phrase 「日本時間 13:06」 is drawn on, wherever it sits in the page's text.
LINES_OF_JAPAN_TIME = """() => {
  const phrase = /日\\u2060?本\\u2060?時\\u2060?間[ \\u00a0]?\\d{1,2}:\\d{2}/;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const found = phrase.exec(node.data);
    if (!found) continue;
    const range = document.createRange();
    range.setStart(node, found.index);
    range.setEnd(node, found.index + found[0].length);
    return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
  }
  return 0;
}"""


def test_japan_time_stays_on_one_line_on_any_phone(page, live_server, migrated_member):
    """「日本時間 13:06」 broken after 日本 read as two words on a 375 px screen (helper-149)."""
    sign_in_as_migrated_member(page)
    expect(page).to_have_url(re.compile(r"/backoffice/first-sign-in/mailbox/$"))
    for width in range(300, 431, 2):  # the sentence's line ends pass over every character
        page.set_viewport_size({"width": width, "height": 812})
        assert page.evaluate(LINES_OF_JAPAN_TIME) == 1, f"broken at {width} px"


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
    # The spoken digits follow the new picture.
    assert new_key in page.locator("a[data-captcha-audio]").get_attribute("href")


def test_no_page_of_the_journey_logs_a_console_error(
    page, live_server, migrated_member, console_errors, mailoutbox
):
    """Our Content-Security-Policy forbids inline scripts and styles: a slip shows up here."""
    page.goto("/login/")
    page.locator("button[data-captcha-refresh]").click()  # the one script of the sign-in page
    expect(page.locator("input[name=captcha_1]")).to_be_focused()
    page.get_by_role("button", name="ログイン").click()  # an empty submit: errors on the form
    expect(page.locator(".has-error").first).to_be_visible()
    sign_in_as_migrated_member(page)
    expect(page).to_have_url(re.compile(r"/backoffice/first-sign-in/mailbox/$"))
    enter_the_mailed_code(page, mailoutbox)
    expect(page).to_have_url(re.compile(r"/backoffice/profile/pin/$"))
    page.goto("/backoffice/")  # the gate sends it back to the PIN step
    expect(page).to_have_url(re.compile(r"/backoffice/profile/pin/$"))

    assert console_errors == []


def test_a_double_tap_on_sign_in_sends_the_form_once(page, live_server, member, console_errors):
    # On a phone a second tap lands while the first sign-in is on its way. Sent again, the
    # form would meet its captcha used up: a failure logged against the member's own ID.
    from accounts.models import SecurityEvent

    posts = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    page.goto("/login/")
    page.get_by_label("ユーザー名 / ユーザーID").fill("JPN1000001")
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)
    answer_captcha(page)
    # The second tap a moment after the first, while the first is on its way (its password's
    # hash alone takes longer than this).
    page.get_by_role("button", name="ログイン").evaluate(
        "button => { button.click(); setTimeout(() => button.click(), 10); }"
    )

    expect(page).to_have_url(re.compile(r"/backoffice/$"))
    assert len(posts) == 1
    failures = [SecurityEvent.Kind.SIGN_IN_FAILED, SecurityEvent.Kind.SIGN_IN_CAPTCHA_FAILED]
    assert not SecurityEvent.objects.filter(kind__in=failures).exists()
    assert console_errors == []
