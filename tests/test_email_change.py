import re

import pytest

from accounts.models import Member, SecurityEvent
from tests.conftest import PIN

pytestmark = pytest.mark.django_db


def ask_change(client, email="taro.new@example.com", pin=PIN):
    return client.post("/backoffice/profile/email/", {"email": email, "pin": pin})


def confirmation_path(mailoutbox) -> str:
    mail = next(m for m in mailoutbox if m.to == ["taro.new@example.com"])
    return re.search(
        r"https://jenco\.example(/backoffice/profile/email/confirm/\S+/)", mail.body
    ).group(1)


def test_the_change_waits_for_the_new_address_to_confirm(member_client, member, mailoutbox):
    response = ask_change(member_client)
    assert response["Location"] == "/backoffice/profile/"
    assert Member.objects.get(pk=member.pk).email == "taro@example.com"
    assert {tuple(m.to) for m in mailoutbox} == {("taro.new@example.com",), ("taro@example.com",)}
    response = member_client.get(confirmation_path(mailoutbox))
    assert response["Location"] == "/backoffice/profile/"
    assert Member.objects.get(pk=member.pk).email == "taro.new@example.com"
    assert SecurityEvent.objects.filter(member=member, kind="email_changed").exists()
    notices_to_old = [m for m in mailoutbox if m.to == ["taro@example.com"]]
    assert len(notices_to_old) == 2  # the request, then the change


def test_a_confirmation_link_works_once(member_client, member, mailoutbox):
    ask_change(member_client)
    path = confirmation_path(mailoutbox)
    member_client.get(path)
    Member.objects.filter(pk=member.pk).update(email="taro@example.com")
    member_client.get(path)  # the address it replaced is back, but the link is for one use
    response = member_client.get(path)
    page = member_client.get(response["Location"]).content.decode()
    assert "すでに使われています" in page or "有効期限" in page


def test_a_tampered_link_changes_nothing(member_client, member):
    response = member_client.get("/backoffice/profile/email/confirm/not-a-token/")
    assert response["Location"] == "/backoffice/profile/"
    assert Member.objects.get(pk=member.pk).email == "taro@example.com"


def test_another_members_link_changes_nothing(member_client, member, english_member, mailoutbox):
    ask_change(member_client)
    path = confirmation_path(mailoutbox)
    member_client.force_login(english_member)
    member_client.get(path)
    assert Member.objects.get(pk=english_member.pk).email == "alice@example.com"
    assert Member.objects.get(pk=member.pk).email == "taro@example.com"


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("not-an-email", "name@example.com"),
        ("TARO@example.com", "すでに登録されている"),
        # 112 characters typed, 312 after NFKC: longer than any address may be.
        ("ﬃ" * 100 + "@example.com", "name@example.com"),
    ],
)
def test_a_bad_address_gets_a_message(member_client, member, email, message):
    assert message in ask_change(member_client, email=email).content.decode()


def test_a_wrong_pin_sends_nothing(member_client, member, mailoutbox):
    assert "PINコードが正しくありません" in ask_change(member_client, pin="000001").content.decode()
    assert mailoutbox == []
