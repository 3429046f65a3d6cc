"""Forgot password / PIN: the emailed link, and setting the new secret from it (seed p.2-3).

The request is answered the same whatever happens here; the lookup and the mail happen in
the worker, so a match costs the request nothing more than a miss.
"""

import datetime
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise as StrPromise
from django.utils.translation import gettext_lazy as _

from accounts import credentials, emails, links, lockout, tasks, throttle, tokens
from accounts.audit import Kind, record, request_origin
from accounts.emails import render_member_email
from accounts.flows import support
from accounts.flows.credential_change import save_new_password, save_new_pin
from accounts.flows.password import remove_sub_password
from accounts.models import Member

logger = logging.getLogger("jenco.security")


@dataclass(frozen=True)
class ResetKind:
    """What is reset by an emailed link, with everything that differs between the two kinds:
    token, pages, emails, security-log events and the words the pages show."""

    name: str  # "password" or "pin": in task arguments (JSON) and throttle keys
    token: PasswordResetTokenGenerator
    new_field: str  # the reset form's field holding the new secret
    save: Callable[[Member, str], None]
    requested: Kind  # a link was mailed
    done: Kind  # the secret was set from a link
    link_email: str  # templates/emails/<link_email>_{subject,body}.txt
    done_email: str
    lifts_lockout: bool  # a new password ends a sign-in lockout; a PIN has nothing to do with it
    needs_pin: bool  # only an account with a PIN gets this link (staff accounts have none)
    # Words the pages show, ready for a template.
    forgot_title: StrPromise
    set_title: StrPromise
    set_hint: StrPromise
    set_already: StrPromise  # on a link that cannot be used: what it means if it was used
    on_its_way: StrPromise
    spam_folder: StrPromise
    done_text: StrPromise
    # Said beforehand, on the forgot and set pages: the reset signs out every device, this
    # one too (helper-162: a member learned it only from the done page).
    signs_out: StrPromise
    # On the done page, what the new secret leaves as it was (helper-167: a password reset
    # was the way to shut an intruder out, and a passkey or sub password they added kept
    # working unsaid).
    leaves: StrPromise = ""

    def url(self, page: str) -> str:
        """The URL name of one of this kind's pages: forgot, forgot-sent, reset, reset-done."""
        return f"accounts:{self.name}-{page}"

    @property
    def forgot_url(self) -> str:
        return reverse(self.url("forgot"))

    @classmethod
    def named(cls, name: str) -> "ResetKind":
        return {kind.name: kind for kind in (PASSWORD, PIN)}[name]


PASSWORD = ResetKind(
    name="password",
    token=tokens.password_reset_token,
    new_field="new_password1",
    save=save_new_password,
    requested=Kind.PASSWORD_RESET_REQUESTED,
    done=Kind.PASSWORD_RESET,
    link_email="password_reset_link",
    done_email="password_reset_done",
    lifts_lockout=True,
    needs_pin=False,
    forgot_title=_("Forgot password"),
    set_title=_("Set a new password"),
    set_hint=_(
        "Enter the new password twice, type the 4-digit code in the picture, and press “Submit”."
    ),
    set_already=_(
        "Already set a new password with this link? Then it is done: sign in with the new password."
    ),
    on_its_way=_(
        "If the member ID and email address match our records, a link to set a new password "
        "is on its way to that address."
    ),
    spam_folder=_(
        "The email may land in your spam folder. If nothing arrives within a few minutes, "
        "look there."
    ),
    done_text=_(
        "Your new password is set. For your safety, every device that was signed in has been "
        "signed out."
    ),
    signs_out=_(
        "Setting a new password signs out every device signed in to your account (this one "
        "too, if it is): then sign in again with the new password."
    ),
    leaves=_(
        "A new password does not change your passkeys, your sub password or two-step "
        "verification: the passkeys and the sub password still sign in, and two-step still "
        "asks for its code. If someone else may have used your account, sign in and check them "
        "(Account > Security, and Profile's sub password); if you are asked for a code you "
        "never set up, contact JENCO support."
    ),
)
PIN = ResetKind(
    name="pin",
    token=tokens.pin_reset_token,
    new_field="new_pin1",
    save=save_new_pin,
    requested=Kind.PIN_RESET_REQUESTED,
    done=Kind.PIN_RESET,
    link_email="pin_reset_link",
    done_email="pin_reset_done",
    lifts_lockout=False,
    needs_pin=True,
    forgot_title=_("Forgot PIN"),
    set_title=_("Set a new PIN"),
    set_hint=_(
        "Enter the new PIN twice, type the 4-digit code in the picture, and press “Submit”."
    ),
    set_already=_(
        "Already set a new PIN with this link? Then it is done: the new PIN is the one to use."
    ),
    on_its_way=_(
        "If the member ID and email address match our records, a link to set a new PIN is on "
        "its way to that address."
    ),
    spam_folder=_(
        "The PIN reset email may land in your spam folder. If nothing arrives within a few "
        "minutes, look there."
    ),
    done_text=_(
        "Your new PIN is set. For your safety, every device that was signed in has been signed out."
    ),
    signs_out=_(
        "Setting a new PIN signs out every device signed in to your account (this one too, "
        "if it is): then sign in again."
    ),
)


class LinkAlreadyUsed(Exception):
    """The reset link was used (or voided) between showing the form and submitting it."""


def request_reset(request, kind: ResetKind, member_id: str, email: str) -> None:
    """Queue the reset email. The answer to the member is the same whatever happens here."""
    ip, user_agent = request_origin(request)
    key = f"forgot-{kind.name}"
    if throttle.address_over_limit(key, ip, settings.JENCO_FORGOT_PER_ADDRESS, 3600):
        logger.warning("%s throttled for ip=%s", key, ip)
        return
    tasks.send_reset_link.enqueue(
        what=kind.name, member_id=member_id, email=email, ip=ip, user_agent=user_agent
    )


def send_reset_link(kind: ResetKind, member_id: str, email: str, *, origin) -> None:
    """In the worker, the forgot page's request: mail the link if ID and email match."""
    member = Member.objects.filter(member_id=member_id, is_active=True).first()
    if member is None or credentials.normalise_email(member.email) != email:
        return
    email_reset_link(kind, member, origin=origin)


class Refused(enum.Enum):
    """Why no reset link was mailed."""

    NO_EMAIL = "no_email"
    INACTIVE = "inactive"
    NO_PIN = "no_pin"  # a staff account (create_staff) has no PIN to reset
    HOURLY_LIMIT = "hourly_limit"  # JENCO_RESET_EMAILS_PER_HOUR links in the last hour
    JUST_SENT = "just_sent"  # one went less than LINKS_APART ago, and is on its way


# A link mailed less than this long ago is not mailed again: a button pressed twice (a double
# tap, a page sent again) or two agents at once mailed the member two links (helper-160).
LINKS_APART = datetime.timedelta(minutes=1)


@dataclass(frozen=True)
class LinkSending:
    """A reset link mailed (`refused` None), or why not; for the hourly limit, when one
    can be mailed again."""

    refused: Refused | None = None
    again_at: datetime.datetime | None = None

    @property
    def sent(self) -> bool:
        return self.refused is None


def link_refused(kind: ResetKind, member) -> LinkSending | None:
    """Why no reset link would be mailed to `member` now (None: it would be). Admin's
    confirmation page reads it too, to say beforehand which members are skipped."""
    if not member.email:
        return LinkSending(Refused.NO_EMAIL)
    if not member.is_active:
        return LinkSending(Refused.INACTIVE)
    if kind.needs_pin and not member.has_pin:
        return LinkSending(Refused.NO_PIN)
    sent = sent_this_hour(kind, member)  # the oldest counted frees the next one
    if len(sent) >= settings.JENCO_RESET_EMAILS_PER_HOUR:
        return LinkSending(Refused.HOURLY_LIMIT, again_at=sent[-1] + datetime.timedelta(hours=1))
    if sent and sent[0] > timezone.now() - LINKS_APART:
        return LinkSending(Refused.JUST_SENT, again_at=sent[0] + LINKS_APART)
    return None


def sent_this_hour(kind: ResetKind, member) -> list[datetime.datetime]:
    """When the links of `kind` mailed to `member` in the last hour went, newest first; as
    many as the hour allows at most."""
    hour_ago = timezone.now() - datetime.timedelta(hours=1)
    return list(
        member.security_events.filter(kind=kind.requested, created__gte=hour_ago)
        .order_by("-created")
        .values_list("created", flat=True)[: settings.JENCO_RESET_EMAILS_PER_HOUR]
    )


@transaction.atomic
def email_reset_link(
    kind: ResetKind, member, *, origin=None, request=None, actor=None
) -> LinkSending:
    """Mail `member` a reset link at the registered address, within the hourly limit.

    Called for the member's own request (from a task, with its `origin`), for a signed-in
    member's one-tap request and by support staff in admin (with their `request` and
    themselves as `actor`), who are told why when nothing was sent.

    Two at once for one member (a double press, two agents) take turns on the member's row,
    so the second sees the first's link: one mail, and the hour's limit counted right.
    """
    Member.objects.hold(member.pk)
    refused = link_refused(kind, member)
    if refused is not None:
        if refused.refused is Refused.HOURLY_LIMIT:
            logger.warning("reset-%s emails throttled for member=%s", kind.name, member)
        return refused
    # Sent by support: the member's activity names the team, as for support's other actions.
    by_support = actor is not None and actor != member
    # And where it went, masked as the member's pages mask it: an "I never got it" call
    # later is answered from the log, even after the address was corrected.
    details = (
        {"team": support.team(actor), "to": credentials.mask_email(member.email)}
        if by_support
        else None
    )
    record(request, kind.requested, member, actor=actor, origin=origin, details=details)
    transaction.on_commit(
        lambda: tasks.mail_reset_link.enqueue(
            what=kind.name, member_pk=member.pk, by_support=by_support
        )
    )
    return LinkSending()


def mail_reset_link(kind: ResetKind, member_pk: int, *, by_support: bool = False) -> None:
    """In the worker: make the link and mail it; no queue row ever holds a working link.
    Sent `by_support`, the mail says JENCO support sent it, not that the member asked."""
    member = Member.objects.filter(pk=member_pk, is_active=True).exclude(email="").first()
    if member is None:
        return
    context = {
        "link": links.emailed(links.reset_path(kind, member)),
        "minutes": settings.JENCO_RESET_LINK_MINUTES,
        "by_support": by_support,
    }
    message = render_member_email(member, kind.link_email, context)
    tasks.deliver_email.call(to=[member.email], **message)


@dataclass(frozen=True)
class Done:
    member: Member
    # The new password was the sub password: it is no longer one (view-only sign-in off).
    sub_password_removed: bool = False


@transaction.atomic
def reset(request, kind: ResetKind, member, new_secret: str, token: str) -> Done:
    """Set the password or PIN from an emailed link: every session of the member ends (the
    secret is part of their session hash), the default flag clears, nobody is signed in.
    Raises LinkAlreadyUsed when the link went void meanwhile.

    A new password equal to the sub password is taken, and the sub password removed (with
    its own notice): refused, the form would tell whoever reads the mailbox whether a guess
    was the sub password; taken, a guess costs the link and a password change the member is
    told of, and a right one leaves no sub password to use.

    Two submissions of one link at once: the second waits for the row lock, then finds the
    token void (the first changed what it is bound to) and loses.

    This browser, if signed in to the member, is signed out here too, as the done page says:
    left to go stale with the new secret, its next page was told "You were signed out on this
    device" (accounts.middleware.ended_elsewhere) above the done page's own words, though the
    member had done it right here (helper-162). Read before the secret changes: afterwards
    the session no longer matches the member.
    """
    signed_in_here = request.user.is_authenticated and request.user.pk == member.pk
    member = Member.objects.hold(member.pk, whole=True)
    if not kind.token.check_token(member, token):
        raise LinkAlreadyUsed
    # One hash verification whether or not the member has a sub password: the time the
    # answer takes says nothing of one (helper-118).
    was_sub_password = kind is PASSWORD and credentials.sub_password_matches(member, new_secret)
    kind.save(member, new_secret)
    record(request, kind.done, member)
    if kind.lifts_lockout:
        lockout.lift(member)
    emails.send_member_email(member, kind.done_email)
    if was_sub_password:
        remove_sub_password(request, member)
    if signed_in_here:
        auth.logout(request)
    return Done(member, sub_password_removed=was_sub_password)
