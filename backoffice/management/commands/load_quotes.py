from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from backoffice import quote_feed


class Command(BaseCommand):
    @property
    def help(self):
        # A property so the help is translated when it is shown, not when Django loads this.
        return _(
            "Load market quotes for the ticker from a CSV or JSON file (UTF-8) with the columns "
            "symbol, name, last, change, percent and as_of. Each row replaces its symbol's "
            "quote. A file with any bad line is refused whole, and loading the same file "
            "again changes nothing."
        )

    def add_arguments(self, parser):
        parser.add_argument("file", help=_("The CSV or JSON file."))
        parser.add_argument(
            "--language",
            choices=[code for code, _name in settings.LANGUAGES],
            help=_("The language of the messages (default: the site's, Japanese)."),
        )

    def handle(self, *args, file, language, **options):
        if language:
            with translation.override(language):
                return self.load(file)
        return self.load(file)

    def load(self, file):
        try:
            report = quote_feed.load(quote_feed.read(file))
        except quote_feed.FeedError as error:
            raise CommandError(_("%(reason)s Nothing was loaded.") % {"reason": error}) from None
        except quote_feed.BadRows as bad:
            for problem in bad.problems:
                self.stderr.write(
                    _("Line %(line)s: %(reason)s")
                    % {"line": problem.line, "reason": problem.reason}
                )
            raise CommandError(
                _("Nothing was loaded: correct the lines above and run the command again.")
            ) from None
        self.stdout.write(
            "\n".join(
                [
                    _("Quotes added: %(count)s") % {"count": report.created},
                    _("Quotes replaced: %(count)s") % {"count": report.updated},
                    _("Quotes unchanged: %(count)s") % {"count": report.unchanged},
                ]
            )
        )
