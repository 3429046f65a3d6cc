import os
import re

from django.core.wsgi import get_wsgi_application
from django.utils.http import parse_header_parameters

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
        drop_unusable_charset(environ)
        try:
            return self.app(environ, start_response)
        finally:
            drain(environ)


# Every charset parameter of a Content-Type, plain or RFC 2231's (charset*=utf-8''...), quoted
# or not: Django reads the last one it finds (django.utils.http.parse_header_parameters).
CHARSETS = re.compile(r';\s*charset\s*\*?\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^;]*)', re.IGNORECASE)


def drop_unusable_charset(environ) -> None:
    """A request whose Content-Type names a codec that is no text encoding (`charset=rot13`,
    base64, zlib) as if it were read without one, as Django reads one naming no codec at
    all. Django took it for a charset and decoded the query string with it while building
    the request, before any middleware: a LookupError, gunicorn's bare 500 and a 29-line
    traceback for any address with a query (helper-104). The same for a codec that cannot
    decode the way Django decodes a query's %-escapes, with errors replaced: `undefined`
    decodes nothing, `idna` refuses to replace (helper-110). The charset judged is the one
    Django reads (of two, the last; `charset*=` too: helper-112), and every charset
    parameter goes. A text encoding that a lone byte does not fit (UTF-16) decodes it with a
    replacement and is kept. jenco/form_charset.py refuses a form in a real charset other
    than UTF-8."""
    content_type = environ.get("CONTENT_TYPE", "")
    if "charset" not in content_type.lower():
        return
    charset = parse_header_parameters(content_type)[1].get("charset")
    if charset is None:
        return
    try:
        b"x\xff".decode(charset, "replace")  # (b"" is decoded without looking the codec up)
    except (LookupError, UnicodeError):
        pass
    else:
        return
    kept = CHARSETS.sub("", content_type)
    if "charset" in parse_header_parameters(kept)[1]:  # written some way the pattern missed
        kept = kept.split(";", 1)[0]
    environ["CONTENT_TYPE"] = kept


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
