from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from backoffice import feeds
from jenco.commands import InLanguage


class Command(InLanguage):
    @property
    def help(self):
        return _(
            "Load the market data feed (CSV or JSON: symbol,name,last,change,percent,as_of) "
            "for the ticker. A bad file loads nothing."
        )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file, **options):
        try:
            quotes = feeds.read(file)
        except feeds.FeedError as error:
            raise CommandError(_("Nothing was loaded. %(reason)s") % {"reason": error}) from None
        counts = feeds.load(quotes)
        self.stdout.write(
            _(
                "Loaded %(total)d quotes: %(created)d new, %(updated)d updated, %(unchanged)d unchanged."
            )
            % {"total": len(quotes), **counts}
        )
