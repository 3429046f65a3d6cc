"""Changing the main password and the sub password (view-only sign-in) while signed in."""

from django.conf import settings
from django.contrib import auth
from django.db import transaction
from django.utils.translation import gettext as _

from accounts import emails, throttle
from accounts.audit import Kind, record
from accounts.flows.credential_change import (
    save_new_password,
    save_new_sub_password,
    save_no_sub_password,
)


@transaction.atomic
def change_password(request, member, new_password: str) -> None:
    """The session that changed it stays signed in; every other session of the member ends."""
    save_new_password(member, new_password)
    auth.update_session_auth_hash(request, member)
    record(request, Kind.PASSWORD_CHANGED, member)
    emails.send_member_email(member, "password_changed")


@transaction.atomic
def change_sub_password(request, member, new_sub_password: str) -> None:
    """Set or change it: view-only sign-in works with the new one, and every session signed
    in view only with the old one ends (accounts.view_only)."""
    save_new_sub_password(member, new_sub_password)
    record(request, Kind.SUB_PASSWORD_CHANGED, member)
    emails.send_member_email(member, "sub_password_changed")


@transaction.atomic
def remove_sub_password(request, member) -> None:
    """View-only sign-in is off, and every session signed in view only ends."""
    save_no_sub_password(member)
    record(request, Kind.SUB_PASSWORD_REMOVED, member)
    emails.send_member_email(member, "sub_password_removed")


def confirm_password(member, typed: str) -> str | None:
    """For an account without a PIN (staff made with create_staff), a change is confirmed
    with the password it signs in with, within the PIN's limit of tries: None when right,
    else what to tell the member."""
    minutes = settings.JENCO_PIN_LOCK_MINUTES
    if throttle.over_limit(
        "two-step-password", f"member:{member.pk}", settings.JENCO_PIN_ATTEMPTS, minutes * 60
    ):
        return _("Too many wrong passwords. Please try again in %(minutes)s minutes.") % {
            "minutes": minutes
        }
    if not member.check_password(typed):
        return _("The password is incorrect.")
    return None
