"""django-axes, fitted to member IDs: the lockout rules are axes'; these are the joints."""

import axes.utils
from axes.signals import user_locked_out
from django.conf import settings
from django.dispatch import receiver
from django.shortcuts import render

from accounts import credentials
from accounts.audit import Kind, record


def typed_member_id(request, credentials_: dict | None) -> str:
    """Count failures per canonical ID, so "jpn 1000001" and "JPN1000001" add up."""
    typed = (credentials_ or {}).get("username")
    if typed is None and request is not None:
        typed = request.POST.get("username", "")
    return credentials.printable(credentials.normalise_member_id(str(typed or "")))


def locked_out(request, credentials_):
    """The same page whether or not the ID exists: wait, or reset the password."""
    context = {"minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)}
    return render(request, "accounts/locked_out.html", context, status=429)


def lift(member) -> None:
    """A password reset by email proves the member: their ID is no longer locked."""
    axes.utils.reset(username=member.member_id)


@receiver(user_locked_out)
def record_lockout(sender, request=None, username=None, ip_address=None, **kwargs):
    record(request, Kind.LOCKED_OUT, member_id_typed=username or "")
