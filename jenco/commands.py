"""What the operator's commands share: their output in the site's language, or another."""

import contextlib

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import translation
from django.utils.translation import gettext as _


class InLanguage(BaseCommand):
    """A command that speaks the site's language (LANGUAGE_CODE, Japanese), or the one
    `--language` names: its report, its errors and the reasons it gives."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument(
            "--language",
            choices=[code for code, _name in settings.LANGUAGES],
            default=None,
            help=_("the language of this command's output (default: the site's, %(code)s)")
            % {"code": settings.LANGUAGE_CODE},
        )
        return parser

    def execute(self, *args, language=None, **options):
        # Without --language, the language active: under manage.py, the site's.
        with translation.override(language) if language else contextlib.nullcontext():
            return super().execute(*args, **options)
