"""An account is signed in to at most JENCO_SIGN_INS_PER_MEMBER_HOUR times an hour each way
(with the password, with a passkey, view only), and three times that every way together
(helper-134: a client signing in to its own account with a passkey, no captcha and no hash,
wrote a 400-day security-log entry and a session each time)."""

import datetime

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from accounts import times
from accounts.flows import sign_in as sign_in_flow
from accounts.models import Member, SecurityEvent
from tests.helpers import DEFAULT_PASSWORD, JAPAN_TIME, sign_in, solved_captcha
from tests.softkey import options_in
from tests.test_dashboard import NEW_PASSWORD, reset_password_by_email
from tests.test_passkeys import add_passkey, sign_in_with
from tests.test_two_step import a_code_of_another_step, password_step, turn_on

pytestmark = pytest.mark.django_db
Kind = SecurityEvent.Kind
LIMIT = 3
PAUSED = f"このアカウントには、この1時間に上限の{LIMIT}回のログインがありました"
PASSKEYS_PAUSED = f"この1時間に上限の{LIMIT}回のパスキーでのログインがありました"
VIEW_ONLY_PAUSED = f"この1時間に上限の{LIMIT}回の閲覧専用ログインがありました"


@pytest.fixture(autouse=True)
def _limit(settings):
    cache.clear()
    settings.JENCO_SIGN_INS_PER_MEMBER_HOUR = LIMIT


def signed_in_as(client) -> str | None:
    return client.session.get(SESSION_KEY)


def sign_ins(member, kind, count: int, minutes_ago: int = 0) -> None:
    when = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    SecurityEvent.objects.bulk_create(
        [SecurityEvent(kind=kind, member=member, created=when) for _ in range(count)]
    )


def signs_in(member_id: str = "JPN1000001") -> Client:
    client = Client()
    assert sign_in(client, member_id).status_code == 302 and signed_in_as(client)
    return client


def test_the_sign_in_past_the_hour_s_limit_is_refused_and_writes_nothing(member, mailoutbox):
    for _ in range(LIMIT):
        signs_in()
    oldest = member.security_events.order_by("created").first().created
    last_login = Member.objects.get(pk=member.pk).last_login
    logged = SecurityEvent.objects.count()

    client = Client()
    page = sign_in(client)

    text = page.content.decode()
    assert page.status_code == 429 and PAUSED in text
    assert f"{times.try_again_at(oldest + datetime.timedelta(hours=1))}まで" in text
    assert "no-store" in page["Cache-Control"]
    assert signed_in_as(client) is None
    assert SecurityEvent.objects.count() == logged
    assert Member.objects.get(pk=member.pk).last_login == last_login


def test_it_says_so_in_english(member):
    for _ in range(LIMIT):
        signs_in()
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    text = sign_in(client).content.decode()
    assert f"There were {LIMIT} sign-ins to this account in the last hour, the most allowed" in text
    assert "A new password ends the pause at once" in text
    assert "JST" in text  # the time it may be signed in to again, in Japan time


def test_the_japanese_page_names_japan_time_too(member):
    # English read "until 13:06 JST", Japanese a bare 「13:06まで」: a member abroad reads it
    # as their own clock.
    for _ in range(LIMIT):
        signs_in()
    oldest = member.security_events.order_by("created").first().created
    until = times.minute_up(oldest + datetime.timedelta(hours=1))
    text = sign_in(Client()).content.decode()
    assert f"{JAPAN_TIME}{until:%H:%M}までパスワードでのログインを停止しています" in text


def test_an_hour_after_the_oldest_sign_in_one_more_is_free(member):
    for _ in range(LIMIT):
        signs_in()
    assert sign_in(Client()).status_code == 429
    oldest = member.security_events.order_by("created").first()
    oldest.created = timezone.now() - datetime.timedelta(hours=1, seconds=1)
    oldest.save(update_fields=["created"])
    signs_in()
    assert sign_in(Client()).status_code == 429


def test_another_account_is_not_held_back(member, english_member):
    for _ in range(LIMIT):
        signs_in()
    assert sign_in(Client()).status_code == 429
    signs_in("JPN1000002")


def test_passkey_sign_ins_count_and_are_refused(member, member_client):
    key = add_passkey(member_client)
    for _ in range(LIMIT):
        client = Client()
        assert sign_in_with(client, key).status_code == 302 and signed_in_as(client)
    logged = SecurityEvent.objects.count()

    used_last = member.passkeys.get().last_used

    client = Client()
    page = sign_in_with(client, key)

    text = page.content.decode()
    assert page.status_code == 429 and PASSKEYS_PAUSED in text
    assert "会員IDとパスワードでのログインは停止していません" in text
    assert signed_in_as(client) is None and SecurityEvent.objects.count() == logged
    assert member.passkeys.get().last_used == used_last  # nothing of the refused use kept
    signs_in()  # the member's password is not held back by a passkey's sign-ins


def test_a_passkey_kept_after_a_password_reset_cannot_keep_the_member_out(member, member_client):
    # A password reset leaves passkeys: a thief's, signing in as fast as slots free, filled
    # the member's own count again after the reset (helper-137).
    key = add_passkey(member_client)
    for _ in range(LIMIT):
        assert sign_in_with(Client(), key).status_code == 302
    reset_password_by_email(member)
    assert sign_in_with(Client(), key).status_code == 429
    client = Client()
    assert sign_in(client, password=NEW_PASSWORD).status_code == 302 and signed_in_as(client)


def test_past_the_limit_a_two_step_sign_in_is_refused_before_the_code_is_asked(
    member, member_client
):
    # It asked for the code, and only then said the account was paused (helper-141).
    turn_on(member_client)
    sign_ins(member, Kind.SIGN_IN_TWO_STEP, LIMIT)
    client = Client()

    page = password_step(client)

    assert page.status_code == 429 and PAUSED in page.content.decode()
    assert client.get("/login/code/")["Location"].startswith("/login/")  # nothing waits
    assert signed_in_as(client) is None


@pytest.mark.parametrize("two_step_on", [False, True])
def test_a_refused_sign_ins_picture_pays_for_no_more_password_checks(
    member, member_client, english_member, monkeypatch, two_step_on
):
    # Its claim given up with the rest of the refusal, one picture paid for a hash a post for
    # ten minutes, from any client (helper-146). The same form sent again is told it was
    # sent twice; another ID gets the picture's error; neither checks a password.
    from accounts import credentials

    if two_step_on:
        turn_on(member_client)
    sign_ins(member, Kind.SIGN_IN_TWO_STEP if two_step_on else Kind.SIGN_IN, LIMIT)
    captcha = solved_captcha()
    assert sign_in(Client(), captcha=captcha).status_code == 429
    checked = []
    monkeypatch.setattr(credentials, "password_matches", lambda *args: checked.append(args))

    again = sign_in(Client(), captcha=captcha).content.decode()
    other = sign_in(Client(), "JPN1000002", "wrong-Guess-1234", captcha=captcha).content.decode()

    assert checked == []
    assert "ログインのフォームが二重に送信されました" in again
    assert "画像の数字と一致しません" in other


def test_with_a_passkey_still_open_the_code_page_offers_it(member, member_client):
    turn_on(member_client)
    add_passkey(member_client)
    sign_ins(member, Kind.SIGN_IN_TWO_STEP, LIMIT)
    client = Client()

    assert password_step(client)["Location"] == "/login/code/"
    assert "passkey-options" in client.get("/login/code/").content.decode()


def test_with_the_passkey_paused_too_it_is_refused_after_the_password(member, member_client):
    turn_on(member_client)
    add_passkey(member_client)
    sign_ins(member, Kind.SIGN_IN_TWO_STEP, LIMIT)
    sign_ins(member, Kind.SIGN_IN_PASSKEY, LIMIT)

    page = password_step(Client())

    assert page.status_code == 429 and PAUSED in page.content.decode()


def test_a_right_second_step_past_the_limit_is_refused(member, member_client):
    # The limit reached between the password and the code (another device signed in).
    totp, _codes = turn_on(member_client)
    client = Client()
    assert password_step(client)["Location"] == "/login/code/"
    sign_ins(member, Kind.SIGN_IN_TWO_STEP, LIMIT)

    page = client.post("/login/code/", {"code": a_code_of_another_step(totp, 1)})

    assert page.status_code == 429 and PAUSED in page.content.decode()
    assert signed_in_as(client) is None


def test_a_recovery_code_is_not_used_up_by_a_refused_sign_in(member, member_client):
    # It was used up, then the sign-in refused: a member without their phone, trying again,
    # lost a code each time (helper-137).
    _totp, codes = turn_on(member_client)
    client = Client()
    password_step(client)
    sign_ins(member, Kind.SIGN_IN_RECOVERY_CODE, LIMIT)

    assert client.post("/login/code/", {"code": codes[0]}).status_code == 429

    assert member.recovery_codes.filter(used_at__isnull=False).count() == 0
    SecurityEvent.objects.filter(kind=Kind.SIGN_IN_RECOVERY_CODE).update(
        created=timezone.now() - datetime.timedelta(hours=2)
    )
    assert client.post("/login/code/", {"code": codes[0]}).status_code == 302  # still waiting
    assert signed_in_as(client) == str(member.pk)


def test_sign_ins_of_other_kinds_and_failures_do_not_count(member):
    SecurityEvent.objects.bulk_create(
        [SecurityEvent(kind=Kind.SIGN_OUT, member=member) for _ in range(LIMIT)]
        + [SecurityEvent(kind=Kind.SIGN_IN_FAILED, member_id_typed="JPN1000001")] * LIMIT
    )
    signs_in()


def test_a_new_password_starts_the_count_anew(member):
    """Whoever signed in on the old one (a thief) no longer keeps the member out, as the
    paused page's advice promises."""
    for _ in range(LIMIT):
        signs_in()
    assert sign_in(Client()).status_code == 429

    reset_password_by_email(member)

    client = Client()
    assert sign_in(client, password=NEW_PASSWORD).status_code == 302 and signed_in_as(client)


def view_only_sign_in(client):
    data = {"username": "JPN1000001", "password": "sub-Password-4821", "view_only": "on"}
    return client.post("/login/", {**data, **solved_captcha()})


def test_view_only_sign_ins_are_counted_apart_from_the_member_s(member, mailoutbox):
    member.sub_password = make_password("sub-Password-4821")
    member.save(update_fields=["sub_password"])
    for _ in range(LIMIT):
        assert view_only_sign_in(Client()).status_code == 302
    page = view_only_sign_in(Client())
    text = page.content.decode()
    assert page.status_code == 429 and VIEW_ONLY_PAUSED in text
    assert "メインパスワードでのログインは停止していません" in text
    signs_in()  # the sub password's holder cannot keep the member out


def test_sign_ins_on_the_published_defaults_are_not_limited(migrated_member):
    # Anyone may type them for any migrated account: limited, anyone could keep its member
    # from the first sign-in. The address's count and the mailbox code's limits bound them.
    for _ in range(LIMIT + 2):
        client = Client()
        assert sign_in(client, "JPN2000001", DEFAULT_PASSWORD).status_code == 302
        assert signed_in_as(client)


def test_a_second_step_refused_by_a_post_that_raced_it_still_waits(
    member, member_client, monkeypatch
):
    # Two posts past the check before the code: the second is refused in the sign-in itself.
    # Its code stays unused and its sign-in waits at the code page; the next try, once there
    # is room, signs in (helper-139: it went back to the sign-in page).
    _totp, codes = turn_on(member_client)
    monkeypatch.setattr(sign_in_flow, "refuse_past_the_limit", lambda member, kind: None)
    client = Client()
    password_step(client)
    sign_ins(member, Kind.SIGN_IN_TWO_STEP, LIMIT)

    assert client.post("/login/code/", {"code": codes[0]}).status_code == 429

    assert member.recovery_codes.filter(used_at__isnull=False).count() == 0
    assert client.get("/login/code/").status_code == 200  # still waiting for its code
    SecurityEvent.objects.filter(kind=Kind.SIGN_IN_TWO_STEP).update(
        created=timezone.now() - datetime.timedelta(hours=2)
    )
    assert client.post("/login/code/", {"code": codes[0]})["Location"] == "/backoffice/"
    assert signed_in_as(client) == str(member.pk)  # signed in, not "sent twice"
    assert member.security_events.filter(kind=Kind.SIGN_IN_RECOVERY_CODE).count() == 1


def test_an_authenticator_code_refused_by_a_racing_post_can_be_typed_again(
    member, member_client, monkeypatch
):
    totp, _codes = turn_on(member_client)
    last_step = member.authenticator.last_step
    monkeypatch.setattr(sign_in_flow, "refuse_past_the_limit", lambda member, kind: None)
    client = Client()
    password_step(client)
    sign_ins(member, Kind.SIGN_IN_TWO_STEP, LIMIT)
    code = a_code_of_another_step(totp, 1)

    assert client.post("/login/code/", {"code": code}).status_code == 429

    member.authenticator.refresh_from_db()
    assert member.authenticator.last_step == last_step  # the code not taken as used


def test_a_passkey_second_step_refused_points_to_the_code_instead(member, member_client):
    turn_on(member_client)
    key = add_passkey(member_client)
    SecurityEvent.objects.bulk_create(
        [SecurityEvent(kind=Kind.SIGN_IN_PASSKEY, member=member) for _ in range(LIMIT)]
    )
    client = Client()
    password_step(client)
    page = client.get("/login/code/").content.decode()

    refused = client.post("/login/code/passkey/", {"passkey": key.get(options_in(page))})

    text = refused.content.decode()
    assert refused.status_code == 429 and PASSKEYS_PAUSED in text
    assert "認証アプリのコードやリカバリーコードでのログインは停止していません" in text
    assert 'href="/login/code/"' in text
    assert "会員IDとパスワードでのログインは停止していません" not in text  # just typed


def test_a_code_refused_points_to_the_passkey_as_the_second_step(member, member_client):
    totp, _codes = turn_on(member_client)
    add_passkey(member_client)
    SecurityEvent.objects.bulk_create(
        [SecurityEvent(kind=Kind.SIGN_IN_TWO_STEP, member=member) for _ in range(LIMIT)]
    )
    client = Client()
    password_step(client)

    text = client.post("/login/code/", {"code": a_code_of_another_step(totp, 1)}).content
    assert "2段階目のパスキーでのログインは停止していません" in text.decode()


def renewed_twice(member) -> None:
    """Twice the password's limit of sign-ins this hour, each batch followed by a password change:
    the password's count starts anew, every way's goes on."""
    for minutes_ago in (50, 40):
        sign_ins(member, Kind.SIGN_IN, LIMIT, minutes_ago)
        SecurityEvent.objects.create(
            kind=Kind.PASSWORD_CHANGED,
            member=member,
            created=timezone.now() - datetime.timedelta(minutes=minutes_ago - 1),
        )


def test_every_way_together_has_a_limit_no_new_credential_starts_anew(member):
    # The member can start each way's count anew (a passkey added and removed, a password
    # changed): three ways' worth in all, whatever was renewed (helper-140).
    renewed_twice(member)
    sign_ins(member, Kind.SIGN_IN_PASSKEY, LIMIT, 30)

    page = sign_in(Client())

    text = page.content.decode()
    assert page.status_code == 429
    assert f"すべての方法を合わせて上限の{LIMIT * 3}回のログインがありました" in text
    assert "停止していません" not in text  # nothing else offered as open


def test_a_passkey_removed_starts_the_passkey_count_anew(member, member_client):
    key = add_passkey(member_client)
    sign_ins(member, Kind.SIGN_IN_PASSKEY, LIMIT)
    assert sign_in_with(Client(), key).status_code == 429
    SecurityEvent.objects.create(kind=Kind.PASSKEY_REMOVED, member=member)  # another one
    assert sign_in_with(Client(), key).status_code == 302


def test_a_new_sub_password_starts_the_view_only_count_anew(member):
    member.sub_password = make_password("sub-Password-4821")
    member.save(update_fields=["sub_password"])
    sign_ins(member, Kind.SIGN_IN_VIEW_ONLY, LIMIT)
    assert view_only_sign_in(Client()).status_code == 429
    SecurityEvent.objects.create(kind=Kind.SUB_PASSWORD_CHANGED, member=member)
    assert view_only_sign_in(Client()).status_code == 302


def test_the_time_to_try_again_counts_from_the_new_password(member):
    sign_ins(member, Kind.SIGN_IN, LIMIT, minutes_ago=50)
    SecurityEvent.objects.create(
        kind=Kind.PASSWORD_RESET,
        member=member,
        created=timezone.now() - datetime.timedelta(minutes=45),
    )
    for minutes_ago in (30, 20, 10):
        sign_ins(member, Kind.SIGN_IN, 1, minutes_ago)
    oldest_counted = member.security_events.filter(kind=Kind.SIGN_IN).order_by("created")[LIMIT]

    text = sign_in(Client()).content.decode()

    assert f"{times.try_again_at(oldest_counted.created + datetime.timedelta(hours=1))}まで" in text


def test_a_way_also_paused_is_not_offered(member, mailoutbox):
    member.sub_password = make_password("sub-Password-4821")
    member.save(update_fields=["sub_password"])
    sign_ins(member, Kind.SIGN_IN_VIEW_ONLY, LIMIT)
    offered = view_only_sign_in(Client()).content.decode()
    assert "メインパスワードでのログインは停止していません" in offered
    sign_ins(member, Kind.SIGN_IN, LIMIT)
    text = view_only_sign_in(Client()).content.decode()
    assert VIEW_ONLY_PAUSED in text and "停止していません" not in text


def test_every_way_of_signing_in_but_the_defaults_is_limited():
    # A new kind of sign-in in SecurityEvent.SIGN_INS must be given a way, or it escapes.
    ways = sign_in_flow.BY_PASSWORD, sign_in_flow.BY_PASSKEY, sign_in_flow.VIEW_ONLY
    limited = {kind for way in ways for kind in way.kinds}
    assert limited == set(SecurityEvent.SIGN_INS) - {Kind.SIGN_IN_DEFAULT}
    assert limited == set(sign_in_flow.EVERY_WAY.kinds)


def test_past_a_limit_lowered_meanwhile_the_time_waits_for_enough_to_leave(member):
    for minutes_ago in (50, 40, 30, 20, 10):  # 5 sign-ins, 3 allowed now
        sign_ins(member, Kind.SIGN_IN, 1, minutes_ago)
    third = member.security_events.order_by("created")[2]  # when it leaves, 2 are left

    text = sign_in(Client()).content.decode()

    assert f"{times.try_again_at(third.created + datetime.timedelta(hours=1))}まで" in text


def test_with_every_way_full_too_its_page_shows_and_a_reset_ends_it(member):
    # The password's page said a new password ends the pause; with every way full too, the
    # member who reset went round in a loop (helper-141). Every way's page shows, and a new
    # password from an emailed link (it proves the mailbox) starts every count anew.
    renewed_twice(member)
    sign_ins(member, Kind.SIGN_IN, LIMIT, 30)

    text = sign_in(Client()).content.decode()

    assert f"すべての方法を合わせて上限の{LIMIT * 3}回" in text
    assert "新しいパスワードを設定すると、停止はすぐに解除され" in text
    reset_password_by_email(member)
    client = Client()
    assert sign_in(client, password=NEW_PASSWORD).status_code == 302 and signed_in_as(client)


def test_a_recovery_code_refused_by_a_racing_post_mails_the_member_nothing(
    member, member_client, monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    # The "a recovery code was used to sign in" mail goes once the sign-in commits
    # (helper-153): refused in the sign-in itself, the code stays unused and nothing is said
    # of a sign-in that did not happen; the try that signs in is told, once.
    _totp, codes = turn_on(member_client)
    monkeypatch.setattr(sign_in_flow, "refuse_past_the_limit", lambda member, kind: None)
    client = Client()
    password_step(client)
    sign_ins(member, Kind.SIGN_IN_RECOVERY_CODE, LIMIT)
    told = "【JENCO】リカバリーコードでログインがありました"

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/login/code/", {"code": codes[0]}).status_code == 429
    assert told not in [mail.subject for mail in mailoutbox]

    SecurityEvent.objects.filter(kind=Kind.SIGN_IN_RECOVERY_CODE).update(
        created=timezone.now() - datetime.timedelta(hours=2)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/login/code/", {"code": codes[0]})["Location"] == "/backoffice/"
    assert [mail.subject for mail in mailoutbox].count(told) == 1
