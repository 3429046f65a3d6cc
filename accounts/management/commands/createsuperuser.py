"""Django's createsuperuser, taking a member ID typed any way, in one language, and an
address of the account's own, as create_staff does.

Every form of ours reads `ｊｐｎ９０００００１` or `jpn 9000001` as JPN9000001; Django's command
checked the text as typed and refused it. Its own words (prompts, "Password (again)", errors)
exist in English only, while the field names came out in the site's Japanese: the command now
speaks English throughout, as Django's other management commands do.
"""

import os

from django.contrib.auth.management.commands import createsuperuser
from django.contrib.auth.password_validation import validate_password
from django.core import exceptions
from django.core.management.base import CommandError
from django.utils import translation

from accounts import credentials
from accounts.flows import email_change
from accounts.forms import STAFF_MAILBOX_TAKEN


class Command(createsuperuser.Command):
    def handle(self, *args, **options):
        name = self.UserModel.USERNAME_FIELD
        typed = options.get(name)
        if not typed and not options["interactive"]:  # as Django reads it: --noinput only
            typed = os.environ.get(f"DJANGO_SUPERUSER_{name.upper()}")
        if typed:
            options[name] = credentials.normalise_member_id(typed)
        email = options.get("email")
        if not email and not options["interactive"]:
            email = os.environ.get("DJANGO_SUPERUSER_EMAIL")
        with translation.override("en"):
            if email and email_change.mailbox_of_another_account(email):
                # "Forgot password?" would send the superuser's reset links to whoever else
                # reads that inbox (a member's family, say).
                raise CommandError(str(STAFF_MAILBOX_TAKEN))
            password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
            if not options["interactive"] and password:
                # Django checks no rule here; the published default must never open admin.
                try:
                    validate_password(password, self.UserModel(**{name: typed or ""}))
                except exceptions.ValidationError as error:
                    raise CommandError(" ".join(error.messages)) from None
            return super().handle(*args, **options)

    def get_input_data(self, field, message, default=None):
        if field.name == "email":
            email = super().get_input_data(field, message, default)
            if email and email_change.mailbox_of_another_account(email):
                self.stderr.write(f"Error: {STAFF_MAILBOX_TAKEN}")
                return None  # asked again
            return email
        if field is not self.username_field:
            return super().get_input_data(field, message, default)
        raw_value = input(message)
        if default and raw_value == "":
            raw_value = default
        try:
            return field.clean(credentials.normalise_member_id(raw_value), None)
        except exceptions.ValidationError as error:
            self.stderr.write(f"Error: {'; '.join(error.messages)}")
            return None
