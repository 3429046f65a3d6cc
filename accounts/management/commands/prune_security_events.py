from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from accounts import throttle
from accounts.management.commands.housekeeping import prune_security_events


class Command(BaseCommand):
    """Two of housekeeping's steps, kept for scripts that call this name."""

    @property
    def help(self):
        return _(
            "Delete security events older than JENCO_SECURITY_LOG_DAYS days and expired "
            "request counters (manage.py housekeeping does this and more)."
        )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=settings.JENCO_SECURITY_LOG_DAYS)

    def handle(self, *args, days, **options):
        self.stdout.write(
            _("Deleted %(count)d security events older than %(days)d days.")
            % {"count": prune_security_events(days), "days": days}
        )
        self.stdout.write(
            _("Deleted %(count)d expired request counters.") % {"count": throttle.prune()}
        )
