import pytest
from django.contrib.auth.hashers import check_password, make_password
from django.test import Client
from django.utils import timezone

from accounts.models import Member, SecurityEvent
from tests.helpers import PIN, browser_sends, sign_in, solved_captcha

pytestmark = pytest.mark.django_db

NEW_PIN = "583920"


def change_pin(client, current=PIN, new=NEW_PIN, again=None):
    return client.post(
        "/backoffice/profile/pin/",
        {"current_pin": current, "new_pin1": new, "new_pin2": again or new},
    )


def pin_of(member) -> str:
    return Member.objects.get(pk=member.pk).pin


def test_it_changes_the_pin(member_client, member, mailoutbox):
    response = change_pin(member_client)
    assert response["Location"] == "/backoffice/profile/"
    assert check_password(NEW_PIN, pin_of(member))
    profile = member_client.get("/backoffice/profile/").content.decode()
    # Signed in nowhere else: nothing said of other devices (helper-101).
    assert "PINコードを変更しました。" in profile and "ほかの端末" not in profile
    assert SecurityEvent.objects.filter(member=member, kind="pin_changed").count() == 1
    assert "PINコードが変更されました" in mailoutbox[0].subject


def test_it_says_the_other_devices_were_signed_out_when_there_were_any(member):
    phone, desk = Client(), Client()
    sign_in(phone, REMOTE_ADDR="203.0.113.7")
    sign_in(desk, REMOTE_ADDR="198.51.100.4")
    change_pin(desk)
    profile = desk.get("/backoffice/profile/").content.decode()
    # Said, since it happens (helper-97: the member's other devices were signed out unsaid).
    assert "PINコードを変更しました。ほかの端末はログアウトさせました。" in profile
    assert phone.get("/backoffice/")["Location"].startswith("/login/")


def test_full_width_digits_count(member_client, member):
    change_pin(member_client, current="４８２９１６", new="５８３９２０")
    assert check_password(NEW_PIN, pin_of(member))


def test_spaces_between_the_digits_count_for_nothing(member_client, member):
    # 「739 158」 was refused as not 6 digits, where codes and member IDs take spaces.
    change_pin(member_client, current="482 916", new="５８３　９２０")
    assert check_password(NEW_PIN, pin_of(member))


@pytest.mark.parametrize(
    ("new", "again", "message"),
    [
        ("583920", "583921", "2回とも同じではありません"),
        ("12345", None, "6桁の数字"),
        ("58392a", None, "6桁の数字"),
        ("123123", None, "デフォルトのPINコードは使えません"),
        ("777777", None, "同じ数字だけ"),
        ("123456", None, "連続した数字"),
        ("987654", None, "連続した数字"),
    ],
)
def test_a_bad_new_pin_changes_nothing(member_client, member, new, again, message):
    before = pin_of(member)
    page = change_pin(member_client, new=new, again=again).content.decode()
    assert message in page
    assert pin_of(member) == before
    assert 'value="' + new + '"' not in page  # secrets are never sent back


def test_a_wrong_current_pin_changes_nothing(member_client, member):
    page = change_pin(member_client, current="000001").content.decode()
    assert "PINコードが正しくありません" in page
    assert "あと4回" in page
    assert check_password(PIN, pin_of(member))


def test_five_wrong_pins_lock_pin_changes_for_15_minutes(member_client, member, mailoutbox):
    for _ in range(5):
        page = change_pin(member_client, current="000001").content.decode()
    assert "ロックされています" in page
    # The member is told by email, once: if it was not them, someone has their session.
    [told] = mailoutbox
    assert told.to == [member.email]
    assert told.subject == "【JENCO】PINコードが必要な操作をロックしました"
    assert "PINコードが5回続けて誤って入力されたため" in told.body
    assert "ログアウトしてから、ログイン画面の「パスワードを忘れましたか？」から" in told.body
    member.refresh_from_db()
    assert member.pin_locked_until > timezone.now() + timezone.timedelta(minutes=14)
    # Even the right PIN is refused while locked.
    page = change_pin(member_client).content.decode()
    assert "ロックされています" in page
    assert check_password(PIN, pin_of(member))
    assert SecurityEvent.objects.filter(member=member, kind="pin_locked").count() == 1
    # Account > Security's activity calls it what the page did: a lock.
    activity = member_client.get("/backoffice/security/activity/").content.decode()
    assert "PINコードの誤りが続いたため、PINコードが必要な操作をロック" in activity
    member_client.cookies["django_language"] = "en"
    activity = member_client.get("/backoffice/security/activity/").content.decode()
    assert "Changes that need the PIN locked after wrong PINs" in activity


def test_the_lock_lifts_by_itself(member_client, member):
    Member.objects.filter(pk=member.pk).update(
        pin_locked_until=timezone.now() - timezone.timedelta(seconds=1)
    )
    assert change_pin(member_client).status_code == 302


def test_a_right_pin_resets_the_count(member_client, member):
    for _ in range(4):
        change_pin(member_client, current="000001")
    change_pin(member_client)
    member.refresh_from_db()
    assert member.pin_failures == 0


def version_on_page(client, path="/backoffice/profile/pin/") -> str:
    return browser_sends(client.get(path).content.decode(), "version")


def test_a_double_submission_changes_the_pin_once_and_says_so(member_client, member):
    data = {"current_pin": PIN, "new_pin1": NEW_PIN, "new_pin2": NEW_PIN}
    data["version"] = version_on_page(member_client)
    member_client.post("/backoffice/profile/pin/", data)
    again = member_client.post("/backoffice/profile/pin/", data).content.decode()
    assert "フォームが2回送信された" in again
    assert "PINコードが正しくありません" not in again
    member.refresh_from_db()
    assert check_password(NEW_PIN, member.pin)
    assert member.pin_failures == 0  # the repeat cost no PIN attempt
    assert SecurityEvent.objects.filter(member=member, kind="pin_changed").count() == 1
    # The page now carries the new version: a deliberate second change goes through.
    fresh = browser_sends(again, "version")
    assert fresh == version_on_page(member_client)


def test_a_double_submitted_password_change_is_applied_once(member_client, member, mailoutbox):
    path = "/backoffice/profile/password/"
    data = {"new_password1": "maple-Leaf-5521", "new_password2": "maple-Leaf-5521", "pin": PIN}
    data["version"] = version_on_page(member_client, path)
    assert member_client.post(path, data).status_code == 302
    again = member_client.post(path, data).content.decode()
    assert "フォームが2回送信された" in again
    assert SecurityEvent.objects.filter(member=member, kind="password_changed").count() == 1
    assert len(mailoutbox) == 1


def test_while_every_try_is_being_checked_elsewhere_nothing_locks(member_client, member):
    """Five tries in flight in other windows and none decided yet: this one waits its turn
    rather than locking a member whose PIN may be right."""
    Member.objects.filter(pk=member.pk).update(pin_failures=5)
    page = change_pin(member_client).content.decode()
    assert "別のウィンドウでPINコードを確認しています" in page
    member.refresh_from_db()
    assert member.pin_locked_until is None
    assert not check_password(NEW_PIN, member.pin)


def test_a_pin_change_keeps_this_session_and_signs_the_others_out(member_client, member):
    from django.test import Client

    other_device = Client()
    other_device.force_login(member)
    response = member_client.post(
        "/backoffice/profile/pin/",
        {"current_pin": PIN, "new_pin1": "583920", "new_pin2": "583920"},
    )
    assert response.status_code == 302
    assert member_client.get("/backoffice/").status_code == 200
    assert other_device.get("/backoffice/")["Location"].startswith("/login/")


def test_the_form_alone_costs_no_pin_try(member):
    """Validating checks the new PIN only: the try is spent by the view's explicit
    confirmation, so a form bound and checked anywhere else changes nothing."""
    from accounts.forms import PinChangeForm

    form = PinChangeForm(
        member, {"current_pin": "000000", "new_pin1": NEW_PIN, "new_pin2": NEW_PIN}
    )
    assert form.is_valid()
    assert Member.objects.get(pk=member.pk).pin_failures == 0
    assert not SecurityEvent.objects.filter(member=member).exists()


def test_a_try_whose_check_dies_takes_nothing_with_it(member, monkeypatch):
    """The last try before the lock, its app server killed mid-check (helper-76's trial): the
    count was left at the limit with no lock, and every try after it, the right PIN's
    included, was told the PIN was being checked in another window, for good."""
    from accounts import credentials
    from accounts.flows import pin

    Member.objects.filter(pk=member.pk).update(pin_failures=4)

    def dies(member, raw_pin):
        raise SystemExit("the worker is killed")

    monkeypatch.setattr(credentials, "pin_matches", dies)
    with pytest.raises(SystemExit):
        pin.confirm_pin(None, member, "000001")
    assert Member.objects.get(pk=member.pk).pin_failures == 4  # its place not left taken

    monkeypatch.undo()
    assert pin.confirm_pin(None, member, PIN).right


def test_a_wrong_pin_is_told_in_english_with_the_changes_it_locks(member_client, member):
    member_client.cookies["django_language"] = "en"
    data = {"new_password1": "maple-Leaf-3391", "new_password2": "maple-Leaf-3391"}
    pages = [
        member_client.post("/backoffice/profile/password/", {**data, "pin": "583920"})
        for _ in range(4)
    ]
    assert "4 more wrong PINs will lock the changes that need your PIN for 15 minutes" in (
        pages[0].content.decode()
    )
    assert "1 more wrong PIN will lock the changes that need your PIN" in pages[3].content.decode()


def test_a_pin_form_sent_back_says_its_pins_were_cleared_and_nothing_of_a_password(member_client):
    # The hint named passwords on a form that has none (helper-101).
    page = change_pin(member_client, again="583921").content.decode()
    assert "安全のため、入力したPINコードは表示されません。もう一度入力してください。" in page
    assert "パスワード" not in page.split('class="hint secrets-cleared"')[1].split("</p>")[0]


@pytest.mark.parametrize(
    "path, data",
    [
        ("/backoffice/profile/pin/", {"new_pin1": NEW_PIN, "new_pin2": NEW_PIN}),
        (
            "/backoffice/profile/password/",
            {"new_password1": "maple-Leaf-3391", "new_password2": "maple-Leaf-3391"},
        ),
    ],
    ids=["pin", "password"],
)
def test_the_locking_try_does_not_ask_for_the_pins_again(member_client, path, data):
    """helper-151: the fifth wrong PIN came back with 「…日本時間 07:03 までロックされています。」
    and, above the form, 「安全のため、入力したPINコードは表示されません。もう一度入力してくださ
    い。」: told to type them again into a form that refuses every try for 15 minutes."""
    field = "current_pin" if path.endswith("/pin/") else "pin"
    pages = [
        member_client.post(path, {**data, field: f"58392{i}"}).content.decode() for i in range(5)
    ]
    assert "もう一度入力してください。" in pages[0]  # a wrong PIN: typed again, as before
    assert "までロックされています" in pages[4]
    assert "secrets-cleared" not in pages[4] and "もう一度入力してください。" not in pages[4]


def sign_in_view_only(client, member) -> None:
    Member.objects.filter(pk=member.pk).update(sub_password=make_password("willow-Creek-5512"))
    data = {"username": "JPN1000001", "password": "willow-Creek-5512", "view_only": "on"}
    assert client.post("/login/", {**data, **solved_captcha()})["Location"] == "/backoffice/"


@pytest.mark.parametrize(
    "language, before, banner, email",
    [
        (
            "ja",
            "PINコードを変更すると、ログイン中のほかの端末（閲覧専用のログインを含む）はすべて"
            "ログアウトされます。",
            "PINコードを変更しました。ほかの端末はログアウトさせました。",
            "PINコードが変更されました。ほかの端末のログインは終了しました。",
        ),
        (
            "en",
            "Changing your PIN signs out every other device signed in to your account, "
            "view-only ones too.",
            "Your PIN has been changed. Any other device signed in to your account is signed out.",
            "has just been changed. Other devices signed in to your account have been signed out.",
        ),
    ],
)
def test_the_form_the_banner_and_the_email_say_other_devices_are_signed_out(
    member, mailoutbox, language, before, banner, email
):
    # helper-162: a PIN change signed out every other device, a view-only one too, and the
    # form said nothing of it beforehand, nor the email after; the password's email did.
    Member.objects.filter(pk=member.pk).update(preferred_language=language)
    viewer, desk = Client(), Client()
    sign_in_view_only(viewer, member)
    sign_in(desk, REMOTE_ADDR="198.51.100.4")
    desk.cookies["django_language"] = language
    assert before in desk.get("/backoffice/profile/pin/").content.decode()

    change_pin(desk)
    desk.cookies["django_language"] = language
    assert banner in desk.get("/backoffice/profile/").content.decode()
    assert email in mailoutbox[-1].body
    assert viewer.get("/backoffice/")["Location"].startswith("/login/")
    # Signed in nowhere else now: neither the form nor the next email says it.
    assert before not in desk.get("/backoffice/profile/pin/").content.decode()
    change_pin(desk, current=NEW_PIN, new="739158")
    assert "Other devices" not in mailoutbox[-1].body
    assert "ほかの端末" not in mailoutbox[-1].body
