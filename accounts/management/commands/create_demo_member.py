from django.conf import settings
from django.core.mail.backends import console, filebased
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from accounts.ja_accounts import ja_member
from accounts.models import Member

DEMO_MEMBER_ID = "JPN1234567"
DEMO_EMAIL = "hanako@example.com"


class Command(BaseCommand):
    @property
    def help(self):
        return _("Create a demo member migrated from JA, on the published default credentials.")

    def handle(self, *args, **options):
        demo = Member.objects.filter(member_id=DEMO_MEMBER_ID).first()
        if demo is not None:
            # The registered address as it is now: the demo member may have changed it.
            self.stdout.write(
                _(
                    "Demo member %(member_id)s already exists. If you changed its password, use "
                    "“Forgot password?” with the email %(email)s."
                )
                % {"member_id": DEMO_MEMBER_ID, "email": demo.email or "—"}
                + where_mail_goes()
            )
            return
        ja_member(
            DEMO_MEMBER_ID,
            name="山田 花子",
            email=DEMO_EMAIL,
            id_document_number="AB12345678",
        ).save()
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Demo member created: member ID %(member_id)s, password %(password)s, "
                    "PIN %(pin)s, email %(email)s."
                )
                % {
                    "member_id": DEMO_MEMBER_ID,
                    "email": DEMO_EMAIL,
                    "password": settings.JENCO_DEFAULT_PASSWORDS[0],
                    "pin": settings.JENCO_DEFAULT_PIN,
                }
            )
        )


def where_mail_goes() -> str:
    """Where this configuration puts the reset link's email: the console under `make run`,
    a folder under `make serve`; a real mailbox otherwise, which needs no word."""
    mailer = settings.MAILERS["default"]
    backend = import_string(mailer["BACKEND"])
    if issubclass(backend, filebased.EmailBackend):  # a subclass of the console's: first
        return " " + _("Emails are written to files in %(folder)s.") % {
            "folder": mailer["OPTIONS"]["file_path"]
        }
    if issubclass(backend, console.EmailBackend):
        return " " + _("Emails are printed in this console.")
    return ""
