"""django-axes, fitted to member IDs: the lockout rules are axes'; these are the joints."""

import axes.utils
from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db.models import Sum
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


class LockoutHandler(AxesDatabaseHandler):
    """axes' database handler, with its own limit for one address.

    Many members share an address (a carrier's, an office's), so an address may fail more
    often than one ID before it pauses. axes compares one number with AXES_FAILURE_LIMIT;
    the address's failures are scaled onto that limit, so it trips at exactly
    JENCO_LOCKOUT_ADDRESS_FAILURES.
    """

    def get_failures(self, request, credentials=None) -> int:
        by_id, by_address = failures(request, credentials)
        return max(
            by_id,
            by_address * settings.AXES_FAILURE_LIMIT // settings.JENCO_LOCKOUT_ADDRESS_FAILURES,
        )


def failures(request, credentials_=None) -> tuple[int, int]:
    """Recent failures for the member ID typed (from anywhere) and from this address."""
    recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))

    def total(attempts) -> int:
        return attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0

    return (
        total(recent.filter(username=get_client_username(request, credentials_))),
        total(recent.filter(ip_address=request.axes_ip_address)),
    )


def locked_out(request, credentials_):
    """The same page whether or not the ID exists: wait, or reset the password.

    A reset lifts the pause on an ID, not on an address, so the page promises that only
    when the ID alone is paused.
    """
    by_id, by_address = failures(request, credentials_)
    context = {
        "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        "id_locked": by_id >= settings.AXES_FAILURE_LIMIT
        and by_address < settings.JENCO_LOCKOUT_ADDRESS_FAILURES,
    }
    return render(request, "accounts/locked_out.html", context, status=429)


def lift(member) -> None:
    """A password reset by email proves the member: their ID is no longer locked."""
    axes.utils.reset(username=member.member_id)


@receiver(user_logged_in)
def forget_failures(sender, request, user, **kwargs):
    """A good sign-in clears that ID's failures, and only those: one account that works
    must not wipe an address's failures against every other ID it tried."""
    lift(user)


@receiver(user_locked_out)
def record_lockout(sender, request=None, username=None, ip_address=None, **kwargs):
    record(request, Kind.LOCKED_OUT, member_id_typed=username or "")
