import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Member, SecurityEvent
from tests.helpers import PASSWORD, PIN, reset_link, sign_in, solved_captcha

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
        # Our words for what is too long, not Django's "at most N characters (it has M)".
        ("x" * 10_000, None, PIN, "パスワードが長すぎます。"),
        (NEW_PASSWORD, None, "1" * 10_000, "PINコードは6桁の数字で入力してください。"),
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


# --- An account without a PIN (staff made with create_staff) -------------------------------


@pytest.fixture
def staff_client(client, staff):
    assert not staff.has_pin
    client.force_login(staff)
    return client


def test_without_a_pin_the_back_office_offers_no_pin_or_sub_password(staff_client):
    for path in ("/backoffice/", "/backoffice/profile/"):
        page = staff_client.get(path).content.decode()
        assert "/backoffice/profile/password/" in page
        assert "/backoffice/profile/pin/" not in page
        assert "/backoffice/profile/sub-password/" not in page
    for path in ("/backoffice/profile/pin/", "/backoffice/profile/sub-password/"):
        response = staff_client.get(path, follow=True)
        assert response.redirect_chain == [("/backoffice/profile/", 302)]
        assert "このアカウントにはPINコードとサブパスワードによる閲覧専用ログインがありません" in (
            response.content.decode()
        )


def test_without_a_pin_the_password_is_changed_with_the_current_one(
    staff_client, staff, mailoutbox
):
    page = staff_client.get("/backoffice/profile/password/").content.decode()
    assert 'name="current_password"' in page and 'name="pin"' not in page
    assert "現在のパスワードを入力して『変更』" in page
    assert "PINコードを忘れましたか" not in page  # there is none to forget

    wrong = staff_client.post(
        "/backoffice/profile/password/",
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD, "current_password": "x"},
    )
    assert "パスワードが正しくありません" in wrong.content.decode()
    assert Member.objects.get(pk=staff.pk).check_password(PASSWORD)

    done = staff_client.post(
        "/backoffice/profile/password/",
        {
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
            "current_password": PASSWORD,
        },
    )
    assert done["Location"] == "/backoffice/profile/"
    assert Member.objects.get(pk=staff.pk).check_password(NEW_PASSWORD)
    assert SecurityEvent.objects.filter(member=staff, kind="password_changed").exists()
    assert "パスワードが変更されました" in mailoutbox[-1].subject


def test_without_a_pin_wrong_passwords_run_out_like_wrong_pins(staff_client, staff, settings):
    settings.JENCO_PIN_ATTEMPTS = 3
    data = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    for _ in range(3):
        staff_client.post("/backoffice/profile/password/", {**data, "current_password": "x"})

    refused = staff_client.post(
        "/backoffice/profile/password/", {**data, "current_password": PASSWORD}
    )

    page = refused.content.decode()
    assert "パスワードの入力を続けて間違えたため、パスワードが必要な操作は" in page
    # The way out: a reset by email (below), since no agent may lift a staff account's lock.
    assert "ログアウトして「パスワードを忘れましたか？」から再設定してください" in page
    assert Member.objects.get(pk=staff.pk).check_password(PASSWORD)


def test_without_a_pin_each_wrong_password_says_how_many_tries_are_left_and_is_logged(
    staff_client, staff, settings
):
    settings.JENCO_PIN_ATTEMPTS = 3
    data = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}

    pages = [
        staff_client.post(
            "/backoffice/profile/password/", {**data, "current_password": "x"}
        ).content.decode()
        for _ in range(3)
    ]

    assert "あと2回間違えると、パスワードが必要な操作が15分間ロックされます" in pages[0]
    assert "あと1回間違えると" in pages[1]
    assert "パスワードが必要な操作は" in pages[2] and "までロックされています" in pages[2]
    logged = SecurityEvent.objects.filter(member=staff).values_list("kind", flat=True)
    assert sorted(logged) == ["confirm_password_failed"] * 3 + ["confirm_password_locked"]
    activity = staff_client.get("/backoffice/security/activity/").content.decode()
    assert "変更確認時のパスワードの入力誤り" in activity
    assert "パスワードの誤りが続いたため、パスワードが必要な操作をロック" in activity


def test_without_a_pin_a_right_password_gives_the_tries_back(staff_client, staff, settings):
    settings.JENCO_PIN_ATTEMPTS = 3
    passwords = [PASSWORD, NEW_PASSWORD, "cedar-Grove-7720", "birch-Lane-4406"]
    # Wrong, wrong, right, three times over: nine tries, none of them a third wrong in a row.
    for current, new in zip(passwords, passwords[1:], strict=False):
        data = {"new_password1": new, "new_password2": new}
        for _ in range(2):
            staff_client.post("/backoffice/profile/password/", {**data, "current_password": "x"})
        done = staff_client.post(
            "/backoffice/profile/password/", {**data, "current_password": current}
        )
        assert done["Location"] == "/backoffice/profile/", done.content.decode()

    assert Member.objects.get(pk=staff.pk).check_password(passwords[-1])
    assert not SecurityEvent.objects.filter(member=staff, kind="confirm_password_locked")


def test_without_a_pin_the_wrong_password_is_told_in_english(staff_client, staff):
    staff_client.cookies["django_language"] = "en"
    data = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}

    page = staff_client.post(
        "/backoffice/profile/password/", {**data, "current_password": "x"}
    ).content.decode()

    assert "The password is incorrect. 4 more wrong passwords will lock these changes" in page
    for _ in range(3):
        page = staff_client.post(
            "/backoffice/profile/password/", {**data, "current_password": "x"}
        ).content.decode()
    assert "The password is incorrect. 1 more wrong password will lock these changes" in page


def test_without_a_pin_the_email_change_asks_for_the_password(staff_client, staff, mailoutbox):
    page = staff_client.get("/backoffice/profile/email/").content.decode()
    assert 'name="current_password"' in page and 'name="pin"' not in page

    response = staff_client.post(
        "/backoffice/profile/email/",
        {"email": "new-admin@jenco.example", "current_password": PASSWORD},
    )

    assert response["Location"] == "/backoffice/profile/"
    assert ["new-admin@jenco.example"] in [mail.to for mail in mailoutbox]


def test_a_staff_account_may_not_move_to_a_members_inbox(staff_client, staff, member, mailoutbox):
    """Its reset links would reach that member. (Members may share an address; staff not.)"""
    address = member.email.replace("@", "+admin@")
    page = staff_client.post(
        "/backoffice/profile/email/", {"email": address, "current_password": "wrong-one"}
    ).content.decode()

    assert "スタッフアカウントには専用のメールアドレスを指定してください。" in page
    assert not mailoutbox
    staff.refresh_from_db()
    # Refused with the address, before the password: a wrong one cost no try.
    assert staff.pin_failures == 0


def lock_by_wrong_passwords(client, settings):
    settings.JENCO_PIN_ATTEMPTS = 2
    data = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    for _ in range(2):
        client.post("/backoffice/profile/password/", {**data, "current_password": "x"})


def test_without_a_pin_the_lock_is_told_by_email_in_the_accounts_language(
    staff_client, staff, settings, mailoutbox
):
    staff.preferred_language = "en"
    staff.save(update_fields=["preferred_language"])
    lock_by_wrong_passwords(staff_client, settings)
    [told] = mailoutbox
    assert told.to == [staff.email]
    assert told.subject == "[JENCO] Changes that need your password are locked"
    assert "A wrong password was entered 2 times in a row on your account" in told.body
    assert "end the lock now: sign out and reset your password" in told.body
    assert "PIN" not in told.body  # the account has none


def test_without_a_pin_a_password_reset_by_email_ends_the_lock(staff_client, staff, settings):
    lock_by_wrong_passwords(staff_client, settings)
    staff_client.post("/logout/")
    form = staff_client.get(reset_link("password", staff))["Location"]
    staff_client.post(
        form,
        {
            "new_password1": "cedar-Grove-7720",
            "new_password2": "cedar-Grove-7720",
            **solved_captcha(),
        },
    )
    assert Member.objects.get(pk=staff.pk).pin_locked_until is None

    staff_client.force_login(Member.objects.get(pk=staff.pk))
    done = staff_client.post(
        "/backoffice/profile/password/",
        {
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
            "current_password": "cedar-Grove-7720",
        },
    )
    assert done["Location"] == "/backoffice/profile/"


def test_a_superuser_sees_a_staff_accounts_password_lock_for_what_it_is_and_lifts_it(
    client, staff, support_agent, member, settings
):
    client.force_login(support_agent)
    lock_by_wrong_passwords(client, settings)
    client.force_login(staff)  # the superuser

    page = client.get(f"/admin/accounts/member/{support_agent.pk}/change/").content.decode()
    assert "パスワードで確認する変更は" in page and "までロック中です" in page
    assert "PINコードは" not in page  # the account has none
    assert "field-pin_lock_ends" not in page and "field-on_default_pin" not in page
    a_members = client.get(f"/admin/accounts/member/{member.pk}/change/").content.decode()
    assert "field-pin_lock_ends" in a_members and "field-on_default_pin" in a_members
    # Signing in is not what is paused: the answer to "can they sign in?" is yes.
    assert "はい：ログインは一時停止されていません" in page and "いいえ：一時停止中です" not in page
    client.post(f"/admin/accounts/member/{support_agent.pk}/clear-lockout/")
    assert Member.objects.get(pk=support_agent.pk).pin_locked_until is None

    client.force_login(support_agent)
    activity = client.get("/backoffice/security/activity/").content.decode()
    assert "JENCOサポートが、パスワードが必要な操作のロックを解除" in activity
    assert "ログインの一時停止を解除" not in activity  # no sign-in pause was lifted


def test_a_staff_account_signed_in_is_not_offered_a_pin_link(staff_client, staff, mailoutbox):
    for method in (staff_client.get, staff_client.post):
        response = method("/pin/forgot/", follow=True)
        assert response.redirect_chain[-1][0] == "/backoffice/profile/"
        assert "このアカウントにはPINコードと" in response.content.decode()
    assert not mailoutbox


def test_a_password_checked_in_another_window_is_told_so():
    from accounts.flows.pin import PinCheck
    from accounts.forms import password_problem

    assert password_problem(PinCheck(right=False, busy=True)) == (
        "別のウィンドウでパスワードを確認しています。少し待ってから、もう一度お試しください。"
    )


def test_the_page_says_it_is_locked_before_it_is_filled_in(staff_client, staff, settings):
    lock_by_wrong_passwords(staff_client, settings)
    for path in (
        "/backoffice/profile/password/",
        "/backoffice/profile/email/",
        "/backoffice/security/two-step/authenticator/",
    ):
        page = staff_client.get(path).content.decode()
        assert (
            '<div class="form-errors" role="alert"><p>パスワードの入力を続けて間違えたため' in page
        )


def test_a_member_sees_the_pin_lock_before_filling_a_form_in(member_client, member):
    Member.objects.filter(pk=member.pk).update(
        pin_locked_until=timezone.now() + timezone.timedelta(minutes=10)
    )
    for path in (
        "/backoffice/profile/password/",
        "/backoffice/profile/sub-password/",
        "/backoffice/security/two-step/authenticator/",
    ):
        page = member_client.get(path).content.decode()
        assert page.count("PINコードの入力を続けて間違えたため、PINコードが必要な操作は") == 1, path
    Member.objects.filter(pk=member.pk).update(pin_locked_until=None)
    page = member_client.get("/backoffice/profile/password/").content.decode()
    assert "PINコードの入力を続けて間違えたため" not in page


def test_the_email_says_other_devices_were_signed_out_only_when_there_were_any(member, mailoutbox):
    # It said so always, like a PIN change's never did (helper-162): now both say it when true.
    phone, desk = Client(), Client()
    sign_in(desk, REMOTE_ADDR="198.51.100.4")
    change_password(desk)
    assert "パスワードが変更されました。\n" in mailoutbox[-1].body
    assert "ほかの端末" not in mailoutbox[-1].body

    sign_in(phone, password=NEW_PASSWORD, REMOTE_ADDR="203.0.113.7")
    change_password(desk, new="plum-Blossom-4242")
    assert "パスワードが変更されました。ほかの端末のログインは終了しました。" in mailoutbox[-1].body
