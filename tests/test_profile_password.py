import pytest
from django.test import Client

from accounts.models import Member, SecurityEvent
from tests.helpers import PASSWORD, PIN

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "maple-Leaf-3391"


def change_password(client, new=NEW_PASSWORD, again=None, pin=PIN):
    return client.post(
        "/backoffice/profile/password/",
        {"new_password1": new, "new_password2": again or new, "pin": pin},
    )


def test_it_shows_the_seeds_password_screen(member_client):
    page = member_client.get("/backoffice/profile/password/").content.decode()
    for text in [
        "パスワードの変更",
        "新しいパスワード",
        "6桁のPINコードを入力",
        "『変更』を押して",
    ]:
        assert text in page
    assert ">変更</button>" in page  # a change, not the reset pages' リセット


@pytest.mark.parametrize(
    "path", ["/backoffice/profile/password/", "/backoffice/profile/sub-password/"]
)
def test_the_password_rules_show_before_one_is_broken(member_client, path):
    page = member_client.get(path).content.decode()
    assert "8文字以上で、数字だけでないもの" in page


def test_it_changes_the_password_and_keeps_this_session(member_client, member, mailoutbox):
    response = change_password(member_client)
    assert response["Location"] == "/backoffice/profile/"
    assert Member.objects.get(pk=member.pk).check_password(NEW_PASSWORD)
    assert member_client.get("/backoffice/").status_code == 200
    assert SecurityEvent.objects.filter(member=member, kind="password_changed").exists()
    assert "パスワードが変更されました" in mailoutbox[0].subject


def test_every_other_session_is_signed_out(member_client, member):
    other_device = Client()
    other_device.force_login(member)
    change_password(member_client)
    assert other_device.get("/backoffice/")["Location"].startswith("/login/")


@pytest.mark.parametrize(
    ("new", "again", "pin", "message"),
    [
        (NEW_PASSWORD, "maple-Leaf-3392", PIN, "2回とも同じではありません"),
        ("short1", None, PIN, "短すぎます"),
        ("password123", None, PIN, "一般的すぎます"),
        ("jenco@12345", None, PIN, "デフォルトのパスワードは使えません"),
        ("jpn1000001x", None, PIN, "パスワードが会員IDと似すぎています。"),
        (NEW_PASSWORD, None, "000001", "PINコードが正しくありません"),
    ],
)
def test_a_bad_change_changes_nothing(member_client, member, new, again, pin, message):
    page = change_password(member_client, new=new, again=again, pin=pin).content.decode()
    assert message in page
    assert Member.objects.get(pk=member.pk).check_password(PASSWORD)
    assert new not in page.split("</header>")[1]


def test_a_weak_password_costs_no_pin_attempt(member_client, member):
    change_password(member_client, new="short1", pin="000001")
    assert Member.objects.get(pk=member.pk).pin_failures == 0
