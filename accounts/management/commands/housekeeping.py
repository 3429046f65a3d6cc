"""Keep every table bounded, and queue again what a dead worker left: run hourly
(deploy/jenco-housekeeping.timer). Each step deletes only rows nothing reads any more, so it
runs safely while the site serves, and a second run finds nothing to do."""

import contextlib
import datetime
from importlib import import_module

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from captcha.models import CaptchaStore
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import tasks, throttle
from accounts.flows import registration
from accounts.models import EmailChangeRequest, MailboxCode, PendingRegistration, SecurityEvent
from jenco.commands import InLanguage

DAY = datetime.timedelta(days=1)


def prune_captchas() -> int:
    # Sign-in requests no longer sweep these (accounts.forms.DigitsCaptchaField): this does.
    deleted, _rows = CaptchaStore.objects.filter(expiration__lte=timezone.now()).delete()
    return deleted


def prune_sessions() -> int:
    """Expired sessions: the database table's, whichever engine is configured (with Redis
    sessions the table holds only what an earlier configuration left), and the configured
    engine's own sweep (cache and signed-cookie sessions expire by themselves)."""
    deleted, _rows = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if not hasattr(store, "get_model_class"):
        with contextlib.suppress(NotImplementedError):
            store.clear_expired()
    return deleted


def prune_lockouts() -> int:
    """Failure records older than the cool-off: no lockout counts them any more."""
    cutoff = timezone.now() - get_cool_off()
    deleted, _rows = AccessAttempt.objects.filter(attempt_time__lt=cutoff).delete()
    return deleted


def prune_security_events(days: int) -> int:
    cutoff = timezone.now() - datetime.timedelta(days=days)
    deleted, _rows = SecurityEvent.objects.filter(created__lt=cutoff).delete()
    return deleted


def prune_mailbox_codes() -> int:
    """Codes older than a day: past their minutes and out of the hourly count."""
    keep = max(DAY, datetime.timedelta(minutes=settings.JENCO_MAILBOX_CODE_MINUTES))
    deleted, _rows = MailboxCode.objects.filter(created__lt=timezone.now() - keep).delete()
    return deleted


def prune_email_changes() -> int:
    """Requests out of the longest window they are counted in (a day) and past their link's
    lifetime (JENCO_EMAIL_CHANGE_HOURS)."""
    keep = max(DAY, datetime.timedelta(hours=settings.JENCO_EMAIL_CHANGE_HOURS))
    deleted, _rows = EmailChangeRequest.objects.filter(created__lt=timezone.now() - keep).delete()
    return deleted


def prune_registrations() -> int:
    """Registrations past their link's lifetime (JENCO_REGISTRATION_HOURS): unverified ones
    expired, verified ones made their member already."""
    cutoff = timezone.now() - registration.lifetime()
    deleted, _rows = PendingRegistration.objects.filter(created__lte=cutoff).delete()
    return deleted


class Command(InLanguage):
    @property
    def help(self):
        return _(
            "Delete expired captchas, sessions, lockout records, mailbox codes, email change "
            "requests, expired registrations, request counters, old security events and "
            "finished tasks, and queue again the tasks of a stopped worker (run it hourly)."
        )

    def handle(self, *args, **options):
        for line in self.run():
            self.stdout.write(line)

    def run(self):
        days = settings.JENCO_SECURITY_LOG_DAYS
        # Tasks first: a requeued mail goes out while the rest is swept.
        yield _("Tasks a stopped worker left unfinished, queued again: %(count)d.") % {
            "count": tasks.requeue_stale()
        }
        yield _("Finished tasks deleted: %(count)d.") % {"count": tasks.prune_finished()}
        yield _("Expired captchas deleted: %(count)d.") % {"count": prune_captchas()}
        yield _("Expired sessions deleted: %(count)d.") % {"count": prune_sessions()}
        yield _("Expired lockout records deleted: %(count)d.") % {"count": prune_lockouts()}
        yield _("Expired request counters deleted: %(count)d.") % {"count": throttle.prune()}
        yield _("Old mailbox codes deleted: %(count)d.") % {"count": prune_mailbox_codes()}
        yield _("Old email change requests deleted: %(count)d.") % {"count": prune_email_changes()}
        yield _("Expired registrations deleted: %(count)d.") % {"count": prune_registrations()}
        yield _("Security events older than %(days)d days deleted: %(count)d.") % {
            "count": prune_security_events(days),
            "days": days,
        }
