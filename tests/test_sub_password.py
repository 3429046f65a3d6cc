import pytest
from django.contrib.auth.hashers import check_password

from accounts.models import Member, SecurityEvent
from tests.helpers import PASSWORD, PIN

pytestmark = pytest.mark.django_db


def set_sub_password(client, new, again=None, pin=PIN):
    return client.post(
        "/backoffice/profile/sub-password/",
        {"new_password1": new, "new_password2": again or new, "pin": pin},
    )


def test_it_sets_the_sub_password(member_client, member, mailoutbox):
    response = set_sub_password(member_client, "willow-Creek-5512")
    assert response["Location"] == "/backoffice/profile/"
    assert check_password("willow-Creek-5512", Member.objects.get(pk=member.pk).sub_password)
    assert SecurityEvent.objects.filter(member=member, kind="sub_password_changed").exists()
    assert "サブパスワードが設定されました" in mailoutbox[0].subject


def test_it_may_not_equal_the_main_password(member_client, member):
    page = set_sub_password(member_client, PASSWORD).content.decode()
    assert "メインパスワードと別のもの" in page
    assert Member.objects.get(pk=member.pk).sub_password == ""


def test_the_main_password_may_not_become_the_sub_password(member_client, member):
    set_sub_password(member_client, "willow-Creek-5512")
    page = member_client.post(
        "/backoffice/profile/password/",
        {"new_password1": "willow-Creek-5512", "new_password2": "willow-Creek-5512", "pin": PIN},
    ).content.decode()
    assert "サブパスワードと異なるもの" in page
    assert Member.objects.get(pk=member.pk).check_password(PASSWORD)


@pytest.mark.parametrize(
    ("password", "message"),
    [("short1", "短すぎます"), ("password123", "一般的すぎます"), ("jpn1000001x", "会員ID")],
)
def test_the_sub_password_follows_the_password_rules(member_client, member, password, message):
    assert message in set_sub_password(member_client, password).content.decode()
    assert Member.objects.get(pk=member.pk).sub_password == ""


def test_it_is_confirmed_with_the_pin(member_client, member):
    page = set_sub_password(member_client, "willow-Creek-5512", pin="999999").content.decode()
    assert "PINコードが正しくありません" in page
    assert Member.objects.get(pk=member.pk).sub_password == ""


def test_its_fields_are_named_the_sub_password_not_the_password(member_client):
    # With the main password's labels the two pages were easily taken for each other.
    page = member_client.get("/backoffice/profile/sub-password/").content.decode()
    assert "新しいサブパスワード" in page and "新しいサブパスワード（確認）" in page


def test_the_notice_says_what_the_sub_password_opens_and_how_to_undo_it(
    member_client, member, client, english_member, mailoutbox
):
    # Someone who set a sub password on the member's account can sign in view only for good:
    # a new password through "Forgot password?" (all the notice advised) leaves the sub
    # password in place. The notice says what it opens and that it must be removed.
    set_sub_password(member_client, "willow-Creek-5512")
    body = mailoutbox[-1].body
    assert "サブパスワードが設定されました" in body
    assert "閲覧専用でログイン" in body
    assert "「サブパスワードの編集」からサブパスワードを削除" in body
    client.force_login(english_member)
    set_sub_password(client, "willow-Creek-5512")
    body = mailoutbox[-1].body
    assert "The sub password of your account JPN1000002 has just been set." in body
    assert "can sign in view only" in body
    assert "remove the sub password under Account > Profile > Edit sub password" in body
