"""Account events and their side effects, one function each.

A view, a form, admin or a command calls these; none of them repeats what happens around an
event (save in one transaction, sessions, security log, notice email).
"""

import datetime
import hashlib
import logging
import secrets
import time

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from accounts import credentials, lockout, mailbox, tasks, throttle, tokens
from accounts.audit import Kind, record, request_origin
from accounts.emails import render_member_email, send_member_email
from accounts.middleware import SEEN_AT
from accounts.models import EmailChangeRequest, Member

logger = logging.getLogger("jenco.security")


def sign_in(request, member) -> None:
    """Sign the member in. Called inside the sign-in post's one transaction (accounts.views
    .login): the session row is written here with the rest, not after the response."""
    with_defaults = getattr(member, "signed_in_with_default_password", False)
    previous = member.last_login
    auth.login(request, member)  # a new session key: no fixation; sets last_login to now
    request.session["signed_in_at"] = request.session[SEEN_AT] = int(time.time())
    if previous:  # what the dashboard shows as "last sign-in": the one before this
        request.session["previous_sign_in"] = previous.isoformat()
    if with_defaults:
        # The gate (backoffice.middleware) keeps this member to the mailbox, PIN and password
        # steps. The mailbox code's email doubles as the "was this you?" notice.
        record(request, Kind.SIGN_IN_DEFAULT, member)
        # The published password opens thousands of imported accounts: an address that gets
        # into many of them is spraying it, so each such sign-in counts against the address.
        lockout.count_against_address(request)
        if mailbox.due(request):
            mailbox.send_code(request, member)
        else:
            send_member_email(member, "default_sign_in", {"when": member.last_login})
    else:
        record(request, Kind.SIGN_IN, member)
    request.session.save()


def sign_in_failed(request, member_id_typed: str, *, captcha: bool = False) -> None:
    """Log a failed sign-in. A wrong or missing captcha never reached authenticate(), so it
    is reported to the lockout here, against the address only: a bot that cannot read the
    picture runs out of tries, and cannot pause the member whose ID it typed."""
    member_id_typed = credentials.printable(credentials.normalise_member_id(member_id_typed))
    if captcha:
        lockout.captcha_failed(request, member_id_typed)
    if getattr(request, "jenco_paused_before", False):
        return  # a post during a pause was not checked: it writes nothing (issue 12 retest)
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
    JENCO_PIN_ATTEMPTS the PIN-confirmed actions lock for JENCO_PIN_LOCK_MINUTES. Each try
    takes its place in the count before the PIN is checked, in one UPDATE, so requests sent
    at the same moment still get no more tries than the limit between them.
    """
    now = timezone.now()
    limit = settings.JENCO_PIN_ATTEMPTS
    tried = (
        Member.objects.filter(pk=member.pk, pin_failures__lt=limit)
        .filter(Q(pin_locked_until__isnull=True) | Q(pin_locked_until__lte=now))
        .update(pin_failures=F("pin_failures") + 1)
    )
    if not tried:
        until = Member.objects.values_list("pin_locked_until", flat=True).get(pk=member.pk)
        if until and until > now:
            return _pin_locked_message(until)
        # Every try is taken by requests still being checked: they decide whether it locks.
        return _("Your PIN is being checked in another window. Please try again in a moment.")
    if credentials.pin_matches(member, raw_pin):
        Member.objects.filter(pk=member.pk).update(pin_failures=0)
        member.pin_failures = 0
        return None
    record(request, Kind.PIN_FAILED, member)
    failures, until = Member.objects.values_list("pin_failures", "pin_locked_until").get(
        pk=member.pk
    )
    if until and until > now:  # another wrong PIN, checked beside this one, locked it
        return _pin_locked_message(until)
    if failures >= limit:
        return _pin_locked_message(_lock_pin(request, member))
    member.pin_failures = failures
    return _(
        "The PIN is incorrect. %(left)s more wrong PINs will lock PIN changes for "
        "%(minutes)s minutes."
    ) % {"left": limit - failures, "minutes": settings.JENCO_PIN_LOCK_MINUTES}


def _lock_pin(request, member):
    until = timezone.now() + datetime.timedelta(minutes=settings.JENCO_PIN_LOCK_MINUTES)
    Member.objects.filter(pk=member.pk).update(pin_failures=0, pin_locked_until=until)
    member.pin_locked_until = until
    record(request, Kind.PIN_LOCKED, member)
    return until


def _pin_locked_message(until) -> str:
    when = formats.time_format(timezone.localtime(until), "H:i")
    return _(
        "Too many wrong PINs. Changes that need your PIN are locked until %(time)s. "
        "If you forgot your PIN, use “Forgot PIN?”."
    ) % {"time": when}


class ChangedMeanwhile(Exception):
    """Another session changed this secret between our check and our write."""


def _replace(member, field: str, values: dict) -> None:
    """Write `values` only if `field` still holds what was checked: of two changes racing
    from two sessions, the second finds the secret changed and is refused."""
    if not Member.objects.filter(pk=member.pk, **{field: getattr(member, field)}).update(**values):
        raise ChangedMeanwhile
    for name, value in values.items():
        setattr(member, name, value)


def _save_new_pin(member, new_pin: str) -> None:
    """A new PIN leaves the default behind and ends any PIN lock."""
    _replace(
        member,
        "pin",
        {
            "pin": make_password(new_pin),
            "on_default_pin": False,
            "pin_failures": 0,
            "pin_locked_until": None,
        },
    )


def _save_new_password(member, new_password: str) -> None:
    """A new password leaves the default behind; the changed hash ends other sessions."""
    _replace(
        member, "password", {"password": make_password(new_password), "on_default_password": False}
    )


@transaction.atomic
def change_pin(request, member, new_pin: str) -> None:
    """Like a password change: this session stays signed in, every other one ends (the PIN
    is part of the session hash, see Member._get_session_auth_hash)."""
    _save_new_pin(member, new_pin)
    auth.update_session_auth_hash(request, member)
    record(request, Kind.PIN_CHANGED, member)
    send_member_email(member, "pin_changed")


@transaction.atomic
def change_password(request, member, new_password: str) -> None:
    """The session that changed it stays signed in; every other session of the member ends."""
    _save_new_password(member, new_password)
    auth.update_session_auth_hash(request, member)
    record(request, Kind.PASSWORD_CHANGED, member)
    send_member_email(member, "password_changed")


@transaction.atomic
def change_sub_password(request, member, new_sub_password: str) -> None:
    _replace(member, "sub_password", {"sub_password": make_password(new_sub_password)})
    record(request, Kind.SUB_PASSWORD_CHANGED, member)
    send_member_email(member, "sub_password_changed")


# --- Forgot password / PIN ------------------------------------------------------------------

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
    """The forgot page's request, off the request path: mail the link if ID and email match."""
    member = Member.objects.filter(member_id=member_id, is_active=True).first()
    if member is None or credentials.normalise_email(member.email) != email:
        return
    email_reset_link(what, member, origin=origin)


def email_reset_link(what: str, member, *, origin=None, request=None, actor=None) -> bool:
    """Mail `member` a reset link at the registered address, within the hourly limit.

    Called for the member's own request (from a task, with its `origin`) and by support
    staff in admin (with their `request` and themselves as `actor`). False when nothing
    was sent: no address, inactive, or the hour's limit reached.
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
    _save_new_password(member, new_password)
    record(request, Kind.PASSWORD_RESET, member)
    lockout.lift(member)
    send_member_email(member, "password_reset_done")
    return member


@transaction.atomic
def reset_pin(request, member, new_pin: str, token: str):
    """Set the PIN from an emailed link: like a password reset, every session of the member
    ends (the PIN is part of their session hash) and nobody is signed in."""
    member = _locked_for_reset(member, PIN, token)
    _save_new_pin(member, new_pin)
    record(request, Kind.PIN_RESET, member)
    send_member_email(member, "pin_changed")
    return member


# --- Email change ---------------------------------------------------------------------------
#
# Each request is a row (accounts.EmailChangeRequest). The limits count rows, so every app
# server sees the same counts; the link carries a one-time nonce whose hash is on the row, so
# it works once, only while it is the member's newest request, and only until it expires.


class EmailChangeLimited(Exception):
    """Over an email-change limit; the message says when the member can ask again."""


def email_change_limit(member, new_email: str) -> str | None:
    """None if `member` may ask for a link to `new_email` now, else the message to show.

    A member may ask JENCO_EMAIL_CHANGE_PER_HOUR times an hour and JENCO_EMAIL_CHANGE_PER_DAY
    a day; an address receives at most JENCO_EMAIL_CHANGE_PER_ADDRESS links a day, whichever
    members ask, so nobody can use us to fill a stranger's mailbox.
    """
    hour, day = datetime.timedelta(hours=1), datetime.timedelta(days=1)
    mine = EmailChangeRequest.objects.filter(member=member)
    waits = [
        until
        for until in (
            _free_after(mine, settings.JENCO_EMAIL_CHANGE_PER_HOUR, hour),
            _free_after(mine, settings.JENCO_EMAIL_CHANGE_PER_DAY, day),
        )
        if until is not None
    ]
    if waits:
        return _(
            "You have asked to change your email address too many times. You can ask again "
            "after %(time)s."
        ) % {"time": _date_and_time(max(waits))}
    to_address = EmailChangeRequest.objects.filter(mailbox=credentials.mailbox_key(new_email))
    until = _free_after(to_address, settings.JENCO_EMAIL_CHANGE_PER_ADDRESS, day)
    if until is not None:
        return _(
            "Too many confirmation links have been sent to this address in the last 24 hours. "
            "You can ask again after %(time)s."
        ) % {"time": _date_and_time(until)}
    return None


def _free_after(requests, limit: int, window: datetime.timedelta):
    """None if fewer than `limit` of `requests` fall in the last `window`; else when enough
    of them will have left it for one more."""
    recent = requests.filter(created__gt=timezone.now() - window).order_by("-created")
    counted = list(recent.values_list("created", flat=True)[:limit])
    return counted[-1] + window if len(counted) >= limit else None


def _date_and_time(when) -> str:
    when = timezone.localtime(when)
    if when.date() == timezone.localdate():
        return formats.time_format(when, "H:i")
    return formats.date_format(when, "DATETIME_FORMAT")


@transaction.atomic
def request_email_change(request, member, new_email: str) -> None:
    """Mail a confirmation link to the new address and a notice to the old one; the
    address changes only when the link is confirmed. Raises EmailChangeLimited (nothing
    sent, nothing saved) over a limit."""
    # One request of a member at a time, so two sent together cannot both pass the count.
    Member.objects.select_for_update().only("pk").get(pk=member.pk)
    problem = email_change_limit(member, new_email)
    if problem is not None:
        logger.warning("email change throttled for member=%s", member)
        raise EmailChangeLimited(problem)
    change = EmailChangeRequest.objects.create(
        member=member, new_email=new_email, mailbox=credentials.mailbox_key(new_email)
    )
    record(request, Kind.EMAIL_CHANGE_REQUESTED, member)
    transaction.on_commit(lambda: tasks.mail_email_change_link.enqueue(change_pk=change.pk))
    send_member_email(member, "email_change_requested", {"new_email": new_email})


def _nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode("utf-8", "surrogatepass")).hexdigest()


def _confirmable(requests):
    """Those of `requests` that a link may still confirm: unused and unexpired."""
    expiry = datetime.timedelta(hours=settings.JENCO_EMAIL_CHANGE_HOURS)
    return requests.filter(used_at__isnull=True, created__gt=timezone.now() - expiry)


def _newest(change) -> bool:
    """A newer request of the member voids this one (and the link mailed for it)."""
    newer = EmailChangeRequest.objects.filter(member_id=change.member_id, pk__gt=change.pk)
    return not newer.exists()


def mail_email_change_link(change_pk: int, *, retry: bool = False) -> None:
    """Made and sent in the worker, like a reset link: no queue row holds a working link,
    and the database only the nonce's hash.

    A retry (the task failed before) makes a new link while the request is still open: an
    earlier try may have kept a hash and failed to mail, or died mailing, its link. The new
    hash replaces the old, so only the link mailed last works.
    """
    rows = _confirmable(EmailChangeRequest.objects.filter(pk=change_pk))
    if not retry:
        # A task run twice mails one link: the second finds the hash already set.
        rows = rows.filter(nonce_hash__isnull=True)
    change = rows.filter(member__is_active=True).select_related("member").first()
    if change is None or not _newest(change):
        return
    nonce = secrets.token_urlsafe(32)
    if not rows.update(nonce_hash=_nonce_hash(nonce)):
        return
    link = settings.SITE_URL + reverse("backoffice:profile-email-confirm", args=[nonce])
    context = {"link": link, "hours": settings.JENCO_EMAIL_CHANGE_HOURS}
    message = render_member_email(change.member, "email_change_confirm", context)
    tasks.deliver_email.call(to=[change.new_email], **message)


def pending_email_change(member, token: str):
    """The request `token` confirms for `member`, or None: not theirs, not a token of ours,
    used, expired or replaced by a newer request."""
    if not token or len(token) > 200:  # ours are 43 characters; nothing longer is hashed
        return None
    change = (
        _confirmable(EmailChangeRequest.objects.filter(member=member))
        .filter(nonce_hash=_nonce_hash(token))
        .first()
    )
    return change if change is not None and _newest(change) else None


def confirm_email_change(request, member, token: str) -> bool:
    """Apply a confirmed change; False (nothing changed) when `pending_email_change` finds
    no request for the token."""
    with transaction.atomic():
        # Two confirmations at once: the second waits here, then finds the request used.
        fresh = Member.objects.select_for_update().get(pk=member.pk)
        change = pending_email_change(fresh, token)
        if change is None:
            return False
        EmailChangeRequest.objects.filter(pk=change.pk).update(used_at=timezone.now())
        old_email = fresh.email
        fresh.email = change.new_email
        fresh.save(update_fields=["email"])
        record(request, Kind.EMAIL_CHANGED, fresh)
        send_member_email(fresh, "email_changed", {"new_email": fresh.email}, to=old_email)
    member.email = fresh.email
    return True
