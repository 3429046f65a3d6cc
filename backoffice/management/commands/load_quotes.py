from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from backoffice import feeds


class Command(BaseCommand):
    @property
    def help(self):
        return _(
            "Load the market data feed (CSV or JSON: symbol,name,last,change,percent,as_of) "
            "for the ticker. A bad file loads nothing."
        )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--language", choices=[code for code, _name in settings.LANGUAGES], default=None
        )

    def handle(self, *args, file, language, **options):
        with translation.override(language or settings.LANGUAGE_CODE):
            try:
                quotes = feeds.read(file)
            except feeds.FeedError as error:
                raise CommandError(
                    _("Nothing was loaded. %(reason)s") % {"reason": error}
                ) from None
            counts = feeds.load(quotes)
            self.stdout.write(
                _(
                    "Loaded %(total)d quotes: %(created)d new, %(updated)d updated, %(unchanged)d unchanged."
                )
                % {"total": len(quotes), **counts}
            )
