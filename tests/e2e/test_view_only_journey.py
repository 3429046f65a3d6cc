"""The sub password as a view-only sign-in, on a phone (375 px): the member sets it, someone
signs in view only, sees the header say so, tries to change the PIN and is refused (issue 15)."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Member
from tests.e2e.test_sign_in_journey import answer_captcha
from tests.helpers import PASSWORD, PIN

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SUB_PASSWORD = "willow-Creek-5512"


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def sign_in(page, password: str, *, view_only: bool) -> None:
    page.goto("/login/")
    page.get_by_label("ユーザー名 / ユーザーID").fill("JPN1000001")
    page.get_by_label("パスワード", exact=True).fill(password)
    if view_only:
        page.get_by_label("閲覧専用：サブパスワードでログイン").check()
    answer_captcha(page)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(re.compile(r"/backoffice/$"))


def sign_out(page) -> None:
    page.locator("summary", has_text="アカウント").click()
    page.get_by_role("button", name="ログアウト").click()
    expect(page).to_have_url(re.compile(r"/login/$"))


def test_a_view_only_sign_in_on_a_phone_shows_everything_and_changes_nothing(
    page, live_server, member, mailoutbox, console_errors
):
    # The member sets a sub password, confirmed with the PIN.
    sign_in(page, PASSWORD, view_only=False)
    page.get_by_role("link", name="サブパスワードの編集").click()
    expect(
        page.get_by_text("サブパスワードは設定されていません。閲覧専用ログインはできません。")
    ).to_be_visible()
    page.get_by_label("新しいサブパスワード", exact=True).fill(SUB_PASSWORD)
    page.get_by_label("新しいサブパスワード（確認）").fill(SUB_PASSWORD)
    page.get_by_label("PINコード", exact=True).first.fill(PIN)
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("サブパスワードを設定しました。")).to_be_visible()
    sign_out(page)

    # Someone they trust signs in view only: the header says so, on one phone-wide row.
    sign_in(page, SUB_PASSWORD, view_only=True)
    badge = page.locator("header .view-only-badge")
    expect(badge).to_have_text("閲覧専用")
    expect(badge).to_be_visible()
    box = badge.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375
    assert no_horizontal_overflow(page)
    expect(page.get_by_text("閲覧専用としてログインしています")).to_be_visible()
    assert mailoutbox[-1].subject == "【JENCO】サブパスワードで閲覧専用ログインがありました"

    # Profile and billing show; no way to a change is offered.
    page.get_by_role("link", name="マイプロフィール").click()
    expect(page.get_by_text("taro@example.com")).to_be_visible()
    expect(page.get_by_role("link", name="PINコードの変更")).to_have_count(0)
    assert no_horizontal_overflow(page)

    # Typed by hand, the PIN page is refused before any form shows.
    response = page.goto("/backoffice/profile/pin/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="閲覧専用：変更はできません")).to_be_visible()
    expect(page.get_by_text("メインパスワードでログインし直してください。")).to_be_visible()
    expect(page.locator("input[name=current_pin]")).to_have_count(0)
    assert no_horizontal_overflow(page)
    assert Member.objects.get(pk=member.pk).pin_failures == 0

    # Signing out still works, from the refusal itself.
    page.locator("main").get_by_role("button", name="ログアウト").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    # Chromium reports the refusal's 403 itself as a console error; nothing else may appear.
    assert [e for e in console_errors if "status of 403" not in e] == []
    assert len(console_errors) == 1
