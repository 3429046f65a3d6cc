"""Two-step verification with an authenticator app and recovery codes (issue 16)."""

import datetime
import re
import sys
import time
from types import SimpleNamespace

import pyotp
import pytest
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from accounts import times
from accounts.flows import two_step
from accounts.models import Authenticator, Member, RecoveryCode, SecurityEvent
from tests.helpers import PASSWORD, PIN, browser_sends, sign_in

pytestmark = pytest.mark.django_db

SETUP = "/backoffice/security/two-step/authenticator/"
OFF = "/backoffice/security/two-step/off/"
CODES = "/backoffice/security/two-step/recovery-codes/"
CODE = "/login/code/"
Kind = SecurityEvent.Kind


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()


def key_on_page(page: str) -> str:
    return re.search(r'<code class="secret-key" translate="no">([A-Z2-7 ]+)</code>', page)[1]


@pytest.fixture
def steady_clock(monkeypatch):
    """The clock of the server and of the member's app held in the middle of a 30-second
    step, for a test that types one step's code several times: the step cannot end midway."""
    now = time.time() // 30 * 30 + 15
    clock = SimpleNamespace(time=lambda: now)
    monkeypatch.setattr(two_step, "time", clock)
    monkeypatch.setattr(sys.modules[__name__], "time", clock)
    return now


def the_apps_code(totp: pyotp.TOTP) -> str:
    return totp.at(time.time())


def turn_on(client) -> tuple[pyotp.TOTP, list[str]]:
    """Set up the authenticator as a member does: read the key, type the app's code and PIN."""
    totp = pyotp.TOTP(key_on_page(client.get(SETUP).content.decode()).replace(" ", ""))
    page = client.post(SETUP, {"code": the_apps_code(totp), "pin": PIN}).content.decode()
    codes = re.findall(r"<li><code>([A-Z0-9]{5}-[A-Z0-9]{5})</code></li>", page)
    return totp, codes


def a_code_of_another_step(totp: pyotp.TOTP, steps: int) -> str:
    return totp.at(time.time() + steps * totp.interval)


def password_step(client, **kwargs):
    """Sign in with ID, password and captcha: with two-step on, it stops before the code."""
    client.logout()
    return sign_in(client, **kwargs)


# --- Turning it on ---------------------------------------------------------------------------


def test_the_security_page_offers_two_step_in_both_languages(member_client):
    page = member_client.get("/backoffice/security/").content.decode()
    assert "2段階認証" in page and "オフ" in page and SETUP in page
    english = member_client.get("/backoffice/security/", headers={"accept-language": "en"})
    assert "Two-step verification" in english.content.decode()


def test_set_up_shows_a_qr_code_drawn_here_and_the_key(member_client):
    page = member_client.get(SETUP).content.decode()
    assert "<svg" in page and "<path" in page  # drawn on our server, no outside image
    assert "JENCOの6桁のコードと、PINコードを入力してください" in page
    assert "otpauth://totp/JENCO:JPN1000001?secret=" in page
    assert len(key_on_page(page).replace(" ", "")) == 32
    # The same key until it is confirmed: reloading does not break the scan already made.
    assert key_on_page(member_client.get(SETUP).content.decode()) == key_on_page(page)


@pytest.mark.parametrize(
    "language, button, copied",
    [("ja", "キーをコピー", "コピーしました"), ("en", "Copy the key", "Copied")],
)
def test_set_up_has_a_copy_button_for_the_key_that_the_script_shows(
    member_client, language, button, copied
):
    page = member_client.get(SETUP, headers={"accept-language": language}).content.decode()

    # Hidden without the script (the key itself selects whole on a tap); its result is read
    # out from a live region.
    assert re.search(
        rf'<button type="button" class="secondary copy-key" hidden data-copies=".secret-key"'
        rf' data-copied="{copied}" data-not-copied="[^"]+">{button}</button>',
        page,
    )
    assert '<p class="copy-status" role="status" aria-live="polite" data-copy-status></p>' in page


def test_turning_on_shows_ten_recovery_codes_once_logs_and_mails(member_client, member, mailoutbox):
    totp, codes = turn_on(member_client)

    assert len(codes) == 10 and len(set(codes)) == 10
    assert two_step.is_on(member)
    assert RecoveryCode.objects.filter(member=member).count() == 10
    stored = Authenticator.objects.get(member=member).secret_encrypted
    assert totp.secret not in stored  # encrypted at rest
    assert not any(
        code.replace("-", "") in str(RecoveryCode.objects.values_list()) for code in codes
    )
    assert SecurityEvent.objects.filter(kind=Kind.TWO_STEP_ENABLED, member=member).exists()
    assert mailoutbox[-1].subject == "【JENCO】2段階認証をオンにしました"
    # Shown once: the security page shows how many are left, never the codes.
    page = member_client.get("/backoffice/security/").content.decode()
    assert codes[0] not in page and "10 / 10" in page


def test_before_any_code_is_used_the_security_page_says_not_yet(member_client, member):
    # It showed a bare dash, which a screen reader reads as nothing (or "dash"), beside
    # "Last used: not yet" for a passkey on the same page.
    turn_on(member_client)
    page = member_client.get("/backoffice/security/").content.decode()
    assert re.search(r"<dd>まだありません</dd>", page)
    assert "<dd>—</dd>" not in page


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "認証アプリに表示されている6桁のコードを入力してください。"),
        ("12345", "コードは6桁です。"),
        ("abcdef", "コードは6桁です。"),
        ("1" * 500, "コードは6桁です。"),
    ],
)
def test_a_malformed_set_up_code_changes_nothing_and_costs_no_pin_try(
    member_client, member, code, message
):
    member_client.get(SETUP)
    page = member_client.post(SETUP, {"code": code, "pin": PIN}).content.decode()
    assert message in page
    assert not two_step.is_on(member)
    assert Member.objects.get(pk=member.pk).pin_failures == 0


def test_a_wrong_set_up_code_costs_no_pin_try(member_client, member):
    key = key_on_page(member_client.get(SETUP).content.decode()).replace(" ", "")
    far = a_code_of_another_step(pyotp.TOTP(key), 10)
    page = member_client.post(SETUP, {"code": far, "pin": PIN}).content.decode()
    assert "コードが一致しません" in page
    assert not two_step.is_on(member)
    assert Member.objects.get(pk=member.pk).pin_failures == 0


def test_a_wrong_pin_turns_nothing_on(member_client, member, mailoutbox):
    key = key_on_page(member_client.get(SETUP).content.decode()).replace(" ", "")
    page = member_client.post(SETUP, {"code": pyotp.TOTP(key).now(), "pin": "000000"})
    assert "PINコードが正しくありません" in page.content.decode()
    assert not two_step.is_on(member) and not RecoveryCode.objects.exists()
    assert mailoutbox == []


def test_a_code_typed_in_full_width_digits_with_a_space_counts(member_client, member):
    key = key_on_page(member_client.get(SETUP).content.decode()).replace(" ", "")
    code = pyotp.TOTP(key).now()
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code[:3]) + " " + code[3:]
    member_client.post(SETUP, {"code": full_width, "pin": PIN})
    assert two_step.is_on(member)


# --- Signing in with it ----------------------------------------------------------------------


def test_with_two_step_on_the_password_alone_does_not_sign_in(member_client, member):
    totp, _ = turn_on(member_client)
    response = password_step(member_client)

    assert response["Location"] == CODE
    assert SESSION_KEY not in member_client.session
    assert member_client.get("/backoffice/")["Location"].startswith("/login/")
    page = member_client.get(CODE).content.decode()
    assert "認証アプリ" in page and 'name="code"' in page


def test_the_app_code_signs_in_and_goes_where_the_member_was_going(member_client, member):
    totp, _ = turn_on(member_client)
    password_step(member_client, next="/backoffice/billing/")
    # The set-up spent this step's code: the app's next one, within the drift allowed.
    response = member_client.post(CODE, {"code": a_code_of_another_step(totp, 1)})

    assert response["Location"] == "/backoffice/billing/"
    assert member_client.session[SESSION_KEY] == str(member.pk)
    assert SecurityEvent.objects.filter(kind=Kind.SIGN_IN_TWO_STEP, member=member).exists()


def test_a_code_works_once(member_client, member, steady_clock):
    totp, _ = turn_on(member_client)  # the set-up used the current step's code
    password_step(member_client)
    page = member_client.post(CODE, {"code": the_apps_code(totp)}).content.decode()
    assert "このコードはすでに使われています" in page and "次のコード" in page
    assert SESSION_KEY not in member_client.session
    english = member_client.post(
        CODE, {"code": the_apps_code(totp)}, headers={"accept-language": "en"}
    )
    assert "That code was already used" in english.content.decode()


def test_a_used_code_typed_again_and_again_is_no_wrong_try(
    member_client, member, settings, steady_clock
):
    # Signing in again within the code's 30 seconds, the member types what the app shows:
    # refused, since each code works once, but no pause comes of it.
    totp, _ = turn_on(member_client)
    password_step(member_client)
    for _ in range(settings.JENCO_TWO_STEP_ATTEMPTS + 1):
        page = member_client.post(CODE, {"code": the_apps_code(totp)}).content.decode()
        assert "このコードはすでに使われています" in page
    assert not SecurityEvent.objects.filter(kind=Kind.TWO_STEP_FAILED, member=member).exists()
    # The app's next code signs in.
    response = member_client.post(CODE, {"code": a_code_of_another_step(totp, 1)})
    assert response["Location"] == "/backoffice/"


def test_an_older_code_after_a_newer_one_is_refused_as_used(member_client, member, steady_clock):
    totp, _ = turn_on(member_client)
    password_step(member_client)
    assert member_client.post(CODE, {"code": a_code_of_another_step(totp, 1)}).status_code == 302
    password_step(member_client)
    # The step before, within the drift allowed, but older than the code just used.
    page = member_client.post(CODE, {"code": a_code_of_another_step(totp, -1)}).content.decode()
    assert "このコードはすでに使われています" in page
    assert SESSION_KEY not in member_client.session


def test_one_step_of_clock_drift_is_accepted_two_are_not(member_client, member):
    totp, _ = turn_on(member_client)
    password_step(member_client)
    two_ahead = a_code_of_another_step(totp, 2)
    assert "コードが正しくない" in member_client.post(CODE, {"code": two_ahead}).content.decode()
    one_ahead = a_code_of_another_step(totp, 1)
    assert member_client.post(CODE, {"code": one_ahead})["Location"] == "/backoffice/"


def test_a_recovery_code_signs_in_once_and_says_how_many_are_left(member_client, member):
    _, codes = turn_on(member_client)
    password_step(member_client)
    typed = codes[0].lower().replace("-", " ")  # however it is typed
    response = member_client.post(CODE, {"code": typed}, follow=True)
    page = response.content.decode()

    assert member_client.session[SESSION_KEY] == str(member.pk)
    assert "リカバリーコードでログインしました" in page and "残り9個" in page
    assert SecurityEvent.objects.filter(kind=Kind.SIGN_IN_RECOVERY_CODE, member=member).exists()
    password_step(member_client)
    again = member_client.post(CODE, {"code": codes[0]}).content.decode()
    # Told about recovery codes, not about the app's codes that change every 30 seconds.
    assert "リカバリーコードが正しくないか、すでに使われています" in again
    assert "まだ使っていないコード" in again and "30秒" not in again
    english = member_client.post(CODE, {"code": codes[0]}, headers={"accept-language": "en"})
    assert "That recovery code is not right, or was already used" in english.content.decode()


def test_a_sign_in_with_a_recovery_code_is_told_by_email(
    member_client, member, mailoutbox, django_capture_on_commit_callbacks
):
    # Used for a lost phone, or by whoever has the password and the codes: the member heard
    # nothing of it, though turning two-step on or off and new codes are mailed (helper-153).
    _, codes = turn_on(member_client)
    password_step(member_client)
    sent = len(mailoutbox)
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(CODE, {"code": codes[0]})

    assert len(mailoutbox) == sent + 1
    mail = mailoutbox[-1]
    assert mail.to == ["taro@example.com"]
    assert mail.subject == "【JENCO】リカバリーコードでログインがありました"
    assert "残りのリカバリーコード：9個" in mail.body
    assert "2段階認証をオフにし" in mail.body and "パスワードを忘れましたか？" in mail.body
    assert codes[1] not in mail.body and codes[0] not in mail.body
    # A code that does not sign in (used already) mails nothing.
    password_step(member_client)
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(CODE, {"code": codes[0]})
    assert len(mailoutbox) == sent + 1


@pytest.mark.parametrize("typed", ["", "12", "ABCDEFGHIJKLMNOP", "<script>", "１２３"])
def test_a_malformed_code_is_told_its_shape_and_costs_no_try(member_client, member, typed):
    turn_on(member_client)
    password_step(member_client)
    page = member_client.post(CODE, {"code": typed}).content.decode()
    assert "6桁" in page
    assert not SecurityEvent.objects.filter(kind=Kind.TWO_STEP_FAILED).exists()


def test_five_wrong_codes_pause_the_second_step(member_client, member, settings, mailoutbox):
    totp, codes = turn_on(member_client)
    password_step(member_client)
    wrong = a_code_of_another_step(totp, 5)
    for _ in range(settings.JENCO_TWO_STEP_ATTEMPTS - 1):
        assert "コードが正しくない" in member_client.post(CODE, {"code": wrong}).content.decode()
    mailoutbox.clear()
    page = member_client.post(CODE, {"code": wrong}).content.decode()
    assert "誤ったコードが多すぎます" in page
    # Paused: even a right code (or a recovery code) is not taken now.
    page = member_client.post(CODE, {"code": codes[1]}).content.decode()
    assert "誤ったコードが多すぎます" in page and SESSION_KEY not in member_client.session
    assert SecurityEvent.objects.filter(kind=Kind.TWO_STEP_PAUSED, member=member).exists()
    # The member is told once, by email: whoever typed the codes knew the password.
    [told] = mailoutbox
    assert told.to == [member.email]
    assert told.subject == "【JENCO】2段階認証コードの入力を一時停止しました"
    assert "正しいパスワードが入力された後、2段階認証のコードが5回誤って入力されたため" in told.body
    assert "第三者がお客様のパスワードを知っている可能性があります" in told.body
    assert "「パスワードを忘れましたか？」" in told.body


def test_after_a_pause_ends_its_codes_count_no_more_and_the_email_comes_once_a_day(
    member_client, member, settings, mailoutbox
):
    """The window slid: once the oldest wrong code left it, one more wrong code paused again,
    and each such pause sent the member an email (helper-83: 20 in 72 minutes, one wrong code
    every 3 minutes). Now the codes of a pause that has ended count no more, and the email
    comes at most once a day."""
    totp, _ = turn_on(member_client)
    password_step(member_client)
    wrong = a_code_of_another_step(totp, 5)
    mailoutbox.clear()  # "two-step verification turned on"
    for _ in range(settings.JENCO_TWO_STEP_ATTEMPTS):
        member_client.post(CODE, {"code": wrong})
    assert len(mailoutbox) == 1
    # The pause ends: its codes (and the pause itself) are from a window ago.
    window = datetime.timedelta(minutes=settings.JENCO_TWO_STEP_PAUSE_MINUTES)
    SecurityEvent.objects.filter(kind__in=[Kind.TWO_STEP_FAILED, Kind.TWO_STEP_PAUSED]).update(
        created=timezone.now() - window + datetime.timedelta(minutes=1)
    )
    earliest = SecurityEvent.objects.filter(kind=Kind.TWO_STEP_FAILED).earliest("created")
    SecurityEvent.objects.filter(pk=earliest.pk).update(created=timezone.now() - window)
    password_step(member_client)
    page = member_client.post(CODE, {"code": wrong}).content.decode()
    assert "コードが正しくない" in page and "誤ったコードが多すぎます" not in page
    # Four more make a new pause: said on the page, but no second email today.
    for _ in range(settings.JENCO_TWO_STEP_ATTEMPTS - 1):
        page = member_client.post(CODE, {"code": wrong}).content.decode()
    assert "誤ったコードが多すぎます" in page
    assert SecurityEvent.objects.filter(kind=Kind.TWO_STEP_PAUSED).count() == 2
    assert len(mailoutbox) == 1
    # A new password since (the email's advice), and whoever it is gets past it too: the
    # member is told again (helper-84).
    SecurityEvent.objects.update(created=timezone.now() - window - datetime.timedelta(minutes=1))
    SecurityEvent.objects.create(kind=Kind.PASSWORD_CHANGED, member=member)
    password_step(member_client)
    for _ in range(settings.JENCO_TWO_STEP_ATTEMPTS):
        member_client.post(CODE, {"code": wrong})
    assert len(mailoutbox) == 2


@pytest.mark.parametrize(
    ("since", "told_again"),
    [
        ({"kind": Kind.PASSWORD_RESET}, True),
        ({"kind": Kind.EMAIL_CHANGED}, True),  # the first went to the old address
        ({"kind": Kind.LOCKOUT_CLEARED, "details": {"lifted": ["two_step"]}}, True),
        ({"kind": Kind.LOCKOUT_CLEARED, "details": {}}, True),  # logged before "lifted" was
        ({"kind": Kind.LOCKOUT_CLEARED, "details": {"lifted": ["pin"]}}, False),
        ({"kind": Kind.SIGN_IN}, False),
    ],
)
def test_a_second_pause_the_same_day_is_emailed_only_after_a_change_that_matters(
    member_client, member, settings, mailoutbox, since, told_again
):
    totp, _ = turn_on(member_client)
    wrong = a_code_of_another_step(totp, 5)
    window = datetime.timedelta(minutes=settings.JENCO_TWO_STEP_PAUSE_MINUTES)
    password_step(member_client)
    for _ in range(settings.JENCO_TWO_STEP_ATTEMPTS):
        member_client.post(CODE, {"code": wrong})
    # That pause is over; then what happened since, then another pause.
    SecurityEvent.objects.update(created=timezone.now() - window - datetime.timedelta(minutes=1))
    SecurityEvent.objects.create(member=member, **since)
    mailoutbox.clear()
    password_step(member_client)
    for _ in range(settings.JENCO_TWO_STEP_ATTEMPTS):
        member_client.post(CODE, {"code": wrong})
    sent = [m.subject for m in mailoutbox if "2段階認証コードの入力を一時停止" in m.subject]
    assert len(sent) == (1 if told_again else 0)


def test_a_paused_second_step_says_so_on_arrival(member_client, member, settings):
    """The member signs in again while the pause lasts: the password is right, and the code
    page says at once until when no code is taken, rather than after a fresh code is typed
    and refused."""
    totp, _ = turn_on(member_client)
    password_step(member_client)
    wrong = a_code_of_another_step(totp, 5)
    assert "誤ったコード" not in member_client.get(CODE).content.decode()
    for _ in range(settings.JENCO_TWO_STEP_ATTEMPTS):
        member_client.post(CODE, {"code": wrong})
    password_step(member_client)
    page = member_client.get(CODE).content.decode()
    assert "誤ったコードが多すぎます" in page and 'role="alert"' in page
    until = SecurityEvent.objects.filter(kind=Kind.TWO_STEP_FAILED).earliest("created").created
    window = datetime.timedelta(minutes=settings.JENCO_TWO_STEP_PAUSE_MINUTES)
    assert times.try_again_at(until + window) in page
    assert 'name="code"' in page  # to type once the time comes, without signing in again


def test_a_wait_too_long_sends_back_to_sign_in(member_client, member, settings):
    totp, _ = turn_on(member_client)
    password_step(member_client)
    session = member_client.session
    session[two_step.PENDING]["since"] -= settings.JENCO_TWO_STEP_PENDING_MINUTES * 60 + 1
    session.save()
    response = member_client.post(CODE, {"code": totp.now()}, follow=True)
    assert response.redirect_chain[-1][0] == "/login/"
    assert "もう一度ログインしてください" in response.content.decode()
    assert SESSION_KEY not in member_client.session


def test_the_code_page_without_a_sign_in_waiting_sends_back(client, db):
    response = client.get(CODE)
    assert response["Location"] == "/login/"


def test_back_to_the_code_page_once_signed_in_goes_to_the_dashboard_without_a_word(
    member_client, member
):
    # A phone's back button from the dashboard: it said "sign in again" while the member was
    # signed in (helper-97).
    totp, _ = turn_on(member_client)
    password_step(member_client)
    signed_in = member_client.post(CODE, {"code": a_code_of_another_step(totp, 1)})
    assert signed_in["Location"] == "/backoffice/"

    back = member_client.get(CODE, follow=True)
    assert back.redirect_chain[-1][0] == "/backoffice/"
    assert "もう一度ログインしてください" not in back.content.decode()
    assert member_client.session[SESSION_KEY] == str(member.pk)


def test_a_password_reset_meanwhile_voids_the_waiting_sign_in(member_client, member):
    totp, _ = turn_on(member_client)
    password_step(member_client)
    member.set_password("another-Password-77")
    member.save()
    assert member_client.post(CODE, {"code": totp.now()})["Location"] == "/login/"


def test_a_view_only_sign_in_asks_no_code(member_client, member):
    from django.contrib.auth.hashers import make_password

    turn_on(member_client)
    Member.objects.filter(pk=member.pk).update(sub_password=make_password("willow-Creek-5512"))
    member_client.logout()
    response = member_client.post(
        "/login/",
        {
            "username": "JPN1000001",
            "password": "willow-Creek-5512",
            "view_only": "on",
            **__import__("tests.helpers", fromlist=["x"]).solved_captcha(),
        },
    )
    assert response["Location"] == "/backoffice/"


def test_english_member_reads_the_code_page_in_english(client, english_member):
    client.force_login(english_member)
    key = key_on_page(client.get(SETUP).content.decode()).replace(" ", "")
    client.post(SETUP, {"code": pyotp.TOTP(key).now(), "pin": PIN})
    client.logout()
    sign_in(client, "JPN1000002", headers={"accept-language": "en"})
    page = client.get(CODE, headers={"accept-language": "en"}).content.decode()
    assert "Two-step verification" in page and "authenticator app" in page
    assert "Your password is correct." in page  # "was right" read oddly (helper-153)


def test_the_recovery_code_notice_is_in_the_members_language_not_the_browsers(
    client, english_member
):
    # The page after it is in the member's language; the notice on it was in the browser's.
    client.force_login(english_member)
    _, codes = turn_on(client)
    password_step(client, member_id="JPN1000002", headers={"accept-language": "ja"})
    page = client.post(
        CODE, {"code": codes[0]}, headers={"accept-language": "ja"}, follow=True
    ).content.decode()
    assert "You signed in with a recovery code. 9 codes are left." in page
    assert "リカバリーコードでログインしました" not in page


def test_the_recovery_code_notice_says_how_to_move_to_a_new_phone(client, english_member):
    # A member who signs in with a recovery code has often lost the phone. New recovery codes
    # do not help then: the app must be set up again on the new phone (off, then on), which
    # gives new codes as well. The notice said "make new codes", in both languages.
    client.force_login(english_member)
    _, codes = turn_on(client)
    password_step(client, member_id="JPN1000002")
    page = client.post(CODE, {"code": codes[0]}, follow=True).content.decode()
    assert "9 codes are left" in page
    assert "turn two-step verification off" in page and "set it up again on your new phone" in page
    assert "make new codes" not in page
    english_member.preferred_language = "ja"
    english_member.save(update_fields=["preferred_language"])
    password_step(client, member_id="JPN1000002")
    page = client.post(CODE, {"code": codes[1]}, follow=True).content.decode()
    assert "残り8個" in page and "2段階認証をオフにしてから" in page
    assert "新しいコードを作成してください" not in page


# --- Turning it off, new codes, support ------------------------------------------------------


def test_turning_off_needs_the_pin_then_logs_and_mails(member_client, member, mailoutbox):
    turn_on(member_client)
    assert (
        "PINコードが正しくありません" in member_client.post(OFF, {"pin": "000000"}).content.decode()
    )
    assert two_step.is_on(member)
    assert member_client.post(OFF, {"pin": PIN})["Location"] == "/backoffice/security/"
    assert not two_step.is_on(member) and not RecoveryCode.objects.filter(member=member).exists()
    assert SecurityEvent.objects.filter(kind=Kind.TWO_STEP_DISABLED, member=member).exists()
    assert mailoutbox[-1].subject == "【JENCO】2段階認証をオフにしました"
    password_step(member_client)
    assert member_client.session[SESSION_KEY] == str(member.pk)


def test_new_recovery_codes_void_the_old_ones(member_client, member, mailoutbox):
    _, old = turn_on(member_client)
    page = member_client.post(CODES, {"pin": PIN}).content.decode()
    new = re.findall(r"<li><code>([A-Z0-9]{5}-[A-Z0-9]{5})</code></li>", page)
    assert len(new) == 10 and not set(new) & set(old)
    assert 'download="jenco-recovery-codes.txt"' in page
    assert mailoutbox[-1].subject == "【JENCO】リカバリーコードを再発行しました"
    password_step(member_client)
    assert "正しくない" in member_client.post(CODE, {"code": old[0]}).content.decode()
    assert member_client.post(CODE, {"code": new[0]})["Location"] == "/backoffice/"


def shown_codes(page: str) -> list[str]:
    return re.findall(r"<li><code>([A-Z0-9]{5}-[A-Z0-9]{5})</code></li>", page)


def form_token(page: str) -> str:
    return browser_sends(page, "form_token")


def works(client, code: str) -> bool:
    """Whether `code` finishes a sign-in (the member is signed in again either way)."""
    password_step(client)
    return client.post(CODE, {"code": code}).get("Location") == "/backoffice/"


def test_the_new_codes_form_sent_twice_shows_the_same_working_codes(
    member_client, member, mailoutbox
):
    # A double tap: the browser shows the second answer. It made a second set, and the codes
    # the member saved from it did not work.
    turn_on(member_client)
    sent = {"pin": PIN, "form_token": form_token(member_client.get(CODES).content.decode())}
    first = shown_codes(member_client.post(CODES, sent).content.decode())
    second_page = member_client.post(CODES, sent).content.decode()
    assert shown_codes(second_page) == first and len(first) == 10
    assert "新しいリカバリーコードを作成しました" in second_page  # told as the first was
    assert RecoveryCode.objects.filter(member=member).count() == 10
    regenerated = SecurityEvent.objects.filter(kind=Kind.RECOVERY_CODES_REGENERATED)
    assert regenerated.count() == 1
    assert [m.subject for m in mailoutbox].count("【JENCO】リカバリーコードを再発行しました") == 1
    assert works(member_client, first[0]) and works(member_client, first[-1])

    # The page opened again is a new request: a new set.
    again = {"pin": PIN, "form_token": form_token(member_client.get(CODES).content.decode())}
    newer = shown_codes(member_client.post(CODES, again).content.decode())
    assert len(newer) == 10 and not set(newer) & set(first)


def test_the_turn_on_form_sent_twice_shows_the_same_working_codes(
    member_client, member, mailoutbox
):
    page = member_client.get(SETUP).content.decode()
    totp = pyotp.TOTP(key_on_page(page).replace(" ", ""))
    sent = {"code": totp.now(), "pin": PIN, "form_token": form_token(page)}
    first = shown_codes(member_client.post(SETUP, sent).content.decode())
    second_page = member_client.post(SETUP, sent).content.decode()
    assert shown_codes(second_page) == first and len(first) == 10
    assert "2段階認証をオンにしました" in second_page
    assert RecoveryCode.objects.filter(member=member).count() == 10
    assert SecurityEvent.objects.filter(kind=Kind.TWO_STEP_ENABLED).count() == 1
    assert [m.subject for m in mailoutbox].count("【JENCO】2段階認証をオンにしました") == 1
    assert works(member_client, first[0])


def test_a_page_sent_again_after_another_device_made_codes_shows_no_voided_ones(
    member_client, member
):
    # The first answer's codes were kept for the page; another device then made new ones,
    # and the page sent again showed the first set, void by then.
    turn_on(member_client)
    sent = {"pin": PIN, "form_token": form_token(member_client.get(CODES).content.decode())}
    first = shown_codes(member_client.post(CODES, sent).content.decode())
    phone = Client()
    phone.force_login(member)
    token = form_token(phone.get(CODES).content.decode())
    shown_codes(phone.post(CODES, {"pin": PIN, "form_token": token}).content.decode())
    again = shown_codes(member_client.post(CODES, sent).content.decode())
    assert len(again) == 10 and not set(again) & set(first)
    assert works(member_client, again[0])


def test_another_session_cannot_read_the_codes_a_page_made(member_client, member):
    turn_on(member_client)
    sent = {"pin": PIN, "form_token": form_token(member_client.get(CODES).content.decode())}
    first = shown_codes(member_client.post(CODES, sent).content.decode())
    phone = Client()  # the member's other phone, the same token sent
    phone.force_login(member)
    other = shown_codes(phone.post(CODES, sent).content.decode())
    assert len(other) == 10 and not set(other) & set(first)


def test_support_reset_turns_it_off_with_the_agent_logged(
    member_client, member, support_agent, mailoutbox
):
    turn_on(member_client)
    assert two_step.reset(member, actor=support_agent)
    event = SecurityEvent.objects.get(kind=Kind.TWO_STEP_RESET)
    assert event.member == member and event.actor == support_agent
    assert not two_step.is_on(member)
    assert "サポート" in mailoutbox[-1].subject
    assert not two_step.reset(member, actor=support_agent)  # nothing left to reset


def test_a_member_on_the_defaults_finishes_the_migration_first(migrated_client):
    assert migrated_client.get(SETUP)["Location"] == "/backoffice/profile/pin/"


# --- Staff ------------------------------------------------------------------------------------


def test_staff_without_two_step_are_sent_to_set_it_up_before_admin(client, staff, settings):
    settings.JENCO_STAFF_TWO_STEP = True
    client.force_login(staff)
    response = client.get("/admin/accounts/member/")
    assert response["Location"] == SETUP
    page = client.get(SETUP).content.decode()
    assert page.count("スタッフのアカウントは") == 1  # said once, by the page (no flash too)


def test_staff_with_no_pin_confirm_with_the_password_and_then_admin_opens(client, staff, settings):
    settings.JENCO_STAFF_TWO_STEP = True
    client.force_login(staff)
    page = client.get(SETUP).content.decode()
    assert 'name="password"' in page and 'name="pin"' not in page
    # The step says what the form asks for.
    assert "JENCOの6桁のコードと、パスワードを入力してください" in page
    assert "PINコード" not in page
    key = key_on_page(page).replace(" ", "")
    client.post(SETUP, {"code": pyotp.TOTP(key).now(), "password": PASSWORD})
    assert two_step.is_on(staff)
    assert client.get("/admin/").status_code == 200
    # They cannot turn it off while staff must have it.
    response = client.post(OFF, {"password": PASSWORD}, follow=True)
    assert two_step.is_on(staff)
    assert "スタッフのアカウントは2段階認証をオフにできません" in response.content.decode()


def test_staff_with_no_pin_get_their_tries_back_with_the_right_password(client, staff, settings):
    settings.JENCO_STAFF_TWO_STEP = True
    settings.JENCO_PIN_ATTEMPTS = 3
    client.force_login(staff)
    totp = pyotp.TOTP(key_on_page(client.get(SETUP).content.decode()).replace(" ", ""))
    for _ in range(2):
        page = client.post(SETUP, {"code": totp.now(), "password": "x"}).content.decode()
    assert "あと1回間違えると、パスワードが必要な操作が15分間ロックされます" in page
    client.post(SETUP, {"code": totp.now(), "password": PASSWORD})
    assert two_step.is_on(staff)
    assert Member.objects.get(pk=staff.pk).pin_failures == 0

    kinds = SecurityEvent.objects.filter(member=staff).values_list("kind", flat=True)
    assert list(kinds).count(Kind.CONFIRM_PASSWORD_FAILED) == 2


def test_staff_sign_in_asks_for_the_code_too(client, staff, settings):
    settings.JENCO_STAFF_TWO_STEP = True
    client.force_login(staff)
    key = key_on_page(client.get(SETUP).content.decode()).replace(" ", "")
    client.post(SETUP, {"code": pyotp.TOTP(key).now(), "password": PASSWORD})
    client.logout()
    assert sign_in(client, "JPN9000001")["Location"] == CODE
    assert "login" in client.get("/admin/")["Location"]  # not signed in before the code


def test_an_app_code_sign_in_reads_as_one_in_activity_not_a_passkeys(member_client, member):
    # A second step is logged as after the password; only a passkey's kind reads so.
    totp, _ = turn_on(member_client)
    password_step(member_client)
    member_client.post(CODE, {"code": a_code_of_another_step(totp, 1)})
    page = member_client.get("/backoffice/security/activity/").content.decode()
    assert "パスワードとパスキーでログイン" not in page
    assert SecurityEvent.objects.filter(kind=Kind.SIGN_IN_TWO_STEP, member=member).exists()
