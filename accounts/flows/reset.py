"""Forgot password / PIN: the emailed link, and setting the new secret from it (seed p.2-3).

The request is answered the same whatever happens here; the lookup and the mail happen in
the worker, so a match costs the request nothing more than a miss.
"""

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import credentials, emails, lockout, tasks, throttle, tokens
from accounts.audit import Kind, record, request_origin
from accounts.emails import render_member_email
from accounts.flows.credential_change import save_new_password, save_new_pin
from accounts.models import Member

logger = logging.getLogger("jenco.security")

PASSWORD = "password"
PIN = "pin"

RESET = {
    PASSWORD: {
        "token": tokens.password_reset_token,
        "url": "accounts:password-reset",
        "email": "password_reset_link",
        "requested": Kind.PASSWORD_RESET_REQUESTED,
    },
    PIN: {
        "token": tokens.pin_reset_token,
        "url": "accounts:pin-reset",
        "email": "pin_reset_link",
        "requested": Kind.PIN_RESET_REQUESTED,
    },
}


class LinkAlreadyUsed(Exception):
    """The reset link was used (or voided) between showing the form and submitting it."""


def request_reset(request, what: str, member_id: str, email: str) -> None:
    """Queue the reset email. The answer to the member is the same whatever happens here."""
    ip, user_agent = request_origin(request)
    if throttle.over_limit(f"forgot-{what}", ip or "-", settings.JENCO_FORGOT_PER_ADDRESS, 3600):
        logger.warning("forgot-%s throttled for ip=%s", what, ip)
        return
    tasks.send_reset_link.enqueue(
        what=what, member_id=member_id, email=email, ip=ip, user_agent=user_agent
    )


def send_reset_link(what: str, member_id: str, email: str, *, origin) -> None:
    """In the worker, the forgot page's request: mail the link if ID and email match."""
    member = Member.objects.filter(member_id=member_id, is_active=True).first()
    if member is None or credentials.normalise_email(member.email) != email:
        return
    email_reset_link(what, member, origin=origin)


def email_reset_link(what: str, member, *, origin=None, request=None, actor=None) -> bool:
    """Mail `member` a reset link at the registered address, within the hourly limit.

    Called for the member's own request (from a task, with its `origin`), for a signed-in
    member's one-tap request and by support staff in admin (with their `request` and
    themselves as `actor`). False when nothing was sent: no address, inactive, or the hour's
    limit reached.
    """
    if not member.email or not member.is_active:
        return False
    flow = RESET[what]
    hour_ago = timezone.now() - datetime.timedelta(hours=1)
    sent = member.security_events.filter(kind=flow["requested"], created__gte=hour_ago).count()
    if sent >= settings.JENCO_RESET_EMAILS_PER_HOUR:
        logger.warning("reset-%s emails throttled for member=%s", what, member)
        return False
    record(request, flow["requested"], member, actor=actor, origin=origin)
    transaction.on_commit(lambda: tasks.mail_reset_link.enqueue(what=what, member_pk=member.pk))
    return True


def mail_reset_link(what: str, member_pk: int) -> None:
    """In the worker: make the link and mail it; no queue row ever holds a working link."""
    member = Member.objects.filter(pk=member_pk, is_active=True).exclude(email="").first()
    if member is None:
        return
    flow = RESET[what]
    path = reverse(
        flow["url"],
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(member.pk)),
            "token": flow["token"].make_token(member),
        },
    )
    context = {"link": settings.SITE_URL + path, "minutes": settings.JENCO_RESET_LINK_MINUTES}
    message = render_member_email(member, flow["email"], context)
    tasks.deliver_email.call(to=[member.email], **message)


def _locked_for_reset(member, what: str, token: str):
    """The member, re-read under a write lock, if the link is still good; else raise.

    Two submissions of one link at once: the second waits for the lock, then finds the
    token void (the first changed what it is bound to) and loses.
    """
    fresh = Member.objects.select_for_update().get(pk=member.pk)
    if not RESET[what]["token"].check_token(fresh, token):
        raise LinkAlreadyUsed
    return fresh


@transaction.atomic
def reset_password(request, member, new_password: str, token: str):
    """Set the password from an emailed link: every session of the member ends (their
    session hashes no longer match), the default-password flag clears, no sign-in."""
    member = _locked_for_reset(member, PASSWORD, token)
    save_new_password(member, new_password)
    record(request, Kind.PASSWORD_RESET, member)
    lockout.lift(member)
    emails.send_member_email(member, "password_reset_done")
    return member


@transaction.atomic
def reset_pin(request, member, new_pin: str, token: str):
    """Set the PIN from an emailed link: like a password reset, every session of the member
    ends (the PIN is part of their session hash) and nobody is signed in."""
    member = _locked_for_reset(member, PIN, token)
    save_new_pin(member, new_pin)
    record(request, Kind.PIN_RESET, member)
    emails.send_member_email(member, "pin_changed")
    return member
