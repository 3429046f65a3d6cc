"""Changing the main password and the sub password (view-only sign-in) while signed in."""

from django.db import transaction

from accounts import emails
from accounts.audit import Kind, record
from accounts.flows import sessions
from accounts.flows.credential_change import (
    save_new_password,
    save_new_sub_password,
    save_no_sub_password,
)


@transaction.atomic
def change_password(request, member, new_password: str) -> bool:
    """The session that changed it stays signed in; every other session of the member ends.
    Whether any other was signed in: the page and the email say so only then (the email
    said it always)."""
    signed_out_elsewhere = sessions.others_signed_in(request, member)
    save_new_password(member, new_password)
    sessions.keep_this_one(request, member)
    record(request, Kind.PASSWORD_CHANGED, member)
    context = {"signed_out_elsewhere": signed_out_elsewhere}
    emails.send_member_email(member, "password_changed", context)
    return signed_out_elsewhere


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
