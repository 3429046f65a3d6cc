"""Account events and their side effects, one function each.

A view, a form, admin or a command calls these; none of them repeats what happens around an
event (save in one transaction, sessions, security log, notice email).
"""

import datetime

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import F
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from accounts import credentials
from accounts.audit import Kind, record
from accounts.emails import send_member_email


def sign_in(request, member) -> None:
    with_defaults = getattr(member, "signed_in_with_default_password", False)
    auth.login(request, member)  # a new session key: no fixation
    if with_defaults:
        # Tells the gate this session may do nothing but the PIN and password steps.
        request.session["signed_in_with_defaults"] = True
        record(request, Kind.SIGN_IN_DEFAULT, member)
        send_member_email(member, "default_sign_in", {"when": member.last_login})
    else:
        record(request, Kind.SIGN_IN, member)


def sign_in_failed(request, member_id_typed: str) -> None:
    record(request, Kind.SIGN_IN_FAILED, member_id_typed=member_id_typed)


def sign_out(request) -> None:
    if request.user.is_authenticated:
        record(request, Kind.SIGN_OUT, request.user)
    auth.logout(request)


def remember_language(response, language: str) -> None:
    """The language cookie Django's LocaleMiddleware reads on the next request."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    translation.activate(language)


def change_language(request, member, language: str) -> None:
    if member.preferred_language != language:
        member.preferred_language = language
        member.save(update_fields=["preferred_language"])
        record(request, Kind.LANGUAGE_CHANGED, member)


# --- PIN-confirmed actions ------------------------------------------------------------------


def confirm_pin(request, member, raw_pin: str) -> str | None:
    """Check the PIN that confirms a change; None when right, else the message to show.

    Wrong PINs in a row are counted in the database (so every app server sees them); at
    JENCO_PIN_ATTEMPTS the PIN-confirmed actions lock for JENCO_PIN_LOCK_MINUTES.
    """
    now = timezone.now()
    if member.pin_locked_until and member.pin_locked_until > now:
        return _pin_locked_message(member.pin_locked_until)
    if credentials.pin_matches(member, raw_pin):
        if member.pin_failures:
            type(member).objects.filter(pk=member.pk).update(pin_failures=0)
            member.pin_failures = 0
        return None
    Member = type(member)
    with transaction.atomic():
        Member.objects.filter(pk=member.pk).update(pin_failures=F("pin_failures") + 1)
        failures = Member.objects.values_list("pin_failures", flat=True).get(pk=member.pk)
        record(request, Kind.PIN_FAILED, member)
        if failures >= settings.JENCO_PIN_ATTEMPTS:
            until = now + datetime.timedelta(minutes=settings.JENCO_PIN_LOCK_MINUTES)
            Member.objects.filter(pk=member.pk).update(pin_failures=0, pin_locked_until=until)
            member.pin_locked_until = until
            record(request, Kind.PIN_LOCKED, member)
            return _pin_locked_message(until)
    member.pin_failures = failures
    left = settings.JENCO_PIN_ATTEMPTS - failures
    return _(
        "The PIN is incorrect. %(left)s more wrong PINs will lock PIN changes for "
        "%(minutes)s minutes."
    ) % {"left": left, "minutes": settings.JENCO_PIN_LOCK_MINUTES}


def _pin_locked_message(until) -> str:
    when = formats.time_format(timezone.localtime(until), "TIME_FORMAT")
    return _(
        "Too many wrong PINs. Changes that need your PIN are locked until %(time)s. "
        "If you forgot your PIN, use “Forgot PIN?”."
    ) % {"time": when}


@transaction.atomic
def change_pin(request, member, new_pin: str) -> None:
    member.pin = make_password(new_pin)
    member.on_default_pin = False
    member.pin_failures = 0
    member.pin_locked_until = None
    member.save(update_fields=["pin", "on_default_pin", "pin_failures", "pin_locked_until"])
    record(request, Kind.PIN_CHANGED, member)
    send_member_email(member, "pin_changed")


@transaction.atomic
def change_password(request, member, new_password: str) -> None:
    """The session that changed it stays signed in; every other session of the member ends."""
    member.set_password(new_password)
    member.on_default_password = False
    member.save(update_fields=["password", "on_default_password"])
    auth.update_session_auth_hash(request, member)
    request.session.pop("signed_in_with_defaults", None)
    record(request, Kind.PASSWORD_CHANGED, member)
    send_member_email(member, "password_changed")


@transaction.atomic
def change_sub_password(request, member, new_sub_password: str) -> None:
    member.sub_password = make_password(new_sub_password)
    member.save(update_fields=["sub_password"])
    record(request, Kind.SUB_PASSWORD_CHANGED, member)
    send_member_email(member, "sub_password_changed")
