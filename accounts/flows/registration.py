"""Registration (/register/): a pending registration, the emailed link, then the new member.

The request checks the address's limit, hashes the password and the PIN, stores a
PendingRegistration and queues the mail; the answer is the same whatever happens after. The
worker decides what the mail says: a link to finish registering, or, when the address already
belongs to a member, that it does and which member IDs it has (DESIGN: responses never reveal
whether an email exists; the mail may, to the mailbox's owner). The member is created only
when the link is followed and the password chosen when registering typed on its page (mail
scanners open links, and a stranger who registered someone else's address must not get an
account there when its owner presses a button: helper-167), with the next free member ID.
"""

import datetime
import hashlib
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from accounts import credentials, emails, links, lockout, tasks, throttle
from accounts.audit import Kind, record, request_origin
from accounts.emails import render_member_email
from accounts.flows import email_change
from accounts.models import Member, PendingRegistration

logger = logging.getLogger("jenco.security")

HOUR, DAY = 3600, 86400
# Tries at a member ID before giving up: each lost race means another registration took the
# ID tried, so this many at once would all have to finish between two tries.
ID_TRIES = 50
LAST_MEMBER_NUMBER = 9_999_999
# PostgreSQL advisory lock key held while a registration checks its address and chooses a
# new member ID (any constant of ours).
MEMBER_ID_LOCK = 0x4A454E43  # "JENC"
# Wrong passwords on a registration link's page before the link is used up: whoever reads
# the mailbox, if not the one who registered, gets no more guesses at their password.
REGISTRATION_PASSWORD_TRIES = 5


class RegistrationLimited(Exception):
    """Too many registrations from this address this hour: nothing stored, nothing sent."""


class MemberIdsExhausted(RuntimeError):
    """No member ID is left above the highest in use (JPN9999999 is taken)."""


@dataclass(frozen=True)
class Verification:
    """What following a registration link did: `member` is the new member; or the link was
    not (or no longer) usable; or the address got an account since (`address_taken`); or
    the password typed was not the one chosen when registering (`tries_left` more before
    the link is used up)."""

    member: Member | None = None
    address_taken: bool = False
    wrong_password: bool = False
    tries_left: int = 0


def is_open() -> bool:
    """Whether an operator left registration open (JENCO_REGISTRATION_OPEN)."""
    return settings.JENCO_REGISTRATION_OPEN


def lifetime() -> datetime.timedelta:
    return datetime.timedelta(hours=settings.JENCO_REGISTRATION_HOURS)


def _open(registrations):
    """Those of `registrations` a link may still complete: unused and unexpired."""
    return registrations.filter(used_at__isnull=True, created__gt=timezone.now() - lifetime())


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def register(request, *, name: str, email: str, password: str, pin: str, language: str) -> None:
    """Store a registration and queue its email. Raises RegistrationLimited when this address
    sent too many this hour; otherwise the caller answers the same whatever happens here."""
    ip, _user_agent = request_origin(request)
    if throttle.address_over_limit("register", ip, settings.JENCO_REGISTRATION_PER_ADDRESS, HOUR):
        logger.warning("registration throttled for ip=%s", ip)
        raise RegistrationLimited
    # Hashed before any limit that says nothing to the sender, so every answer costs the same,
    # and outside the transaction, so no write lock waits for Argon2.
    password_hash, pin_hash = make_password(password), make_password(pin)
    mailbox = credentials.mailbox_key(email)
    if throttle.over_limit("register-email", mailbox, settings.JENCO_REGISTRATION_PER_EMAIL, DAY):
        logger.warning("registration emails throttled for one mailbox, ip=%s", ip)
        return
    with transaction.atomic():
        registration = PendingRegistration.objects.create(
            name=name,
            email=email,
            preferred_language=language,
            password=password_hash,
            pin=pin_hash,
        )
        transaction.on_commit(
            lambda: tasks.mail_registration_link.enqueue(registration_pk=registration.pk)
        )


def _addressee(registration: PendingRegistration) -> Member:
    """Whom the registration's mail speaks to (name, language): a member not yet saved."""
    return Member(
        name=registration.name,
        email=registration.email,
        preferred_language=registration.preferred_language,
    )


def _accounts_at(email: str) -> list[Member]:
    """The accounts whose address surely reaches the inbox `email` does, closed ones too:
    one inbox, one account (Gmail's `t.aro@` and `taro+jenco@` registered a second account
    beside `taro@gmail.com`, and a closed account's address a new one: helper-112). A "+tag"
    elsewhere is another address: on some servers another person's, who must not be mailed
    the IDs at `taro@` (helper-118). A family sharing an inbox asks support."""
    return email_change.accounts_at_mailbox(email, certain=True)


def mail_registration_link(registration_pk: int, *, retry: bool = False) -> None:
    """In the worker: mail the link that completes the registration, or, when the address
    already belongs to a member, say so instead. The link's token exists only in the mail;
    the database keeps its SHA-256. A retry makes a new link, voiding any earlier one.
    """
    rows = _open(PendingRegistration.objects.filter(pk=registration_pk))
    if not retry:
        rows = rows.filter(token_hash__isnull=True)  # a task run twice mails once
    registration = rows.first()
    if registration is None:
        return
    addressee = _addressee(registration)
    accounts = _accounts_at(registration.email)
    if accounts:
        open_ones = [account for account in accounts if account.is_active]
        # A closed account is named only where the inbox has no open one.
        member_ids = [account.member_id for account in open_ones or accounts]
        # One ID named: "Forgot password?" fills it in, as the sign-in page's does, from the
        # link's fragment (which no server is sent); the mail names it already.
        only_id = member_ids[0] if len(member_ids) == 1 else ""
        context = {
            "member_ids": member_ids,
            "login": links.emailed(links.login_path()),
            "forgot": links.emailed(links.forgot_password_path(only_id)),
        }
        # The inbox's owner reads it in the language they chose, not the form's.
        owner = (open_ones or accounts)[0]
        template = "registration_exists" if open_ones else "registration_closed"
        message = render_member_email(owner, template, context)
        tasks.deliver_email.call(to=[registration.email], **message)
        rows.delete()  # nothing to complete; after the mail, so a failed send is retried
        return
    token = secrets.token_urlsafe(32)
    if not rows.update(token_hash=_token_hash(token)):
        return
    context = {
        "link": links.emailed(links.registration_path(token)),
        "hours": settings.JENCO_REGISTRATION_HOURS,
    }
    message = render_member_email(addressee, "registration_link", context)
    tasks.deliver_email.call(to=[registration.email], **message)


def pending_registration(token: str) -> PendingRegistration | None:
    """The registration `token` completes, or None: not a token of ours, used or expired."""
    if not token or len(token) > 200:  # ours are 43 characters; nothing longer is hashed
        return None
    return _open(PendingRegistration.objects.filter(token_hash=_token_hash(token))).first()


def completed(token: str) -> bool:
    """Whether `token`'s link already created its member: opened again, it says so rather
    than offering to register again (helper-97)."""
    if not token or len(token) > 200:
        return False
    found = PendingRegistration.objects.filter(token_hash=_token_hash(token))
    return found.filter(used_at__isnull=False, member__isnull=False).exists()


def complete_registration(request, token: str, password: str) -> Verification:
    """Create the member the registration describes, with the next free member ID, and mail
    them their ID, if `password` is the one chosen when registering. The link is used up
    whatever the outcome but a wrong password (until REGISTRATION_PASSWORD_TRIES of them);
    nothing changes when it was already used, expired or not ours."""
    if not token or len(token) > 200:
        return Verification()
    with transaction.atomic():
        # Two presses at once: the second waits for the row, then finds it used.
        registration = (
            _open(PendingRegistration.objects.select_for_update())
            .filter(token_hash=_token_hash(token))
            .first()
        )
        if registration is None:
            return Verification()
        rows = PendingRegistration.objects.filter(pk=registration.pk)
        if not check_password(password, registration.password):
            wrong = registration.wrong_passwords + 1
            if wrong >= REGISTRATION_PASSWORD_TRIES:
                rows.update(wrong_passwords=wrong, used_at=timezone.now(), password="", pin="")
                return Verification()
            rows.update(wrong_passwords=wrong)
            return Verification(wrong_password=True, tries_left=REGISTRATION_PASSWORD_TRIES - wrong)
        # One registration at a time from here: the address is read free after the last one
        # committed (links for one address pressed together each found it free: helper-102).
        _one_registration_at_a_time()
        if _accounts_at(registration.email):  # registered by another link meanwhile
            rows.update(used_at=timezone.now(), password="", pin="")
            return Verification(address_taken=True)
        member = _create_member(registration)
        # IDs are handed out in order, so the next one can be guessed at before it is anyone's:
        # those failures stay with the addresses that typed them, not with the new member.
        lockout.lift(member)
        rows.update(used_at=timezone.now(), member=member, password="", pin="")
        record(request, Kind.REGISTERED, member)
        emails.send_member_email(member, "registered", {"login": links.emailed(links.login_path())})
    return Verification(member=member)


def next_member_id(*, after: str = "") -> str:
    """The member ID after the highest a member holds, or after `after` if that is higher
    (IDs are stored canonical: JPN + 7 digits, so the highest string is the highest number).
    Staff accounts are left out: their IDs (JPN9000001 in the README) are not where members'
    numbers continue."""
    members = Member.objects.filter(member_id__startswith="JPN", is_staff=False, is_superuser=False)
    highest = max(members.aggregate(Max("member_id"))["member_id__max"] or "", after)
    number = int(highest[3:]) + 1 if highest else 1
    if number > LAST_MEMBER_NUMBER:
        raise MemberIdsExhausted
    return f"JPN{number:07d}"


def _one_registration_at_a_time() -> None:
    """Wait for any other registration's transaction to end, and keep the next waiting until
    this one's does: a transaction-level advisory lock on PostgreSQL (taken again by the same
    transaction, it is simply held twice). SQLite's IMMEDIATE transactions already let one
    writer in at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [MEMBER_ID_LOCK])


def _create_member(registration: PendingRegistration) -> Member:
    """Save the new member under the next free member ID.

    Registrations completed at the same moment would read the same highest ID. On SQLite the
    write lock (IMMEDIATE transactions) lets one at a time in; on PostgreSQL a transaction-level
    advisory lock does, so the highest ID is read after the previous registration committed.
    An ID already taken (a staff account, or a member saved by another path, such as the JA
    import, which does not take the lock) is passed over before it is tried. Should one be
    taken in between, the unique index refuses it: the insert rolls back to its savepoint
    and the ID after it is tried. Never two members with one ID.
    """
    _one_registration_at_a_time()
    member_id = ""
    for _try in range(ID_TRIES):
        member_id = next_member_id(after=member_id)
        # An ID someone holds (a staff account: next_member_id leaves them out) is passed
        # over before an INSERT is sent for it: PostgreSQL logs a statement that fails on
        # the unique key with its VALUES, the new member's password and PIN hashes, address
        # and name among them (helper-150). The unique key still settles a race.
        if Member.objects.filter(member_id=member_id).exists():
            continue
        member = Member(
            member_id=member_id,
            email=registration.email,
            name=registration.name,
            preferred_language=registration.preferred_language,
            password=registration.password,  # hashed at registration
            pin=registration.pin,
            origin=Member.Origin.REGISTRATION,
        )
        try:
            with transaction.atomic():
                member.save(force_insert=True)
        except IntegrityError:
            if not Member.objects.filter(member_id=member_id).exists():
                raise  # something else than the ID
            logger.info("member ID %s is taken; trying the next", member_id)
            continue
        return member
    raise RuntimeError(f"no free member ID after {ID_TRIES} tries")
