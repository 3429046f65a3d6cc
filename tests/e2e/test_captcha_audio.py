"""The captcha's digits spoken, for a member who cannot read the picture: reached with the
keyboard, played on the sign-in page itself (what was typed stays), and following the refresh
button to the new picture."""

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def hear(page: Page, link) -> str:
    """Press Enter on the link; the recording the page plays, once the browser has read it."""
    with page.expect_response(re.compile(r"/captcha/audio/[0-9a-f]{40}\.wav$")) as fetched:
        link.press("Enter")
    assert fetched.value.status in (200, 206)
    assert fetched.value.headers["content-type"] == "audio/wav"
    # A real recording: the browser decoded it and knows how long it is (4 digits, ~2-3 s).
    page.wait_for_function("() => spoken && spoken.duration > 1")
    return fetched.value.url


def test_the_digits_are_spoken_on_the_page_and_follow_a_new_picture(
    page, live_server, console_errors
):
    page.goto("/login/")
    page.get_by_label("ユーザー名 / ユーザーID").fill("JPN1000001")
    key = page.locator("input[name=captcha_0]")
    first_key = key.input_value()

    page.locator("input[name=captcha_1]").focus()
    page.keyboard.press("Tab")  # the next stop after the answer box
    link = page.get_by_role("link", name="数字を音声で聞く（英語）")
    expect(link).to_be_focused()
    assert hear(page, link).endswith(f"/captcha/audio/{first_key}.wav")
    expect(page).to_have_url(f"{live_server.url}/login/")  # still on the form
    expect(page.get_by_label("ユーザー名 / ユーザーID")).to_have_value("JPN1000001")
    expect(key).to_have_value(first_key)

    page.locator("button[data-captcha-refresh]").click()
    expect(key).not_to_have_value(first_key)
    assert page.evaluate("() => spoken.paused")  # the old picture's digits stop
    assert hear(page, link).endswith(f"/captcha/audio/{key.input_value()}.wav")
    assert console_errors == []
