"""The back office home (issue 15, "a home worth landing on"): the last sign-in and the failed
sign-ins since, where a member from JA stands, the latest invoices, shortcuts to Profile."""

import datetime

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.utils import timezone

from accounts.ja_accounts import ja_member
from accounts.models import SecurityEvent
from tests.helpers import PASSWORD, PIN, reset_link, sign_in, solved_captcha, wrong_captcha
from tests.test_two_step import a_code_of_another_step, password_step, turn_on

pytestmark = pytest.mark.django_db


def signed_in_again(member_id="JPN1000001", *, failures=0, language="ja", other_failures=0):
    """Sign in, fail `failures` times with this ID (and `other_failures` with another), then
    sign in again on a new device: the dashboard of that second sign-in."""
    sign_in(Client(), member_id, PASSWORD)
    for n in range(failures):
        sign_in(Client(), member_id, f"wrong-password-{n}", REMOTE_ADDR=f"10.0.0.{n}")
    for n in range(other_failures):
        sign_in(Client(), "JPN7654321", f"wrong-password-{n}", REMOTE_ADDR=f"10.0.1.{n}")
    client = Client()
    client.cookies["django_language"] = language
    assert sign_in(client, member_id, PASSWORD)["Location"] == "/backoffice/"
    client.cookies["django_language"] = language  # the sign-in set the member's own
    return client.get("/backoffice/").content.decode()


@pytest.mark.parametrize(
    "language, heading, first",
    [
        ("ja", "前回のログイン", "今回が初めてのログインです。"),
        ("en", "Previous sign-in", "This is your first sign-in."),
    ],
)
def test_the_first_sign_in_says_so(client, member, language, heading, first):
    client.cookies["django_language"] = language
    sign_in(client)
    client.cookies["django_language"] = language
    page = client.get("/backoffice/").content.decode()

    assert f"<dt>{heading}</dt><dd>{first}</dd>" in page


@pytest.mark.parametrize(
    "language, shown", [("ja", "2026年11月30日 21:05"), ("en", "Nov. 30, 2026, 21:05 JST")]
)
def test_the_previous_sign_in_is_shown(client, member, language, shown):
    previous = timezone.make_aware(datetime.datetime(2026, 11, 30, 21, 5))  # Tokyo time
    type(member).objects.filter(pk=member.pk).update(last_login=previous)
    client.cookies["django_language"] = language
    sign_in(client)
    client.cookies["django_language"] = language

    page = client.get("/backoffice/").content.decode()

    assert f"<dd>{shown}</dd>" in page


@pytest.mark.parametrize(
    "language, failures, text",
    [
        (
            "ja",
            3,
            "前回のログインから今回のログインまでに、お客様の会員IDで3回ログインに失敗しています。",
        ),
        (
            "en",
            3,
            "3 failed sign-ins with your member ID between your previous sign-in and this one.",
        ),
        (
            "en",
            1,
            "1 failed sign-in with your member ID between your previous sign-in and this one.",
        ),
        ("ja", 0, "前回のログインから今回のログインまでに、ログインの失敗はありませんでした。"),
        ("en", 0, "None between your previous sign-in and this one."),
    ],
)
def test_the_failed_sign_ins_since_the_previous_one_are_counted(member, language, failures, text):
    page = signed_in_again(failures=failures, language=language, other_failures=2)

    assert text in page
    assert ("has-failures" in page) is bool(failures)


@pytest.mark.parametrize(
    "language, text",
    [
        ("ja", "お客様の会員IDで2回ログインに失敗しています。"),
        ("en", "2 failed sign-ins with your member ID between your previous sign-in and this one."),
    ],
)
def test_a_wrong_two_step_code_is_counted_as_activity_shows_it(
    member_client, member, language, text
):
    # helper-156: Activity listed the wrong code as a failure; the dashboard said "none".
    totp, recovery_codes = turn_on(member_client)
    password_step(member_client)
    member_client.post("/login/code/", {"code": a_code_of_another_step(totp, 10)})
    member_client.post("/login/code/", {"code": "ABCDE-23456"})  # no recovery code of theirs
    member_client.cookies["django_language"] = language
    response = member_client.post("/login/code/", {"code": a_code_of_another_step(totp, 1)})
    assert response["Location"] == "/backoffice/"
    member_client.cookies["django_language"] = language
    page = member_client.get("/backoffice/").content.decode()

    assert text in page and "has-failures" in page
    # Typed in this very sign-in, which the member then finished: their own slips, not
    # someone else with the password (helper-164).
    assert "2段階認証コードで失敗" not in page and "failed at the two-step code" not in page
    # Nor someone guessing the password (helper-168): what they were.
    assert "推測" not in page and "guess" not in page
    own = (
        "They were the wrong two-step codes typed in this sign-in, before the right one."
        if language == "en"
        else "今回のログインで、正しいコードの前に誤って入力された2段階認証コードです。"
    )
    assert own in page
    activity = member_client.get("/backoffice/security/").content.decode()
    wrong_code = "Wrong two-step code typed" if language == "en" else "2段階認証コードの入力誤り"
    assert activity.count(wrong_code) == 2


@pytest.mark.parametrize(
    "language, text",
    [
        (
            "ja",
            "うち1回は、パスワードは正しく入力され、2段階認証コードで失敗しています。"
            "お心当たりがない場合は、第三者にパスワードを知られているおそれがあります。",
        ),
        (
            "en",
            "1 of them got past your password and failed at the two-step code. If that was "
            "not you, someone knows your password: change it now.",
        ),
    ],
)
def test_a_wrong_code_after_the_right_password_says_someone_may_know_it(
    member_client, member, language, text
):
    totp, _codes = turn_on(member_client)
    stranger = Client()
    password_step(stranger, REMOTE_ADDR="10.0.3.1")  # someone with the member's password
    stranger.post("/login/code/", {"code": a_code_of_another_step(totp, 10)})
    sign_in(Client(), "JPN1000001", "wrong-password", REMOTE_ADDR="10.0.3.2")  # and a guess
    device = Client()
    device.cookies["django_language"] = language
    password_step(device)
    code = {"code": a_code_of_another_step(totp, 1)}
    assert device.post("/login/code/", code)["Location"] == "/backoffice/"
    device.cookies["django_language"] = language

    page = device.get("/backoffice/").content.decode()

    assert text in page
    assert "2回" in page if language == "ja" else "2 failed sign-ins" in page


def test_a_new_password_answers_a_wrong_code_too(member_client, member):
    totp, _codes = turn_on(member_client)
    stranger = Client()
    password_step(stranger, REMOTE_ADDR="10.0.3.1")
    stranger.post("/login/code/", {"code": a_code_of_another_step(totp, 10)})
    member.refresh_from_db()
    reset_password_by_email(member)
    device = Client()
    password_step(device, password=NEW_PASSWORD)
    code = {"code": a_code_of_another_step(totp, 1)}
    assert device.post("/login/code/", code)["Location"] == "/backoffice/"

    page = device.get("/backoffice/").content.decode()

    assert "2段階認証コードで失敗" not in page
    assert "その後、パスワードは変更されています。" in page


def test_failures_before_the_previous_sign_in_are_not_counted_again(member):
    for n in range(4):
        sign_in(Client(), "JPN1000001", f"wrong-password-{n}", REMOTE_ADDR=f"10.0.2.{n}")

    page = signed_in_again(failures=2)

    assert "2回ログインに失敗しています" in page


NEW_PASSWORD = "cedar-Lantern-7731"


def reset_password_by_email(member) -> None:
    """Set NEW_PASSWORD through the emailed reset link, as a member who forgot it does."""
    member.refresh_from_db()  # the link is made for the member as signed in last
    client = Client()
    form = client.get(reset_link("password", member))["Location"]
    data = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD, **solved_captcha()}
    assert client.post(form, data).status_code == 302


@pytest.mark.parametrize(
    "language, said",
    [
        ("ja", "その後、パスワードは変更されています。"),
        ("en", "Your password has been changed since then."),
    ],
)
def test_failures_a_password_reset_came_after_are_told_as_answered(member, language, said):
    # helper-116: a member who reset the password after the failures was still told to
    # consider changing it.
    sign_in(Client(), "JPN1000001", PASSWORD)
    for n in range(3):
        sign_in(Client(), "JPN1000001", f"wrong-password-{n}", REMOTE_ADDR=f"10.0.3.{n}")
    reset_password_by_email(member)

    client = Client()
    client.cookies["django_language"] = language
    assert sign_in(client, password=NEW_PASSWORD)["Location"] == "/backoffice/"
    client.cookies["django_language"] = language
    page = client.get("/backoffice/").content.decode()

    assert ("3 failed sign-ins" in page) if language == "en" else ("3回ログインに失敗" in page)
    assert said in page
    assert "has-failures" not in page and "⚠" not in page
    assert "consider changing it" not in page and "変更をご検討ください" not in page


def test_failures_after_the_password_change_still_warn(member):
    sign_in(Client(), "JPN1000001", PASSWORD)
    sign_in(Client(), "JPN1000001", "wrong-password-0", REMOTE_ADDR="10.0.4.1")
    reset_password_by_email(member)
    sign_in(Client(), "JPN1000001", "wrong-password-1", REMOTE_ADDR="10.0.4.2")

    client = Client()
    assert sign_in(client, password=NEW_PASSWORD)["Location"] == "/backoffice/"
    page = client.get("/backoffice/").content.decode()

    assert "2回ログインに失敗" in page and "has-failures" in page
    assert "その後、パスワードは変更されています。" not in page


@pytest.mark.parametrize(
    "language, hint",
    [
        ("ja", "メインパスワードでログインして変更してください"),
        ("en", "sign in with your main password to change it."),
    ],
)
def test_a_view_only_session_is_told_how_to_change_the_password(member, language, hint):
    member.sub_password = make_password("willow-Creek-5512")
    member.save(update_fields=["sub_password"])
    sign_in(Client(), "JPN1000001", PASSWORD)
    sign_in(Client(), "JPN1000001", "wrong-password", REMOTE_ADDR="10.0.5.1")
    client = Client()
    client.cookies["django_language"] = language
    data = {"username": "JPN1000001", "password": "willow-Creek-5512", "view_only": "on"}
    assert client.post("/login/", {**data, **solved_captcha()})["Location"] == "/backoffice/"
    client.cookies["django_language"] = language
    page = client.get("/backoffice/").content.decode()

    assert hint in page
    assert "consider changing it" not in page and "変更をご検討ください" not in page


def test_a_dashboard_with_failures_still_costs_three_queries(member, django_assert_max_num_queries):
    sign_in(Client(), "JPN1000001", PASSWORD)
    sign_in(Client(), "JPN1000001", "wrong-password")
    client = Client()
    sign_in(client)

    with django_assert_max_num_queries(3):
        page = client.get("/backoffice/").content.decode()
    assert "1回ログインに失敗しています" in page


@pytest.mark.parametrize(
    "language, heading, done",
    [("ja", "JAからの移行", "移行完了"), ("en", "Migration from JA", "Migration complete")],
)
def test_a_member_from_ja_sees_the_migration_done(client, language, heading, done):
    member = ja_member("JPN2000001", name="佐藤 花子", email="hanako@example.com")
    member.set_password(PASSWORD)
    member.pin = make_password(PIN)
    member.on_default_password = member.on_default_pin = False
    member.save()
    client.force_login(member)
    client.cookies["django_language"] = language

    page = client.get("/backoffice/").content.decode()

    assert f"<dt>{heading}</dt>" in page
    assert done in page
    assert page.count('class="done-ok"') == 2  # PIN and password changed


def test_a_member_not_from_ja_sees_no_migration(member_client):
    assert "JAからの移行" not in member_client.get("/backoffice/").content.decode()


@pytest.mark.parametrize(
    "language, names",
    [
        (
            "ja",
            [
                "マイプロフィール",
                "PINコードの変更",
                "メインパスワードの編集",
                "サブパスワードの編集",
                "メールアドレスの変更",
                "請求書",
            ],
        ),
        (
            "en",
            [
                "My profile",
                "Change PIN",
                "Edit main password",
                "Edit sub password",
                "Change email address",
                "Billing",
            ],
        ),
    ],
)
def test_the_dashboard_has_shortcuts_to_the_profile_pages(member_client, language, names):
    member_client.cookies["django_language"] = language
    page = member_client.get("/backoffice/").content.decode()
    shortcuts = page[page.index('class="card shortcuts"') :]

    paths = [
        "profile/",
        "profile/pin/",
        "profile/password/",
        "profile/sub-password/",
        "profile/email/",
        "billing/",
    ]
    for path, name in zip(paths, names, strict=True):
        assert f'<a href="/backoffice/{path}">{name}</a>' in shortcuts
    for path in paths:
        assert member_client.get(f"/backoffice/{path}").status_code == 200


@pytest.mark.parametrize(
    "language, text",
    [
        ("ja", "今回のログインより前に、お客様の会員IDで2回ログインに失敗しています。"),
        ("en", "2 failed sign-ins with your member ID before this one."),
    ],
)
def test_at_the_first_sign_in_the_failures_before_it_are_counted(client, member, language, text):
    for n in range(2):
        sign_in(Client(), "JPN1000001", f"wrong-password-{n}")
    client.cookies["django_language"] = language
    sign_in(client)
    client.cookies["django_language"] = language

    assert text in client.get("/backoffice/").content.decode()


def test_a_first_sign_in_with_no_failures_shows_no_failure_line(client, member):
    sign_in(client)
    assert "ログイン失敗" not in client.get("/backoffice/").content.decode()


def test_the_header_names_the_member_and_gives_the_id_once(member_client, member):
    page = member_client.get("/backoffice/").content.decode()
    assert '<p class="who">山田 太郎<span>JPN1000001</span></p>' in page
    assert '<p class="menu-who">山田 太郎<br><span>JPN1000001</span></p>' in page  # on a phone


def test_an_account_without_a_name_shows_its_id_once_not_twice(client, staff):
    """A staff account made without --name: its ID is not put where the name goes too."""
    client.force_login(staff)
    page = client.get("/backoffice/").content.decode()
    assert '<p class="who">JPN9000001</p>' in page
    assert '<p class="menu-who">JPN9000001</p>' in page
    header = page.split("</header>")[0]
    assert header.count("JPN9000001") == 2  # the wide screen's, and the phone's in the menu


def test_a_view_only_sign_in_leaves_the_warning_for_the_member(member):
    # Whoever held the sub password used the warning up: the member's next sign-in read
    # "none since your previous sign-in" (helper-119).
    member.sub_password = make_password("willow-Creek-5512")
    member.save(update_fields=["sub_password"])
    sign_in(Client(), "JPN1000001", PASSWORD)
    for n in range(2):
        sign_in(Client(), "JPN1000001", f"wrong-password-{n}", REMOTE_ADDR=f"10.0.6.{n}")
    viewer = Client()
    data = {"username": "JPN1000001", "password": "willow-Creek-5512", "view_only": "on"}
    assert viewer.post("/login/", {**data, **solved_captcha()})["Location"] == "/backoffice/"
    assert "2回ログインに失敗" in viewer.get("/backoffice/").content.decode()

    owner = Client()
    assert sign_in(owner)["Location"] == "/backoffice/"

    page = owner.get("/backoffice/").content.decode()
    assert "2回ログインに失敗" in page and "has-failures" in page


@pytest.mark.parametrize(
    "language, text, activity_line",
    [
        (
            "ja",
            "前回のログインから今回のログインまでに、お客様の会員IDで1回ログインに失敗しています。",
            "お客様の会員IDでのログイン失敗",
        ),
        (
            "en",
            "1 failed sign-in with your member ID between your previous sign-in and this one.",
            "Failed sign-in with your member ID",
        ),
    ],
)
def test_a_wrong_captcha_is_not_counted_as_a_failed_sign_in(member, language, text, activity_line):
    # helper-162: the member's own picture typo read on their dashboard as a failed sign-in
    # ("someone may be guessing your password"), and anyone who knew the ID could raise the
    # count without reading the picture or knowing the password.
    sign_in(Client(), "JPN1000001", PASSWORD)
    sign_in(Client(), "JPN1000001", "wrong-password")  # one real failure
    sign_in(Client(), "JPN1000001", PASSWORD, captcha=wrong_captcha())  # the member's typo
    sign_in(Client(), "JPN1000001", "guess", captcha={"captcha_0": "x"})  # no answer: a bot
    client = Client()
    client.cookies["django_language"] = language
    assert sign_in(client, "JPN1000001", PASSWORD)["Location"] == "/backoffice/"
    client.cookies["django_language"] = language

    assert text in client.get("/backoffice/").content.decode()
    activity = client.get("/backoffice/security/activity/").content.decode()
    assert activity.count(f"<strong>{activity_line}</strong>") == 1
    # Staff still read both in the security log, against the ID typed.
    captcha_failures = SecurityEvent.objects.filter(
        kind="sign_in_captcha_failed", member_id_typed="JPN1000001"
    )
    assert captcha_failures.count() == 2
