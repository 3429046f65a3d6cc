"""A member's own security history, as they read it (Account > Security > Activity).

Read from the security log: the member's events, and failed sign-ins typed with their ID
(logged by what was typed, since no member is signed in). Staff-only entries (an admin filter
refused) are left out; staff who opened the record show as "JENCO support" and their team,
never by name. Nothing secret is in the log to show.
"""

import datetime

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from accounts import credentials, devices
from accounts.audit import Kind, Pause
from accounts.models import SecurityEvent

# What the member reads for each kind of event.
WORDS = {
    Kind.SIGN_IN: _("Signed in with your password"),
    Kind.SIGN_IN_DEFAULT: _("Signed in with the default password"),
    Kind.SIGN_IN_VIEW_ONLY: _("Signed in view only (sub password)"),
    Kind.SIGN_IN_TWO_STEP: _("Signed in with your password and authenticator app"),
    Kind.SIGN_IN_RECOVERY_CODE: _("Signed in with your password and a recovery code"),
    Kind.SIGN_IN_PASSKEY: _("Signed in with a passkey"),
    Kind.SIGN_IN_FAILED: _("Failed sign-in with your member ID"),
    Kind.SIGN_OUT: _("Signed out"),
    Kind.LOCKED_OUT: _("Sign-in paused after too many failures"),
    Kind.PIN_CHANGED: _("PIN changed"),
    Kind.PIN_FAILED: _("Wrong PIN typed"),
    Kind.PIN_LOCKED: _("Changes that need the PIN locked after wrong PINs"),
    Kind.CONFIRM_PASSWORD_FAILED: _("Wrong password typed to confirm a change"),
    Kind.CONFIRM_PASSWORD_LOCKED: _("Changes that need your password locked after wrong passwords"),
    Kind.PASSWORD_CHANGED: _("Password changed"),
    Kind.SUB_PASSWORD_CHANGED: _("Sub password set or changed"),
    Kind.SUB_PASSWORD_REMOVED: _("Sub password removed"),
    Kind.EMAIL_CHANGE_REQUESTED: _("Email change asked for"),
    Kind.EMAIL_CHANGED: _("Email address changed"),
    Kind.LANGUAGE_CHANGED: _("Language changed"),
    Kind.PASSWORD_RESET_REQUESTED: _("Password reset link asked for"),
    Kind.PASSWORD_RESET: _("Password set from an emailed link"),
    Kind.PIN_RESET_REQUESTED: _("PIN reset link asked for"),
    Kind.PIN_RESET: _("PIN set from an emailed link"),
    Kind.MEMBER_VIEWED: _("JENCO support opened your record"),
    Kind.MAILBOX_CODE_SENT: _("Confirmation code emailed"),
    Kind.MAILBOX_CODE_FAILED: _("Wrong confirmation code typed"),
    Kind.MAILBOX_PROVED: _("Email address confirmed with a code"),
    Kind.REGISTERED: _("Account registered"),
    Kind.TWO_STEP_FAILED: _("Wrong two-step code typed"),
    Kind.TWO_STEP_PAUSED: _("Two-step codes paused after wrong codes"),
    Kind.TWO_STEP_ENABLED: _("Two-step verification turned on"),
    Kind.TWO_STEP_DISABLED: _("Two-step verification turned off"),
    Kind.RECOVERY_CODES_REGENERATED: _("New recovery codes made"),
    Kind.PASSKEY_ADDED: _("Passkey added"),
    Kind.PASSKEY_REMOVED: _("Passkey removed"),
    Kind.PASSKEY_FAILED: _("Passkey sign-in failed"),
    Kind.SESSION_ENDED: _("Signed out a device from Security"),
    Kind.OTHER_SESSIONS_ENDED: _("Signed out every other device"),
    Kind.LOCKOUT_CLEARED: _("JENCO support lifted a sign-in pause"),
    Kind.EMAIL_CORRECTION_STARTED: _("JENCO support started correcting your email address"),
    Kind.EMAIL_CORRECTED: _("Email address corrected"),
    Kind.TWO_STEP_RESET: _("JENCO support turned two-step verification off"),
    Kind.MEMBER_DEACTIVATED: _("Account deactivated by JENCO support"),
    Kind.MEMBER_REACTIVATED: _("Account reactivated by JENCO support"),
    Kind.MEMBER_EDITED: _("JENCO support edited your details"),
}
# A passkey as the second step (logged as SIGN_IN_PASSKEY, with "after_password").
PASSKEY_AFTER_PASSWORD = _("Signed in with your password and a passkey")
HIDDEN = [Kind.ADMIN_LOOKUP_REFUSED]
# Shown marked as failures.
FAILURES = (*SecurityEvent.FAILED_SIGN_INS, Kind.PIN_FAILED, Kind.CONFIRM_PASSWORD_FAILED)


def events(member):
    """The member's history within JENCO_ACTIVITY_DAYS, newest first (a queryset to page)."""
    since = timezone.now() - datetime.timedelta(days=settings.JENCO_ACTIVITY_DAYS)
    typed = credentials.printable(member.member_id)
    return (
        SecurityEvent.objects.filter(
            Q(member=member)
            # Logged against the ID typed (it may name nobody): the failures, and the pause.
            # Not a wrong captcha (SIGN_IN_CAPTCHA_FAILED): it never reached the password, so
            # it tells the member nothing, and anyone who knows the ID could write it without
            # reading the picture, page after page, over the entries that matter. Staff see
            # it in the security log.
            | Q(
                kind__in=[Kind.SIGN_IN_FAILED, Kind.LOCKED_OUT], member_id_typed=typed, member=None
            ),
            created__gte=since,
        )
        .exclude(kind__in=HIDDEN)
        # Repeated views, as logged before only each half hour's first was (viewed_lately).
        .exclude(kind=Kind.MEMBER_VIEWED, details__has_key="repeat")
        .order_by("-created", "-pk")
    )


# The same kinds, when staff did it for the member.
STAFF_WORDS = {
    Kind.OTHER_SESSIONS_ENDED: _("JENCO support signed you out on every device"),
    Kind.PASSWORD_RESET_REQUESTED: _("JENCO support sent a password reset link"),
    Kind.PIN_RESET_REQUESTED: _("JENCO support sent a PIN reset link"),
}


# The staff groups' names (accounts.flows.support.team keeps them as stored), in the
# member's language; a group added in admin shows as it is named.
TEAMS = {"Support": _("Support"), "Supervisor": _("Supervisor")}
# What accounts.flows.support.team logs for an agent in no group (a superuser): no team to
# name beside 「JENCOサポート」.
NO_TEAM = "JENCO"


def listed(words) -> str:
    """Words as a list in the reader's language: "sign-in, PIN", 「ログイン、PINコード」."""
    return pgettext("between the items of a list", ", ").join(str(word) for word in words)


def team_names(names: str) -> str:
    """The staff groups' names as logged ("Support, Supervisor"), in the reader's language;
    empty for an agent in no team."""
    return listed(TEAMS.get(name, name) for name in names.split(", ") if name and name != NO_TEAM)


def _lifted(event):
    """Support's lifting of a lock on changes (a PIN's, a staff account's password's) is told
    as that, alone or beside a sign-in pause. Entries from before "lifted" was logged, and
    sign-in pauses alone, read as they always did."""
    lifted = event.details.get("lifted") if event.kind == Kind.LOCKOUT_CLEARED else None
    if not lifted or Pause.PIN not in lifted:
        return None
    # The lock is on what the account confirms with: the PIN, or without one the password.
    with_pin = event.member is None or event.member.has_pin
    if lifted == [Pause.PIN]:
        if with_pin:
            return _("JENCO support lifted the lock on changes that need your PIN")
        return _("JENCO support lifted the lock on changes that need your password")
    if with_pin:
        return _("JENCO support lifted a sign-in pause and the lock on changes that need your PIN")
    return _("JENCO support lifted a sign-in pause and the lock on changes that need your password")


def _passkey_after_password(event) -> bool:
    return event.kind == Kind.SIGN_IN_PASSKEY and bool(event.details.get("after_password"))


def _language_changed(event):
    """Which language the account was changed to; entries from before it was logged read
    "Language changed"."""
    name = dict(settings.LANGUAGES).get(event.details.get("language", ""))
    if event.kind != Kind.LANGUAGE_CHANGED or name is None:
        return None
    return _("Language changed to %(language)s") % {"language": name}


def entry(event) -> dict:
    """One line of the page: when, what, from which device and address, and by whom if staff.
    Staff's device and address are theirs, not the member's: neither is shown."""
    by_staff = event.actor_id is not None and event.actor_id != event.member_id
    browser, system = devices.describe(event.user_agent) if not by_staff else ("", "")
    return {
        "when": event.created,
        "what": _lifted(event)
        or (by_staff and STAFF_WORDS.get(event.kind))
        or (_passkey_after_password(event) and PASSKEY_AFTER_PASSWORD)
        or _language_changed(event)
        or WORDS.get(event.kind, event.get_kind_display()),
        "kind": event.kind,
        "browser": browser,
        "system": system,
        "ip_address": event.ip_address if not by_staff else None,
        "team": team_names(event.details.get("team", "")) if by_staff else "",
        "by_staff": by_staff,
        "failed": event.kind in FAILURES,
    }
