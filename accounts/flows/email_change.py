"""Changing the email address: a link to the new address, a notice to the old one.

Each request is a row (accounts.EmailChangeRequest). The limits count rows, so every app
server sees the same counts; the link carries a one-time nonce whose hash is on the row, so
it works once, only while it is the member's newest request, and only until it expires.
"""

import datetime
import hashlib
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Lower, Replace
from django.utils import timezone

from accounts import credentials, emails, links, tasks
from accounts.audit import Kind, record
from accounts.emails import render_member_email
from accounts.flows import SENT_TWICE
from accounts.models import EmailChangeRequest, Member

logger = logging.getLogger("jenco.security")


@dataclass(frozen=True)
class Wait:
    """Over an email-change limit: the member may ask again at `until`."""

    until: datetime.datetime
    # The new address's own limit (links it received from any member), not the member's.
    for_address: bool = False


class EmailChangeLimited(Exception):
    """Over an email-change limit; `wait` says until when and which limit."""

    def __init__(self, wait: Wait):
        super().__init__(wait)
        self.wait = wait


def mailbox_of_another_account(email: str, member=None) -> bool:
    """Whether another account than `member` has an address reaching the same inbox. A staff
    account's must not: "Forgot password?" sends its reset link there, to whoever reads that
    inbox. (Members may share one; families do.)"""
    return any(other.pk != getattr(member, "pk", None) for other in accounts_at_mailbox(email))


def accounts_at_mailbox(email: str, *, certain: bool = False) -> list[Member]:
    """Every account, closed ones too, whose address reaches the inbox `email` does
    (credentials.mailbox_key: case, "+tags", quotes, Gmail's dots, a domain's two
    spellings; `certain`: a "+tag" at Gmail only), by member ID."""
    key = credentials.mailbox_key(email, certain=certain)
    local = key.rpartition("@")[0]
    if not local.replace(".", ""):  # "+x@gmail.com": no start to find it by, and no inbox
        return []
    # Narrowed in the database by the address's start alone: in lower case without quotes,
    # backslashes and dots it begins with the key's own. Not by its domain, which has
    # spellings no list holds (IDNA reads straße.de as strasse.de: helper-118, helper-119).
    # Read one by one, 30,000 addresses at gmail.com took 0.4 s, on the press of a
    # registration link.
    folded = Lower("email")
    for left_out in ('"', "\\", "."):
        folded = Replace(folded, Value(left_out), Value(""))
    rows = (
        Member.objects.annotate(folded=folded)
        .filter(folded__startswith=local.replace(".", ""))
        .only("member_id", "email", "is_active", "preferred_language")
        .order_by("member_id")
    )
    return [row for row in rows if credentials.mailbox_key(row.email, certain=certain) == key]


def email_change_limit(member, new_email: str) -> Wait | None:
    """None if `member` may ask for a link to `new_email` now, else how long to wait.

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
        return Wait(max(waits))
    return address_limit(new_email)


def _free_after(requests, limit: int, window: datetime.timedelta):
    """None if fewer than `limit` of `requests` fall in the last `window`; else when enough
    of them will have left it for one more."""
    recent = requests.filter(created__gt=timezone.now() - window).order_by("-created")
    counted = list(recent.values_list("created", flat=True)[:limit])
    return counted[-1] + window if len(counted) >= limit else None


@transaction.atomic
def request_email_change(request, member, new_email: str) -> None:
    """Mail a confirmation link to the new address and a notice to the old one; the
    address changes only when the link is confirmed. Raises EmailChangeLimited (nothing
    sent, nothing saved) over a limit."""
    # One request of a member at a time, so two sent together cannot both pass the count.
    Member.objects.hold(member.pk)
    mailbox = credentials.mailbox_key(new_email)
    moments_ago = timezone.now() - SENT_TWICE
    if EmailChangeRequest.objects.filter(
        member=member, mailbox=mailbox, created__gte=moments_ago, used_at=None
    ).exists():
        return  # the form sent twice: one link, one notice and one log entry are enough
    wait = email_change_limit(member, new_email)
    if wait is not None:
        logger.warning("email change throttled for member=%s", member)
        raise EmailChangeLimited(wait)
    change = EmailChangeRequest.objects.create(member=member, new_email=new_email, mailbox=mailbox)
    record(request, Kind.EMAIL_CHANGE_REQUESTED, member)
    transaction.on_commit(lambda: tasks.mail_email_change_link.enqueue(change_pk=change.pk))
    emails.send_member_email(member, "email_change_requested", {"new_email": new_email})


def _nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode("utf-8", "surrogatepass")).hexdigest()


def _confirmable(requests):
    """Those of `requests` that a link may still confirm: unused and unexpired."""
    expiry = datetime.timedelta(hours=settings.JENCO_EMAIL_CHANGE_HOURS)
    return requests.filter(used_at__isnull=True, created__gt=timezone.now() - expiry)


def waiting(member) -> EmailChangeRequest | None:
    """The change the member asked for whose link may still confirm it (the newest request,
    unused and unexpired; a newer one voids it), with `expires` set: what Profile shows
    beside the address until it is confirmed (helper-101 saw only the old one)."""
    change = EmailChangeRequest.objects.filter(member=member).order_by("-pk").first()
    expiry = datetime.timedelta(hours=settings.JENCO_EMAIL_CHANGE_HOURS)
    if change is None or change.used_at is not None or change.created + expiry <= timezone.now():
        return None
    change.expires = change.created + expiry
    return change


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
    corrected = change.requested_by_id is not None  # by a supervisor: its link works signed out
    path = links.email_correction_path(nonce) if corrected else links.email_change_path(nonce)
    context = {"link": links.emailed(path), "hours": settings.JENCO_EMAIL_CHANGE_HOURS}
    template = "email_correction_confirm" if corrected else "email_change_confirm"
    # Nobody has proved the new address yet: the mail greets the account by its ID, not by
    # the name on it, which whoever asked typed (a name can carry a link of their choosing).
    addressee = Member(
        member_id=change.member.member_id, preferred_language=change.member.preferred_language
    )
    message = render_member_email(addressee, template, context)
    tasks.deliver_email.call(to=[change.new_email], **message)


def pending_email_change(member, token: str):
    """The request `token` confirms for `member`, or None: not theirs, not a token of ours,
    used, expired or replaced by a newer request."""
    return _pending(EmailChangeRequest.objects.filter(member=member), token)


def confirmable(token: str) -> bool:
    """Whether `token` is the link of a change some member asked for that it may still
    confirm: what a link opened signed out is checked for before the session keeps it."""
    return _pending(EmailChangeRequest.objects.all(), token) is not None


def _pending(requests, token: str):
    """The one of `requests` whose link `token` is, if it may still confirm its change."""
    if not token or len(token) > 200:  # ours are 43 characters; nothing longer is hashed
        return None
    change = _confirmable(requests).filter(nonce_hash=_nonce_hash(token)).first()
    return change if change is not None and _newest(change) else None


def confirmed_just_now(member, token: str) -> bool:
    """Whether `token` changed `member`'s address to the one it has now a moment ago: its
    confirmation sent twice (a double tap), the second finding the link used by the first."""
    return _used_just_now(token).filter(member=member).exists()


def _used_just_now(token: str):
    if not token or len(token) > 200:
        return EmailChangeRequest.objects.none()
    return EmailChangeRequest.objects.filter(
        nonce_hash=_nonce_hash(token),
        used_at__gte=timezone.now() - SENT_TWICE,
        new_email=F("member__email"),
    )


def confirm_email_change(request, member, token: str) -> bool:
    """Apply a confirmed change; False (nothing changed) when `pending_email_change` finds
    no request for the token."""
    with transaction.atomic():
        # Two confirmations at once: the second waits here, then finds the request used.
        fresh = Member.objects.hold(member.pk, whole=True)
        change = pending_email_change(fresh, token)
        if change is None:
            return False
        EmailChangeRequest.objects.filter(pk=change.pk).update(used_at=timezone.now())
        old_email = fresh.email
        fresh.email = change.new_email
        fresh.save(update_fields=["email"])
        if change.requested_by_id is None:
            record(request, Kind.EMAIL_CHANGED, fresh)
        else:
            masked = {
                "old": credentials.mask_email(old_email) if old_email else "",
                "new": credentials.mask_email(fresh.email),
            }
            record(request, Kind.EMAIL_CORRECTED, fresh, details=masked)
        emails.send_member_email(fresh, "email_changed", {"new_email": fresh.email}, to=old_email)
    member.email = fresh.email
    return True


# --- Corrected by a supervisor (issue 17) -----------------------------------------------------


class CorrectionJustStarted(Exception):
    """A correction of the member's address was started a moment ago, to another address
    (`masked`, as the log shows it) by `by` (a staff member ID): the second of two
    supervisors at once, or a supervisor changing their mind within seconds. Nothing was
    done."""

    def __init__(self, masked: str, by: str):
        super().__init__(masked, by)
        self.masked = masked
        self.by = by


@transaction.atomic
def start_correction(request, member, new_email: str, *, actor, reason: str, team: str) -> None:
    """A supervisor, having checked the caller's identity, moves the member to `new_email`:
    the link goes there (it works signed out: the member may have lost the password with the
    mailbox), a notice to the old address, and the address changes only when the link is
    followed. Only the new address's own limit applies (the member's limits count what the
    member asks). Raises EmailChangeLimited, or CorrectionJustStarted.

    The same correction sent again within moments (the button pressed twice) does nothing
    more: a second link would have voided the first, already mailed. Another address within
    those moments is refused: two supervisors at once were each told a link was on its way,
    and only one was ever mailed (helper-113)."""
    Member.objects.hold(member.pk)
    just_started = (
        EmailChangeRequest.objects.filter(
            member=member, requested_by__isnull=False, created__gte=timezone.now() - SENT_TWICE
        )
        .order_by("-created")
        .first()
    )
    if just_started is not None:
        if just_started.mailbox == credentials.mailbox_key(new_email):
            return  # sent twice: one link, one notice and one log entry are enough
        by = just_started.requested_by.member_id if just_started.requested_by else ""
        raise CorrectionJustStarted(credentials.mask_email(just_started.new_email), by)
    wait = address_limit(new_email)
    if wait is not None:
        raise EmailChangeLimited(wait)
    change = EmailChangeRequest.objects.create(
        member=member,
        new_email=new_email,
        mailbox=credentials.mailbox_key(new_email),
        requested_by=actor,
        reason=reason,
    )
    details = {
        "team": team,
        "reason": reason,
        "old": credentials.mask_email(member.email) if member.email else "",
        "new": credentials.mask_email(new_email),
    }
    record(request, Kind.EMAIL_CORRECTION_STARTED, member, actor=actor, details=details)
    transaction.on_commit(lambda: tasks.mail_email_change_link.enqueue(change_pk=change.pk))
    notice = {"new_email": credentials.mask_email(new_email)}
    emails.send_member_email(member, "email_correction_started", notice)


def address_limit(new_email: str) -> Wait | None:
    day = datetime.timedelta(days=1)
    to_address = EmailChangeRequest.objects.filter(mailbox=credentials.mailbox_key(new_email))
    until = _free_after(to_address, settings.JENCO_EMAIL_CHANGE_PER_ADDRESS, day)
    return Wait(until, for_address=True) if until is not None else None


def corrected_just_now(token: str):
    """The supervisor's correction `token` made a moment ago, the address still the member's
    (the button pressed twice, the second finding the link used by the first), or None."""
    return _used_just_now(token).filter(requested_by__isnull=False).first()


def pending_correction(token: str):
    """The supervisor's correction `token` confirms, or None (not one, used, expired,
    replaced by a newer request)."""
    corrections = EmailChangeRequest.objects.filter(
        requested_by__isnull=False, member__is_active=True
    ).select_related("member")
    return _pending(corrections, token)
