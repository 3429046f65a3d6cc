import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jenco.settings")

# What a request may bring that the app reads to its end whatever the answer: more than nginx
# lets through (client_max_body_size 64k in deploy/nginx/jenco.conf).
DRAIN_AT_MOST = 1024 * 1024


class ReadsEveryBody:
    """Read the rest of a request's body the app did not read, before answering.

    Django answers many posts without reading their bodies: a CSRF refusal, a 404, a 405, too
    many fields. gunicorn then discards at most 64 KB of what is left and closes the
    connection on the rest, unread; nginx, still sending it, takes the reset for a failed
    app server and, after three in 10 s (max_fails), stops sending anyone to it. Two posts of
    900 KB a second, signed out, had every page answer 502 (helper-102). Read to its end (a
    few milliseconds for a megabyte, nothing for a body already read), the connection stays
    whole; a body larger than nginx lets through is left to gunicorn.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        try:
            return self.app(environ, start_response)
        finally:
            drain(environ)


def drain(environ) -> None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    if not 0 < length <= DRAIN_AT_MOST:
        return
    body = environ["wsgi.input"]
    while body.read(64 * 1024):
        pass


application = ReadsEveryBody(get_wsgi_application())
