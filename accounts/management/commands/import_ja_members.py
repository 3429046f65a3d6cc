import sys

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from accounts import ja_import
from jenco.commands import InLanguage


class Command(InLanguage):
    @property
    def help(self):
        # A property so the help is translated when it is shown, not when Django loads this.
        return _(
            "Import members from a JA export (CSV with the columns member_id, name, email and "
            "optionally id_document_number and preferred_language). New members start on the "
            "published default password and PIN. Running it again is safe: it updates only "
            "members who have not changed their PIN or password yet."
        )

    def add_arguments(self, parser):
        parser.add_argument("file", help=_("The CSV file."))
        parser.add_argument(
            "--encoding",
            help=_(
                "The file's encoding, for example utf-8 or cp932. By default UTF-8 (with or "
                "without a BOM) is tried, then CP932 (Shift_JIS as Excel in Japan writes it)."
            ),
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help=_("Check every row and report what would happen, without writing anything."),
        )

    def handle(self, *args, file, encoding, dry_run, **options):
        try:
            export = ja_import.scan(file, encoding)
        except ja_import.ImportFileError as error:
            raise CommandError(error) from None
        self.stdout.write(
            _("Reading %(file)s as %(encoding)s (rows: %(rows)s).")
            % {"file": file, "rows": export.rows, "encoding": export.encoding_label}
        )

        def rejected(rejection: ja_import.Rejection) -> None:
            with tqdm.external_write_mode(file=sys.stderr):
                self.stderr.write(
                    _("Line %(line)s: %(reason)s")
                    % {"line": rejection.line, "reason": rejection.reason}
                )

        # The bar is for a person watching; logs and cron mail get the summary only.
        with tqdm(
            total=export.rows, unit=_("rows"), file=sys.stderr, disable=not self.stderr.isatty()
        ) as bar:
            report = ja_import.import_members(
                export, dry_run=dry_run, on_rejected=rejected, on_progress=bar.update
            )
        self.summarise(report, dry_run)
        if report.rejected:
            if dry_run:
                message = _("Rows that would be rejected: %(count)s (listed above).")
            elif report.created or report.updated or report.unchanged:
                message = _(
                    "Rows rejected: %(count)s (listed above). The other rows were imported."
                )
            else:
                message = _("Rows rejected: %(count)s (listed above). No row was imported.")
            # Not a CommandError: the good rows are in, and "CommandError: …" reads as a crash.
            # The exit status still tells a script that something needs fixing.
            self.stderr.write(self.style.WARNING(message % {"count": report.rejected}))
            raise SystemExit(1)

    def summarise(self, report: ja_import.ImportReport, dry_run: bool) -> None:
        if dry_run:
            self.stdout.write(_("Dry run: nothing was written. The import would give:"))
        lines = [
            _("Created: %(count)s") % {"count": report.created},
            _("Updated: %(count)s") % {"count": report.updated},
            _("Unchanged: %(count)s") % {"count": report.unchanged},
            "  " + _("already up to date: %(count)s") % {"count": report.up_to_date},
            "  "
            + _("skipped, already changed their PIN or password: %(count)s")
            % {"count": report.changed_credentials},
            "  " + _("skipped, not a JA member: %(count)s") % {"count": report.not_from_ja},
            _("Rejected: %(count)s") % {"count": report.rejected},
        ]
        self.stdout.write("\n".join(lines))
