"""Forgot password and forgot PIN, in a real browser, from the request to the new secret.

A browser does what the test client does not: it sends Origin and Referer according to the
page's Referrer-Policy, and CSRF protection judges the form by them.
"""

import re

import pytest
from django.contrib.auth.hashers import check_password
from playwright.sync_api import Page, expect

from accounts.models import Member
from tests.e2e.test_billing_journey import sign_in
from tests.e2e.test_sign_in_journey import answer_captcha
from tests.e2e.test_view_only_journey import sign_out
from tests.helpers import emailed_path

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def ask_for_a_link(page: Page, forgot_path: str) -> None:
    page.goto(forgot_path)
    page.get_by_label("会員ID").fill("JPN1000001")
    page.get_by_label("メールアドレス").fill("taro@example.com")
    answer_captcha(page)
    page.get_by_role("button", name="送信").click()
    expect(page).to_have_url(re.compile(r"/forgot/sent/$"))


@pytest.mark.parametrize(
    ("kind", "label", "value"),
    [("password", "新しいパスワード", "cedar-Grove-6620"), ("pin", "新しいPINコード", "583920")],
)
def test_a_member_sets_a_new_secret_from_the_emailed_link(
    page, live_server, member, mailoutbox, console_errors, kind, label, value
):
    ask_for_a_link(page, f"/{kind}/forgot/")
    page.goto(emailed_path(mailoutbox[-1], f"/{kind}/reset/"))
    form = "set-password" if kind == "password" else "set-pin"
    expect(page).to_have_url(re.compile(rf"/{kind}/reset/\w+/{form}/$"))
    page.get_by_label(label, exact=True).fill(value)
    page.get_by_label(f"{label}（確認）").fill(value)
    answer_captcha(page)
    page.get_by_role("button", name="送信").click()

    expect(page).to_have_url(re.compile(rf"/{kind}/reset/done/$"))
    member = Member.objects.get(pk=member.pk)
    assert check_password(value, member.password if kind == "password" else member.pin)
    assert console_errors == []


def test_the_member_id_typed_on_the_sign_in_page_goes_along_to_forgot_password(
    page, live_server, member, console_errors
):
    # A member who could not sign in typed the ID once already (helper-142, on a phone). It
    # goes in the link's fragment, which the browser sends to no server.
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/login/")
    page.get_by_label("ユーザー名 / ユーザーID").fill("ＪＰＮ１０００００１")
    page.get_by_role("link", name="パスワードを忘れましたか？").click()

    expect(page).to_have_url(re.compile(r"/password/forgot/$"))  # the fragment dropped
    expect(page.get_by_label("会員ID")).to_have_value("ＪＰＮ１０００００１")
    assert not any("JPN" in url or "%EF%BC%AA" in url for url in requested)
    page.get_by_label("メールアドレス").fill("taro@example.com")
    answer_captcha(page)
    page.get_by_role("button", name="送信").click()
    expect(page).to_have_url(re.compile(r"/forgot/sent/$"))
    assert console_errors == []


def test_nothing_typed_takes_nothing_along(page, live_server, member):
    page.goto("/login/")
    page.get_by_role("link", name="パスワードを忘れましたか？").click()
    expect(page).to_have_url(re.compile(r"/password/forgot/$"))
    expect(page.get_by_label("会員ID")).to_have_value("")


def test_the_link_holds_the_id_as_typed_for_a_new_tab_too(page, live_server):
    # A long press or a middle click opens the link's address without a click (helper-143).
    page.goto("/login/")
    link = page.get_by_role("link", name="パスワードを忘れましたか？")
    page.get_by_label("ユーザー名 / ユーザーID").fill("JPN1000001")
    expect(link).to_have_attribute("href", re.compile(r"/password/forgot/#member_id=JPN1000001$"))
    page.get_by_label("ユーザー名 / ユーザーID").fill("")
    expect(link).to_have_attribute("href", re.compile(r"/password/forgot/#?$"))


def test_only_the_forgot_form_takes_an_id_from_a_link(page, live_server):
    # A link made elsewhere put any member ID into the sign-in form (helper-143).
    page.goto("/login/#member_id=JPN7000001")
    expect(page.get_by_label("ユーザー名 / ユーザーID")).to_have_value("")
    page.goto("/password/forgot/#member_id=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    expect(page.get_by_label("会員ID")).to_have_value("<script>alert(1)</script>")
    expect(page).to_have_url(re.compile(r"/password/forgot/$"))


def test_back_from_forgot_password_after_a_failed_sign_in_keeps_the_member_id(
    page, live_server, member, console_errors
):
    # Back asks for the sign-in page again (never cached), which comes blank: the member who
    # looked at "Forgot password?" and came back to try once more typed the ID again.
    page.goto("/login/")
    page.get_by_label("ユーザー名 / ユーザーID").fill("JPN1000001")
    page.get_by_label("パスワード", exact=True).fill("not-the-password")
    answer_captcha(page)
    page.get_by_role("button", name="ログイン").click()
    expect(page.locator(".errorlist").first).to_be_visible()
    page.get_by_role("link", name="パスワードを忘れましたか？").click()
    expect(page.get_by_label("会員ID")).to_have_value("JPN1000001")

    page.go_back()
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_label("ユーザー名 / ユーザーID")).to_have_value("JPN1000001")
    expect(page.get_by_label("パスワード", exact=True)).to_have_value("")
    expect(page.get_by_role("link", name="パスワードを忘れましたか？")).to_have_attribute(
        "href", re.compile(r"#member_id=JPN1000001$")
    )
    page.get_by_label("ユーザー名 / ユーザーID").fill("")
    page.reload()
    expect(page.get_by_label("ユーザー名 / ユーザーID")).to_have_value("")
    assert console_errors == []


@pytest.mark.parametrize(
    ("link", "lands_on"),
    [
        ("/password/reset/MQ/made-up-token/", "/password/reset/link/unusable/"),
        ("/pin/reset/MQ/made-up-token/", "/pin/reset/link/unusable/"),
        ("/register/verify/made-up-token/", "/register/verify/unusable/"),
        ("/email/correct/made-up-token/", "/email/correct/unusable/"),
        (
            "/backoffice/profile/email/confirm/made-up-token/",
            "/backoffice/profile/email/confirm/unusable/",
        ),
    ],
)
def test_a_link_that_cannot_be_used_reads_in_english_at_a_tap(
    page, live_server, console_errors, link, lands_on
):
    # Said at the link's own address (no-referrer), the page's language switch was sent with
    # "Origin: null" and refused: a member who opened an expired link and tapped ENGLISH
    # got a 403. Such a link leads to a page of its own that holds no token.
    page.goto(link)
    expect(page).to_have_url(re.compile(rf"{re.escape(lands_on)}$"))
    page.locator("summary", has_text="日本語").click()
    page.get_by_role("button", name="ENGLISH").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(lands_on)}$"))
    expect(page.get_by_role("heading", name="This link cannot be used")).to_be_visible()
    assert console_errors == []


def test_a_sent_sign_in_form_keeps_no_member_id_in_the_history(page, live_server, member):
    # A shared computer: a member signed in and out, and Back on the same tab found the
    # member ID the sign-in page kept for "Forgot password?" (helper-149). Once the form is
    # sent, the page keeps none: what Back shows then is the browser's own restoring of the
    # field, as on any site (Chromium fills it in from its history whatever the page keeps).
    sign_in(page)  # as JPN1000001
    sign_out(page)

    page.go_back()
    page.go_back()
    expect(page).to_have_url(re.compile(r"/login/$"))
    assert "JPN1000001" not in (page.evaluate("JSON.stringify(history.state)") or "")


def test_the_typed_member_id_stays_across_the_language_switch(page, live_server, db):
    # The switch answers with the sign-in page anew: the ID typed was gone (helper-151).
    page.goto("/login/")
    page.get_by_label("ユーザー名 / ユーザーID").fill("JPN1000001")
    page.locator("summary", has_text="日本語").click()
    page.get_by_role("button", name="ENGLISH").click()
    expect(page.get_by_role("button", name="Log In")).to_be_visible()
    expect(page.get_by_label("Username / User ID")).to_have_value("JPN1000001")
    # Read once: nothing of it is left in the tab for the next page (a shared computer).
    assert page.evaluate("sessionStorage.length") == 0


def test_a_browser_that_keeps_no_site_data_still_takes_the_id_to_forgot_password(
    page, live_server, member, console_errors
):
    # Session storage, which carries the ID across the language switch, throws when the
    # browser is set to keep no site data: the script stopped there, and "Forgot password?"
    # no longer took the typed ID along (helper-154). Nothing is carried then; the rest works.
    page.add_init_script(
        """Object.defineProperty(window, "sessionStorage", {
          get() { throw new DOMException("The document is sandboxed", "SecurityError"); },
        });"""
    )
    page.goto("/login/")
    page.get_by_label("ユーザー名 / ユーザーID").fill("JPN1000001")
    page.get_by_role("link", name="パスワードを忘れましたか？").click()

    expect(page).to_have_url(re.compile(r"/password/forgot/$"))
    expect(page.get_by_label("会員ID")).to_have_value("JPN1000001")
    assert console_errors == []
