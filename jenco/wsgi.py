import codecs
import os
import re

from django.core.wsgi import get_wsgi_application
from django.utils.http import MAX_HEADER_LENGTH, parse_header_parameters

from jenco.form_charset import FORMS

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
        readable_content_type(environ)
        try:
            return self.app(environ, start_response)
        finally:
            drain(environ)


# Every charset parameter of a Content-Type, plain or RFC 2231's (charset*=utf-8''...), quoted
# or not: Django reads the last one it finds (django.utils.http.parse_header_parameters).
CHARSETS = re.compile(r';\s*charset\s*\*?\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^;]*)', re.IGNORECASE)


def readable_content_type(environ) -> None:
    """A Content-Type Django can read, and a query string read in UTF-8 whatever charset the
    Content-Type names.

    Django decodes the query string with that charset while building the request, before
    any middleware. A codec that is no text encoding (`charset=rot13`, base64, zlib), or one
    that cannot decode with errors replaced (`undefined`; `idna` refuses to replace), was
    gunicorn's bare 500 and a traceback for any address with a query (helpers 104, 110); one
    that decodes but cannot encode what it replaced (ascii, shift_jis) was a 500 on every
    admin list, which writes the query back in it (helper-114). Browsers percent-encode
    addresses in UTF-8 and name no charset but on a form: the charset parameters go (all of
    them: Django reads the last one, `charset*=` too: helper-112), except a text encoding
    on a posted form, which jenco/form_charset.py refuses with the site's 400 page unless
    it is UTF-8."""
    content_type = environ.get("CONTENT_TYPE", "")
    if ";" not in content_type and len(content_type) <= MAX_HEADER_LENGTH:
        return  # no parameters, and not too long for Django to read
    try:
        media_type, parameters = parse_header_parameters(content_type)
    except (ValueError, UnicodeError, LookupError):
        # Unreadable (an RFC 2231 parameter in a charset Python lacks, a NUL, over 10,000
        # characters): Django raised while building the request, outside its handler,
        # gunicorn's bare 500 (helper-115). Read as a request that names no content type.
        environ["CONTENT_TYPE"] = ""
        return
    charset = parameters.get("charset")
    if charset is None:
        return
    try:
        codec = codecs.lookup(charset)
        b"x\xff".decode(charset, "replace")  # (b"" is decoded without looking the codec up)
    except (LookupError, UnicodeError, ValueError):  # ValueError: a NUL in its name
        codec = None
    posted_form = environ.get("REQUEST_METHOD") == "POST" and media_type in FORMS
    if codec is not None and (codec.name == "utf-8" or posted_form):
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
