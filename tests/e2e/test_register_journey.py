"""A new member registers on a phone: from the sign-in page's link to signing in with the member
ID the site gave them (issue 15)."""

import re

import pytest
from django.contrib.auth.hashers import check_password
from playwright.sync_api import Page, expect

from accounts.models import Member
from tests.e2e.test_billing_journey import no_horizontal_overflow
from tests.e2e.test_sign_in_journey import answer_captcha
from tests.helpers import emailed_path

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "cedar-Grove-6620"
PIN = "583920"


def fill_in(page: Page, pin_again: str = PIN) -> None:
    page.get_by_label("氏名").fill("鈴木 一郎")
    page.get_by_label("メールアドレス").fill("ichiro@example.com")
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)
    page.get_by_label("パスワード（確認）").fill(PASSWORD)
    page.get_by_label("PINコード", exact=True).fill(PIN)
    page.get_by_label("PINコード（確認）").fill(pin_again)
    page.get_by_label("表示言語").select_option("ja")
    page.get_by_label("JENCOの利用規約に同意します。").check()
    answer_captcha(page)


def test_a_visitor_registers_on_a_phone_and_signs_in_with_the_member_id_shown(
    page, live_server, member, mailoutbox, console_errors
):
    page.goto("/login/")
    expect(page.get_by_text("アカウントをお持ちでないですか？")).to_be_visible()
    page.get_by_role("link", name="こちらから新規登録").click()
    expect(page).to_have_url(re.compile(r"/register/$"))
    assert no_horizontal_overflow(page)

    fill_in(page, pin_again="583921")  # a slip: the PINs differ
    page.get_by_role("button", name="新規登録").click()
    expect(page.get_by_text("新しいPINコードが2回とも同じではありません。")).to_be_visible()
    expect(page.get_by_label("氏名")).to_have_value("鈴木 一郎")  # what was typed stays
    expect(page.get_by_label("パスワード", exact=True)).to_have_value("")  # never the secrets
    assert no_horizontal_overflow(page)

    fill_in(page)
    page.get_by_role("button", name="新規登録").click()
    expect(page).to_have_url(re.compile(r"/register/sent/$"))
    assert not Member.objects.filter(email="ichiro@example.com").exists()

    page.goto(emailed_path(mailoutbox[-1], "/register/verify/"))
    expect(page).to_have_url(re.compile(r"/register/verify/confirm/$"))
    expect(page.get_by_text("ichiro@example.com")).to_be_visible()
    page.get_by_label("パスワード", exact=True).fill("not-the-Chosen-one")  # a slip
    page.get_by_role("button", name="アカウントを作成").click()
    expect(page.get_by_text("新規登録のときに設定したパスワードと一致しません。")).to_be_visible()
    assert no_horizontal_overflow(page)
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="アカウントを作成").click()

    expect(page).to_have_url(re.compile(r"/register/done/$"))
    expect(page.get_by_text("JPN1000002")).to_be_visible()
    assert no_horizontal_overflow(page)
    new = Member.objects.get(member_id="JPN1000002")
    assert check_password(PIN, new.pin)
    assert "JPN1000002" in mailoutbox[-1].body

    page.get_by_role("link", name="ログイン").click()
    page.get_by_label("ユーザー名 / ユーザーID").fill("JPN1000002")
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)
    answer_captcha(page)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(re.compile(r"/backoffice/$"))
    assert console_errors == []


def test_the_done_pages_sign_in_button_brings_the_new_member_id_along(
    page, live_server, member, mailoutbox, console_errors
):
    # The done page shows the new ID, and its button led to an empty sign-in form: on a phone
    # the member had to copy JPN1000002 off the page by hand (helper-153). The button takes it
    # along in this tab, once: the next sign-in page is empty again.
    page.goto("/register/")
    fill_in(page)
    page.get_by_role("button", name="新規登録").click()
    page.goto(emailed_path(mailoutbox[-1], "/register/verify/"))
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="アカウントを作成").click()
    expect(page).to_have_url(re.compile(r"/register/done/$"))

    page.get_by_role("link", name="ログイン").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_label("ユーザー名 / ユーザーID")).to_have_value("JPN1000002")
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)
    answer_captcha(page)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(re.compile(r"/backoffice/$"))

    page.context.clear_cookies()
    page.goto("/login/")
    expect(page.get_by_label("ユーザー名 / ユーザーID")).to_have_value("")
    assert console_errors == []
