"""Django's createsuperuser, taking a member ID typed any way, in one language.

Every form of ours reads `ｊｐｎ９０００００１` or `jpn 9000001` as JPN9000001; Django's command
checked the text as typed and refused it. Its own words (prompts, "Password (again)", errors)
exist in English only, while the field names came out in the site's Japanese: the command now
speaks English throughout, as Django's other management commands do.
"""

import os

from django.contrib.auth.management.commands import createsuperuser
from django.core import exceptions
from django.utils import translation

from accounts import credentials


class Command(createsuperuser.Command):
    def handle(self, *args, **options):
        name = self.UserModel.USERNAME_FIELD
        typed = options.get(name) or os.environ.get(f"DJANGO_SUPERUSER_{name.upper()}")
        if typed:
            options[name] = credentials.normalise_member_id(typed)
        with translation.override("en"):
            return super().handle(*args, **options)

    def get_input_data(self, field, message, default=None):
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
