"""`manage.py create_staff JPN9000002 --email agent@example.jp --group Support`.

A staff account that is not a superuser, in one of the groups data migrations made: what
a support agent is given (README: "Support staff"). The password is asked twice (or read from
JENCO_STAFF_PASSWORD, for scripts) and must pass the same rules as a member's.
"""

import getpass
import os

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from accounts import credentials
from accounts.flows import email_change
from accounts.forms import NAME_REFUSED, valid_email
from accounts.models import Member

PASSWORD_VARIABLE = "JENCO_STAFF_PASSWORD"


class Command(BaseCommand):
    @property
    def help(self):
        return _("Create a staff account (not a superuser) in a group, such as Support.")

    def add_arguments(self, parser):
        # In the language the command's description is in (Django's own options stay English).
        parser.add_argument("member_id", help=_("the staff account's ID: JPN and 7 digits"))
        parser.add_argument(
            "--email",
            required=True,
            help=_("its own address, where its password reset links go (no other account's)"),
        )
        parser.add_argument("--group", required=True, help=_("Support or Supervisor"))
        parser.add_argument("--name", default="", help=_("the name its emails greet"))
        parser.add_argument(
            "--language",
            choices=[code for code, _name in settings.LANGUAGES],
            default=None,
            help=_("the account's language (admin, emails) and this command's; default ja"),
        )

    def handle(self, *args, member_id, email, group, name, language, **options):
        with translation.override(language or settings.LANGUAGE_CODE):
            member_id = credentials.normalise_member_id(member_id)
            # As the JA import and registration read them: full-width letters and ＠ in the
            # address, a blank one refused (reset links and notices go there); a line break in
            # the name a space (the emails' greeting prints it), and a control or invisible
            # character refused.
            try:
                email = valid_email(email)
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from None
            name = credentials.clean_name(name)
            if name is None:
                raise CommandError(str(NAME_REFUSED))
            if not credentials.is_member_id(member_id):
                raise CommandError(str(credentials.MEMBER_ID_FORMAT_ERROR))
            if Member.objects.filter(member_id=member_id).exists():
                raise CommandError(_("%(member_id)s already exists.") % {"member_id": member_id})
            if email_change.mailbox_of_another_account(email):
                # Forgot password sends a reset link to the ID's registered address: whoever
                # reads that mailbox, a member included, could take the staff account over.
                raise CommandError(
                    _(
                        "%(email)s reaches the same inbox as another account's address. Give "
                        "the staff account an address of its own."
                    )
                    % {"email": email}
                )
            staff_group = Group.objects.filter(name=group).first()
            if staff_group is None:
                known = ", ".join(Group.objects.order_by("name").values_list("name", flat=True))
                raise CommandError(
                    _("There is no group %(group)s. Groups: %(known)s.")
                    % {"group": group, "known": known or "—"}
                )
            language = language or settings.LANGUAGE_CODE
            staff = Member(
                member_id=member_id,
                email=email,
                name=name,
                is_staff=True,
                preferred_language=language,
            )
            try:  # all of it before the password is asked for, so nothing is typed in vain
                staff.full_clean(exclude=["password"])
                password = self.password()
                validate_password(password, staff)
            except ValidationError as error:
                raise CommandError(" ".join(dict.fromkeys(_named(error)))) from None  # each once
            with transaction.atomic():
                staff = Member.objects.create_user(
                    member_id,
                    email=email,
                    password=password,
                    name=name,
                    is_staff=True,
                    preferred_language=language,
                )
                staff.groups.add(staff_group)
            # What was stored, as normalised: the operator sees the address reset links go to.
            self.stdout.write(
                _(
                    "Staff account %(member_id)s created in the group %(group)s: address "
                    "%(email)s, name %(name)s, language %(language)s."
                )
                % {
                    "member_id": member_id,
                    "group": staff_group.name,
                    "email": email,
                    "name": name or "—",
                    "language": language,
                }
            )

    def password(self) -> str:
        if os.environ.get(PASSWORD_VARIABLE):
            return os.environ[PASSWORD_VARIABLE]
        first = getpass.getpass(_("Password: "))
        if first != getpass.getpass(_("Password (again): ")):
            raise CommandError(_("The two passwords differ. Nothing was created."))
        return first


def _named(error: ValidationError) -> list[str]:
    """The refusal's messages, each field's named ("name: Ensure this value has at most 150
    characters"): a model check says which field only by its place on a form."""
    if not hasattr(error, "error_dict"):
        return error.messages
    fields = {
        field.name: field.verbose_name
        for field in Member._meta.get_fields()
        if hasattr(field, "verbose_name")
    }
    return [
        _("%(label)s: %(value)s") % {"label": fields.get(name, name), "value": message}
        for name, messages in error.message_dict.items()
        for message in messages
    ]
