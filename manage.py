#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jenco.settings")
    # manage.py is first a developer's tool: in a checkout it runs with development settings
    # unless DEBUG is set. Production sets DEBUG=0 in its environment (.env.example does),
    # and the app server's entry points (jenco/wsgi.py, jenco/asgi.py) default to production.
    os.environ.setdefault("DEBUG", "1")
    import traceback

    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        # A setting jenco/settings.py cannot read from the environment: the variable and
        # what is wrong with it, not 50 lines of traceback (helper-117). Raised anywhere
        # else, it is a program's error: its traceback stays.
        frames = traceback.extract_tb(error.__traceback__)
        if not any(
            frame.filename.endswith(os.path.join("jenco", "settings.py")) for frame in frames
        ):
            raise
        sys.exit(f"manage.py: {error}")
