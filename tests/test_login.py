import datetime
import re

import pytest
from asgiref.sync import async_to_sync
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.test import Client

from accounts.backends import MemberBackend
from accounts.models import SecurityEvent
from tests.helpers import DEFAULT_PASSWORD, PASSWORD, sign_in, solved_captcha, wrong_captcha

pytestmark = pytest.mark.django_db

INVALID_LOGIN_JA = "会員IDまたはパスワードが正しくありません"


def test_it_shows_the_seeds_sign_in_screen_in_japanese(client):
    page = client.get("/login/").content.decode()
    assert '<html lang="ja">' in page
    for text in [
        "Jenco",
        "サインイン",
        "ユーザー名 / ユーザーID",
        "例) JPN1234567",
        "パスワード",
        "キャプチャ",
        "ログイン",
        'name="captcha_1"',
        'inputmode="numeric"',
    ]:
        assert text in page


def test_it_shows_the_sign_in_screen_in_english(client):
    page = client.get("/login/", headers={"accept-language": "en"}).content.decode()
    assert '<html lang="en">' in page
    for text in [
        "Sign In",
        "Username / User ID",
        "e.g. JPN1234567",
        "Password",
        "Captcha",
        "Log In",
        "ENGLISH ▼",
    ]:
        assert text in page


def password_box(page: str) -> str:
    return re.search(r'<input type="password" name="password"[^>]*>', page)[0]


@pytest.mark.parametrize(
    "language, hint",
    [("ja", 'placeholder="デフォルト) jenco@12345"'), ("en", 'placeholder="Default) jenco@12345"')],
)
@pytest.mark.parametrize(
    "until", [None, 0, 30], ids=["no deadline", "deadline today", "in 30 days"]
)
def test_while_the_defaults_sign_in_the_password_box_shows_the_seeds_hint(
    client, settings, language, hint, until
):
    if until is not None:
        settings.JENCO_DEFAULT_CREDENTIALS_UNTIL = datetime.date.today() + datetime.timedelta(until)

    page = client.get("/login/", headers={"accept-language": language}).content.decode()

    assert hint in password_box(page)


@pytest.mark.parametrize("language", ["ja", "en"])
def test_after_the_deadline_the_password_box_gives_no_hint(client, settings, language):
    settings.JENCO_DEFAULT_CREDENTIALS_UNTIL = datetime.date.today() - datetime.timedelta(1)

    page = client.get("/login/", headers={"accept-language": language}).content.decode()

    assert "placeholder" not in password_box(page)
    assert "jenco@12345" not in page
    assert 'placeholder="' in page  # the member-ID box keeps its example


def test_the_hint_names_the_first_configured_default_password(client, settings):
    settings.JENCO_DEFAULT_PASSWORDS = ["Welcome@2026", "jenco@12345"]

    page = client.get("/login/").content.decode()

    assert 'placeholder="デフォルト) Welcome@2026"' in password_box(page)


def test_a_failed_sign_in_keeps_the_hint_but_never_what_was_typed(client, member):
    page = sign_in(client, "JPN1000001", "not-the-password-1").content.decode()

    assert 'placeholder="デフォルト) jenco@12345"' in password_box(page)
    assert "not-the-password-1" not in page


def test_it_signs_in_and_lands_on_the_back_office(client, member):
    response = sign_in(client, "JPN1000001", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/backoffice/"
    assert client.session[SESSION_KEY] == str(member.pk)
    assert SecurityEvent.objects.filter(member=member, kind="sign_in").count() == 1


@pytest.mark.parametrize(
    "typed", ["jpn1000001", "ＪＰＮ１０００００１", " JPN 1000-001 ", "jpn－１０００００１"]
)
def test_it_accepts_the_member_id_as_members_type_it(client, member, typed):
    response = sign_in(client, typed, PASSWORD)
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(member.pk)


def test_it_goes_to_the_page_asked_for_when_safe(client, member):
    response = sign_in(client, "JPN1000001", PASSWORD, next="/backoffice/profile/")
    assert response["Location"] == "/backoffice/profile/"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "javascript:alert(1)"]
)
def test_it_ignores_an_unsafe_next(client, member, target):
    response = sign_in(client, "JPN1000001", PASSWORD, next=target)
    assert response["Location"] == "/backoffice/"


def test_a_wrong_password_says_so_without_naming_the_cause(client, member):
    response = sign_in(client, "JPN1000001", "wrong-password")
    assert response.status_code == 200
    assert INVALID_LOGIN_JA in response.content.decode()
    assert SESSION_KEY not in client.session
    assert SecurityEvent.objects.filter(
        kind="sign_in_failed", member_id_typed="JPN1000001"
    ).exists()


def test_an_unknown_id_gets_the_very_same_answer(client, member):
    known = sign_in(client, "JPN1000001", "wrong-password").content.decode()
    unknown = sign_in(client, "JPN7777777", "wrong-password").content.decode()
    assert INVALID_LOGIN_JA in unknown
    errors = lambda page: re.findall(r'<ul class="errorlist.*?</ul>', page)  # noqa: E731
    assert errors(known) == errors(unknown)


def test_an_inactive_member_gets_the_same_answer(client, member):
    member.is_active = False
    member.save()
    response = sign_in(client, "JPN1000001", PASSWORD)
    assert INVALID_LOGIN_JA in response.content.decode()
    assert SESSION_KEY not in client.session


def test_it_keeps_the_member_id_but_never_the_password(client, member):
    page = sign_in(client, "jpn1000001", "secret-typed-here").content.decode()
    assert 'value="jpn1000001"' in page
    assert "secret-typed-here" not in page


def test_a_malformed_id_says_what_the_format_is(client, member):
    page = sign_in(client, "ABC123", PASSWORD).content.decode()
    assert "JPN" in page and "7桁" in page
    assert SESSION_KEY not in client.session


def test_empty_fields_are_each_asked_for(client):
    response = client.post("/login/", {})
    assert response.status_code == 200
    assert response.content.decode().count("この項目は必須です") >= 2


def test_the_captcha_is_required(client, member):
    response = client.post("/login/", {"username": "JPN1000001", "password": PASSWORD})
    assert "画像の4桁の数字を入力してください" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_a_wrong_captcha_refuses_even_the_right_password(client, member):
    response = sign_in(client, "JPN1000001", PASSWORD, captcha=wrong_captcha())
    assert "画像の数字と一致しません" in response.content.decode()
    assert SESSION_KEY not in client.session


CLEARED_JA = "安全のため、入力したパスワードは表示されません。もう一度入力してください。"


def test_a_wrong_captcha_says_the_password_box_was_emptied_too(client, member):
    """helper-151: a wrong captcha came back with the password box empty and only the
    captcha's error; the member typed the new digits, sent it, and read 「この項目は必須です。」
    under the password, a second picture gone. The sign-in page says it, as every form does."""
    page = sign_in(client, "JPN1000001", PASSWORD, captcha=wrong_captcha()).content.decode()
    assert CLEARED_JA in page
    assert PASSWORD not in page
    # Sent with nothing in the password box, there is nothing to type again: not said.
    nothing = client.post("/login/", {"username": "JPN1000001", "password": "", **wrong_captcha()})
    assert CLEARED_JA not in nothing.content.decode()
    # The wrong-password page says it too (its copy is kept apart from the one without).
    again = sign_in(client, "JPN1000001", "not-the-password").content.decode()
    assert CLEARED_JA in again


@pytest.mark.parametrize("second_id", ["JPN1000001", "JPN1000002"])
def test_a_captcha_answer_works_only_once(client, member, english_member, second_id):
    captcha = solved_captcha()
    sign_in(client, "JPN1000001", "wrong-password", captcha=captcha)
    response = sign_in(client, second_id, PASSWORD, captcha=captcha)
    assert SESSION_KEY not in client.session
    assert "画像の数字と一致しません" in response.content.decode()


def test_the_form_sent_twice_while_the_first_is_checked_still_finds_a_pause(
    client, member, settings
):
    # The review: the post told "sent twice" skipped the lockout, so a paused member's double
    # tap showed the sign-in form instead of the paused page.
    from accounts.captcha import claim_answer

    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        sign_in(Client(), "JPN1000001", "wrong-password")
    captcha = solved_captcha()
    assert claim_answer(captcha["captcha_0"], "JPN1000001")  # the first post, being checked
    again = sign_in(client, "JPN1000001", PASSWORD, captcha=captcha)
    assert again.status_code == 429
    assert AccessAttempt.objects.get().failures_since_start == 2  # nothing more counted


def test_a_wrong_answer_on_a_picture_another_post_is_using_is_counted(client, member):
    # The review: a wrong answer with the same ID was told "sent twice" and never counted,
    # so one solved picture bought ten minutes of uncounted posts.
    from accounts.captcha import claim_answer

    captcha = solved_captcha()
    assert claim_answer(captcha["captcha_0"], "JPN1000001")
    page = sign_in(
        client, "JPN1000001", PASSWORD, captcha={**captcha, "captcha_1": "zzzz"}
    ).content.decode()
    assert "画像の数字と一致しません" in page and "二重に送信" not in page
    assert AccessAttempt.objects.get().failures_since_start == 1


def test_a_used_picture_says_nothing_of_who_signed_in_just_now(member, english_member):
    # Without the password, a post whose picture is gone gets the picture's error, whether
    # the ID typed signed in a moment ago or not: the answer tells nobody's sign-ins.
    assert sign_in(Client(), "JPN1000001", PASSWORD).status_code == 302  # just now
    answers = []
    for member_id in ("JPN1000001", "JPN1000002", "JPN7777777"):
        captcha = solved_captcha()
        sign_in(Client(), "JPN1000003", "wrong-password", captcha=captcha)  # uses it up
        answer = sign_in(Client(), member_id, PASSWORD, captcha=captcha)
        answers.append((answer.status_code, "画像の数字と一致しません" in answer.content.decode()))
    assert answers == [(200, True)] * 3


def test_the_sign_in_form_sent_twice_goes_on_and_counts_no_failure(client, member, mailoutbox):
    # A double tap: the first post signed the member in with the picture, and the second
    # brought the same answer. It was logged and counted as a failed sign-in with the
    # member's ID, and the member's next sign-in warned of it. (`mailoutbox`: what waits for
    # the sign-in's commit runs, as in production.)
    captcha = solved_captcha()
    assert sign_in(client, "JPN1000001", PASSWORD, captcha=captcha)["Location"] == "/backoffice/"
    again = sign_in(client, "JPN1000001", PASSWORD, captcha=captcha)
    assert (again.status_code, again["Location"]) == (302, "/backoffice/")  # as the first
    failures = ["sign_in_failed", "sign_in_captcha_failed"]
    assert not SecurityEvent.objects.filter(kind__in=failures).exists()
    assert not AccessAttempt.objects.exists()
    # The same picture with another ID is no form sent twice: the picture's error.
    other = sign_in(Client(), "JPN1000002", PASSWORD, captcha=captcha).content.decode()
    assert "画像の数字と一致しません" in other


@pytest.mark.parametrize(
    "first_typed, told",
    [
        # Another ID first: the picture's error, whatever this post typed.
        ("JPN1000002", "画像の数字と一致しません"),
        # The same ID first: this form sent again while the first is checked (a double tap
        # the page's script did not stop). It said the picture was wrong and logged a failed
        # sign-in against the member's own ID, which their next sign-in warned of.
        ("JPN1000001", "ログインのフォームが二重に送信されました"),
    ],
)
def test_a_post_whose_picture_another_post_is_using_checks_no_password(
    member, monkeypatch, first_typed, told
):
    # The pen test: posts sent at once with one answered picture each checked a password
    # before any used the picture up, and only the right password's answer lacked "the ID or
    # password is incorrect". Now only the first post to bring the answer checks a password
    # (tests/test_concurrency.py races them); the others check none, and each gets the same
    # answer whatever password it typed.
    from accounts import credentials
    from accounts.captcha import claim_answer

    captcha = solved_captcha()
    assert claim_answer(captcha["captcha_0"], first_typed)  # its password being checked
    checked = []
    monkeypatch.setattr(credentials, "password_matches", lambda *args: checked.append(args))
    for password in ("wrong-password", PASSWORD):
        browser = Client()
        answer = sign_in(browser, "ｊｐｎ１０００００１", password, captcha=captcha)
        assert answer.status_code == 200 and SESSION_KEY not in browser.session
        page = answer.content.decode()
        assert told in page and "会員IDまたはパスワードが正しくありません" not in page
    assert checked == []
    assert 'value="ｊｐｎ１０００００１"' in page  # the ID stays in its box, to sign in again
    same_form = first_typed == "JPN1000001"
    logged = SecurityEvent.objects.filter(kind__in=["sign_in_failed", "sign_in_captcha_failed"])
    assert logged.exists() is not same_form


def test_the_sign_in_form_sent_again_once_signed_in_goes_to_the_back_office(member):
    # A second tap after the first signed in: its CSRF token is the one the sign-in replaced.
    # It said "the page was open too long, or cookies are off", to a member signed in.
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/login/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    data = {"csrfmiddlewaretoken": token, "username": "JPN1000001", "password": PASSWORD}
    assert browser.post("/login/", {**data, **solved_captcha()})["Location"] == "/backoffice/"
    again = browser.post("/login/", {**data, **solved_captcha()})
    assert (again.status_code, again["Location"]) == (302, "/backoffice/")
    # Signed out, the same refusal still explains itself.
    stranger = Client(enforce_csrf_checks=True)
    stranger.get("/login/")
    refused = stranger.post("/login/", {**data, **solved_captcha()})
    assert refused.status_code == 403


def test_an_expired_captcha_is_refused(client, member, settings):
    from captcha.models import CaptchaStore

    captcha = solved_captcha()
    CaptchaStore.objects.update(expiration="2000-01-01T00:00:00Z")
    response = sign_in(client, "JPN1000001", PASSWORD, captcha=captcha)
    assert "画像の数字と一致しません" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_the_captcha_is_checked_before_any_password_hash(client, member, monkeypatch):
    from accounts import credentials

    checked = []
    monkeypatch.setattr(
        credentials, "password_matches", lambda *args: checked.append(args) or False
    )
    sign_in(client, "JPN1000001", PASSWORD, captcha=wrong_captcha())
    assert checked == []


@pytest.mark.parametrize(
    "value",
    [
        "x" * 1_000_000,
        "JPN1000001\x00",
        "\x00",
        "<script>",
        "' OR 1=1 --",
        "\u202eJPN1000001",
        "JPN1000001\u0301",
    ],
)
def test_hostile_member_ids_get_a_form_message(client, member, value):
    response = sign_in(client, value, PASSWORD)
    assert response.status_code == 200
    assert SESSION_KEY not in client.session
    assert "<script>" not in response.content.decode()


@pytest.mark.parametrize("typed", ["J" * 5_000, "JPN1000001" + "x" * 5_000])
def test_an_overlong_id_is_shown_back_only_as_far_as_the_box_holds(client, member, typed):
    page = sign_in(client, typed, PASSWORD).content.decode()

    assert "会員IDは「JPN」に続けて7桁の数字で入力してください" in page
    [shown] = re.findall(r'name="username" value="([^"]*)"', page)
    assert shown == typed[:64] and 'maxlength="64"' in page
    assert len(page) < 4 * 1024  # not 5,000 characters sent back


@pytest.mark.parametrize("password", ["\x00", "plum\x00Blossom"])
def test_a_nul_in_the_password_is_named_as_the_problem(client, member, password):
    """Django's own Japanese for this error reads 「何か文字を入力してください。」, as if the
    box were empty."""
    page = sign_in(client, "JPN1000001", password).content.decode()

    assert "使用できない文字（NUL文字）が含まれています。" in page
    assert "何か文字を入力してください" not in page
    assert SESSION_KEY not in client.session


def test_a_lone_surrogate_in_the_raw_body_is_harmless(client, member):
    # What a client can actually send: bytes that are not UTF-8 (an encoded lone surrogate).
    captcha = solved_captcha()
    body = (
        f"username=JPN%ED%A0%801000001&password=x&captcha_0={captcha['captcha_0']}"
        f"&captcha_1={captcha['captcha_1']}"
    )
    response = client.post("/login/", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert SESSION_KEY not in client.session


def test_a_huge_password_is_refused_without_a_hash(client, member):
    response = sign_in(client, "JPN1000001", "p" * 1_000_000)
    assert response.status_code == 200
    assert SESSION_KEY not in client.session


def test_the_form_needs_its_csrf_token(member):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        "/login/", {"username": "JPN1000001", "password": PASSWORD, **solved_captcha()}
    )
    assert response.status_code == 403


def test_sign_out_is_a_post(member_client):
    assert member_client.get("/logout/").status_code == 405
    response = member_client.post("/logout/")
    assert response["Location"] == "/login/"
    assert SESSION_KEY not in member_client.session
    # Said on the sign-in page, once (helper-97: it read as if nothing had happened).
    assert "ログアウトしました。" in member_client.get("/login/").content.decode()
    assert "ログアウトしました。" not in member_client.get("/login/").content.decode()
    # Signed out already (a second tap): nothing to say.
    member_client.post("/logout/")
    assert "ログアウトしました。" not in member_client.get("/login/").content.decode()


def test_root_sends_visitors_to_sign_in_and_members_to_the_back_office(client, member):
    assert client.get("/")["Location"] == "/login/"
    client.force_login(member)
    assert client.get("/")["Location"] == "/backoffice/"


def test_a_signed_in_member_reads_their_saved_language(client, english_member):
    sign_in(client, "JPN1000002", PASSWORD)
    page = client.get("/backoffice/", headers={"accept-language": "ja"}).content.decode()
    assert '<html lang="en">' in page
    assert "Back office" in page


def test_the_dashboard_shows_the_sign_in_before_this_one(client, member):
    from django.utils import timezone

    member.last_login = timezone.make_aware(timezone.datetime(2026, 3, 14, 9, 30))
    member.save()
    sign_in(client, "JPN1000001", PASSWORD)
    page = client.get("/backoffice/").content.decode()
    assert "前回のログイン" in page and "2026年3月14日 09:30" in page  # as members write it


# --- The seed's hint in the password box, while the published default works ----------------


@pytest.mark.parametrize(
    ("language", "hint"), [("ja", "デフォルト) jenco@12345"), ("en", "Default) jenco@12345")]
)
def test_the_password_box_shows_the_published_default_until_the_deadline(
    client, settings, language, hint
):
    from django.utils import timezone

    def password_box():
        client.cookies.clear()
        page = client.get("/login/", headers={"accept-language": language}).content.decode()
        return re.search(r'<input type="password" name="password"[^>]*>', page)[0]

    settings.JENCO_DEFAULT_CREDENTIALS_UNTIL = timezone.localdate()
    assert f'placeholder="{hint}"' in password_box()
    settings.JENCO_DEFAULT_CREDENTIALS_UNTIL = timezone.localdate() - timezone.timedelta(days=1)
    assert "placeholder" not in password_box()


@pytest.mark.parametrize(
    "target",
    [
        "／backoffice／profile／",  # full-width slashes, as a phone's Japanese keyboard types them
        "backoffice/profile/",  # no leading slash: relative to /login/
        "/backoffice/profil",  # cut off
        "/nothing-here/",
        "/admin/../../evil.example",  # admin answers any path; the browser would go to /evil.example
        "/backoffice/%2E%2E/nothing-here/",
    ],
)
def test_a_next_that_names_no_page_here_leads_to_the_back_office(client, member, target):
    response = sign_in(client, "JPN1000001", PASSWORD, next=target)
    assert response["Location"] == "/backoffice/"
    assert client.get(response["Location"]).status_code == 200


def test_a_next_with_its_query_and_an_encoded_path_is_kept(client, member):
    target = "/backoffice/billing/?page=2"
    assert sign_in(client, "JPN1000001", PASSWORD, next=target)["Location"] == target
    encoded = "/backoffice/profile/email/confirm/abc%2Ddef/"
    assert sign_in(Client(), "JPN1000001", PASSWORD, next=encoded)["Location"] == encoded


def test_an_async_sign_in_is_checked_as_a_sync_one_is(member, migrated_member):
    # ModelBackend's aauthenticate, inherited, checked the password its own way: the
    # published default signed no migrated member in, and nothing made costs equal
    # (helper-128). Nothing signs in async today; whatever does gets the same answers.
    def signs_in(username, password, **extra):
        return async_to_sync(MemberBackend().aauthenticate)(
            None, username=username, password=password, **extra
        )

    assert signs_in("jpn 1000001", PASSWORD) == member  # as typed, normalised
    migrated = signs_in(migrated_member.member_id, DEFAULT_PASSWORD)
    assert migrated == migrated_member and migrated.signed_in_with_default_password
    assert signs_in("JPN1000001", "wrong-password") is None
