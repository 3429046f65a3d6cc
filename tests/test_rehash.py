"""A PIN or sub password hashed with other parameters than today's is hashed again, as now,
the next time the member types it right (Django does the same for the password at sign-in):
an operator who raises MemberArgon2Hasher's costs, or moves to another hasher, has every
secret a member uses on the new ones, not only the passwords."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import PBKDF2PasswordHasher, check_password

from accounts import credentials, sign_in_sql
from accounts.models import Member
from tests.helpers import PASSWORD, PIN, solved_captcha
from tests.test_two_step import CODE, a_code_of_another_step, password_step, turn_on

pytestmark = pytest.mark.django_db

SUB_PASSWORD = "willow-Creek-5512"
NEW_PASSWORD = "cedar-Harbour-8841"


@pytest.fixture
def older_hasher(settings):
    """Today's hasher first, as in production; an older one still verifies."""
    settings.PASSWORD_HASHERS = [
        *settings.PASSWORD_HASHERS,
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


def old_hash(raw: str) -> str:
    hasher = PBKDF2PasswordHasher()
    return hasher.encode(raw, hasher.salt(), iterations=1000)


def stored(member, field: str) -> str:
    return getattr(Member.objects.get(pk=member.pk), field)


def change_password(client, pin=PIN):
    return client.post(
        "/backoffice/profile/password/",
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD, "pin": pin},
    )


def test_a_right_pin_on_old_parameters_is_hashed_again(older_hasher, client, member):
    member.pin = old_hash(PIN)
    member.save(update_fields=["pin"])
    client.force_login(member)

    assert change_password(client)["Location"] == "/backoffice/profile/"

    pin = stored(member, "pin")
    assert pin.startswith("md5$")  # the test settings' hasher, as MemberArgon2Hasher is live
    assert check_password(PIN, pin)
    assert Member.objects.get(pk=member.pk).check_password(NEW_PASSWORD)


def test_the_member_stays_signed_in_after_the_pin_is_hashed_again(older_hasher, client, member):
    # The PIN is part of the session hash: a change it confirms that keeps the password
    # (here the sub password) must not sign this session out with it.
    member.pin = old_hash(PIN)
    member.save(update_fields=["pin"])
    client.force_login(member)

    set_sub = client.post(
        "/backoffice/profile/sub-password/",
        {"new_password1": SUB_PASSWORD, "new_password2": SUB_PASSWORD, "pin": PIN},
    )

    assert set_sub["Location"] == "/backoffice/profile/"
    assert stored(member, "pin").startswith("md5$")
    assert client.get("/backoffice/profile/").status_code == 200


def test_a_wrong_pin_leaves_the_stored_hash_as_it_was(older_hasher, client, member):
    member.pin = before = old_hash(PIN)
    member.save(update_fields=["pin"])
    client.force_login(member)

    assert "PINコードが正しくありません" in change_password(client, "999999").content.decode()

    assert stored(member, "pin") == before


def test_a_right_sub_password_on_old_parameters_is_hashed_again_at_a_view_only_sign_in(
    older_hasher, client, member
):
    member.sub_password = old_hash(SUB_PASSWORD)
    member.save(update_fields=["sub_password"])

    signed_in = client.post(
        "/login/",
        {
            "username": member.member_id,
            "password": SUB_PASSWORD,
            "view_only": "on",
            **solved_captcha(),
        },
    )

    assert signed_in["Location"] == "/backoffice/"
    sub_password = stored(member, "sub_password")
    assert sub_password.startswith("md5$")
    assert check_password(SUB_PASSWORD, sub_password)
    assert Member.objects.get(pk=member.pk).check_password(PASSWORD)  # the main one untouched


def test_a_change_saved_meanwhile_is_not_overwritten_by_the_old_secret(older_hasher, member):
    member.pin = old_hash(PIN)
    member.save(update_fields=["pin"])
    elsewhere = Member.objects.get(pk=member.pk)
    elsewhere.pin = "changed-by-another-request"
    elsewhere.save(update_fields=["pin"])

    assert credentials.pin_matches(member, PIN)  # this request still holds the old row

    assert stored(member, "pin") == "changed-by-another-request"


def test_staff_confirming_with_a_password_on_old_parameters_stay_signed_in(
    older_hasher, client, staff, mailoutbox
):
    # An account without a PIN (create_staff) confirms a change with its password: Django
    # hashes that again, and the password signs the session as the PIN does.
    staff.password = old_hash(PASSWORD)
    staff.save(update_fields=["password"])
    client.force_login(staff)

    asked = client.post(
        "/backoffice/profile/email/",
        {"email": "new-desk@example.com", "current_password": PASSWORD},
    )

    assert asked["Location"] == "/backoffice/profile/"
    assert stored(staff, "password").startswith("md5$")
    assert client.get("/backoffice/profile/").status_code == 200


def test_a_sub_password_refused_for_being_the_main_one_changes_nothing(
    older_hasher, client, member
):
    # The form only compares the two: a match on old parameters hashed the main password
    # again and saved it, and the member was signed out by a refusal.
    member.password = before = old_hash(PASSWORD)
    member.save(update_fields=["password"])
    client.force_login(member)

    refused = client.post(
        "/backoffice/profile/sub-password/",
        {"new_password1": PASSWORD, "new_password2": PASSWORD, "pin": PIN},
    )

    assert "メインパスワードと別のもの" in refused.content.decode()
    assert stored(member, "password") == before
    assert client.get("/backoffice/profile/").status_code == 200


@pytest.mark.parametrize("field", ["password", "sub_password"])
def test_two_sign_ins_at_once_keep_the_same_hash(older_hasher, member, field):
    # Both checked the old hash; the first saved a new one. The second's session keeps what
    # is stored (Django's session hash, the view-only fingerprint), or its first click
    # signed it out (helper-126).
    secret = PASSWORD if field == "password" else SUB_PASSWORD
    setattr(member, field, old_hash(secret))
    member.save(update_fields=[field])
    first, second = Member.objects.get(pk=member.pk), Member.objects.get(pk=member.pk)

    check = {
        "password": credentials.password_matches,
        "sub_password": credentials.sub_password_matches,
    }[field]
    assert check(first, secret) and check(second, secret)  # both checked the old hash
    credentials.save_new_hash(first)  # both signed in, one after the other
    credentials.save_new_hash(second)

    assert getattr(second, field) == getattr(first, field) == stored(member, field)
    assert stored(member, field).startswith("md5$")


def test_a_new_password_saved_while_the_old_one_was_checked_stands(older_hasher, member):
    member.password = old_hash(PASSWORD)
    member.save(update_fields=["password"])
    signing_in = Member.objects.get(pk=member.pk)  # read before the change below
    member.set_password(NEW_PASSWORD)
    member.save(update_fields=["password"])

    assert signing_in.check_password(PASSWORD)  # it was right when read

    assert Member.objects.get(pk=member.pk).check_password(NEW_PASSWORD)


def test_a_refused_view_only_sign_in_hashes_nothing_again(older_hasher, client, member):
    # A refused sign-in that still saved a new hash took a hash and a write longer when the
    # guess was right: its time told (helper-126).
    member.sub_password = before = old_hash(SUB_PASSWORD)
    member.is_active = False
    member.save(update_fields=["sub_password", "is_active"])

    refused = client.post(
        "/login/",
        {
            "username": member.member_id,
            "password": SUB_PASSWORD,
            "view_only": "on",
            **solved_captcha(),
        },
    )

    assert refused.status_code == 200
    assert stored(member, "sub_password") == before


def test_a_refused_sign_in_hashes_nothing_again(older_hasher, client, member):
    member.password = before = old_hash(PASSWORD)
    member.is_active = False
    member.save(update_fields=["password", "is_active"])

    refused = client.post(
        "/login/", {"username": member.member_id, "password": PASSWORD, **solved_captcha()}
    )

    assert refused.status_code == 200
    assert stored(member, "password") == before


def test_a_new_password_compared_with_the_sub_password_saves_nothing(older_hasher, member):
    # A reset by emailed link checks whether the new password is the sub password (it is
    # then removed): only a comparison, it saved a new hash of the sub password (helper-128).
    member.sub_password = before = old_hash(SUB_PASSWORD)
    member.save(update_fields=["sub_password"])

    assert credentials.sub_password_matches(member, SUB_PASSWORD)

    assert stored(member, "sub_password") == before


def test_a_sign_in_refused_for_a_picture_used_meanwhile_hashes_nothing_again(
    older_hasher, client, member, monkeypatch
):
    # App servers without a shared cache (check --deploy warns) each let a post with one
    # answered picture through to its password check; only the first uses the picture up.
    # The other, refused, had saved a new hash: a right guess told by its time (helper-128).
    # The other app server's post uses the picture up while this one's password is checked.
    member.password = before = old_hash(PASSWORD)
    member.save(update_fields=["password"])
    captcha = solved_captcha()
    checked = credentials.password_matches

    def checked_while_the_other_post_uses_the_picture(*args):
        right = checked(*args)
        assert sign_in_sql.use_up_captcha(captcha["captcha_0"])
        return right

    monkeypatch.setattr(
        credentials, "password_matches", checked_while_the_other_post_uses_the_picture
    )

    refused = client.post(
        "/login/", {"username": member.member_id, "password": PASSWORD, **captcha}
    )

    assert refused.status_code == 200 and SESSION_KEY not in client.session
    assert stored(member, "password") == before


def test_a_sign_in_with_a_second_step_saves_the_new_hash_before_the_code(
    older_hasher, client, member
):
    # The code page's wait is bound to the password's hash as it is once checked: the new
    # one, or the wait would read as "the password changed" and refuse the code.
    client.force_login(member)
    totp, _codes = turn_on(client)
    member.password = old_hash(PASSWORD)
    member.save(update_fields=["password"])

    assert password_step(client)["Location"] == CODE
    assert stored(member, "password").startswith("md5$")
    signed_in = client.post(CODE, {"code": a_code_of_another_step(totp, 1)})
    assert signed_in["Location"] == "/backoffice/"
    assert client.session[SESSION_KEY] == str(member.pk)


@pytest.mark.parametrize("signed_in_already", [False, True])
def test_a_sign_in_on_old_parameters_saves_the_new_hash_and_stays_signed_in(
    older_hasher, client, member, signed_in_already
):
    member.password = old_hash(PASSWORD)
    member.save(update_fields=["password"])
    if signed_in_already:  # signing in again over a session of its own
        client.force_login(member)

    signed_in = client.post(
        "/login/", {"username": member.member_id, "password": PASSWORD, **solved_captcha()}
    )

    assert signed_in["Location"] == "/backoffice/"
    assert stored(member, "password").startswith("md5$")
    assert client.get("/backoffice/profile/").status_code == 200
