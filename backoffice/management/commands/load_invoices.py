from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from backoffice import invoice_feed
from jenco.commands import InLanguage


class Command(InLanguage):
    @property
    def help(self):
        # A property so the help is translated when it is shown, not when Django loads this.
        return _(
            "Load the billing system's invoice export (CSV, UTF-8, with the header "
            "member_id,number,issued,due,amount_yen,status). A file with any bad line loads "
            "nothing; loading the same file again changes nothing."
        )

    def add_arguments(self, parser):
        parser.add_argument("file", help=_("The CSV file."))

    def handle(self, *args, file, **options):
        try:
            report = invoice_feed.load(file)
        except invoice_feed.FeedRefused as refused:
            for line, reason in refused.problems:
                if line:
                    reason = _("Line %(line)s: %(reason)s") % {"line": line, "reason": reason}
                self.stderr.write(reason)
            raise CommandError(
                ngettext(
                    "%(file)s was not loaded: %(count)s problem (listed above). Nothing was "
                    "changed.",
                    "%(file)s was not loaded: %(count)s problems (listed above). Nothing was "
                    "changed.",
                    len(refused.problems),
                )
                % {"file": file, "count": len(refused.problems)}
            ) from None
        self.stdout.write(
            "\n".join(
                [
                    _("Read %(file)s as %(encoding)s.")
                    % {"file": file, "encoding": report.encoding},
                    _("Created: %(count)s") % {"count": report.created},
                    _("Updated: %(count)s") % {"count": report.updated},
                    _("Unchanged: %(count)s") % {"count": report.unchanged},
                ]
            )
        )
