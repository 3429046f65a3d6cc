"""Changing the email address in a real browser: the form, the emailed link, the button.

The browser sends Origin and Referer by the page's Referrer-Policy, and CSRF protection judges
the button's POST by them: the page with the button must keep a policy that lets it through.
"""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Member
from tests.e2e.test_sign_in_journey import answer_captcha
from tests.helpers import PASSWORD, PIN, emailed_path

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_member_confirms_a_new_address_with_the_button(
    page, live_server, member, mailoutbox, console_errors
):
    page.goto("/login/")
    page.get_by_label("ユーザー名 / ユーザーID").fill("JPN1000001")
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)
    answer_captcha(page)
    page.get_by_role("button", name="ログイン").click()
    page.goto("/backoffice/profile/")
    change = page.get_by_role("link", name="変更", exact=True)
    box = change.bounding_box()  # a thumb's width on a phone, not a word's
    assert box["width"] >= 44 and box["height"] >= 44
    change.tap()
    expect(page).to_have_url(re.compile(r"/backoffice/profile/email/$"))
    page.get_by_label("新しいメールアドレス").fill("taro.new@example.com")
    page.get_by_label("PINコード", exact=True).fill(PIN)
    page.get_by_role("button", name="確認用のURLを送信").click()
    expect(page).to_have_url(re.compile(r"/backoffice/profile/$"))

    mail = next(m for m in mailoutbox if m.to == ["taro.new@example.com"])
    page.goto(emailed_path(mail, "/backoffice/profile/email/confirm/"))
    expect(page).to_have_url(re.compile(r"/backoffice/profile/email/confirm/new-address/$"))
    assert Member.objects.get(pk=member.pk).email == "taro@example.com"
    page.get_by_role("button", name="メールアドレスを変更する").click()

    expect(page).to_have_url(re.compile(r"/backoffice/profile/$"))
    expect(page.get_by_text("メールアドレスを変更しました。")).to_be_visible()
    assert Member.objects.get(pk=member.pk).email == "taro.new@example.com"
    assert console_errors == []
