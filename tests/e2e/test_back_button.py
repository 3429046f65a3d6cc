"""Back to a page that answered a form: the page again, never "Confirm Form Resubmission".

A form with a mistake comes back with the mistake marked, as the answer to the post. Chromium
keeps that answer in the history as a post: Back to it showed its own error page (「フォームの再送信
の確認」, ERR_CACHE_MISS) and offered to send the form again, a captcha used or a code counted a
second time (helper-97, on a phone). The page now stands in the history as its own address.
"""

import pytest
from playwright.sync_api import Page, expect

from accounts.models import SecurityEvent
from tests.e2e.test_sign_in_journey import answer_captcha
from tests.helpers import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def failed_sign_in(page: Page) -> None:
    page.goto("/login/")
    page.get_by_label("ユーザー名 / ユーザーID").fill("JPN1000001")
    page.get_by_label("パスワード", exact=True).fill("not-the-password")
    answer_captcha(page)
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("alert")).to_be_visible()


def test_back_to_a_failed_sign_in_shows_the_sign_in_page(page, live_server, member):
    failed_sign_in(page)
    page.get_by_role("link", name="パスワードを忘れましたか？").click()
    expect(page).to_have_url(f"{live_server.url}/password/forgot/")

    page.go_back()

    expect(page).to_have_url(f"{live_server.url}/login/")
    expect(page.get_by_label("ユーザー名 / ユーザーID")).to_be_visible()
    expect(page.get_by_role("button", name="ログイン")).to_be_visible()
    failures = SecurityEvent.objects.filter(kind=SecurityEvent.Kind.SIGN_IN_FAILED)
    assert failures.count() == 1  # nothing sent again


def test_back_over_a_corrected_form_leads_on_not_to_an_error(page, live_server, member):
    """The mistake corrected, the member signed in: Back goes to the sign-in page's address,
    which takes a signed-in member to the dashboard."""
    failed_sign_in(page)
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)
    answer_captcha(page)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(f"{live_server.url}/backoffice/")

    page.go_back()

    expect(page).to_have_url(f"{live_server.url}/backoffice/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_back_to_the_paused_page_shows_the_sign_in_page(page, live_server, member, settings):
    # The paused page answers the post with no form of its own: Back to it from "Forgot
    # password?" showed Chromium's resubmission page (helper-144, on a phone).
    settings.JENCO_SIGN_INS_PER_MEMBER_HOUR = 1
    SecurityEvent.objects.create(kind=SecurityEvent.Kind.SIGN_IN, member=member)
    page.goto("/login/")
    page.get_by_label("ユーザー名 / ユーザーID").fill("JPN1000001")
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)
    answer_captcha(page)
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("heading", name="ログインの一時停止")).to_be_visible()
    page.get_by_role("link", name="パスワードを忘れましたか？").click()
    expect(page.get_by_label("会員ID")).to_have_value("JPN1000001")

    page.go_back()

    expect(page).to_have_url(f"{live_server.url}/login/")
    expect(page.get_by_role("button", name="ログイン")).to_be_visible()
