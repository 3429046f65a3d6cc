import datetime

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import throttle
from accounts.models import SecurityEvent


class Command(BaseCommand):
    @property
    def help(self):
        return _("Delete security events older than JENCO_SECURITY_LOG_DAYS days (run it daily).")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=settings.JENCO_SECURITY_LOG_DAYS)

    def handle(self, *args, days, **options):
        cutoff = timezone.now() - datetime.timedelta(days=days)
        deleted, _rows = SecurityEvent.objects.filter(created__lt=cutoff).delete()
        self.stdout.write(
            _("Deleted %(count)d security events older than %(days)d days.")
            % {"count": deleted, "days": days}
        )
        # The throttles' counters of windows that are over: nothing reads them again.
        self.stdout.write(
            _("Deleted %(count)d expired request counters.") % {"count": throttle.prune()}
        )
