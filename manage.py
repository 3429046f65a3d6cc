#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jenco.settings")
    # manage.py is first a developer's tool: in a checkout it runs with development settings
    # unless DEBUG is set. Production sets DEBUG=0 in its environment (.env.example does),
    # and the app server's entry points (jenco/wsgi.py, jenco/asgi.py) default to production.
    os.environ.setdefault("DEBUG", "1")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        _ = settings.INSTALLED_APPS  # reads jenco/settings.py, which checks the environment
    except ImproperlyConfigured as error:
        # The variable and what is wrong with it, not 50 lines of traceback (helper-117).
        sys.exit(f"manage.py: {error}")
    execute_from_command_line(sys.argv)
